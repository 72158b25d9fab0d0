"""The table of codecs (by wire id and by name) and the header parser that dispatches on it."""

from __future__ import annotations

import math
import struct

import numpy as np

from sparsyfed.wire import values as _values
from sparsyfed.wire.codec_base import Codec
from sparsyfed.wire.codecs import Bitmap, Coo, Csr, Dense, EliasFano
from sparsyfed.wire.format import (
    DTYPES,
    FIXED_HEADER,
    MAGIC,
    MAX_NDIM,
    MAX_NUMEL,
    NNZ,
    PREFIX,
    VERSION,
    Header,
    PayloadError,
)
from sparsyfed.wire.rice_codecs import Golomb, Joint, Support
from sparsyfed.wire.values import VALUE_FORMATS

__all__ = [
    "BY_ID",
    "BY_NAME",
    "CODECS",
    "REGISTRY",
    "STANDALONE_CODECS",
    "codec_named",
    "header_nbytes",
    "parse_header",
]


def _by_id(codecs: tuple[Codec, ...]) -> dict[int, Codec]:
    table: dict[int, Codec] = {}
    for codec in codecs:
        if codec.wire_id in table:
            raise AssertionError(f"{codec} and {table[codec.wire_id]} share a wire id")
        table[codec.wire_id] = codec
    return dict(sorted(table.items()))


BY_ID: dict[int, Codec] = _by_id(
    (Dense(), Bitmap(), Coo(), Csr(), EliasFano(), Golomb(), Support(), Joint())
)
"""Every codec by its wire id (each class states its id)."""

REGISTRY: tuple[Codec, ...] = tuple(BY_ID.values())
"""Every codec, in the order of the wire ids (``choose_codec`` resolves ties in this order)."""

BY_NAME: dict[str, Codec] = {codec.name: codec for codec in REGISTRY}
"""Every codec by name."""

CODECS: tuple[str, ...] = tuple(BY_NAME)
"""Codec names, ordered by wire id."""

STANDALONE_CODECS: tuple[str, ...] = tuple(c.name for c in REGISTRY if c.standalone)
"""Codecs whose payload holds its own positions (the ones :func:`encode_array` can force)."""


def codec_named(name: str) -> Codec:
    """The codec called ``name`` (``ValueError`` if there is none)."""
    codec = BY_NAME.get(name) if isinstance(name, str) else None
    if codec is None:
        raise ValueError(f"unknown codec {name!r}; expected one of {CODECS}")
    return codec


def header_nbytes(ndim: int, codec: str = "dense") -> int:
    """Length in bytes of the header (with codec fields) for ``ndim`` dimensions.

    Parameters
    ----------
    ndim : int
        Number of dimensions, ``0 <= ndim <= MAX_NDIM``.
    codec : str, optional
        One of :data:`CODECS`, by default ``"dense"``.

    Returns
    -------
    int
        ``15 + 4 * ndim``, plus 10 for golomb and 18 for support.

    Raises
    ------
    ValueError
        For an ndim out of range or an unknown codec.

    """
    if not 0 <= ndim <= MAX_NDIM:
        raise ValueError(f"ndim must be in [0, {MAX_NDIM}], got {ndim}")
    return codec_named(codec).header_nbytes(ndim)


def parse_header(buf: np.ndarray) -> Header:
    """Parse and fully validate the header of a payload, including its total length.

    Parameters
    ----------
    buf : np.ndarray
        The payload as a 1-D uint8 array.

    Returns
    -------
    Header
        The header fields and the codec.

    Raises
    ------
    PayloadError
        For any malformed header or a length that does not match it.

    """
    total = buf.size
    if total < FIXED_HEADER:
        raise PayloadError(f"payload too short: {total} bytes, header needs >= {FIXED_HEADER}")
    magic, version, codec_id, dcode, vcode, ndim = PREFIX.unpack(buf[: PREFIX.size].tobytes())
    if magic != MAGIC:
        raise PayloadError(f"bad magic {magic!r}, expected {MAGIC!r}")
    if version != VERSION:
        raise PayloadError(f"unsupported version {version}, expected {VERSION}")
    codec = BY_ID.get(codec_id)
    if codec is None:
        raise PayloadError(f"unknown codec id {codec_id}")
    if dcode >= len(DTYPES):
        raise PayloadError(f"unknown dtype code {dcode}")
    if vcode >= len(VALUE_FORMATS):
        raise PayloadError(f"unknown value format {vcode}")
    if ndim > MAX_NDIM:
        raise PayloadError(f"ndim {ndim} exceeds the maximum of {MAX_NDIM}")
    dtype = DTYPES[dcode]
    values = VALUE_FORMATS[vcode]
    if values != "raw" and dtype.kind != "f":
        raise PayloadError(f"value format {values} needs a floating dtype, got {dtype}")
    head = FIXED_HEADER + 4 * ndim + codec.field_nbytes
    if total < head:
        raise PayloadError(f"payload truncated in header: {total} bytes, header needs {head}")
    raw = buf[:head].tobytes()
    shape = struct.unpack_from(f"<{ndim}I", raw, PREFIX.size)
    (nnz,) = NNZ.unpack_from(raw, PREFIX.size + 4 * ndim)
    numel = math.prod(shape)
    if numel > MAX_NUMEL:
        raise PayloadError(f"shape {shape} has {numel} elements, limit is {MAX_NUMEL}")
    if nnz > numel:
        raise PayloadError(f"nnz {nnz} exceeds numel {numel}")
    rice, ref_nnz = codec.parse_fields(raw, FIXED_HEADER + 4 * ndim, shape, numel, nnz)
    positions = codec.block_nbytes(shape, numel, nnz, rice)
    expected = head + positions + _values.section_nbytes(values, dtype, nnz)
    if total != expected:
        kind = "truncated" if total < expected else "has trailing bytes"
        raise PayloadError(f"{codec.name} payload {kind}: {total} bytes, expected {expected}")
    return Header(codec, dtype, values, shape, numel, nnz, head, rice, ref_nnz)
