"""Fixed parts of the tensor payload format: constants, dtype table, header, error and results.

The format itself is specified in :mod:`sparsyfed.wire.codec`; the codecs
(the position blocks and codec fields) are in :mod:`sparsyfed.wire.codecs`
and :mod:`sparsyfed.wire.rice_codecs`.
"""

from __future__ import annotations

import struct
from typing import TYPE_CHECKING, NamedTuple

import numpy as np

from sparsyfed.wire.positions import RiceCode

if TYPE_CHECKING:
    from sparsyfed.wire.codec_base import Codec

__all__ = [
    "DTYPES",
    "FIXED_HEADER",
    "INDEX_DTYPE",
    "INT32_MAX",
    "MAGIC",
    "MAX_NDIM",
    "MAX_NUMEL",
    "NNZ",
    "PREFIX",
    "UINT_BY_SIZE",
    "VERSION",
    "Header",
    "JointPositions",
    "PayloadError",
    "PayloadInfo",
    "pack_header",
    "payload_buffer",
    "prepare",
    "reference_mask",
    "support_mask",
]

MAGIC = b"SF"
VERSION = 2
MAX_NDIM = 8
MAX_NUMEL = 2**31 - 1
MAX_DIM = 2**32 - 1
INT32_MAX = 2**31 - 1

DTYPES: tuple[np.dtype, ...] = (
    np.dtype("<f4"),
    np.dtype("<f8"),
    np.dtype("<f2"),
    np.dtype("<i8"),
    np.dtype("<i4"),
    np.dtype("u1"),
    np.dtype("?"),
)
"""Wire dtypes, indexed by dtype code; all explicitly little-endian."""

_DTYPE_CODES: dict[np.dtype, int] = {dt: code for code, dt in enumerate(DTYPES)}

UINT_BY_SIZE: dict[int, np.dtype] = {
    1: np.dtype("u1"),
    2: np.dtype("<u2"),
    4: np.dtype("<u4"),
    8: np.dtype("<u8"),
}
"""Unsigned integer dtype of each item size (to compare bit patterns)."""

INDEX_DTYPE = np.dtype("<i4")
"""Positions and row pointers of coo and csr."""

PREFIX = struct.Struct("<2sBBBBB")
"""Magic, version, codec id, dtype code, value format, ndim."""
NNZ = struct.Struct("<Q")
FIXED_HEADER = PREFIX.size + NNZ.size
"""15 bytes; the header adds 4 per dimension and the codec fields."""


class PayloadError(ValueError):
    """Raised for any malformed or hostile payload (one typed error)."""


class PayloadInfo(NamedTuple):
    """Header-level description of a payload (see :func:`~sparsyfed.wire.codec.payload_info`)."""

    codec: str
    dtype: np.dtype
    shape: tuple[int, ...]
    numel: int
    nnz: int
    values: str
    value_bits: int
    position_bits: int
    reference_nnz: int | None
    nbytes: int
    position_code_bits: int


class JointPositions(NamedTuple):
    """The position part of a ``joint`` payload, coded in the message's joint block."""

    domain: int
    """``m``, the number of non-zeros of the reference."""
    nnz: int
    """``k``, the number of kept positions."""
    coded: np.ndarray
    """Sorted ranks in ``[0, m)``: of the kept positions, or of the others if ``2 * k > m``."""


class Header(NamedTuple):
    """A parsed and validated header (the payload length included)."""

    codec: Codec
    dtype: np.dtype  # wire (little-endian) dtype
    values: str
    shape: tuple[int, ...]
    numel: int
    nnz: int
    nbytes: int  # header length including codec fields; the body starts here
    rice: RiceCode | None  # golomb / support
    ref_nnz: int | None  # support


def pack_header(codec_id: int, dcode: int, vcode: int, shape: tuple[int, ...], nnz: int) -> bytes:
    """The fixed header (without codec fields).

    Parameters
    ----------
    codec_id, dcode, vcode : int
        Codec id, dtype code and value format code.
    shape : tuple of int
        Tensor shape (C order).
    nnz : int
        Number of stored values.

    Returns
    -------
    bytes
        ``15 + 4 * len(shape)`` bytes.

    """
    ndim = len(shape)
    fmt = f"<2sBBBBB{ndim}IQ"
    return struct.pack(fmt, MAGIC, VERSION, codec_id, dcode, vcode, ndim, *shape, nnz)


def prepare(x: np.ndarray, what: str = "tensor") -> tuple[np.ndarray, int]:
    """Validate a tensor for encoding.

    Parameters
    ----------
    x : np.ndarray
        The tensor (any byte order).
    what : str, optional
        How error messages name it.

    Returns
    -------
    arr : np.ndarray
        ``x`` C-contiguous in its little-endian wire dtype (booleans as 0/1).
    dcode : int
        Its dtype code.

    Raises
    ------
    ValueError
        For an unsupported dtype, too many dimensions or elements.

    """
    arr = np.asarray(x)
    dt = arr.dtype
    code = None
    if dt.fields is None and dt.subdtype is None:
        code = _DTYPE_CODES.get(dt.newbyteorder("<"))
    if code is None:
        allowed = ", ".join(str(d.newbyteorder("=")) for d in DTYPES)
        raise ValueError(f"unsupported {what} dtype {dt}; supported dtypes: {allowed}")
    if arr.ndim > MAX_NDIM:
        raise ValueError(f"{what} ndim {arr.ndim} exceeds the maximum of {MAX_NDIM}")
    if any(d > MAX_DIM for d in arr.shape):
        raise ValueError(f"{what} shape {arr.shape} has a dimension larger than 2**32 - 1")
    if arr.size > MAX_NUMEL:
        raise ValueError(f"{what} has {arr.size} elements, more than the limit {MAX_NUMEL}")
    wire = DTYPES[code]
    arr = np.asarray(arr, dtype=wire, order="C")
    if wire.kind == "b":
        # Canonicalise booleans whose bytes are not 0/1 (only reachable via views).
        arr = arr.view(np.uint8) != 0
    return arr, code


def support_mask(x: np.ndarray) -> np.ndarray:
    """Flat boolean mask of the elements whose bit pattern is not all zero (what codecs send)."""
    flat = np.ascontiguousarray(x).reshape(-1)
    if flat.size == 0:
        return np.zeros(0, dtype=bool)
    uint = UINT_BY_SIZE.get(flat.dtype.itemsize)
    if uint is not None and not flat.dtype.hasobject:
        return flat.view(uint) != 0  # one comparison per element
    return flat.view(np.uint8).reshape(flat.size, flat.itemsize).any(axis=1)


def reference_mask(reference: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
    """Flat support mask of a reference tensor (ValueError if unusable)."""
    ref, _ = prepare(reference, "reference")
    if ref.shape != shape:
        raise ValueError(f"reference shape {ref.shape} != tensor shape {shape}")
    return support_mask(ref)


def payload_buffer(payload: bytes | bytearray | memoryview | np.ndarray) -> np.ndarray:
    """View ``payload`` as a 1-D uint8 array without copying (``PayloadError`` if unusable)."""
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
