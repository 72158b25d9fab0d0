"""Argument checks shared by the partitioners (:mod:`~sparsyfed.data.partition`, :mod:`~sparsyfed.data.shards`).

Labels that are not a non-empty 1-D integer array raise a plain ``ValueError``; the
other arguments come from the run config and raise
:class:`sparsyfed.validation.ConfigError` (a ``ValueError``) under their config key.
Integers must be ``numbers.Integral`` (``2.0`` clients is refused), NumPy scalars
included.
"""

from __future__ import annotations

import numbers
from typing import Any

import numpy as np

from sparsyfed.validation import fail

__all__ = ["check_labels", "check_num_partitions", "check_seed"]


def check_labels(labels: np.ndarray) -> np.ndarray:
    """Return ``labels`` as a non-empty 1-D integer array.

    Parameters
    ----------
    labels : numpy.ndarray
        Class labels.

    Returns
    -------
    numpy.ndarray
        ``np.asarray(labels)``.

    Raises
    ------
    ValueError
        If the array is not 1-D, is empty or has a non-integer dtype.

    """
    arr = np.asarray(labels)
    if arr.ndim != 1:
        raise ValueError(f"labels must be a 1-D array, got shape {arr.shape}")
    if arr.size == 0:
        raise ValueError("labels must be non-empty")
    if not np.issubdtype(arr.dtype, np.integer):
        raise ValueError(f"labels must have an integer dtype, got {arr.dtype}")
    return arr


def check_num_partitions(num_partitions: Any, num_samples: int) -> int:
    """Validate the number of clients (config key ``num_clients``).

    Parameters
    ----------
    num_partitions : Any
        The value to check: an integer in ``[1, num_samples]``.
    num_samples : int
        Number of samples to partition.

    Returns
    -------
    int
        The number of clients.

    """
    if (
        isinstance(num_partitions, bool)
        or not isinstance(num_partitions, numbers.Integral)
        or not 1 <= int(num_partitions) <= num_samples
    ):
        fail(
            "num_clients",
            num_partitions,
            f"it must be an integer in [1, {num_samples}] (at most the number of samples)",
        )
    return int(num_partitions)


def check_seed(seed: Any) -> int:
    """Validate a non-negative integer seed (config key ``seed``).

    Parameters
    ----------
    seed : Any
        The value to check.

    Returns
    -------
    int
        The seed.

    """
    if isinstance(seed, bool) or not isinstance(seed, numbers.Integral) or int(seed) < 0:
        fail("seed", seed, "it must be a non-negative integer")
    return int(seed)
