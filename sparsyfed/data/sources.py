"""File handling shared by the dataset loaders: downloads, archives, pickles and caches.

* :func:`not_found_error`: the :class:`~sparsyfed.data.base.DatasetNotFoundError` of a
  dataset whose files are missing (and could not be downloaded); its message says where
  to put them.
* :func:`download_file`: a short-timeout ``urllib`` download to a temporary file that is
  renamed into place only when complete.
* :func:`extract_tar`: safe extraction of selected members of a ``.tar.gz`` (no absolute
  paths, no ``..``, no links or devices), into a temporary directory renamed at the end.
* :func:`safe_unpickle`: a restricted unpickler that resolves only the few NumPy globals
  found in the published CIFAR python files.
* :func:`cache_path`, :func:`read_cache`, :func:`write_cache`: ``.npz`` caches of
  preprocessed arrays, keyed by the options that change them and validated on read;
  :func:`write_npz_atomic` writes any ``.npz`` file atomically.

Only the standard library, NumPy and :mod:`sparsyfed.data.base` are imported here.
"""

from __future__ import annotations

import contextlib
import gzip
import hashlib
import json
import os
import pickle
import shutil
import tarfile
import tempfile
import warnings
import zipfile
import zlib
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path, PurePosixPath
from typing import Any

import numpy as np

from sparsyfed.data.base import DatasetNotFoundError

__all__ = [
    "DOWNLOAD_TIMEOUT",
    "cache_path",
    "download_file",
    "extract_tar",
    "file_signature",
    "member_name",
    "not_found_error",
    "read_cache",
    "safe_unpickle",
    "write_cache",
    "write_npz_atomic",
]

DOWNLOAD_TIMEOUT: float = 15.0
"""Socket timeout (seconds) of every download attempt."""

_CHUNK = 1 << 20


def not_found_error(
    dataset: str,
    data_dir: Path,
    layout: Sequence[str],
    archive: str,
    url: str,
    download_failure: str | None,
) -> DatasetNotFoundError:
    """Build the :class:`DatasetNotFoundError` of a dataset whose files are missing.

    Parameters
    ----------
    dataset : str
        Dataset name, e.g. ``"cifar10"``.
    data_dir : Path
        Directory that was searched.
    layout : sequence of str
        Human-readable descriptions of the accepted layouts, relative to ``data_dir``.
    archive : str
        File name of the published archive.
    url : str
        Official download address of the archive.
    download_failure : str or None
        Why the download failed, or ``None`` if no download was attempted.

    Returns
    -------
    DatasetNotFoundError
        The error (not raised).

    """
    lines = [
        f"Dataset {dataset!r} not found in {data_dir}.",
        "Expected one of:",
        *(f"  - {data_dir / item}" for item in layout),
    ]
    if download_failure is None:
        lines.append("No download was attempted (dataset.download=false).")
    else:
        lines.append(f"Downloading {url} failed: {download_failure}")
    lines.append(
        f"To fix: put the files (or {archive}, from {url}) in {data_dir}; or pass "
        f"data_dir=... (config key data_dir) naming the directory that holds them; or set "
        f"dataset.download=true on a machine with network access."
    )
    return DatasetNotFoundError("\n".join(lines))


def download_file(url: str, dest: Path, timeout: float = DOWNLOAD_TIMEOUT) -> None:
    """Download ``url`` to ``dest`` through a temporary file renamed when complete.

    Parameters
    ----------
    url : str
        Address to fetch.
    dest : Path
        Final file path; its directory is created if needed.
    timeout : float, optional
        Socket timeout in seconds for connecting and for each read.

    Raises
    ------
    OSError
        If the download fails for any reason (no network, HTTP error, timeout, short
        read); nothing is left at ``dest``.

    """
    # Lazy imports: urllib.request pulls in http.client, email and ssl.
    import http.client
    import urllib.error
    import urllib.request

    dest.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{dest.name}.", suffix=".part", dir=dest.parent)
    try:
        with os.fdopen(fd, "wb") as out:
            try:
                with urllib.request.urlopen(url, timeout=timeout) as response:
                    expected = response.headers.get("Content-Length")
                    shutil.copyfileobj(response, out, _CHUNK)
            except (urllib.error.URLError, http.client.HTTPException, TimeoutError) as exc:
                reason = getattr(exc, "reason", None) or exc
                raise OSError(f"{type(exc).__name__}: {reason}") from exc
            size = out.tell()
        if expected is not None and expected.isdigit() and int(expected) != size:
            raise OSError(f"incomplete download: got {size} of {expected} bytes")
        os.chmod(tmp_name, 0o644)
        os.replace(tmp_name, dest)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp_name)
        raise


def member_name(name: str) -> str:
    """Normalise a tar member name; raise a ValueError if it could escape the target.

    Parameters
    ----------
    name : str
        Member name as stored in the archive.

    Returns
    -------
    str
        The name as a relative POSIX path without ``.`` components (``""`` for the
        archive root).

    Raises
    ------
    ValueError
        If the name is absolute or contains a ``..`` component or a backslash.

    """
    path = PurePosixPath(name)
    if path.is_absolute() or ".." in path.parts or "\\" in name or "\x00" in name:
        raise ValueError(f"unsafe member name {name!r}")
    return path.as_posix() if path.parts else ""


