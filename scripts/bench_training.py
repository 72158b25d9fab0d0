"""Cost of a SparsyFed training step relative to a dense one, measured side by side.

Usage::

    python scripts/bench_training.py [--steps 300] [--batch 16] [--sparsity 0.95] [--threads 1]

Builds the default model (MNIST-1D input), then times interleaved blocks of SGD
steps for: dense (plain layers), Powerprop only (beta 1.25, no activation
pruning), and SparsyFed (Powerprop + activation Top-K) with the weights pruned
to the given sparsity (the state of every round after the first). Prints the
median time per step and the ratio to dense; evaluation cost is printed too.
"""

from __future__ import annotations

import argparse
import statistics
import time

import torch
from torch.nn import functional as F

from sparsyfed.config import compose_config
from sparsyfed.models import build_model
from sparsyfed.nn.init import init_weights
from sparsyfed.nn.layers import prunable_layers, reset_activation_state, wrap_layers
from sparsyfed.sparse.topk import global_magnitude_prune_


def make(kind: str, sparsity: float, seed: int = 0) -> torch.nn.Module:
    block = compose_config([])["model"]
    options = {k: v for k, v in block.items() if k != "name"}
    model = build_model(block["name"], options, (1, 40), 10)
    if kind != "dense":
        wrap_layers(model, beta=1.25, act_pruning=kind == "sparsyfed")
    init_weights(model, torch.Generator().manual_seed(seed))
    if kind != "dense":
        global_magnitude_prune_([m.weight for _, m in prunable_layers(model)], sparsity)
    return model


def time_steps(model: torch.nn.Module, x: torch.Tensor, y: torch.Tensor, steps: int) -> float:
    opt = torch.optim.SGD(model.parameters(), lr=0.05, weight_decay=1e-3)
    model.train()
    reset_activation_state(model)
    start = time.perf_counter()
    for _ in range(steps):
        opt.zero_grad(set_to_none=True)
        F.cross_entropy(model(x), y).backward()
        opt.step()
    return (time.perf_counter() - start) / steps


@torch.no_grad()
def time_eval(model: torch.nn.Module, x: torch.Tensor, reps: int) -> float:
    model.eval()
    start = time.perf_counter()
    for _ in range(reps):
        model(x)
    return (time.perf_counter() - start) / reps


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--steps", type=int, default=300)
    parser.add_argument("--blocks", type=int, default=5)
    parser.add_argument("--batch", type=int, default=16)
    parser.add_argument("--sparsity", type=float, default=0.95)
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    g = torch.Generator().manual_seed(1)
    x = torch.randn(args.batch, 1, 40, generator=g)
    y = torch.randint(0, 10, (args.batch,), generator=g)
    x_eval = torch.randn(256, 1, 40, generator=g)
    kinds = ("dense", "powerprop", "sparsyfed")
    models = {k: make(k, args.sparsity) for k in kinds}
    train: dict[str, list[float]] = {k: [] for k in kinds}
    evals: dict[str, list[float]] = {k: [] for k in kinds}
    for k in kinds:  # warm-up
        time_steps(models[k], x, y, 20)
    for _ in range(args.blocks):
        for k in kinds:
            train[k].append(time_steps(models[k], x, y, args.steps))
            evals[k].append(time_eval(models[k], x_eval, 20))
    base_t = statistics.median(train["dense"])
    base_e = statistics.median(evals["dense"])
    print(
        f"batch {args.batch}, sparsity {args.sparsity}, {args.threads} thread(s), median of {args.blocks} blocks"
    )
    print(f"{'model':<10} {'train ms/step':>14} {'x dense':>8} {'eval ms/256':>12} {'x dense':>8}")
    for k in kinds:
        t, e = statistics.median(train[k]), statistics.median(evals[k])
        print(f"{k:<10} {1e3 * t:>14.3f} {t / base_t:>8.2f} {1e3 * e:>12.3f} {e / base_e:>8.2f}")


if __name__ == "__main__":
    main()
