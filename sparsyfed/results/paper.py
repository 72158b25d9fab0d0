"""The SparsyFed paper's Table 1, for comparison beside our own cells.

Values as reported (test accuracy %, mean ± std over the paper's three
seeds; ResNet-18, 100 clients, LDA with Dirichlet α), transcribed from
``docs/references.md`` section 2. The paper's "ResNet-18" column is the Top-K
baseline and its "dense" rows are FedAvg without sparsity (``fedavg`` here).
"""

from __future__ import annotations

import functools

DATASETS = ("cifar10", "cifar100", "speech_commands")
METHODS = ("topk", "zerofl", "flash", "sparsyfed")
ALPHAS = (1.0, 0.1)
LEVELS = (0.9, 0.95, 0.99, 0.995, 0.999)

# One line per (dataset, level): α = 1.0 then α = 0.1, each Top-K ZeroFL FLASH SparsyFed.
_TABLE1 = """
cifar10 0.9   80.56 1.90 76.16 1.30 81.15 1.03 82.13 1.53 69.79 3.78 67.40 4.11 71.87 2.63 75.00 2.78
cifar10 0.95  74.71 3.29 75.53 2.27 79.36 1.03 82.60 1.58 60.00 4.66 61.55 4.18 72.08 2.09 75.95 3.39
cifar10 0.99  66.27 5.08 70.71 0.15 73.45 1.37 77.71 1.69 43.96 11.99 51.71 3.54 56.91 3.55 63.69 3.90
cifar10 0.995 63.82 2.41 56.02 3.95 69.15 1.60 70.01 0.43 19.02 10.77 41.33 3.64 52.15 3.87 56.79 3.97
cifar10 0.999 31.79 19.10 17.66 8.34 36.07 7.49 51.39 3.19 11.50 4.49 18.76 4.28 29.31 6.75 43.68 7.61
cifar100 0.9   46.57 1.71 40.70 4.72 51.99 0.21 53.08 0.90 41.96 2.16 31.92 7.65 45.59 0.75 48.37 1.73
cifar100 0.95  28.07 23.27 38.82 1.75 47.19 1.88 52.81 1.72 11.48 17.51 34.21 7.65 44.31 2.14 48.27 2.70
cifar100 0.99  19.65 16.30 18.97 2.08 42.76 4.08 46.64 1.59 0.14 0.72 13.07 2.26 34.75 3.38 41.03 2.14
cifar100 0.995 9.51 14.81 6.01 4.74 36.43 4.97 42.21 1.03 0.14 0.72 7.04 5.25 26.44 17.35 35.72 2.01
cifar100 0.999 3.81 2.18 1.96 0.66 5.80 2.86 15.96 0.64 0.14 0.72 1.66 0.97 3.56 2.07 13.84 3.69
speech_commands 0.9   84.28 0.88 87.79 1.40 88.68 1.72 92.32 1.59 65.44 0.97 70.35 2.65 77.15 0.77 79.67 2.78
speech_commands 0.95  78.58 0.44 84.29 1.50 84.89 0.49 89.14 1.15 57.39 1.04 65.90 1.88 71.28 1.75 75.46 2.24
speech_commands 0.99  65.01 0.84 57.79 0.82 69.22 1.59 75.82 3.72 50.42 6.26 41.42 1.60 53.55 2.00 56.69 4.56
speech_commands 0.995 56.73 1.00 37.16 2.71 58.23 1.84 68.02 3.14 34.20 1.43 22.61 3.45 43.16 3.47 48.30 5.39
speech_commands 0.999 21.56 12.79 10.10 4.01 17.70 2.58 47.43 1.66 19.25 6.01 8.85 3.76 17.14 2.97 29.24 2.34
"""
_DENSE = {  # FedAvg without sparsity: (α = 1.0, α = 0.1)
    "cifar10": ((83.70, 1.70), (73.81, 4.84)),
    "cifar100": ((52.29, 1.14), (48.34, 2.71)),
    "speech_commands": ((91.49, 0.94), (80.15, 2.69)),
}


def table1() -> dict[tuple[str, str, float, float], tuple[float, float]]:
    """Every reported cell: ``(dataset, method, sparsity, alpha) -> (mean %, std %)``.

    FedAvg's dense rows have method ``fedavg`` and sparsity 0.0.
    """
    return dict(_cells())


@functools.cache
def _cells() -> dict[tuple[str, str, float, float], tuple[float, float]]:
    cells: dict[tuple[str, str, float, float], tuple[float, float]] = {}
    for line in _TABLE1.strip().splitlines():
        dataset, level, *numbers = line.split()
        values = [float(v) for v in numbers]
        pairs = list(zip(values[0::2], values[1::2], strict=True))
        for i, (mean, std) in enumerate(pairs):
            alpha, method = ALPHAS[i // len(METHODS)], METHODS[i % len(METHODS)]
            cells[(dataset, method, float(level), alpha)] = (mean, std)
    for dataset, per_alpha in _DENSE.items():
        for alpha, value in zip(ALPHAS, per_alpha, strict=True):
            cells[(dataset, "fedavg", 0.0, alpha)] = value
    return cells


def paper_value(
    dataset: str, method: str, sparsity: float, alpha: float
) -> tuple[float, float] | None:
    """The paper's ``(mean %, std %)`` for a cell, or None where it reports none."""
    key = (str(dataset), str(method), round(float(sparsity), 6), round(float(alpha), 6))
    return _cells().get(key)
