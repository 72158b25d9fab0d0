"""Cost of a training step and of evaluation per method, relative to dense, side by side.

Usage::

    python scripts/bench_training.py [--model cnn|resnet18] [--methods dense,sparsyfed,...]
        [--batch 16] [--threads N] [--sparsity 0.95] [--steps N] [--blocks 5]
        [--eval-batch 256] [--breakdown]

Every method's model is built through the method registry as a run builds it
(``prepare_model`` + ``initialize``), pruned globally to ``--sparsity`` (the
state every round after the first receives) and trained through the method's
own ``train`` hook on synthetic tensors of the model's input shape (MNIST-1D
``1x40`` for ``cnn``, CIFAR ``3x32x32`` for ``resnet18``; 10 classes). Methods:
dense (FedAvg), powerprop (SparsyFed-NA: Powerprop only), sparsyfed (Powerprop +
activation Top-K), zerofl, topk and flash (round 2: training under the fixed mask).

One block runs one local round of ``--steps`` steps per method, the methods
interleaved, then one eval-mode forward of ``--eval-batch`` samples each; the
table shows medians over ``--blocks`` blocks. The first step of a round (where
the thresholds are set up) is reported apart from the steady steps (the median
of steps 2..N). ``--breakdown`` profiles one extra round per method and prints
the self CPU ms per step of the op groups where the extra time goes.
"""

from __future__ import annotations

import argparse
import statistics
import sys
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_training_lib import MODELS, breakdown, build, eval_time, train_round

DEFAULT_METHODS = "dense,powerprop,sparsyfed,zerofl,topk,flash"


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """The command-line options (``--threads`` defaults to 2 for resnet18, 1 for cnn)."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--model", choices=sorted(MODELS), default="cnn")
    parser.add_argument("--methods", default=DEFAULT_METHODS)
    parser.add_argument("--batch", type=int, default=16)
    parser.add_argument("--threads", type=int, default=None)
    parser.add_argument("--sparsity", type=float, default=0.95)
    parser.add_argument("--steps", type=int, default=None, help="steps per round (one block)")
    parser.add_argument("--blocks", type=int, default=5)
    parser.add_argument("--eval-batch", type=int, default=256)
    parser.add_argument("--eval-reps", type=int, default=None)
    parser.add_argument("--breakdown", action="store_true")
    args = parser.parse_args(argv)
    resnet = args.model == "resnet18"
    args.threads = args.threads or (2 if resnet else 1)
    args.steps = args.steps or (12 if resnet else 100)
    args.eval_reps = args.eval_reps or (3 if resnet else 20)
    return args


def main(argv: list[str] | None = None) -> None:
    """Build every method's model, time interleaved blocks, print the table."""
    args = parse_args(argv)
    torch.set_num_threads(args.threads)
    labels = [m.strip() for m in args.methods.split(",") if m.strip()]
    if "dense" not in labels:
        labels.insert(0, "dense")
    shape = MODELS[args.model][2]
    g = torch.Generator().manual_seed(1)
    n = args.batch * args.steps
    x = torch.randn(n, *shape, generator=g)
    y = torch.randint(0, 10, (n,), generator=g)
    x_eval = torch.randn(args.eval_batch, *shape, generator=g)
    benches = {k: build(k, args.model, args.sparsity) for k in labels}
    first: dict[str, list[float]] = {k: [] for k in labels}
    steady: dict[str, list[float]] = {k: [] for k in labels}
    evals: dict[str, list[float]] = {k: [] for k in labels}
    for k in labels:  # warm-up
        train_round(benches[k], x[: 2 * args.batch], y[: 2 * args.batch], args.batch)
        eval_time(benches[k], x_eval, 1)
    for _ in range(args.blocks):
        for k in labels:
            steps = train_round(benches[k], x, y, args.batch)
            first[k].append(steps[0])
            steady[k].append(statistics.median(steps[1:]))
            evals[k].append(eval_time(benches[k], x_eval, args.eval_reps))
    med = {k: statistics.median(v) for k, v in steady.items()}
    med_first = {k: statistics.median(v) for k, v in first.items()}
    med_eval = {k: statistics.median(v) for k, v in evals.items()}
    print(
        f"model {args.model}, batch {args.batch}, sparsity {args.sparsity}, "
        f"{args.threads} thread(s), {args.steps} steps/round, median of {args.blocks} blocks, "
        f"eval batch {args.eval_batch}"
    )
    header = f"{'method':<10} {'step ms':>9} {'x dense':>8} {'1st step ms':>12} {'x dense':>8}"
    print(f"{header} {'eval ms':>9} {'x dense':>8}")
    for k in labels:
        t, f, e = med[k], med_first[k], med_eval[k]
        print(
            f"{k:<10} {1e3 * t:>9.1f} {t / med['dense']:>8.2f} {1e3 * f:>12.1f} "
            f"{f / med_first['dense']:>8.2f} {1e3 * e:>9.1f} {e / med_eval['dense']:>8.2f}"
        )
    if args.breakdown:
        print("\nself CPU ms per step by op group (one profiled round per method):")
        for k in labels:
            groups = breakdown(benches[k], x, y, args.batch)
            parts = ", ".join(f"{name} {ms:.1f}" for name, ms in groups.items())
            print(f"{k:<10} {parts or '-'}")


if __name__ == "__main__":
    main()
