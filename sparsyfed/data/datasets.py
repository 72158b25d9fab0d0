"""In-memory classification datasets used by the sparse FL experiments.

Two small datasets are produced entirely offline:

* ``mnist1d`` is generated from the templates shipped with the ``mnist1d`` pip
  package (``mnist1d.data.make_dataset``); nothing is downloaded. Generation takes
  a few seconds, so the generated arrays are cached as an ``.npz`` file.
* ``digits`` is scikit-learn's bundled 8x8 digits dataset (``load_digits``).

The paper's datasets are read from their published files in ``data_dir`` (downloaded
only when missing and ``download`` is true), see :mod:`sparsyfed.data.cifar`
(``cifar10``, ``cifar100``) and :mod:`sparsyfed.data.speech` (``speech_commands``).
Missing files raise :class:`~sparsyfed.data.sources.DatasetNotFoundError`.

All heavy third-party imports happen lazily inside the loaders, so importing this
module has no side effects.
"""

from __future__ import annotations

import contextlib
import importlib.metadata
import operator
import os
import random
import tempfile
import threading
import warnings
import zipfile
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from sparsyfed.data.sources import DatasetNotFoundError

__all__ = [
    "DATASETS",
    "DEFAULT_DATA_DIR",
    "ArrayDataset",
    "DatasetNotFoundError",
    "load_dataset",
    "mnist1d_cache_path",
]

DATASETS: tuple[str, ...] = ("mnist1d", "digits", "cifar10", "cifar100", "speech_commands")
"""Names accepted by :func:`load_dataset`."""

DEFAULT_DATA_DIR: Path = Path("~/.cache/sparsyfed")
"""Default cache directory (``~`` is expanded when used)."""

# MNIST-1D constants (from ``mnist1d.data.get_dataset_args``/templates).
_MNIST1D_NUM_CLASSES = 10
_MNIST1D_SEQ_LEN = 40
_MNIST1D_DEFAULT_NUM_SAMPLES = 12_000
_MNIST1D_DEFAULT_SEED = 42  # the package default (``get_dataset_args()["seed"]``)
_MNIST1D_TRAIN_SPLIT = 0.8  # the package default, pinned so the split sizes are known
# Bump when the cached array layout / preprocessing changes.
_MNIST1D_CACHE_FORMAT = 1
_MNIST1D_OPTIONS: tuple[str, ...] = ("num_samples", "generator_seed")
# ``mnist1d.data.make_dataset`` draws from the global ``np.random`` state, so two
# threads generating at once would interleave their draws; serialise generation.
_MNIST1D_GENERATION_LOCK = threading.Lock()

# Digits constants.
_DIGITS_NUM_CLASSES = 10
_DIGITS_TEST_SIZE = 0.2
_DIGITS_SPLIT_SEED = 0