def extract_tar(archive: Path, dest: Path, select: Callable[[str], str | None]) -> list[str]:
    """Extract the selected regular files of a (gzipped) tar archive, safely.

    Every member name is checked (:func:`member_name`) whether it is selected or not,
    and the archive is refused on the first unsafe one. Selected members must be
    regular files: links and devices are refused. Files are written by this function
    (not by :mod:`tarfile`) into a temporary sibling directory of ``dest`` that is
    renamed to ``dest`` only when the whole archive has been read.

    Parameters
    ----------
    archive : Path
        The ``.tar`` / ``.tar.gz`` file.
    dest : Path
        Directory to create; it must not exist yet.
    select : callable
        Maps a normalised member name to its path relative to ``dest``, or to ``None``
        to skip the member. The returned path is checked again.

    Returns
    -------
    list of str
        The relative paths written, in archive order.

    Raises
    ------
    ValueError
        If the archive is corrupt or truncated, or holds an unsafe member (the message
        names the archive and the member).
    FileExistsError
        If ``dest`` already exists.

    """
    if dest.exists():
        raise FileExistsError(f"Cannot extract {archive}: {dest} already exists")
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{dest.name}.", suffix=".partial", dir=dest.parent))
    written: list[str] = []
    try:
        try:
            with tarfile.open(archive, "r:*") as tar:
                for member in tar:
                    try:
                        name = member_name(member.name)
                        rel = select(name) if name else None
                        if rel is not None:
                            rel = member_name(rel)
                            if not member.isfile():
                                raise ValueError(f"member {member.name!r} is not a regular file")
                    except ValueError as exc:
                        raise ValueError(
                            f"Refusing to extract {archive}: {exc} (path traversal or link)"
                        ) from None
                    if not rel:
                        continue
                    out = tmp / rel
                    out.parent.mkdir(parents=True, exist_ok=True)
                    src = tar.extractfile(member)
                    if src is None:  # pragma: no cover - isfile() was checked
                        continue
                    with src, open(out, "wb") as fh:
                        shutil.copyfileobj(src, fh, _CHUNK)
                    written.append(rel)
        except (tarfile.TarError, EOFError, zlib.error, gzip.BadGzipFile) as exc:
            raise ValueError(
                f"Archive {archive} is corrupt or truncated ({type(exc).__name__}: {exc}); "
                f"delete it and download it again"
            ) from None
        try:
            os.rename(tmp, dest)
        except OSError:
            if not dest.is_dir():
                raise
            # Another process extracted the same archive first: use its copy.
            shutil.rmtree(tmp, ignore_errors=True)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return written


# ---------------------------------------------------------------------------
# Restricted unpickling
# ---------------------------------------------------------------------------

# The published CIFAR python files (pickled by Python 2 with protocol 2) reference only
# ``numpy.core.multiarray._reconstruct``, ``numpy.ndarray`` and ``numpy.dtype``.
# Re-pickled copies may use the NumPy 2 module names, ``_codecs.encode`` (bytes in
# protocol 2 under Python 3) or ``_frombuffer`` (protocol 5). Nothing else is resolved.
_ALLOWED_GLOBALS: dict[tuple[str, str], Callable[[], Any]] = {}


def _numpy_global(module: str, name: str) -> Any:
    """Return an allowed NumPy global by its NumPy 2 location."""
    import importlib

    return getattr(importlib.import_module(module), name)


for _old, _new in (("numpy.core", "numpy._core"), ("numpy._core", "numpy._core")):
    _ALLOWED_GLOBALS[(f"{_old}.multiarray", "_reconstruct")] = lambda new=_new: _numpy_global(
        f"{new}.multiarray", "_reconstruct"
    )
    _ALLOWED_GLOBALS[(f"{_old}.multiarray", "scalar")] = lambda new=_new: _numpy_global(
        f"{new}.multiarray", "scalar"
    )
    _ALLOWED_GLOBALS[(f"{_old}.numeric", "_frombuffer")] = lambda new=_new: _numpy_global(
        f"{new}.numeric", "_frombuffer"
    )
_ALLOWED_GLOBALS[("numpy", "ndarray")] = lambda: np.ndarray
_ALLOWED_GLOBALS[("numpy", "dtype")] = lambda: np.dtype
_ALLOWED_GLOBALS[("_codecs", "encode")] = lambda: __import__("codecs").encode


class _RestrictedUnpickler(pickle.Unpickler):
    """Unpickler that resolves only the globals in ``_ALLOWED_GLOBALS``."""

    def find_class(self, module: str, name: str) -> Any:
        """Resolve an allowed global or raise :class:`pickle.UnpicklingError`."""
        factory = _ALLOWED_GLOBALS.get((module, name))
        if factory is None:
            raise pickle.UnpicklingError(f"global {module}.{name} is not allowed")
        return factory()

    def persistent_load(self, pid: Any) -> Any:
        """Refuse persistent ids."""
        raise pickle.UnpicklingError("persistent ids are not allowed")


