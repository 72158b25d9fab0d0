"""Self-describing byte payloads for (sparse) NumPy tensors.

Every tensor is serialised to one ``bytes`` object that carries its own
codec, dtype and shape, so a receiver needs nothing but the payload to rebuild
the array. Four codecs are available; :func:`choose_codec` picks the smallest
one for a given tensor.

Wire format (version 1)
-----------------------
All integers are little-endian. The header is ``14 + 4 * ndim`` bytes::

    offset  size       field
    0       2          magic, the ASCII bytes ``b"SF"``
    2       1          version (u8), always 1
    3       1          codec id (u8): 0 = dense, 1 = bitmap, 2 = coo, 3 = ef
    4       1          dtype code (u8), see the table below
    5       1          ndim (u8), at most 8
    6       4 * ndim   shape, one u32 per dimension (C order)
    6+4*nd  8          nnz (u64), number of stored values

Dtype codes: 0 = float32, 1 = float64, 2 = float16, 3 = int64, 4 = int32,
5 = uint8, 6 = bool. Values are always stored little-endian.

The body follows the header directly (no padding, no alignment):

``dense``
    The ``numel * itemsize`` raw bytes of the tensor in C order. The header's
    ``nnz`` field is still present and must equal ``numel``.
``bitmap``
    ``ceil(numel / 8)`` bytes holding the keep-mask packed with
    ``np.packbits(mask, bitorder="little")`` (element ``i`` is bit ``i % 8`` of
    byte ``i // 8``; the padding bits after ``numel`` are zero), followed by the
    ``nnz`` kept values in C order.
``coo``
    ``nnz`` int32 flat (C-order) indices, strictly increasing, followed by the
    ``nnz`` values at those indices. Only available when ``numel < 2**31``.
``ef``
    The flat (C-order) indices of the kept elements, Elias-Fano coded, then
    the ``nnz`` kept values in C order. With ``n = numel``, ``k = nnz >= 1``
    and ``l = floor(log2(n / k))`` low bits per index (not stored; computed
    exactly as ``(n // k).bit_length() - 1``) the body is:

    1. ``ceil(k * l / 8)`` bytes of low bits: bit ``j`` of index number ``i``
       is bit ``b = i * l + j`` of the stream, stored as bit ``b % 8`` of
       byte ``b // 8``;
    2. ``ceil(h / 8)`` bytes of high bits, ``h = k + (n >> l) + 1``: a bit
       vector, packed the same way, with bit ``(index_i >> l) + i`` set for
       every ``i`` and all other bits clear (the high parts in unary);
    3. the ``k`` values.

    The padding bits at the end of both bit streams are zero. For
    ``nnz == 0`` the body is empty. The positions cost about
    ``2 + log2(n / k)`` bits each, close to the ``log2(C(n, k)) / k`` bound.

"Non-zero" is defined on the bit pattern: an element is kept iff its bytes are
not all zero. Hence ``-0.0`` and every NaN are kept as values, and decoding
reproduces the input bit for bit with every codec. Boolean arrays are
canonicalised to bytes 0/1 before encoding.

Decoding is strict: every payload that decodes successfully is the canonical
encoding of its result (re-encoding the decoded array with the same codec
returns the identical bytes), and every malformed payload raises
:class:`PayloadError`, and only that. The shape product is limited to
``2**31 - 1`` elements, and the payload length is checked against the header
before anything is allocated.
"""

from __future__ import annotations

import math
import struct
from typing import NamedTuple

import numpy as np

__all__ = [
    "CODECS",
    "MAX_NDIM",
    "MAX_NUMEL",
    "PayloadError",
    "choose_codec",
    "decode_array",
    "encode_array",
    "encoded_nbytes",
    "header_nbytes",
    "payload_codec",
]

CODECS: tuple[str, ...] = ("dense", "bitmap", "coo", "ef")
"""Codec names; the position of a name is its codec id on the wire."""

MAGIC = b"SF"
VERSION = 1
MAX_NDIM = 8
MAX_NUMEL = 2**31 - 1
_MAX_DIM = 2**32 - 1
_COO_MAX_NUMEL = 2**31  # coo needs every flat index to fit in an int32

