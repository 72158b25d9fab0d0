"""Synthetic image-shaped data made in memory from a seed (for benchmarks and quick checks).

Each class has its own random mean image; a sample is its class mean plus
Gaussian noise, so the classes are learnable but overlap. Nothing is read or
cached: the same options give the same arrays on every call.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from sparsyfed.data.base import ArrayDataset, check_options
from sparsyfed.validation import as_int, as_number, fail

__all__ = ["load_synthetic"]

_OPTIONS = ("shape", "num_classes", "num_train", "num_test", "noise", "generator_seed")


def _shape(value: Any) -> tuple[int, ...]:
    if not isinstance(value, list | tuple) or not value:
        fail("dataset.shape", value, "a list of positive sizes, channels first, e.g. [3, 32, 32]")
    return tuple(as_int("dataset.shape", v, minimum=1) for v in value)


def load_synthetic(data_dir: str | Path | None = None, **options: Any) -> ArrayDataset:
    """Make a synthetic classification dataset of image-shaped ``float32`` samples.

    Parameters
    ----------
    data_dir : str or Path or None, optional
        Ignored (nothing is read or cached).
    **options
        ``shape`` (default ``[3, 32, 32]``, CIFAR's), ``num_classes`` (10),
        ``num_train`` (5000), ``num_test`` (1000), ``noise`` (1.0, the noise's
        standard deviation; class means have standard deviation 1) and
        ``generator_seed`` (0).

    Returns
    -------
    ArrayDataset
        Train and test samples with labels drawn uniformly from the classes.

    Raises
    ------
    sparsyfed.validation.ConfigError
        If an option is unknown or has an invalid value.

    """
    del data_dir
    check_options("synthetic", options, _OPTIONS)
    shape = _shape(options.get("shape", [3, 32, 32]))
    classes = as_int("dataset.num_classes", options.get("num_classes", 10), minimum=2)
    n_train = as_int("dataset.num_train", options.get("num_train", 5000), minimum=1)
    n_test = as_int("dataset.num_test", options.get("num_test", 1000), minimum=1)
    noise = as_number(
        "dataset.noise", options.get("noise", 1.0), lambda v: v >= 0, "it must be >= 0"
    )
    seed = as_int("dataset.generator_seed", options.get("generator_seed", 0), minimum=0)
    rng = np.random.default_rng(seed)
    means = rng.standard_normal((classes, *shape), dtype=np.float32)

    def draw(n: int) -> tuple[np.ndarray, np.ndarray]:
        y = rng.integers(0, classes, size=n, dtype=np.int64)
        x = means[y] + np.float32(noise) * rng.standard_normal((n, *shape), dtype=np.float32)
        return x, y

    x_train, y_train = draw(n_train)
    x_test, y_test = draw(n_test)
    return ArrayDataset(
        name="synthetic",
        x_train=x_train,
        y_train=y_train,
        x_test=x_test,
        y_test=y_test,
        num_classes=classes,
        input_shape=shape,
    )