def safe_unpickle(path: Path, what: str) -> Any:
    """Unpickle ``path`` with ``encoding="bytes"`` and only NumPy array globals allowed.

    Parameters
    ----------
    path : Path
        Pickle file.
    what : str
        Description used in the error message, e.g. ``"a CIFAR-10 python batch file"``.

    Returns
    -------
    Any
        The unpickled object (dicts, lists, bytes, ints and NumPy arrays).

    Raises
    ------
    ValueError
        If the file is not a readable pickle or references any other global; the
        message names the file.

    """
    try:
        with open(path, "rb") as fh:
            return _RestrictedUnpickler(fh, encoding="bytes").load()
    except FileNotFoundError:
        raise
    except Exception as exc:  # pickle can raise almost anything on corrupt input
        raise ValueError(
            f"{path} is not {what} (cannot unpickle it: {type(exc).__name__}: {exc}); "
            f"delete it and fetch the published file again"
        ) from None


# ---------------------------------------------------------------------------
# Preprocessed-array caches
# ---------------------------------------------------------------------------

_META_KEY = "__meta__"


def cache_path(data_dir: Path, dataset: str, key: Mapping[str, Any]) -> Path:
    """Return ``<data_dir>/<dataset>-<hash of key>.npz``.

    Parameters
    ----------
    data_dir : Path
        Directory of the cache file.
    dataset : str
        Dataset name.
    key : mapping
        JSON-serialisable settings that change the cached arrays (options, format).

    Returns
    -------
    Path
        Cache file path (it may not exist).

    """
    digest = hashlib.sha256(json.dumps(dict(key), sort_keys=True).encode()).hexdigest()[:16]
    return data_dir / f"{dataset}-{digest}.npz"


def read_cache(
    path: Path,
    key: Mapping[str, Any],
    source: Any,
    expected: Mapping[str, tuple[tuple[int | None, ...], type]],
) -> dict[str, np.ndarray] | None:
    """Load a cache written by :func:`write_cache`; ``None`` if missing, corrupt or stale.

    Parameters
    ----------
    path : Path
        Cache file.
    key : mapping
        Settings the cache must have been written with.
    source : Any
        JSON-serialisable signature of the source files (sizes, times), or ``None``
        when the source files are absent, in which case any cache with a matching
        ``key`` is used.
    expected : mapping
        Array name to ``(shape, dtype)``; ``None`` in a shape matches any size.

    Returns
    -------
    dict of str to numpy.ndarray or None
        The arrays, or ``None`` if the cache must be rebuilt.

    """
    try:
        with np.load(path, allow_pickle=False) as npz:
            meta = json.loads(str(npz[_META_KEY]))
            arrays = {name: npz[name] for name in expected}  # fresh arrays, not views
    except FileNotFoundError:
        return None
    except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile, TypeError):
        return None
    if not isinstance(meta, dict) or meta.get("key") != json.loads(json.dumps(dict(key))):
        return None
    if source is not None and meta.get("source") != json.loads(json.dumps(source)):
        return None
    for name, (shape, dtype) in expected.items():
        arr = arrays[name]
        if arr.dtype != dtype or arr.ndim != len(shape):
            return None
        if any(
            want is not None and got != want for got, want in zip(arr.shape, shape, strict=True)
        ):
            return None
    return arrays


def write_cache(
    path: Path, key: Mapping[str, Any], source: Any, arrays: Mapping[str, np.ndarray]
) -> None:
    """Write ``arrays`` and their metadata to ``path`` atomically (warn on failure).

    Parameters
    ----------
    path : Path
        Cache file.
    key : mapping
        Settings the arrays were built with.
    source : Any
        Signature of the source files (see :func:`read_cache`).
    arrays : mapping of str to numpy.ndarray
        Arrays to store.

    """
    meta = json.dumps({"key": dict(key), "source": source}, sort_keys=True)
    try:
        write_npz_atomic(path, {**arrays, _META_KEY: np.array(meta)})
    except OSError as exc:
        warnings.warn(
            f"Could not write cache file {path}: {exc}; continuing without caching",
            RuntimeWarning,
            stacklevel=3,
        )


def write_npz_atomic(path: Path, arrays: Mapping[str, np.ndarray]) -> None:
    """Write ``arrays`` to ``path`` via a temporary file and ``os.replace``.

    Concurrent writers each write their own temporary file; the last rename wins and
    readers never observe a partially written file.

    Parameters
    ----------
    path : Path
        Destination ``.npz`` file; its directory is created if needed.
    arrays : mapping of str to numpy.ndarray
        Arrays to store, by name.

    Raises
    ------
    OSError
        If the file cannot be written; no temporary file is left behind.

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


def file_signature(paths: Sequence[Path]) -> list[list[Any]]:
    """Return ``[name, size, mtime_ns]`` of each path (``None`` entries if missing)."""
    out: list[list[Any]] = []
    for path in paths:
        try:
            st = path.stat()
        except OSError:
            out.append([path.name, None, None])
        else:
            out.append([path.name, st.st_size, st.st_mtime_ns])
    return out
