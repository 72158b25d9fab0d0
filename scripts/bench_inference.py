"""Inference latency and throughput of a final model: dense torch against sparse, side by side.

Usage::

    python scripts/bench_inference.py RUN_DIR [--seconds 5] [--batch-size 256] [--threads 2]
        [--blocks 4] [--reps 10]
    python scripts/bench_inference.py --model uniform_cnn|resnet18_cifar|resnet18_speech
        [--sparsity 0.95] [--beta 1.0] [...]

With ``RUN_DIR`` the run's final model (``model.sfa``) is loaded; with
``--model`` a fresh model of that architecture (the dataset shape of
``--input-shape``, default the default task's) is initialised and pruned
globally to ``--sparsity`` over its conv/linear weights, for a quick look.
Inputs are standard normal batches of the model's input shape (the cost does
not depend on the values: no execution exploits activation sparsity).

Three executions (``sparsyfed/metrics/inference.py``) run on the same batch,
interleaved in ``--blocks`` blocks for ``--seconds`` each: ``dense`` (torch,
Powerprop folded), ``csr`` (every conv/linear layer as a CSR weight product)
and ``best`` (per layer the faster of the two, timed on its input, ``--reps``
calls; not timed apart when it picks dense everywhere). Every sparse output is checked against dense. Printed: the per-layer
choice, the median latency per batch, the batches processed in the fixed time
(FedSparsify's measure) and the ratios to dense.
"""

from __future__ import annotations

import argparse

import torch

from sparsyfed.metrics.inference import side_by_side, sparse_execution

#: Input shape of one sample for ``--model`` without ``--input-shape``.
DEFAULT_SHAPES = {
    "uniform_cnn": (1, 40),
    "resnet18_cifar": (3, 32, 32),
    "resnet18_speech": (1, 1, 16000),
}


def _run_model(run_dir: str) -> tuple[torch.nn.Module, tuple[int, ...], str]:
    from sparsyfed.run.model import load_model, model_meta

    meta = model_meta(run_dir)
    cfg = meta["config"]
    what = f"{run_dir}: method {cfg['method']['name']}, round {meta['round']}"
    return load_model(run_dir), tuple(meta["input_shape"]), what


def _spec_model(args: argparse.Namespace) -> tuple[torch.nn.Module, tuple[int, ...], str]:
    from sparsyfed.config import compose_config
    from sparsyfed.models import build_model
    from sparsyfed.nn.init import init_weights
    from sparsyfed.nn.layers import prunable_layers, wrap_layers
    from sparsyfed.sparse.topk import global_magnitude_prune_

    shape = (
        tuple(int(v) for v in args.input_shape.split(","))
        if args.input_shape
        else DEFAULT_SHAPES[args.model]
    )
    options = dict(compose_config([f"model={args.model}"])["model"])
    options.pop("name")
    model = build_model(args.model, options, shape, args.classes)
    init_weights(model, torch.Generator().manual_seed(0))
    global_magnitude_prune_([m.weight.data for _, m in prunable_layers(model)], args.sparsity)
    if args.beta != 1.0:
        wrap_layers(model, args.beta, act_pruning=False)
    what = f"{args.model} {shape}, random weights pruned to {args.sparsity:g}, beta {args.beta:g}"
    return model.eval(), shape, what


def main(argv: list[str] | None = None) -> None:
    """Measure and print the table."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("run_dir", nargs="?", help="a run directory (its model.sfa)")
    parser.add_argument("--model", choices=sorted(DEFAULT_SHAPES), help="instead of RUN_DIR")
    parser.add_argument("--sparsity", type=float, default=0.95)
    parser.add_argument("--beta", type=float, default=1.0)
    parser.add_argument("--input-shape", default="", help="e.g. 1,40 (with --model)")
    parser.add_argument("--classes", type=int, default=10)
    parser.add_argument("--seconds", type=float, default=5.0, help="per execution")
    parser.add_argument("--batch-size", type=int, default=256)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--blocks", type=int, default=4)
    parser.add_argument("--reps", type=int, default=10, help="timed calls per layer choice")
    args = parser.parse_args(argv)
    if (args.run_dir is None) == (args.model is None):
        parser.error("give either RUN_DIR or --model")
    torch.set_num_threads(args.threads)
    model, shape, what = _run_model(args.run_dir) if args.run_dir else _spec_model(args)
    x = torch.randn((args.batch_size, *shape), generator=torch.Generator().manual_seed(0))
    best = sparse_execution(model, x, "best", args.reps)
    csr = sparse_execution(model, x, "sparse", 1)
    print(what)
    print(f"batch {args.batch_size}, {args.threads} thread(s), {args.seconds:g} s per execution")
    print(f"{'layer':<24}{'kind':<8}{'density':>8}{'dense ms':>10}{'csr ms':>9}  best")
    for c in best.layers:
        sparse_ms = "-" if c.sparse_seconds is None else f"{1e3 * c.sparse_seconds:.3f}"
        used = "csr" if c.sparse else "dense"
        print(
            f"{c.name:<24}{c.kind:<8}{c.density:>8.4f}{1e3 * c.dense_seconds:>10.3f}"
            f"{sparse_ms:>9}  {used}"
        )
    models = {"dense": best.dense, "csr": csr.sparse}
    if any(c.sparse for c in best.layers):
        models["best"] = best.sparse
    results = side_by_side(models, x, args.seconds, args.blocks)
    base = results["dense"]
    print(
        f"\n{'execution':<10}{'median ms/batch':>16}{'batches':>9}{'batches/s':>11}{'x dense':>9}"
    )
    for name, r in results.items():
        speedup = base.median_latency / r.median_latency
        print(
            f"{name:<10}{1e3 * r.median_latency:>16.3f}{r.batches:>9}"
            f"{r.batches_per_second:>11.1f}{speedup:>9.2f}"
        )
    if "best" not in models:
        print("best = dense: no layer ran faster as CSR, so no sparse execution beats dense")
    error = max(best.max_abs_error, csr.max_abs_error)
    print(f"max |sparse - dense| over the outputs: {error:.2e}")


if __name__ == "__main__":
    main()
