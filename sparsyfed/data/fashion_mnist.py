"""FashionMNIST from the four published IDX files.

The files are ``train-images-idx3-ubyte``, ``train-labels-idx1-ubyte``,
``t10k-images-idx3-ubyte`` and ``t10k-labels-idx1-ubyte``, each gzipped (``.gz``, as
published) or uncompressed. All four are looked for together in, in this order:

* ``data_dir/`` itself;
* ``data_dir/fashion_mnist/``;
* ``data_dir/FashionMNIST/raw/`` (torchvision's layout).

The first directory holding all four is used (in each, the uncompressed copy before
the ``.gz``). When none does and ``download`` is true, the missing ``.gz`` files are
fetched from the official address into ``data_dir/fashion_mnist/``.

The IDX format is parsed here with NumPy: a big-endian magic number (two zero bytes,
a type code, 0x08 for unsigned bytes, and the number of dimensions), one big-endian
``uint32`` per dimension, then the data. Images must be ``(N, 28, 28)`` unsigned
bytes (magic ``0x00000803``), labels ``(N,)`` unsigned bytes in ``[0, 10)`` (magic
``0x00000801``); anything else is refused naming the file.

Inputs are ``float32`` ``(N, 1, 28, 28)`` scaled as in the FedSparsify original (its
FashionMNIST scripts compute ``x.astype('float32') / 256``), so pixel ``v`` becomes
``v / 256`` in ``[0, 255/256]``; no mean/std normalisation (docs/methods.md section 15.1).
"""

from __future__ import annotations

import gzip
import zlib
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from sparsyfed.data.base import (
    ArrayDataset,
    DatasetNotFoundError,
    check_options,
    resolve_data_dir,
)
from sparsyfed.data.sources import download_file
from sparsyfed.validation import as_bool

__all__ = [
    "FASHION_MNIST_FILES",
    "FASHION_MNIST_URL",
    "IDX_IMAGES_MAGIC",
    "IDX_LABELS_MAGIC",
    "find_files",
    "load_fashion_mnist",
    "read_idx",
]

FASHION_MNIST_URL = "http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/"
"""Official download address of the four ``.gz`` files (github.com/zalandoresearch/fashion-mnist)."""

FASHION_MNIST_FILES: Mapping[str, str] = {
    "x_train": "train-images-idx3-ubyte.gz",
    "y_train": "train-labels-idx1-ubyte.gz",
    "x_test": "t10k-images-idx3-ubyte.gz",
    "y_test": "t10k-labels-idx1-ubyte.gz",
}
"""The published file of each array (the uncompressed copy drops ``.gz``)."""

IDX_IMAGES_MAGIC = 0x00000803
"""Magic number of an IDX file of unsigned bytes with 3 dimensions."""
IDX_LABELS_MAGIC = 0x00000801
"""Magic number of an IDX file of unsigned bytes with 1 dimension."""

_NAME = "fashion_mnist"
_NUM_CLASSES = 10
_IMAGE_SHAPE = (1, 28, 28)
_OPTIONS = ("download",)
# IDX type codes and their big-endian dtypes.
_IDX_TYPES = {0x08: ">u1", 0x09: ">i1", 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}


def _candidates(root: Path) -> tuple[Path, ...]:
    """The directories searched, in order."""
    return (root, root / "fashion_mnist", root / "FashionMNIST" / "raw")


def _find_one(folder: Path, name: str) -> Path | None:
    """The uncompressed copy of ``name`` in ``folder``, else the ``.gz``, else ``None``."""
    for path in (folder / name.removesuffix(".gz"), folder / name):
        if path.is_file():
            return path
    return None


def find_files(root: Path) -> dict[str, Path] | None:
    """Return the four files of the first candidate directory holding all of them.

    Parameters
    ----------
    root : Path
        The data directory.

    Returns
    -------
    dict or None
        Array name (``x_train``, ``y_train``, ``x_test``, ``y_test``) to file path,
        or ``None`` when no candidate directory holds all four.

    """
    for folder in _candidates(root):
        found = {key: _find_one(folder, name) for key, name in FASHION_MNIST_FILES.items()}
        if all(path is not None for path in found.values()):
            return {key: path for key, path in found.items() if path is not None}
    return None


def _read_bytes(path: Path) -> bytes:
    """The file's content, gunzipped when it starts with the gzip magic bytes."""
    data = path.read_bytes()
    if data[:2] != b"\x1f\x8b":
        return data
    try:
        return gzip.decompress(data)
    except (OSError, EOFError, zlib.error) as exc:
        raise ValueError(
            f"{path} is a corrupt or truncated gzip file ({type(exc).__name__}: {exc}); "
            f"delete it and download it again"
        ) from None