@dataclass(frozen=True, eq=False)
class ArrayDataset:
    """A train/test classification dataset held in NumPy arrays.

    ``eq=False`` keeps identity comparison and hashing: field-wise equality is
    ill-defined for arrays.

    Attributes
    ----------
    name : str
        Dataset name (one of :data:`DATASETS`).
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
        :func:`sparsyfed.data.cifar.random_crop_flip`). Default false (the paper
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


def load_dataset(name: str, data_dir: str | Path | None = None, **options: Any) -> ArrayDataset:
    """Load (or generate) a dataset by name.

    Parameters
    ----------
    name : str
        One of :data:`DATASETS`: ``"mnist1d"``, ``"digits"``, ``"cifar10"``,
        ``"cifar100"`` or ``"speech_commands"``.
    data_dir : str or Path or None, optional
        Directory of the published dataset files and of the caches (digits uses
        none). Defaults to ``~/.cache/sparsyfed``.
    **options
        Dataset-specific options; ``None`` values mean "use the default".
        ``mnist1d`` accepts ``num_samples`` (default 12000, a positive multiple
        of 10; 80 % train / 20 % test) and ``generator_seed`` (default 42, the
        ``mnist1d`` package default). ``digits`` accepts no options.
        ``cifar10``/``cifar100`` accept ``augment`` (default false) and ``download``
        (default true); see :func:`sparsyfed.data.cifar.load_cifar`.
        ``speech_commands`` accepts ``features`` (``waveform`` (default), ``mfcc`` or
        ``logmel``) and ``download``; see
        :func:`sparsyfed.data.speech.load_speech_commands`.

    Returns
    -------
    ArrayDataset
        The dataset with ``float32`` inputs and ``int64`` labels.

    Raises
    ------
    ValueError
        If ``name`` is unknown, an option is unknown or has an invalid value, or a
        dataset file is corrupt (the message names the file).
    DatasetNotFoundError
        If the files of a published dataset are missing and could not be downloaded.

    """
    loaders: dict[str, Callable[..., ArrayDataset]] = {
        "mnist1d": _load_mnist1d,
        "digits": _load_digits,
        "cifar10": _load_cifar10,
        "cifar100": _load_cifar100,
        "speech_commands": _load_speech_commands,
    }
    if name not in loaders:
        raise ValueError(f"Unknown dataset.name={name!r}; allowed names: {', '.join(DATASETS)}")
    opts = {key: value for key, value in options.items() if value is not None}
    return loaders[name](data_dir, **opts)


def _load_cifar10(data_dir: str | Path | None, **options: Any) -> ArrayDataset:
    """Load CIFAR-10 (lazy import of :mod:`sparsyfed.data.cifar`)."""
    from sparsyfed.data.cifar import load_cifar

    return load_cifar("cifar10", data_dir, **options)


def _load_cifar100(data_dir: str | Path | None, **options: Any) -> ArrayDataset:
    """Load CIFAR-100 (lazy import of :mod:`sparsyfed.data.cifar`)."""
    from sparsyfed.data.cifar import load_cifar

    return load_cifar("cifar100", data_dir, **options)


def _load_speech_commands(data_dir: str | Path | None, **options: Any) -> ArrayDataset:
    """Load Speech Commands v0.02 (lazy import of :mod:`sparsyfed.data.speech`)."""
    from sparsyfed.data.speech import load_speech_commands

    return load_speech_commands(data_dir, **options)


# ---------------------------------------------------------------------------
# MNIST-1D
# ---------------------------------------------------------------------------


def _check_options(dataset: str, options: Mapping[str, Any], allowed: tuple[str, ...]) -> None:
    """Raise a ValueError for any option not in ``allowed``."""
    unknown = sorted(set(options) - set(allowed))
    if unknown:
        allowed_str = ", ".join(allowed) if allowed else "none"
        raise ValueError(
            f"Unknown option(s) {', '.join(f'dataset.{key}' for key in unknown)} for "
            f"dataset {dataset!r}; allowed options: {allowed_str}"
        )


def _as_int(key: str, value: Any) -> int:
    """Convert ``value`` to ``int`` (rejecting bools/floats) or raise a ValueError."""
    if isinstance(value, bool):
        raise ValueError(f"dataset.{key} must be an integer, got {value!r}")
    try:
        return operator.index(value)
    except TypeError:
        raise ValueError(f"dataset.{key} must be an integer, got {value!r}") from None


def _mnist1d_options(options: Mapping[str, Any]) -> tuple[int, int]:
    """Validate MNIST-1D options and return ``(num_samples, generator_seed)``."""
    _check_options("mnist1d", options, _MNIST1D_OPTIONS)
    num_samples = _as_int("num_samples", options.get("num_samples", _MNIST1D_DEFAULT_NUM_SAMPLES))
    if num_samples < _MNIST1D_NUM_CLASSES or num_samples % _MNIST1D_NUM_CLASSES:
        raise ValueError(
            f"dataset.num_samples must be a positive multiple of "
            f"{_MNIST1D_NUM_CLASSES} (the generator makes num_samples // 10 samples "
            f"per class), got {num_samples}"
        )
    seed = _as_int("generator_seed", options.get("generator_seed", _MNIST1D_DEFAULT_SEED))
    if not 0 <= seed < 2**32:
        raise ValueError(
            f"dataset.generator_seed must be in [0, 2**32) (it seeds np.random), got {seed}"
        )
    return num_samples, seed


def _mnist1d_package_version() -> str:
    """Return the installed ``mnist1d`` version without importing the package."""
    try:
        return importlib.metadata.version("mnist1d")
    except importlib.metadata.PackageNotFoundError:
        return "unknown"


def mnist1d_cache_path(
    data_dir: str | Path | None = None,
    num_samples: int = _MNIST1D_DEFAULT_NUM_SAMPLES,
    generator_seed: int = _MNIST1D_DEFAULT_SEED,
) -> Path:
    """Return the cache file used for an MNIST-1D generation setting.

    The file name is keyed by every input that changes the generated arrays: the
    number of samples, the generator seed, the ``mnist1d`` package version and
    the cache format version.

    Parameters
    ----------
    data_dir : str or Path or None, optional
        Cache directory; defaults to ``~/.cache/sparsyfed``.
    num_samples : int, optional
        Total number of generated samples (train + test).
    generator_seed : int, optional
        Seed of the MNIST-1D generator.

    Returns
    -------
    Path
        Path of the ``.npz`` cache file (it may not exist yet).

    """
    root = Path(DEFAULT_DATA_DIR if data_dir is None else data_dir).expanduser()
    version = _mnist1d_package_version().replace(os.sep, "_")
    fname = (
        f"mnist1d_n{num_samples}_seed{generator_seed}_pkg{version}_fmt{_MNIST1D_CACHE_FORMAT}.npz"
    )
    return root / fname


def _generate_mnist1d(num_samples: int, seed: int) -> dict[str, np.ndarray]:
    """Generate MNIST-1D offline from the package templates.

    ``mnist1d.data.make_dataset`` seeds and draws from the *global* ``random`` and
    ``np.random`` generators; their states are restored afterwards so that a
    cache miss does not change the caller's random streams.

    Parameters
    ----------
    num_samples : int
        Total number of samples (train + test), a multiple of 10.
    seed : int
        Generator seed.

    Returns
    -------
    dict of str to numpy.ndarray
        ``x_train``, ``y_train``, ``x_test``, ``y_test`` with inputs reshaped to
        ``(N, 1, 40)`` ``float32`` and labels ``int64``.

    """
    # Lazy import: the package pulls in matplotlib, scipy and requests.
    from mnist1d.data import get_dataset_args, make_dataset

    args = get_dataset_args()
    args.num_samples = num_samples
    args.seed = seed
    args.train_split = _MNIST1D_TRAIN_SPLIT

    with _MNIST1D_GENERATION_LOCK:
        py_state = random.getstate()
        np_state = np.random.get_state()  # noqa: NPY002 (mnist1d uses the global RNG)
        try:
            raw = make_dataset(args)
        finally:
            random.setstate(py_state)
            np.random.set_state(np_state)  # noqa: NPY002

    # No extra standardisation: ``make_dataset`` already centres the whole
    # generated set and scales it to unit standard deviation (one global scalar
    # mean/std), which is the canonical MNIST-1D preprocessing.
    return {
        "x_train": np.asarray(raw["x"], dtype=np.float32).reshape(-1, 1, _MNIST1D_SEQ_LEN),
        "y_train": np.asarray(raw["y"], dtype=np.int64),
        "x_test": np.asarray(raw["x_test"], dtype=np.float32).reshape(-1, 1, _MNIST1D_SEQ_LEN),
        "y_test": np.asarray(raw["y_test"], dtype=np.int64),
    }


def _expected_split(num_samples: int) -> tuple[int, int]:
    """Train/test sizes produced by ``make_dataset`` (``train_split=0.8``)."""
    n_train = int(num_samples * _MNIST1D_TRAIN_SPLIT)
    return n_train, num_samples - n_train


def _read_mnist1d_cache(path: Path, num_samples: int) -> dict[str, np.ndarray] | None:
    """Load and validate a cache file; return ``None`` if missing or corrupt."""
    n_train, n_test = _expected_split(num_samples)
    expected = {
        "x_train": ((n_train, 1, _MNIST1D_SEQ_LEN), np.float32),
        "y_train": ((n_train,), np.int64),
        "x_test": ((n_test, 1, _MNIST1D_SEQ_LEN), np.float32),
        "y_test": ((n_test,), np.int64),
    }
    try:
        with np.load(path, allow_pickle=False) as npz:
            arrays = {key: np.array(npz[key]) for key in expected}
    except FileNotFoundError:
        return None
    except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile):
        return None  # unreadable / truncated / wrong content: regenerate
    for key, (shape, dtype) in expected.items():
        arr = arrays[key]
        if arr.shape != shape or arr.dtype != dtype:
            return None
    for key in ("y_train", "y_test"):
        if arrays[key].size and (
            arrays[key].min() < 0 or arrays[key].max() >= _MNIST1D_NUM_CLASSES
        ):
            return None
    if not (np.isfinite(arrays["x_train"]).all() and np.isfinite(arrays["x_test"]).all()):
        return None
    return arrays


def _write_npz_atomic(path: Path, arrays: Mapping[str, np.ndarray]) -> None:
    """Write ``arrays`` to ``path`` via a temporary file and ``os.replace``.

    Concurrent writers each write their own temporary file; the last rename wins
    and readers never observe a partially written file.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            np.savez(fh, **arrays)
            fh.flush()
            os.fsync(fh.fileno())
        # mkstemp creates the file with mode 0600; make the shared cache readable.
        os.chmod(tmp_name, 0o644)
        os.replace(tmp_name, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp_name)
        raise


