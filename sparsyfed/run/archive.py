"""A small, deterministic container file of named byte blobs plus JSON metadata.

Checkpoints and model files are archives. Tensors go in as lossless wire
payloads (:func:`sparsyfed.wire.codec.encode_array`), so a sparse model is
stored sparse and comes back bit for bit; the same content always gives the
same bytes (no timestamps), so two runs' files can be compared byte for byte.

Layout (little-endian)::

    offset  size  field
    0       4     magic b"SFAR"
    4       1     format version (1)
    5       4     header length H (u32)
    9       H     header, UTF-8 JSON: {"meta": {...}, "blobs": [[name, nbytes, zlib], ...]}
    9+H     ...   the blobs, in header order (zlib-compressed where the flag is true)
    end-4   4     CRC-32 of everything before it

Files are written atomically (temporary file, fsync, rename, fsync of the
directory), so a reader never sees a partial archive.
"""

from __future__ import annotations

import hashlib
import json
import os
import struct
import zlib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from sparsyfed.wire.codec import PayloadError, decode_array, encode_array

MAGIC = b"SFAR"
VERSION = 1
_HEAD = struct.Struct("<4sBI")
_CRC = struct.Struct("<I")
ZLIB_LEVEL = 6


class CompressedBlobs:
    """The compressed form of each named blob, kept for archives written again and again.

    A checkpoint is written after every round, and most of its compressed
    blobs (the upload masks of clients not sampled in the round) have not
    changed since the last one. Each name keeps the digest of its last
    content and that content compressed, which is reused while the content is
    the same, so the archive's bytes are those without the cache. Use one
    instance from one thread at a time.
    """

    def __init__(self) -> None:
        self._by_name: dict[str, tuple[bytes, bytes]] = {}

    def compress(self, name: str, blob: bytes) -> bytes:
        """``zlib.compress(blob, ZLIB_LEVEL)``, from the cache when ``name`` held ``blob`` last."""
        digest = hashlib.blake2b(blob, digest_size=16).digest()
        known = self._by_name.get(name)
        if known is not None and known[0] == digest:
            return known[1]
        packed = zlib.compress(blob, ZLIB_LEVEL)
        self._by_name[name] = (digest, packed)
        return packed


class ArchiveError(ValueError):
    """An archive file is missing, truncated, corrupt or of another format."""


@dataclass
class Archive:
    """Named blobs and JSON-able metadata.

    Attributes
    ----------
    meta : dict
        JSON-able metadata.
    blobs : dict of str to bytes
        The blobs, in insertion order.
    compressed : set of str
        Names of the blobs stored zlib-compressed.

    """

    meta: dict[str, Any] = field(default_factory=dict)
    blobs: dict[str, bytes] = field(default_factory=dict)
    compressed: set[str] = field(default_factory=set)

    def put_tensors(self, prefix: str, arrays: Mapping[str, np.ndarray]) -> None:
        """Add arrays as lossless payloads under ``prefix + key``."""
        for key, value in arrays.items():
            self.blobs[prefix + key] = encode_array(np.asarray(value), "auto")

    def tensors(self, prefix: str) -> dict[str, np.ndarray]:
        """The arrays stored under ``prefix`` (keys without it), in stored order."""
        out = {}
        for name, blob in self.blobs.items():
            if name.startswith(prefix):
                try:
                    out[name[len(prefix) :]] = decode_array(blob)
                except PayloadError as exc:
                    raise ArchiveError(f"tensor {name!r}: {exc}") from exc
        return out

    def to_bytes(self, cache: CompressedBlobs | None = None) -> bytes:
        """Serialise (deterministically); ``cache`` gives the same bytes with less compression."""

        def compress(name: str, blob: bytes) -> bytes:
            return zlib.compress(blob, ZLIB_LEVEL) if cache is None else cache.compress(name, blob)

        stored = {
            name: compress(name, blob) if name in self.compressed else blob
            for name, blob in self.blobs.items()
        }
        header = json.dumps(
            {
                "meta": self.meta,
                "blobs": [[n, len(b), n in self.compressed] for n, b in stored.items()],
            },
            separators=(",", ":"),
        ).encode()
        body = b"".join([_HEAD.pack(MAGIC, VERSION, len(header)), header, *stored.values()])
        return body + _CRC.pack(zlib.crc32(body))

    @classmethod
    def from_bytes(cls, data: bytes, what: str = "archive") -> Archive:
        """Parse :meth:`to_bytes` output; :class:`ArchiveError` for anything else."""
        if len(data) < _HEAD.size + _CRC.size:
            raise ArchiveError(f"{what} is truncated ({len(data)} bytes)")
        magic, version, head_len = _HEAD.unpack_from(data)
        if magic != MAGIC or version != VERSION:
            raise ArchiveError(f"{what} is not a sparsyfed archive (version {VERSION})")
        (crc,) = _CRC.unpack_from(data, len(data) - _CRC.size)
        if zlib.crc32(data[: -_CRC.size]) != crc:
            raise ArchiveError(f"{what} is corrupt (checksum mismatch)")
        try:
            header = json.loads(data[_HEAD.size : _HEAD.size + head_len])
            offset = _HEAD.size + head_len
            archive = cls(meta=header["meta"])
            for name, nbytes, packed in header["blobs"]:
                blob = data[offset : offset + nbytes]
                offset += nbytes
                archive.blobs[name] = zlib.decompress(blob) if packed else blob
                if packed:
                    archive.compressed.add(name)
        except (ValueError, KeyError, TypeError, zlib.error) as exc:
            raise ArchiveError(f"{what} has a malformed header: {exc}") from exc
        if offset != len(data) - _CRC.size:
            raise ArchiveError(f"{what} has {len(data) - _CRC.size - offset} unexpected bytes")
        return archive

    def write(self, path: str | Path, cache: CompressedBlobs | None = None) -> None:
        """Write atomically to ``path`` (``cache``: see :meth:`to_bytes`)."""
        write_atomic(Path(path), self.to_bytes(cache))

    @classmethod
    def read(cls, path: str | Path) -> Archive:
        """Read an archive file."""
        path = Path(path)
        try:
            data = path.read_bytes()
        except OSError as exc:
            raise ArchiveError(f"cannot read {path}: {exc}") from exc
        return cls.from_bytes(data, str(path))


def write_atomic(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` so that readers see the old file or the new one, never a mix."""
    write_atomic_chunks(path, (data,))


def write_atomic_chunks(path: Path, chunks: Iterable[bytes]) -> None:
    """As :func:`write_atomic`, the content given piece by piece (never held whole in memory)."""
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    try:
        with open(tmp, "wb") as fh:
            for chunk in chunks:
                fh.write(chunk)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    fsync_dir(path.parent)


def fsync_dir(path: Path) -> None:
    """Make a rename in ``path`` durable (no-op where directories cannot be opened)."""
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)