def read_idx(path: str | Path, magic: int | None = None) -> np.ndarray:
    """Read an IDX file (optionally gzipped) into an array of its dims and type.

    Parameters
    ----------
    path : str or Path
        The file.
    magic : int or None, optional
        The magic number the file must have, e.g. :data:`IDX_IMAGES_MAGIC`.

    Returns
    -------
    numpy.ndarray
        The data in native byte order, shaped by the header's dimensions.

    Raises
    ------
    ValueError
        If the file is not a well-formed IDX file, has another magic number than
        ``magic`` or its size disagrees with its header (the message names it).

    """
    path = Path(path)
    data = _read_bytes(path)
    if len(data) < 4 or data[:2] != b"\0\0" or data[2] not in _IDX_TYPES:
        head = data[:4].hex() or "empty"
        raise ValueError(
            f"{path} is not an IDX file: its magic number is 0x{head}, expected two zero "
            f"bytes, a type code (0x08 for unsigned bytes) and the number of dimensions"
        )
    found = int.from_bytes(data[:4], "big")
    if magic is not None and found != magic:
        raise ValueError(
            f"{path} has IDX magic number 0x{found:08x}, expected 0x{magic:08x} "
            f"(unsigned bytes, {magic & 0xFF} dimension(s)); the file is corrupt or another file"
        )
    ndim, dtype = data[3], np.dtype(_IDX_TYPES[data[2]])
    header = 4 + 4 * ndim
    if len(data) < header:
        raise ValueError(f"{path} is truncated: {len(data)} bytes, shorter than its header")
    dims = tuple(int(d) for d in np.frombuffer(data, ">u4", ndim, 4))
    expected = header + int(np.prod(dims, dtype=np.int64)) * dtype.itemsize
    if len(data) != expected:
        raise ValueError(
            f"{path} has {len(data)} bytes but its header (dims {dims}) needs {expected}; "
            f"the file is truncated or corrupt"
        )
    array = np.frombuffer(data, dtype, offset=header).reshape(dims)
    return array.astype(dtype.newbyteorder("="))


def _read_split(images: Path, labels: Path) -> tuple[np.ndarray, np.ndarray]:
    """The ``uint8 (N, 28, 28)`` images and ``int64 (N,)`` labels of one split."""
    x = read_idx(images, IDX_IMAGES_MAGIC)
    y = read_idx(labels, IDX_LABELS_MAGIC)
    if x.shape[1:] != _IMAGE_SHAPE[1:]:
        raise ValueError(f"{images} holds images of shape {x.shape[1:]}, expected (28, 28)")
    if x.shape[0] != y.shape[0]:
        raise ValueError(f"{images} holds {x.shape[0]} images but {labels} {y.shape[0]} labels")
    if y.size and int(y.max()) >= _NUM_CLASSES:
        raise ValueError(f"{labels}: labels must lie in [0, {_NUM_CLASSES}), got max {y.max()}")
    return x, y.astype(np.int64)


def _not_found(root: Path, failure: str | None) -> DatasetNotFoundError:
    """The error of missing files: the four names, every place they may go, how to fix."""
    names = ", ".join(FASHION_MNIST_FILES.values())
    lines = [
        f"Dataset {_NAME!r} not found in {root}.",
        f"Expected the four IDX files {names} (or the same names without .gz, "
        "uncompressed), all four in one of:",
    ]
    for folder in _candidates(root):
        have = [n for n in FASHION_MNIST_FILES.values() if _find_one(folder, n) is not None]
        note = f" (has only {', '.join(have)})" if have else ""
        layout = " (torchvision's layout)" if folder.name == "raw" else ""
        lines.append(f"  - {folder}{layout}{note}")
    if failure is None:
        lines.append("No download was attempted (dataset.download=false).")
    else:
        lines.append(f"Downloading from {FASHION_MNIST_URL} failed: {failure}")
    lines.append(
        f"To fix: download the four files from {FASHION_MNIST_URL} (see "
        f"github.com/zalandoresearch/fashion-mnist) into one of these directories; or pass "
        f"data_dir=... (config key data_dir) naming the directory that holds them; or set "
        f"dataset.download=true on a machine with network access."
    )
    return DatasetNotFoundError("\n".join(lines))


def _download(root: Path) -> str | None:
    """Fetch the missing ``.gz`` files into ``root/fashion_mnist``; the failure, or ``None``."""
    folder = root / "fashion_mnist"
    for name in FASHION_MNIST_FILES.values():
        if _find_one(folder, name) is None:
            try:
                download_file(FASHION_MNIST_URL + name, folder / name)
            except OSError as exc:
                return f"{name}: {exc or type(exc).__name__}"
    return None


def load_fashion_mnist(data_dir: str | Path | None = None, **options: Any) -> ArrayDataset:
    """Load FashionMNIST from the published IDX files.

    Parameters
    ----------
    data_dir : str or Path or None, optional
        Directory holding the four files, or ``fashion_mnist/`` or
        ``FashionMNIST/raw/`` with them. Defaults to ``~/.cache/sparsyfed``.
    **options
        ``download`` (bool, default true): fetch the missing ``.gz`` files from the
        official address (15 s socket timeout) into ``data_dir/fashion_mnist/``.

    Returns
    -------
    ArrayDataset
        ``x`` ``float32`` ``(N, 1, 28, 28)`` equal to ``pixel / 256``, labels
        ``int64`` in ``[0, 10)``; 60,000 train / 10,000 test images for the
        published files.

    Raises
    ------
    DatasetNotFoundError
        If the files are missing and could not be downloaded.
    sparsyfed.validation.ConfigError
        If an option is invalid (a ``ValueError``).
    ValueError
        If a file is corrupt (the message names it).

    """
    check_options(_NAME, options, _OPTIONS)
    download = as_bool("dataset.download", options.get("download", True))
    root = resolve_data_dir(data_dir)
    files = find_files(root)
    failure: str | None = None
    if files is None and download:
        failure = _download(root)
        files = find_files(root)
    if files is None:
        raise _not_found(root, failure if download else None)
    table = (np.arange(256, dtype=np.float64) / 256.0).astype(np.float32)
    arrays: dict[str, np.ndarray] = {}
    for split in ("train", "test"):
        x, y = _read_split(files[f"x_{split}"], files[f"y_{split}"])
        arrays[f"x_{split}"] = table[x].reshape(-1, *_IMAGE_SHAPE)
        arrays[f"y_{split}"] = y
    return ArrayDataset(
        name=_NAME,
        num_classes=_NUM_CLASSES,
        input_shape=_IMAGE_SHAPE,
        **arrays,
    )