# Wire dtypes, indexed by dtype code. All explicitly little-endian.
_DTYPES: tuple[np.dtype, ...] = (
    np.dtype("<f4"),
    np.dtype("<f8"),
    np.dtype("<f2"),
    np.dtype("<i8"),
    np.dtype("<i4"),
    np.dtype("u1"),
    np.dtype("?"),
)
_DTYPE_CODES: dict[np.dtype, int] = {dt: code for code, dt in enumerate(_DTYPES)}
_UINT_BY_SIZE: dict[int, np.dtype] = {
    1: np.dtype("u1"),
    2: np.dtype("<u2"),
    4: np.dtype("<u4"),
    8: np.dtype("<u8"),
}
_INDEX_DTYPE = np.dtype("<i4")
_EF_LOW_DTYPE = np.dtype("<u4")  # holds the l <= 30 low bits of an ef index
_PREFIX = struct.Struct("<2sBBBB")
_NNZ = struct.Struct("<Q")
_FIXED_HEADER = _PREFIX.size + _NNZ.size  # 14 bytes, plus 4 per dimension


class PayloadError(ValueError):
    """Raised for any malformed or hostile payload (one typed error)."""


class _Header(NamedTuple):
    codec: str
    dtype: np.dtype  # wire (little-endian) dtype
    shape: tuple[int, ...]
    numel: int
    nnz: int
    nbytes: int  # header length; the body starts here


# ---------------------------------------------------------------------------
# sizes
# ---------------------------------------------------------------------------


def header_nbytes(ndim: int) -> int:
    """Length in bytes of the header for a tensor with ``ndim`` dimensions.

    Parameters
    ----------
    ndim : int
        Number of dimensions, ``0 <= ndim <= MAX_NDIM``.

    Returns
    -------
    int
        ``14 + 4 * ndim``.

    """
    if not 0 <= ndim <= MAX_NDIM:
        raise ValueError(f"ndim must be in [0, {MAX_NDIM}], got {ndim}")
    return _FIXED_HEADER + 4 * ndim


