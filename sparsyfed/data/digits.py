"""scikit-learn's bundled 8x8 digits dataset (``sklearn.datasets.load_digits``).

Nothing is read from ``data_dir`` or cached: the data ships with scikit-learn. Pixels
``0..16`` are mapped to ``float32`` ``(x / 16 - 0.5) / 0.5`` in ``[-1, 1]`` and split
80 % train / 20 % test, stratified by class with a fixed seed. scikit-learn is imported
only when the dataset is loaded.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from sparsyfed.data.base import ArrayDataset, check_options

__all__ = ["load_digits"]

_NUM_CLASSES = 10
_TEST_SIZE = 0.2
_SPLIT_SEED = 0


def load_digits(data_dir: str | Path | None = None, **options: Any) -> ArrayDataset:
    """Load scikit-learn's 8x8 digits with a fixed stratified train/test split.

    Parameters
    ----------
    data_dir : str or Path or None, optional
        Ignored (the dataset is bundled with scikit-learn; nothing is cached).
    **options
        None are accepted.

    Returns
    -------
    ArrayDataset
        ``float32`` inputs ``(N, 1, 8, 8)`` in ``[-1, 1]`` and ``int64`` labels:
        1437 train and 360 test samples.

    Raises
    ------
    sparsyfed.validation.ConfigError
        If any option is given.

    """
    del data_dir  # bundled with scikit-learn: nothing to cache
    check_options("digits", options, ())
    # Lazy import: scikit-learn is only needed for this dataset.
    from sklearn.datasets import load_digits as sklearn_load_digits
    from sklearn.model_selection import train_test_split

    bunch = sklearn_load_digits()
    x = (np.asarray(bunch.data, dtype=np.float64) / 16.0 - 0.5) / 0.5
    x = x.astype(np.float32).reshape(-1, 1, 8, 8)
    y = np.asarray(bunch.target, dtype=np.int64)
    x_train, x_test, y_train, y_test = train_test_split(
        x, y, test_size=_TEST_SIZE, stratify=y, random_state=_SPLIT_SEED
    )
    return ArrayDataset(
        name="digits",
        x_train=np.ascontiguousarray(x_train),
        y_train=np.ascontiguousarray(y_train),
        x_test=np.ascontiguousarray(x_test),
        y_test=np.ascontiguousarray(y_test),
        num_classes=_NUM_CLASSES,
        input_shape=(1, 8, 8),
    )
