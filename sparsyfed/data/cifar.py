"""CIFAR-10 and CIFAR-100 from the published python-version files.

``data_dir`` holds either the extracted directory or the published archive:

* CIFAR-10: ``cifar-10-batches-py/`` with ``data_batch_1`` ... ``data_batch_5``,
  ``test_batch`` and ``batches.meta``, or ``cifar-10-python.tar.gz``;
* CIFAR-100: ``cifar-100-python/`` with ``train``, ``test`` and ``meta``, or
  ``cifar-100-python.tar.gz`` (labels are the 100 fine labels).

An archive is extracted safely next to itself (only the expected members); when neither
is present and ``download`` is true the archive is fetched from the official address.
The pickled batches are read with a restricted unpickler. The parsed ``uint8`` images
and labels are cached in ``<data_dir>/<name>-<hash>.npz``; the cache is rebuilt when the
batch files change or the cache is unreadable.

Inputs are ``float32`` of shape ``(N, 3, 32, 32)``, normalised per channel with mean
0.5 and std 0.5: ``(x / 255 - 0.5) / 0.5``, so 0 maps to -1 and 255 to 1 (the paper's
preprocessing; it uses no augmentation). With ``augment=True`` the returned dataset
carries ``augment=True`` and training may apply
:func:`sparsyfed.data.augment.random_crop_flip`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from sparsyfed.data.base import (
    ArrayDataset,
    DatasetNotFoundError,
    check_options,
    resolve_data_dir,
)
from sparsyfed.data.sources import (
    cache_path,
    download_file,
    extract_tar,
    file_signature,
    not_found_error,
    read_cache,
    safe_unpickle,
    write_cache,
)
from sparsyfed.validation import as_bool, as_choice

__all__ = ["CIFAR_URLS", "load_cifar", "load_cifar10", "load_cifar100"]

CIFAR_URLS: dict[str, str] = {
    "cifar10": "https://www.cs.toronto.edu/~kriz/cifar-10-python.tar.gz",
    "cifar100": "https://www.cs.toronto.edu/~kriz/cifar-100-python.tar.gz",
}
"""Official download addresses of the python-version archives."""

_IMAGE_SHAPE = (3, 32, 32)
_ROW = 3 * 32 * 32
# Bump when the cached layout changes.
_CACHE_FORMAT = 1
_OPTIONS = ("augment", "download")


@dataclass(frozen=True)
class _Spec:
    """File layout of one CIFAR variant."""

    folder: str
    archive: str
    train_files: tuple[str, ...]
    test_files: tuple[str, ...]
    meta_file: str
    label_key: bytes
    num_classes: int
    label_names: Mapping[bytes, int]

    @property
    def files(self) -> tuple[str, ...]:
        """Every file the loader needs."""
        return (*self.train_files, *self.test_files, self.meta_file)


_SPECS: dict[str, _Spec] = {
    "cifar10": _Spec(
        folder="cifar-10-batches-py",
        archive="cifar-10-python.tar.gz",
        train_files=tuple(f"data_batch_{i}" for i in range(1, 6)),
        test_files=("test_batch",),
        meta_file="batches.meta",
        label_key=b"labels",
        num_classes=10,
        label_names={b"label_names": 10},
    ),
    "cifar100": _Spec(
        folder="cifar-100-python",
        archive="cifar-100-python.tar.gz",
        train_files=("train",),
        test_files=("test",),
        meta_file="meta",
        label_key=b"fine_labels",
        num_classes=100,
        label_names={b"fine_label_names": 100, b"coarse_label_names": 20},
    ),
}


def _get(obj: Mapping[Any, Any], key: bytes, path: Path) -> Any:
    """Look ``key`` up as bytes (published files) or str (re-pickled by Python 3)."""
    for candidate in (key, key.decode()):
        if candidate in obj:
            return obj[candidate]
    raise ValueError(f"{path} has no {key.decode()!r} entry (keys: {sorted(map(str, obj))})")


def _load_dict(path: Path, name: str) -> Mapping[Any, Any]:
    """Unpickle a CIFAR file and check that it holds a dict."""
    obj = safe_unpickle(path, f"a {name} python-version file")
    if not isinstance(obj, dict):
        raise ValueError(f"{path} is not a {name} python-version file: it holds a {type(obj)}")
    return obj


def _read_batch(path: Path, spec: _Spec, name: str) -> tuple[np.ndarray, np.ndarray]:
    """Return the ``uint8 (N, 3072)`` images and ``int64 (N,)`` labels of one batch file."""
    obj = _load_dict(path, name)
    data = _get(obj, b"data", path)
    labels = _get(obj, spec.label_key, path)
    if not isinstance(data, np.ndarray) or data.dtype != np.uint8 or data.ndim != 2:
        shape = getattr(data, "shape", None)
        dtype = getattr(data, "dtype", type(data).__name__)
        raise ValueError(
            f"{path}: 'data' must be a uint8 array of shape (N, {_ROW}), "
            f"got {dtype} with shape {shape}"
        )
    if data.shape[1] != _ROW:
        raise ValueError(f"{path}: 'data' has shape {data.shape}, expected (N, {_ROW})")
    try:
        y = np.asarray(labels)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"{path}: unreadable labels ({exc})") from None
    if y.shape != (data.shape[0],) or not np.issubdtype(y.dtype, np.integer):
        raise ValueError(
            f"{path}: {spec.label_key.decode()!r} must hold {data.shape[0]} integer labels "
            f"(one per image), got shape {y.shape} and dtype {y.dtype}"
        )
    if y.size and (y.min() < 0 or y.max() >= spec.num_classes):
        raise ValueError(
            f"{path}: labels must lie in [0, {spec.num_classes}), got [{y.min()}, {y.max()}]"
        )
    return data, y.astype(np.int64)


def _check_meta(path: Path, spec: _Spec, name: str) -> None:
    """Check that the meta file lists the expected number of label names."""
    obj = _load_dict(path, name)
    for key, count in spec.label_names.items():
        names = _get(obj, key, path)
        if not isinstance(names, list | tuple) or len(names) != count:
            raise ValueError(f"{path}: {key.decode()!r} must list {count} names")


def _parse(folder: Path, spec: _Spec, name: str) -> dict[str, np.ndarray]:
    """Read every batch file of ``folder`` into uint8 images and int64 labels."""
    _check_meta(folder / spec.meta_file, spec, name)
    out: dict[str, np.ndarray] = {}
    for split, files in (("train", spec.train_files), ("test", spec.test_files)):
        parts = [_read_batch(folder / fname, spec, name) for fname in files]
        out[f"x_{split}"] = np.concatenate([p[0] for p in parts]).reshape(-1, *_IMAGE_SHAPE)
        out[f"y_{split}"] = np.concatenate([p[1] for p in parts])
    return out


def _ensure_folder(name: str, root: Path, spec: _Spec, download: bool) -> Path:
    """Return the complete batch directory, extracting or downloading the archive if needed."""
    folder = root / spec.folder
    missing = [f for f in spec.files if not (folder / f).is_file()]
    if not missing:
        return folder
    if folder.exists():
        raise DatasetNotFoundError(
            f"Dataset {name!r}: directory {folder} is incomplete (missing "
            f"{', '.join(missing)}). Complete it, or remove it so that {root / spec.archive} "
            f"is extracted (or downloaded with dataset.download=true)."
        )
    archive = root / spec.archive
    failure: str | None = None
    if not archive.is_file() and download:
        try:
            download_file(CIFAR_URLS[name], archive)
        except OSError as exc:
            failure = str(exc) or type(exc).__name__
    if not archive.is_file():
        layout = [
            f"{spec.folder}/ holding {', '.join(spec.files)}",
            f"{spec.archive} (the published archive, with {spec.folder}/ inside)",
        ]
        raise not_found_error(
            name, root, layout, spec.archive, CIFAR_URLS[name], failure if download else None
        )
    wanted = set(spec.files)

    def select(member: str) -> str | None:
        parts = member.split("/")
        if len(parts) == 2 and parts[0] == spec.folder and parts[1] in wanted:
            return parts[1]
        return None

    written = extract_tar(archive, folder, select)
    absent = sorted(wanted - set(written))
    if absent:
        raise ValueError(
            f"Archive {archive} lacks {', '.join(f'{spec.folder}/{f}' for f in absent)}; "
            f"it is not the published {spec.archive} (delete {folder} and the archive and "
            f"download it again)"
        )
    return folder


def load_cifar(name: str, data_dir: str | Path | None = None, **options: Any) -> ArrayDataset:
    """Load CIFAR-10 or CIFAR-100 from the published python-version files.

    Parameters
    ----------
    name : str
        ``"cifar10"`` or ``"cifar100"``.
    data_dir : str or Path or None, optional
        Directory holding ``cifar-10-batches-py/`` / ``cifar-100-python/`` or the
        published ``.tar.gz``; the cache file is written there too. Defaults to
        ``~/.cache/sparsyfed``.
    **options
        ``augment`` (bool, default false): stored on the dataset as
        ``ArrayDataset.augment`` so that training applies
        :func:`~sparsyfed.data.augment.random_crop_flip`.
        ``download`` (bool, default true): fetch the archive from the official address
        (15 s socket timeout) when the files are missing.

    Returns
    -------
    ArrayDataset
        ``x`` ``float32`` ``(N, 3, 32, 32)`` in ``[-1, 1]``, labels ``int64``;
        50,000 train / 10,000 test images for the published files.

    Raises
    ------
    DatasetNotFoundError
        If the files are missing and could not be downloaded.
    sparsyfed.validation.ConfigError
        If ``name`` or an option is invalid (a ``ValueError``).
    ValueError
        If a file is corrupt (the message names it).

    """
    as_choice("dataset.name", name, _SPECS)
    check_options(name, options, _OPTIONS)
    augment = as_bool("dataset.augment", options.get("augment", False))
    download = as_bool("dataset.download", options.get("download", True))
    spec = _SPECS[name]
    root = resolve_data_dir(data_dir)
    folder = root / spec.folder
    key = {"dataset": name, "format": _CACHE_FORMAT}
    cache = cache_path(root, name, key)
    complete = all((folder / f).is_file() for f in spec.files)
    source = file_signature([folder / f for f in spec.files]) if complete else None
    expected = {
        "x_train": ((None, *_IMAGE_SHAPE), np.uint8),
        "y_train": ((None,), np.int64),
        "x_test": ((None, *_IMAGE_SHAPE), np.uint8),
        "y_test": ((None,), np.int64),
    }
    arrays = read_cache(cache, key, source, expected)
    if arrays is not None and not _labels_ok(arrays, spec.num_classes):
        arrays = None
    if arrays is None:
        folder = _ensure_folder(name, root, spec, download)
        arrays = _parse(folder, spec, name)
        source = file_signature([folder / f for f in spec.files])
        write_cache(cache, key, source, arrays)
    return ArrayDataset(
        name=name,
        x_train=_normalise(arrays["x_train"]),
        y_train=arrays["y_train"],
        x_test=_normalise(arrays["x_test"]),
        y_test=arrays["y_test"],
        num_classes=spec.num_classes,
        input_shape=_IMAGE_SHAPE,
        augment=augment,
    )


def _labels_ok(arrays: Mapping[str, np.ndarray], num_classes: int) -> bool:
    """Whether cached images and labels agree in length and labels are in range."""
    for split in ("train", "test"):
        x, y = arrays[f"x_{split}"], arrays[f"y_{split}"]
        if x.shape[0] != y.shape[0]:
            return False
        if y.size and (y.min() < 0 or y.max() >= num_classes):
            return False
    return True


def _normalise(images: np.ndarray) -> np.ndarray:
    """Map ``uint8`` pixels to ``float32`` ``(x / 255 - 0.5) / 0.5`` (0 -> -1, 255 -> 1)."""
    # One gather through a 256-entry table (computed in float64) instead of four passes.
    table = ((np.arange(256, dtype=np.float64) / 255.0 - 0.5) / 0.5).astype(np.float32)
    return table[images]


def load_cifar10(data_dir: str | Path | None = None, **options: Any) -> ArrayDataset:
    """Load CIFAR-10: :func:`load_cifar` with ``name="cifar10"``.

    Parameters
    ----------
    data_dir : str or Path or None, optional
        As in :func:`load_cifar`.
    **options
        As in :func:`load_cifar`.

    Returns
    -------
    ArrayDataset
        10 classes, inputs ``float32`` ``(N, 3, 32, 32)``.

    """
    return load_cifar("cifar10", data_dir, **options)


def load_cifar100(data_dir: str | Path | None = None, **options: Any) -> ArrayDataset:
    """Load CIFAR-100 (the 100 fine labels): :func:`load_cifar` with ``name="cifar100"``.

    Parameters
    ----------
    data_dir : str or Path or None, optional
        As in :func:`load_cifar`.
    **options
        As in :func:`load_cifar`.

    Returns
    -------
    ArrayDataset
        100 classes, inputs ``float32`` ``(N, 3, 32, 32)``.

    """
    return load_cifar("cifar100", data_dir, **options)