def _ef_layout(numel: int, nnz: int) -> tuple[int, int, int]:
    """Elias-Fano layout ``(l, low_nbytes, high_nbits)`` for ``nnz`` indices < ``numel``.

    ``l = floor(log2(numel / nnz))`` is the number of low bits per index (so at
    most 30 for ``numel < 2**31``), ``low_nbytes = ceil(nnz * l / 8)`` and
    ``high_nbits = nnz + (numel >> l) + 1``. Everything is zero for ``nnz == 0``.
    """
    if nnz <= 0:
        return 0, 0, 0
    low = max(0, (numel // nnz).bit_length() - 1)
    return low, (nnz * low + 7) // 8, nnz + (numel >> low) + 1


def _payload_nbytes(codec: str, ndim: int, numel: int, nnz: int, itemsize: int) -> int:
    """Exact payload length for the given header fields (no validation)."""
    head = _FIXED_HEADER + 4 * ndim
    if codec == "dense":
        return head + numel * itemsize
    if codec == "bitmap":
        return head + (numel + 7) // 8 + nnz * itemsize
    if codec == "ef":
        _, low_nbytes, high_nbits = _ef_layout(numel, nnz)
        return head + low_nbytes + (high_nbits + 7) // 8 + nnz * itemsize
    return head + nnz * (_INDEX_DTYPE.itemsize + itemsize)


# ---------------------------------------------------------------------------
# encoding
# ---------------------------------------------------------------------------


def _check_codec(codec: str) -> str:
    if codec not in CODECS:
        raise ValueError(f"unknown codec {codec!r}; expected one of {CODECS}")
    return codec


def _prepare(x: np.ndarray) -> tuple[np.ndarray, int]:
    """Validate ``x`` and return it C-contiguous, little-endian, plus dtype code."""
    arr = np.asarray(x)
    dt = arr.dtype
    code = None
    if dt.fields is None and dt.subdtype is None:
        code = _DTYPE_CODES.get(dt.newbyteorder("<"))
    if code is None:
        allowed = ", ".join(str(d.newbyteorder("=")) for d in _DTYPES)
        raise ValueError(f"unsupported dtype {dt}; supported dtypes: {allowed}")
    if arr.ndim > MAX_NDIM:
        raise ValueError(f"ndim {arr.ndim} exceeds the maximum of {MAX_NDIM}")
    if any(d > _MAX_DIM for d in arr.shape):
        raise ValueError(f"shape {arr.shape} has a dimension larger than 2**32 - 1")
    if arr.size > MAX_NUMEL:
        raise ValueError(f"tensor has {arr.size} elements, more than the limit {MAX_NUMEL}")
    wire = _DTYPES[code]
    arr = np.asarray(arr, dtype=wire, order="C")
    if wire.kind == "b":
        # Canonicalise booleans whose bytes are not 0/1 (only reachable via views).
        arr = arr.view(np.uint8) != 0
    return arr, code


def _keep_mask(flat: np.ndarray) -> np.ndarray:
    """Boolean mask of elements whose bit pattern is not all zero."""
    return flat.view(_UINT_BY_SIZE[flat.dtype.itemsize]) != 0


def _ef_encode(idx: np.ndarray, numel: int) -> list[bytes]:
    """Elias-Fano bytes (low bits, then high bits) of strictly increasing ``idx``."""
    k = idx.size
    low, _, high_nbits = _ef_layout(numel, k)
    if k == 0:
        return []
    idx = idx.astype(np.int64, copy=False)
    parts = []
    if low:
        # Row i of the (k, l) bit matrix holds the low l bits of idx[i], least
        # significant first; flattened in C order it is exactly the bit stream.
        lows = (idx & ((1 << low) - 1)).astype(_EF_LOW_DTYPE).view(np.uint8)
        lows = lows.reshape(k, _EF_LOW_DTYPE.itemsize)
        bits = np.unpackbits(lows, axis=1, count=low, bitorder="little")
        parts.append(np.packbits(bits, bitorder="little").tobytes())
    high = np.zeros(high_nbits, dtype=bool)
    high[(idx >> low) + np.arange(k, dtype=np.int64)] = True
    parts.append(np.packbits(high, bitorder="little").tobytes())
    return parts


def _best_codec(arr: np.ndarray, nnz: int) -> str:
    """Smallest eligible codec; ties resolved in the order of :data:`CODECS`."""
    sizes = {
        c: _payload_nbytes(c, arr.ndim, arr.size, nnz, arr.dtype.itemsize)
        for c in CODECS
        if c != "coo" or arr.size < _COO_MAX_NUMEL
    }
    return min(sizes, key=sizes.__getitem__)


def _wants_sparse(arr: np.ndarray, min_sparse_numel: int) -> bool:
    if min_sparse_numel < 0:
        raise ValueError(f"min_sparse_numel must be >= 0, got {min_sparse_numel}")
    return arr.ndim > 1 and arr.size >= min_sparse_numel and np.issubdtype(arr.dtype, np.floating)


def choose_codec(x: np.ndarray, min_sparse_numel: int = 1024) -> str:
    """Pick the codec that ``encode_array(x, "auto")`` would use.

    Parameters
    ----------
    x : np.ndarray
        Tensor to encode (a supported dtype, see the module docstring).
    min_sparse_numel : int, optional
        Tensors with fewer elements are always sent dense, by default 1024.

    Returns
    -------
    str
        ``"dense"`` if ``x.ndim <= 1``, ``x.size < min_sparse_numel`` or the
        dtype is not floating point; otherwise the codec among
        ``("dense", "bitmap", "coo", "ef")`` with the smallest encoded size,
        ties resolved in that order.

    Raises
    ------
    ValueError
        If the dtype, ndim or size of ``x`` is not supported, or
        ``min_sparse_numel`` is negative.

    """
    arr, _ = _prepare(x)
    if not _wants_sparse(arr, min_sparse_numel):
        return "dense"
    nnz = int(np.count_nonzero(_keep_mask(arr.reshape(-1))))
    return _best_codec(arr, nnz)


def encoded_nbytes(x: np.ndarray, codec: str) -> int:
    """Exact length of ``encode_array(x, codec)``, computed without encoding.

    Parameters
    ----------
    x : np.ndarray
        Tensor to measure.
    codec : str
        One of :data:`CODECS`.

    Returns
    -------
    int
        Payload length in bytes (header included).

    Raises
    ------
    ValueError
        If ``codec`` is unknown, ``x`` is not supported, or ``codec`` is
        ``"coo"`` and ``x`` has ``2**31`` elements or more.

    """
    _check_codec(codec)
    arr, _ = _prepare(x)
    if codec == "dense":
        nnz = arr.size
    else:
        if codec == "coo" and arr.size >= _COO_MAX_NUMEL:
            raise ValueError(f"coo needs numel < 2**31, got {arr.size}")
        nnz = int(np.count_nonzero(_keep_mask(arr.reshape(-1))))
    return _payload_nbytes(codec, arr.ndim, arr.size, nnz, arr.dtype.itemsize)


def encode_array(x: np.ndarray, codec: str = "auto", min_sparse_numel: int = 1024) -> bytes:
    """Serialise a tensor into one self-describing payload.

    Parameters
    ----------
    x : np.ndarray
        Tensor to encode: 0 to 8 dimensions, at most ``2**31 - 1`` elements,
        dtype float32, float64, float16, int64, int32, uint8 or bool (any byte
        order; the payload is little-endian).
    codec : str, optional
        ``"auto"`` (default) to use :func:`choose_codec`, or one of
        :data:`CODECS` to force a codec (honoured for any tensor).
    min_sparse_numel : int, optional
        Threshold forwarded to :func:`choose_codec` when ``codec="auto"``.

    Returns
    -------
    bytes
        The payload; ``decode_array`` of it is bit-identical to ``x``.

    Raises
    ------
    ValueError
        If ``codec`` is unknown or ``x`` is not supported (see above).

    """
    if codec != "auto":
        _check_codec(codec)
    arr, dcode = _prepare(x)
    flat = arr.reshape(-1)
    mask = None
    if codec == "auto":
        codec = "dense"
        if _wants_sparse(arr, min_sparse_numel):
            mask = _keep_mask(flat)
            codec = _best_codec(arr, int(np.count_nonzero(mask)))
    elif codec == "coo" and arr.size >= _COO_MAX_NUMEL:
        raise ValueError(f"coo needs numel < 2**31, got {arr.size}")

    if codec == "dense":
        nnz = arr.size
        parts = [arr.tobytes()]
    else:
        if mask is None:
            mask = _keep_mask(flat)
        if codec == "bitmap":
            values = flat[mask]
            parts = [np.packbits(mask, bitorder="little").tobytes(), values.tobytes()]
        elif codec == "ef":
            idx = np.flatnonzero(mask)
            values = flat[idx]
            parts = [*_ef_encode(idx, arr.size), values.tobytes()]
        else:
            idx = np.flatnonzero(mask)
            values = flat[idx]
            parts = [idx.astype(_INDEX_DTYPE).tobytes(), values.tobytes()]
        nnz = values.size
    header = struct.pack(
        f"<2sBBBB{arr.ndim}IQ",
        MAGIC,
        VERSION,
        CODECS.index(codec),
        dcode,
        arr.ndim,
        *arr.shape,
        nnz,
    )
    return b"".join([header, *parts])


# ---------------------------------------------------------------------------
# decoding
# ---------------------------------------------------------------------------


def _as_bytes_array(payload: bytes | bytearray | memoryview | np.ndarray) -> np.ndarray:
    """View ``payload`` as a 1-D uint8 array without copying."""
    if isinstance(payload, np.ndarray):
        if payload.dtype != np.uint8 or payload.ndim != 1:
            raise PayloadError(
                f"ndarray payload must be 1-D uint8, got {payload.ndim}-D {payload.dtype}"
            )
        return np.ascontiguousarray(payload)
    if not isinstance(payload, bytes | bytearray | memoryview):
        raise PayloadError(
            f"payload must be bytes, bytearray, memoryview or a uint8 ndarray, "
            f"got {type(payload).__name__}"
        )
    try:
        view = memoryview(payload)
        if not view.c_contiguous:
            raise PayloadError("memoryview payload must be C-contiguous")
        return np.frombuffer(view.cast("B"), dtype=np.uint8)
    except (TypeError, ValueError) as exc:  # e.g. released memoryview
        if isinstance(exc, PayloadError):
            raise
        raise PayloadError(f"unusable payload buffer: {exc}") from exc


def _parse_header(buf: np.ndarray) -> _Header:
    """Parse and fully validate the header, including the total length."""
    total = buf.size
    if total < _FIXED_HEADER:
        raise PayloadError(f"payload too short: {total} bytes, header needs >= {_FIXED_HEADER}")
    magic, version, codec_id, dcode, ndim = _PREFIX.unpack(buf[: _PREFIX.size].tobytes())
    if magic != MAGIC:
        raise PayloadError(f"bad magic {magic!r}, expected {MAGIC!r}")
    if version != VERSION:
        raise PayloadError(f"unsupported version {version}, expected {VERSION}")
    if codec_id >= len(CODECS):
        raise PayloadError(f"unknown codec id {codec_id}")
    if dcode >= len(_DTYPES):
        raise PayloadError(f"unknown dtype code {dcode}")
    if ndim > MAX_NDIM:
        raise PayloadError(f"ndim {ndim} exceeds the maximum of {MAX_NDIM}")
    head = _FIXED_HEADER + 4 * ndim
    if total < head:
        raise PayloadError(f"payload truncated in header: {total} bytes, header needs {head}")
    raw = buf[:head].tobytes()
    shape = struct.unpack_from(f"<{ndim}I", raw, _PREFIX.size)
    (nnz,) = _NNZ.unpack_from(raw, head - _NNZ.size)
    numel = math.prod(shape)
    if numel > MAX_NUMEL:
        raise PayloadError(f"shape {shape} has {numel} elements, limit is {MAX_NUMEL}")
    if nnz > numel:
        raise PayloadError(f"nnz {nnz} exceeds numel {numel}")
    codec = CODECS[codec_id]
    if codec == "dense" and nnz != numel:
        raise PayloadError(f"dense payload must have nnz == numel, got {nnz} != {numel}")
    dtype = _DTYPES[dcode]
    expected = _payload_nbytes(codec, ndim, numel, nnz, dtype.itemsize)
    if total != expected:
        kind = "truncated" if total < expected else "has trailing bytes"
        raise PayloadError(f"{codec} payload {kind}: {total} bytes, expected {expected}")
    return _Header(codec, dtype, shape, numel, nnz, head)


def payload_codec(payload: bytes | bytearray | memoryview | np.ndarray) -> str:
    """Return the codec name of a payload after validating its header.

    The header fields and the total payload length are checked; the body
    contents are not (use :func:`decode_array` for that).

    Parameters
    ----------
    payload : bytes, bytearray, memoryview or np.ndarray
        A payload produced by :func:`encode_array` (ndarray: 1-D uint8).

    Returns
    -------
    str
        One of :data:`CODECS`.

    Raises
    ------
    PayloadError
        If the header is malformed or the length does not match it.

    """
    return _parse_header(_as_bytes_array(payload)).codec


def _check_values(values: np.ndarray, dtype: np.dtype) -> None:
    """Check that stored sparse values are non-zero bit patterns (bool: byte 1)."""
    if values.size == 0:
        return
    bits = values.view(_UINT_BY_SIZE[dtype.itemsize])
    if dtype.kind == "b":
        if not np.all(bits == 1):
            raise PayloadError("stored bool values must all be True (byte 1)")
    elif not np.all(bits != 0):
        raise PayloadError("sparse payload stores an all-zero value")


def _zeros(numel: int, dtype: np.dtype) -> np.ndarray:
    try:
        return np.zeros(numel, dtype=dtype)
    except MemoryError as exc:
        raise PayloadError(f"cannot allocate {numel} elements of {dtype}") from exc


def _unpack_bits(packed: np.ndarray, nbits: int, what: str) -> np.ndarray:
    """Unpack ``nbits`` little-order bits, rejecting set padding bits after them."""
    rem = nbits % 8
    if rem and int(packed[-1]) >> rem:
        raise PayloadError(f"{what} padding bits are not zero")
    return np.unpackbits(packed, count=nbits, bitorder="little")


def _ef_decode(body: np.ndarray, numel: int, nnz: int) -> np.ndarray:
    """Validated int64 positions of an ef body (whose length is already checked)."""
    low, low_nbytes, high_nbits = _ef_layout(numel, nnz)
    if nnz == 0:
        return np.zeros(0, dtype=np.int64)
    high_end = low_nbytes + (high_nbits + 7) // 8
    high_bits = _unpack_bits(body[low_nbytes:high_end], high_nbits, "ef high-bit vector")
    ones = np.flatnonzero(high_bits)
    if ones.size != nnz:
        raise PayloadError(f"ef high-bit vector has {ones.size} set bits, expected nnz {nnz}")
    pos = (ones.astype(np.int64) - np.arange(nnz, dtype=np.int64)) << low
    if low:
        bits = _unpack_bits(body[:low_nbytes], nnz * low, "ef low-bit stream").reshape(nnz, low)
        rows = np.packbits(bits, axis=1, bitorder="little")  # (nnz, ceil(l / 8)) bytes
        lows = np.zeros((nnz, _EF_LOW_DTYPE.itemsize), dtype=np.uint8)
        lows[:, : rows.shape[1]] = rows
        pos |= lows.view(_EF_LOW_DTYPE).reshape(nnz).astype(np.int64)
    if not np.all(pos[1:] > pos[:-1]):
        raise PayloadError("ef positions are not strictly increasing")
    if int(pos[-1]) >= numel:
        raise PayloadError(f"ef position {int(pos[-1])} out of range [0, {numel})")
    return pos


def _decode_body(buf: np.ndarray, hdr: _Header) -> np.ndarray:
    body = buf[hdr.nbytes :]
    wire = hdr.dtype
    native = wire.newbyteorder("=")
    if hdr.codec == "dense":
        if wire.kind == "b" and body.size and body.max() > 1:
            raise PayloadError("dense bool payload has bytes other than 0/1")
        try:
            out = body.view(wire).astype(native, copy=True)
        except MemoryError as exc:
            raise PayloadError(f"cannot allocate {hdr.numel} elements") from exc
    elif hdr.codec == "bitmap":
        nmask = (hdr.numel + 7) // 8
        packed = body[:nmask]
        rem = hdr.numel % 8
        if rem and int(packed[-1]) >> rem:
            raise PayloadError("bitmap padding bits after numel are not zero")
        mask = np.unpackbits(packed, count=hdr.numel, bitorder="little").view(bool)
        popcount = int(np.count_nonzero(mask))
        if popcount != hdr.nnz:
            raise PayloadError(f"bitmap popcount {popcount} != nnz {hdr.nnz}")
        values = body[nmask:].view(wire)
        _check_values(values, wire)
        out = _zeros(hdr.numel, native)
        out[mask] = values
    elif hdr.codec == "ef":
        pos = _ef_decode(body, hdr.numel, hdr.nnz)
        values = body[body.size - hdr.nnz * wire.itemsize :].view(wire)
        _check_values(values, wire)
        out = _zeros(hdr.numel, native)
        out[pos] = values
    else:
        nidx = hdr.nnz * _INDEX_DTYPE.itemsize
        idx = body[:nidx].view(_INDEX_DTYPE)
        if hdr.nnz:
            if int(idx[0]) < 0 or int(idx[-1]) >= hdr.numel:
                raise PayloadError(
                    f"coo index out of range [0, {hdr.numel}): first {int(idx[0])}, "
                    f"last {int(idx[-1])}"
                )
            # Compare neighbours directly: np.diff on int32 could wrap around.
            if not np.all(idx[1:] > idx[:-1]):
                raise PayloadError("coo indices are not strictly increasing")
        values = body[nidx:].view(wire)
        _check_values(values, wire)
        out = _zeros(hdr.numel, native)
        out[idx.astype(np.intp)] = values
    return out.reshape(hdr.shape)


def decode_array(
    payload: bytes | bytearray | memoryview | np.ndarray,
    *,
    max_numel: int = MAX_NUMEL,
) -> np.ndarray:
    """Rebuild a tensor from a payload produced by :func:`encode_array`.

    Parameters
    ----------
    payload : bytes, bytearray, memoryview or np.ndarray
        The payload; an ndarray must be 1-D uint8. It is not modified and the
        result does not share memory with it.
    max_numel : int, optional
        Reject payloads whose shape has more elements than this (at most
        ``MAX_NUMEL``, the default). A sparse payload of a few bytes can
        describe a huge all-zero tensor, so receivers that know the expected
        tensor sizes should pass a tighter limit.

    Returns
    -------
    np.ndarray
        A writable, C-contiguous array in native byte order that owns its
        memory, bit-identical to the encoded tensor.

    Raises
    ------
    PayloadError
        For any malformed payload: bad magic, version, codec id or dtype
        code, ndim > 8, more than ``max_numel`` elements, nnz > numel, a
        length that does not match the header exactly, coo indices out of
        range or not strictly increasing, a bitmap whose popcount differs from
        nnz or whose padding bits are set, an ef high-bit vector whose
        popcount differs from nnz, ef padding bits that are set, ef positions
        that are not strictly increasing or not below numel, or stored sparse
        values that are zero. No other exception type escapes.

    """
    buf = _as_bytes_array(payload)
    hdr = _parse_header(buf)
    if hdr.numel > max_numel:
        raise PayloadError(f"shape {hdr.shape} has {hdr.numel} elements, limit is {max_numel}")
    try:
        return _decode_body(buf, hdr)
    except PayloadError:
        raise
    except (ValueError, TypeError, IndexError, OverflowError) as exc:
        # Safety net: validation above should make this unreachable.
        raise PayloadError(f"internal decoding error: {exc!r}") from exc
