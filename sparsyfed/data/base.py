"""What every dataset loader shares: the dataset container, the not-found error, the data directory.

* :class:`ArrayDataset`: a train/test classification dataset held in NumPy arrays, the
  return type of every loader.
* :class:`DatasetNotFoundError`: raised when a dataset's files are missing (and could
  not be downloaded).
* :data:`DEFAULT_DATA_DIR` and :func:`resolve_data_dir`: where the published files and
  the caches live.
* :func:`check_options`: rejects option keys a loader does not know, with the
  project's :class:`~sparsyfed.validation.ConfigError` (option *values* are checked by
  the loaders with the :mod:`sparsyfed.validation` helpers, under keys ``dataset.<option>``).

Only NumPy and :mod:`sparsyfed.validation` are imported here.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from sparsyfed.validation import check_keys, fail

__all__ = [
    "DEFAULT_DATA_DIR",
    "OPTION_PREFIX",
    "ArrayDataset",
    "DatasetNotFoundError",
    "check_options",
    "resolve_data_dir",
]

DEFAULT_DATA_DIR: Path = Path("~/.cache/sparsyfed")
"""Default directory of the published dataset files and of the caches (``~`` is expanded)."""

OPTION_PREFIX = "dataset."
"""Config prefix of the dataset options: errors name them ``dataset.<option>``."""


class DatasetNotFoundError(FileNotFoundError):
    """A dataset's files are not in ``data_dir`` and could not be downloaded.

    The message names the dataset, the directory looked in, the expected file layout,
    why a download failed (or that none was tried) and how to fix it.
    """


@dataclass(frozen=True, eq=False)
class ArrayDataset:
    """A train/test classification dataset held in NumPy arrays.

    ``eq=False`` keeps identity comparison and hashing: field-wise equality is
    ill-defined for arrays.

    Attributes
    ----------
    name : str
        Dataset name (one of :data:`sparsyfed.data.DATASETS`).
    x_train : numpy.ndarray
        Training inputs, ``float32`` of shape ``(N_train, *input_shape)``.
    y_train : numpy.ndarray
        Training labels, ``int64`` of shape ``(N_train,)`` in ``[0, num_classes)``.
    x_test : numpy.ndarray
        Test inputs, ``float32`` of shape ``(N_test, *input_shape)``.
    y_test : numpy.ndarray
        Test labels, ``int64`` of shape ``(N_test,)``.
    num_classes : int
        Number of classes.
    input_shape : tuple of int
        Shape of one input sample, channels first, e.g. ``(1, 40)`` for MNIST-1D,
        ``(1, 8, 8)`` for digits, ``(3, 32, 32)`` for CIFAR and ``(1, 1, 8000)`` for
        Speech Commands waveforms.
    augment : bool
        Whether training should augment the images (CIFAR only: random 32x32 crop of
        the 4-pixel padded image and horizontal flip, see
        :func:`sparsyfed.data.augment.random_crop_flip`). Default false (the paper
        does not augment).

    """

    name: str
    x_train: np.ndarray
    y_train: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray
    num_classes: int
    input_shape: tuple[int, ...]
    augment: bool = False

    def __post_init__(self) -> None:
        """Check that array shapes agree with each other and with ``input_shape``."""
        for split, x, y in (
            ("train", self.x_train, self.y_train),
            ("test", self.x_test, self.y_test),
        ):
            if y.ndim != 1 or x.shape[0] != y.shape[0]:
                raise ValueError(
                    f"{self.name}: x_{split} has shape {x.shape} but y_{split} has "
                    f"shape {y.shape}; expected (N, *input_shape) and (N,)"
                )
            if tuple(x.shape[1:]) != tuple(self.input_shape):
                raise ValueError(
                    f"{self.name}: x_{split} has sample shape {tuple(x.shape[1:])}, "
                    f"expected input_shape {tuple(self.input_shape)}"
                )

    @property
    def num_train(self) -> int:
        """Number of training samples."""
        return int(self.y_train.shape[0])

    @property
    def num_test(self) -> int:
        """Number of test samples."""
        return int(self.y_test.shape[0])


def resolve_data_dir(data_dir: str | Path | None) -> Path:
    """Return the data directory with ``~`` expanded.

    Parameters
    ----------
    data_dir : str or Path or None
        Directory given by the caller, or ``None`` for :data:`DEFAULT_DATA_DIR`.

    Returns
    -------
    Path
        The directory (it may not exist).

    """
    return Path(DEFAULT_DATA_DIR if data_dir is None else data_dir).expanduser()


def check_options(dataset: str, options: Mapping[str, Any], known: Iterable[str]) -> None:
    """Reject the first option of ``options`` that the loader of ``dataset`` does not know.

    Parameters
    ----------
    dataset : str
        Dataset name, used when the dataset takes no options at all.
    options : mapping
        The options given to the loader.
    known : iterable of str
        The option names the loader accepts.

    Raises
    ------
    sparsyfed.validation.ConfigError
        Naming ``dataset.<option>`` and suggesting the closest known option.

    """
    known = tuple(known)
    if not known:
        for key, value in options.items():
            fail(f"{OPTION_PREFIX}{key}", value, f"dataset {dataset!r} takes no options")
    check_keys(OPTION_PREFIX, options, known)