def _load_mnist1d(data_dir: str | Path | None, **options: Any) -> ArrayDataset:
    """Load MNIST-1D from the cache, generating (and caching) it on a miss."""
    num_samples, seed = _mnist1d_options(options)
    path = mnist1d_cache_path(data_dir, num_samples, seed)
    arrays = _read_mnist1d_cache(path, num_samples)
    if arrays is None:
        arrays = _generate_mnist1d(num_samples, seed)
        try:
            _write_npz_atomic(path, arrays)
        except OSError as exc:
            warnings.warn(
                f"Could not write MNIST-1D cache file {path}: {exc}; continuing without caching",
                RuntimeWarning,
                stacklevel=3,
            )
    return ArrayDataset(
        name="mnist1d",
        x_train=arrays["x_train"],
        y_train=arrays["y_train"],
        x_test=arrays["x_test"],
        y_test=arrays["y_test"],
        num_classes=_MNIST1D_NUM_CLASSES,
        input_shape=(1, _MNIST1D_SEQ_LEN),
    )


# ---------------------------------------------------------------------------
# scikit-learn digits
# ---------------------------------------------------------------------------


def _load_digits(data_dir: str | Path | None, **options: Any) -> ArrayDataset:
    """Load scikit-learn's bundled 8x8 digits with a fixed stratified split."""
    del data_dir  # bundled with scikit-learn: nothing to cache
    _check_options("digits", options, ())
    # Lazy import: scikit-learn is only needed for this dataset.
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    bunch = load_digits()
    x = (np.asarray(bunch.data, dtype=np.float64) / 16.0 - 0.5) / 0.5
    x = x.astype(np.float32).reshape(-1, 1, 8, 8)
    y = np.asarray(bunch.target, dtype=np.int64)
    x_train, x_test, y_train, y_test = train_test_split(
        x, y, test_size=_DIGITS_TEST_SIZE, stratify=y, random_state=_DIGITS_SPLIT_SEED
    )
    return ArrayDataset(
        name="digits",
        x_train=np.ascontiguousarray(x_train),
        y_train=np.ascontiguousarray(y_train),
        x_test=np.ascontiguousarray(x_test),
        y_test=np.ascontiguousarray(y_test),
        num_classes=_DIGITS_NUM_CLASSES,
        input_shape=(1, 8, 8),
    )
