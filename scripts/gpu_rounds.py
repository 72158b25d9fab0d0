"""A few rounds of one Table 1 cell on CUDA: seconds per round, clients per second, peak GPU memory.

Usage::

    python scripts/gpu_rounds.py [--rounds 3] [hydra overrides ...]

Runs the bare loop (the project's client round and server step in this
process, :class:`~sparsyfed.core.executor.LocalExecutor`: no Flower, no Ray), so
that the server's evaluation and every client's training share this process's
CUDA allocator and ``torch.cuda.max_memory_allocated`` is the peak of one
client round plus the server's evaluation model and test set. The default cell
is ``+experiment=cifar10_alpha0.1 method=sparsyfed sparsity=0.95`` (ResNet-18,
100 clients, 10 per round, 10 federated-evaluation clients per round); extra
arguments are Hydra overrides of it. Prints, over the rounds after the first
(the first includes CUDA's start-up; all rounds when there is only one):
the median seconds per round, the trained clients per second and the peak
allocated and reserved GPU memory. Exits 2 without a CUDA device.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
from pathlib import Path

CELL = ["+experiment=cifar10_alpha0.1", "method=sparsyfed", "sparsity=0.95"]
MB = 1024 * 1024


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    args, overrides = parser.parse_known_args()
    import torch

    if not torch.cuda.is_available():
        print("no CUDA device (torch.cuda.is_available() is False)", file=sys.stderr)
        return 2
    from sparsyfed.config import compose_config, load_config
    from sparsyfed.core.executor import LocalExecutor
    from sparsyfed.run.session import execute, plan

    with tempfile.TemporaryDirectory(prefix="sparsyfed-gpu-") as tmp:
        plain = compose_config([*CELL, *overrides, f"rounds={args.rounds}", "device=cuda"])
        plain["output_dir"] = str(Path(tmp) / "run")
        cfg = load_config(plain)
        torch.cuda.reset_peak_memory_stats()
        execute(cfg, LocalExecutor(cfg), plan(cfg))
        rows = (Path(tmp) / "run" / "metrics.jsonl").read_text().splitlines()
    records = [json.loads(line) for line in rows][1:]
    seconds = [r["round_seconds"] for r in records]
    steady = statistics.median(seconds[1:] if len(seconds) > 1 else seconds)
    clients = statistics.median(len(r["clients"]) for r in records)
    print(f"cell: {' '.join([*CELL, *overrides])} rounds={args.rounds} device=cuda")
    print(f"GPU: {torch.cuda.get_device_name(0)}")
    print(f"seconds per round (median of rounds 2..{len(seconds)}): {steady:.2f}")
    print(f"clients per second (trained): {clients / steady:.2f}")
    print(f"peak GPU memory allocated: {torch.cuda.max_memory_allocated() / MB:.0f} MB")
    print(f"peak GPU memory reserved: {torch.cuda.max_memory_reserved() / MB:.0f} MB")
    print(f"final accuracy: {records[-1]['accuracy']:.4f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
