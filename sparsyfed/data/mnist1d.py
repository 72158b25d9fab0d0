"""MNIST-1D, generated offline from the templates shipped with the ``mnist1d`` package.

Nothing is downloaded: ``mnist1d.data.make_dataset`` builds the samples from the
package's templates. Generation takes a few seconds, so the arrays are cached in
``data_dir`` as an ``.npz`` file keyed by every input that changes them
(:func:`mnist1d_cache_path`); a missing or corrupt cache is regenerated. The
``mnist1d`` package (which pulls in matplotlib, scipy and requests) is imported only
on a cache miss.
"""

from __future__ import annotations

import importlib.metadata
import os
import random
import threading
import warnings
import zipfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from sparsyfed.data.base import ArrayDataset, check_options, resolve_data_dir
from sparsyfed.data.sources import write_npz_atomic
from sparsyfed.validation import as_int, fail

__all__ = ["load_mnist1d", "mnist1d_cache_path"]

# Constants from ``mnist1d.data.get_dataset_args`` and the templates.
_NUM_CLASSES = 10
_SEQ_LEN = 40
_DEFAULT_NUM_SAMPLES = 12_000
_DEFAULT_SEED = 42  # the package default (``get_dataset_args()["seed"]``)
_TRAIN_SPLIT = 0.8  # the package default, pinned so the split sizes are known
# Bump when the cached array layout / preprocessing changes.
_CACHE_FORMAT = 1
_OPTIONS = ("num_samples", "generator_seed")
# ``mnist1d.data.make_dataset`` draws from the global ``np.random`` state, so two
# threads generating at once would interleave their draws; serialise generation.
_GENERATION_LOCK = threading.Lock()


def _options(options: Mapping[str, Any]) -> tuple[int, int]:
    """Validate the options and return ``(num_samples, generator_seed)``."""
    check_options("mnist1d", options, _OPTIONS)
    value = options.get("num_samples", _DEFAULT_NUM_SAMPLES)
    num_samples = as_int("dataset.num_samples", value)
    if num_samples < _NUM_CLASSES or num_samples % _NUM_CLASSES:
        fail(
            "dataset.num_samples",
            value,
            f"it must be a positive multiple of {_NUM_CLASSES} (the generator makes "
            f"num_samples // {_NUM_CLASSES} samples per class)",
        )
    value = options.get("generator_seed", _DEFAULT_SEED)
    seed = as_int("dataset.generator_seed", value, minimum=0, maximum=2**32 - 1)
    return num_samples, seed


def _package_version() -> str:
    """Return the installed ``mnist1d`` version without importing the package."""
    try:
        return importlib.metadata.version("mnist1d")
    except importlib.metadata.PackageNotFoundError:
        return "unknown"


def mnist1d_cache_path(
    data_dir: str | Path | None = None,
    num_samples: int = _DEFAULT_NUM_SAMPLES,
    generator_seed: int = _DEFAULT_SEED,
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
    version = _package_version().replace(os.sep, "_")
    fname = f"mnist1d_n{num_samples}_seed{generator_seed}_pkg{version}_fmt{_CACHE_FORMAT}.npz"
    return resolve_data_dir(data_dir) / fname


def _generate(num_samples: int, seed: int) -> dict[str, np.ndarray]:
    """Generate MNIST-1D: ``x`` reshaped to ``float32 (N, 1, 40)``, labels ``int64``.

    ``mnist1d.data.make_dataset`` seeds and draws from the *global* ``random`` and
    ``np.random`` generators; their states are restored afterwards so that a cache
    miss does not change the caller's random streams.
    """
    # Lazy import: the package pulls in matplotlib, scipy and requests.
    from mnist1d.data import get_dataset_args, make_dataset

    args = get_dataset_args()
    args.num_samples = num_samples
    args.seed = seed
    args.train_split = _TRAIN_SPLIT

    with _GENERATION_LOCK:
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
        "x_train": np.asarray(raw["x"], dtype=np.float32).reshape(-1, 1, _SEQ_LEN),
        "y_train": np.asarray(raw["y"], dtype=np.int64),
        "x_test": np.asarray(raw["x_test"], dtype=np.float32).reshape(-1, 1, _SEQ_LEN),
        "y_test": np.asarray(raw["y_test"], dtype=np.int64),
    }


def _read_cache(path: Path, num_samples: int) -> dict[str, np.ndarray] | None:
    """Load and validate a cache file; return ``None`` if missing or corrupt."""
    n_train = int(num_samples * _TRAIN_SPLIT)  # the split ``make_dataset`` produces
    n_test = num_samples - n_train
    expected = {
        "x_train": ((n_train, 1, _SEQ_LEN), np.float32),
        "y_train": ((n_train,), np.int64),
        "x_test": ((n_test, 1, _SEQ_LEN), np.float32),
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
        if arrays[key].shape != shape or arrays[key].dtype != dtype:
            return None
    for key in ("y_train", "y_test"):
        if arrays[key].size and (arrays[key].min() < 0 or arrays[key].max() >= _NUM_CLASSES):
            return None
    if not (np.isfinite(arrays["x_train"]).all() and np.isfinite(arrays["x_test"]).all()):
        return None
    return arrays


def load_mnist1d(data_dir: str | Path | None = None, **options: Any) -> ArrayDataset:
    """Load MNIST-1D from the cache, generating (and caching) it on a miss.

    Parameters
    ----------
    data_dir : str or Path or None, optional
        Cache directory; defaults to ``~/.cache/sparsyfed``.
    **options
        ``num_samples`` (default 12000, a positive multiple of 10; 80 % train /
        20 % test) and ``generator_seed`` (default 42, the ``mnist1d`` package
        default; in ``[0, 2**32)``).

    Returns
    -------
    ArrayDataset
        ``float32`` inputs ``(N, 1, 40)`` and ``int64`` labels in ``[0, 10)``.

    Raises
    ------
    sparsyfed.validation.ConfigError
        If an option is unknown or has an invalid value.

    """
    num_samples, seed = _options(options)
    path = mnist1d_cache_path(data_dir, num_samples, seed)
    arrays = _read_cache(path, num_samples)
    if arrays is None:
        arrays = _generate(num_samples, seed)
        try:
            write_npz_atomic(path, arrays)
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
        num_classes=_NUM_CLASSES,
        input_shape=(1, _SEQ_LEN),
    )
