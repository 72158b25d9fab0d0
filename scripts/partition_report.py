"""Heterogeneity of the partition schemes: mean effective classes per client.

Usage::

    python scripts/partition_report.py [--data-dir DIR] [--seeds 5] [--clients 100]

For the MNIST-1D training labels (generated offline by the project's loader; a
temporary directory unless ``--data-dir`` is given) and for CIFAR-10-like label
totals (50,000 labels, 5,000 per class; a synthetic array, nothing downloaded),
prints one Markdown row per label set, scheme (``lda``, ``inner_dirichlet``,
``dirichlet``) and ``alpha`` in {0.1, 1.0}: the mean over clients of
``exp(label entropy)`` (the effective number of classes), as mean ± std over the
seeds, plus the mean number of classes present and the client size range.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np

from sparsyfed.data import load_dataset, partition_labels, partition_stats

SCHEMES = ("lda", "inner_dirichlet", "dirichlet")
ALPHAS = (0.1, 1.0)


def label_sets(data_dir: Path) -> dict[str, tuple[np.ndarray, int]]:
    """The label arrays to partition and their number of classes."""
    mnist1d = load_dataset("mnist1d", data_dir=data_dir)
    cifar_like = np.random.default_rng(0).permutation(np.repeat(np.arange(10), 5000))
    return {
        f"MNIST-1D train ({mnist1d.y_train.size})": (mnist1d.y_train, mnist1d.num_classes),
        "CIFAR-10-like (50000)": (cifar_like.astype(np.int64), 10),
    }


def row(labels: np.ndarray, num_classes: int, scheme: str, alpha: float, args) -> str:
    """One table row: effective classes, classes present, sizes, seconds per partition."""
    effective, present, sizes = [], [], []
    start = time.perf_counter()
    for seed in range(args.seeds):
        parts = partition_labels(labels, args.clients, scheme, alpha, seed)
        stats = partition_stats(labels, parts, num_classes)
        effective.append(float(np.mean(np.exp(stats["label_entropy"]))))
        present.append(stats["mean_num_classes_present"])
        sizes += [stats["min_sample_count"], stats["max_sample_count"]]
    seconds = (time.perf_counter() - start) / args.seeds
    spread = statistics.stdev(effective) if len(effective) > 1 else 0.0
    return (
        f"| {scheme} | {alpha} | {statistics.mean(effective):.3f} ± {spread:.3f} "
        f"| {statistics.mean(present):.2f} | {min(sizes)}-{max(sizes)} | {seconds:.2f} |"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", type=Path, default=None, help="MNIST-1D cache directory")
    parser.add_argument("--seeds", type=int, default=5, help="partition seeds 0..n-1")
    parser.add_argument("--clients", type=int, default=100, help="number of clients")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        sets = label_sets(args.data_dir or Path(tmp))
    print(f"{args.clients} clients, seeds 0..{args.seeds - 1}; effective classes = exp(entropy)")
    for name, (labels, num_classes) in sets.items():
        print(f"\n### {name}, {num_classes} classes\n")
        print("| scheme | alpha | effective classes | classes present | sizes | s/partition |")
        print("|---|---|---|---|---|---|")
        for alpha in ALPHAS:
            for scheme in SCHEMES:
                print(row(labels, num_classes, scheme, alpha, args))


if __name__ == "__main__":
    main()
