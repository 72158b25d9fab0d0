"""Self-describing byte payloads for (sparse) NumPy tensors, wire format version 2.

Every tensor is serialised to one ``bytes`` object that carries its own
codec, dtype, value format and shape, so a receiver needs nothing but the
payload (and, for the ``support`` codec, the shared reference tensor; for
``joint`` also the message's joint position block, :mod:`sparsyfed.wire.joint`)
to rebuild the array. :func:`choose_codec` picks the smallest codec.

Header
------
All integers are little-endian; there is no padding or alignment anywhere.
The header is ``15 + 4 * ndim`` bytes plus the codec fields::

    offset    size      field
    0         2         magic, the ASCII bytes ``b"SF"``
    2         1         version (u8), always 2 (version 1 is rejected)
    3         1         codec id (u8), the index in CODECS:
                        0 dense, 1 bitmap, 2 coo, 3 csr, 4 ef, 5 golomb, 6 support,
                        7 joint
    4         1         dtype code (u8), see below
    5         1         value format (u8): 0 raw, 1 fp16, 2 int8
    6         1         ndim (u8), at most 8
    7         4 * ndim  shape, one u32 per dimension (C order)
    7+4*nd    8         nnz (u64), number of stored values
    15+4*nd   ...       codec fields: 10 bytes for golomb, 18 for support, else none

Dtype codes: 0 = float32, 1 = float64, 2 = float16, 3 = int64, 4 = int32,
5 = uint8, 6 = bool. ``n = numel`` is the product of the shape (at most
``2**31 - 1``), ``k = nnz``. The body follows the header and always ends with
the *value section* (:mod:`sparsyfed.wire.values`) holding ``count``
values, ``count = n`` for dense and ``k`` otherwise:

* raw: ``count`` values in the tensor dtype;
* fp16: ``count`` float16 values (floating dtypes only);
* int8: a float32 scale, then ``count`` int8 codes (floating dtypes only).

Bit streams are packed least-significant bit first (bit ``b`` is bit
``b % 8`` of byte ``b // 8``) and their padding bits must be zero. A
*fixed-width stream* of ``c`` values of ``w`` bits holds bit ``j`` of value
``i`` at stream bit ``i * w + j`` (``ceil(c * w / 8)`` bytes). A *unary
stream* of non-negative ``q_0 .. q_{c-1}`` is a bit vector with bit
``sum_{j<=i} q_j + i`` set for every ``i``.

Codecs (positions are flat C-order indices of the kept elements, sorted)
------------------------------------------------------------------------
``dense``
    The value section with all ``n`` values (``nnz`` must equal ``n``).
``bitmap``
    ``ceil(n / 8)`` bytes: the keep-mask as a bit stream, then the values.
``coo``
    ``k`` int32 positions, strictly increasing, then the values.
``csr``
    The tensor as a ``(rows, cols)`` matrix, ``rows = shape[0]`` and
    ``cols = prod(shape[1:])`` for ``ndim >= 2``, ``rows = 1`` for
    ``ndim == 1`` (``ndim == 0`` is not allowed). ``rows + 1`` int32 row
    pointers (``rowptr[0] == 0``, non-decreasing, ``rowptr[-1] == k``), ``k``
    int32 column indices (in ``[0, cols)``, strictly increasing within each
    row), then the values in C order. Needs ``rows + 1 <= 2**31 - 1``.
``ef``
    Elias-Fano positions with ``l = (n // k).bit_length() - 1`` low bits
    (``floor(log2(n / k))``, not stored): the fixed-width stream of the ``k``
    low parts ``p_i & (2**l - 1)`` (``ceil(k * l / 8)`` bytes), then the unary
    stream of the high parts, ``h = k + (n >> l) + 1`` bits long
    (``ceil(h / 8)`` bytes; bit ``(p_i >> l) + i`` set), then the values.
    Empty position block for ``k == 0``.
``golomb``
    Rice-coded gaps. Codec fields: ``flags`` (u8; bit 0 = complement, other
    bits zero), ``r`` (u8, Rice parameter, at most 31), ``u`` (u64, unary
    stream length in bits). If ``2 * k > n`` the complement is coded: the
    ``c = n - k`` unoccupied positions; otherwise the ``c = k`` kept ones.
    With coded positions ``p_i`` and gaps ``g_i = p_i - p_{i-1} - 1``
    (``p_{-1} = -1``) the block is ONE bit stream of ``c * r + u`` bits,
    padded to whole bytes once (``ceil((c * r + u) / 8)`` bytes): the
    fixed-width stream of the ``c`` low parts ``g_i & (2**r - 1)`` (bits
    ``0 .. c * r - 1``) directly followed by the unary stream of the
    quotients ``g_i >> r`` (bits ``c * r .. c * r + u - 1``, ``u`` = last set
    bit + 1); then the ``k`` values of the kept positions. For ``c == 0``
    both ``r`` and ``u`` are 0. The encoder takes the smallest ``r`` among
    ``r0 - 1 .. r0 + 2`` (clipped to ``[0, 31]``) minimising
    ``ceil((c * r + u) / 8)``, where ``r0 = max(0,
    t.bit_length() - 1)``, ``t = ((n - c) * 709) // (1024 * c)``; decoders
    require that choice.
``support``
    Positions relative to a reference tensor of the same shape that both
    sides know: its support is the set of ``m`` elements whose bit pattern
    is not all zero (bool: ``True``). The kept positions must lie in that
    support; they are replaced by their ranks in ``[0, m)`` and coded exactly
    like ``golomb`` over a domain of size ``m`` (complement iff
    ``2 * k > m``). Codec fields: ``m`` (u64), ``flags`` (u8), ``r`` (u8),
    ``u`` (u64). The receiver passes the reference to :func:`decode_array`.
``joint``
    Like ``support`` (kept positions inside a reference support of ``m``
    elements, complement coded iff ``2 * k > m``), but the coded ranks are
    not in this payload: they travel in the *joint position block* of the
    message (:mod:`sparsyfed.wire.joint`), which codes the rank sets of
    all ``joint`` tensors of one message together, enumeratively. No codec
    fields; the body is the value section only. At most
    :data:`~sparsyfed.wire.enumerative.MAX_COUNT` coded positions. Only
    :func:`encode_array_joint` produces it and :func:`decode_array` needs
    the decoded ranks (``joint_coded=``) to rebuild it; whole messages go
    through :mod:`sparsyfed.wire.payload`.

"Non-zero" is defined on the bit pattern: an element is kept iff its bytes
are not all zero, so with raw values ``-0.0`` and every NaN are kept and
decoding reproduces the input bit for bit. Lossy value formats drop the
elements that quantise to zero (see :mod:`sparsyfed.wire.values`); their
decoded tensor ``x_q`` re-encodes to itself exactly. Boolean arrays are
canonicalised to bytes 0/1 before encoding.

Decoding is strict: every payload that decodes successfully is the canonical
encoding of its result (re-encoding the decoded array with the same codec,
value format and reference returns the identical bytes), and every malformed
payload raises :class:`PayloadError`, and only that. The payload length is
fully determined by the header and checked before anything is allocated.
"""

from __future__ import annotations

import math
import struct
from typing import NamedTuple

import numpy as np

from sparsyfed.wire import values as _values
from sparsyfed.wire.bitstream import BitstreamError, nbytes_for_bits, unpack_positions
from sparsyfed.wire.bounds import sparse_bound_bits
from sparsyfed.wire.enumerative import MAX_COUNT as JOINT_MAX_COUNT
from sparsyfed.wire.positions import (
    RICE_MAX,
    RiceCode,
    ef_decode,
    ef_encode,
    ef_layout,
    rice_decode,
    rice_encode,
    rice_max_unary,
    rice_nbytes,
    rice_plan,
    uses_complement,
)
from sparsyfed.wire.values import VALUE_FORMATS, ValueSectionError

__all__ = [
    "CODECS",
    "MAX_NDIM",
    "MAX_NUMEL",
    "STANDALONE_CODECS",
    "VALUE_FORMATS",
    "JointPositions",
    "PayloadError",
    "PayloadInfo",
    "choose_codec",
    "decode_array",
    "encode_array",
    "encode_array_joint",
    "encoded_nbytes",
    "header_nbytes",
    "payload_buffer",
    "payload_codec",
    "payload_info",
    "support_mask",
]

CODECS: tuple[str, ...] = ("dense", "bitmap", "coo", "csr", "ef", "golomb", "support", "joint")
"""Codec names; the position of a name is its codec id on the wire."""

STANDALONE_CODECS: tuple[str, ...] = tuple(c for c in CODECS if c != "joint")
"""Codecs whose payload holds its own positions (the ones :func:`encode_array` can force)."""

MAGIC = b"SF"
VERSION = 2
MAX_NDIM = 8
MAX_NUMEL = 2**31 - 1
_MAX_DIM = 2**32 - 1
_INT32_MAX = 2**31 - 1

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
_PREFIX = struct.Struct("<2sBBBBB")
_NNZ = struct.Struct("<Q")
_FIXED_HEADER = _PREFIX.size + _NNZ.size  # 15 bytes, plus 4 per dimension
_GOLOMB_FIELDS = struct.Struct("<BBQ")  # flags, r, unary bits
_SUPPORT_FIELDS = struct.Struct("<QBBQ")  # m, flags, r, unary bits
_FIELDS = {"golomb": _GOLOMB_FIELDS.size, "support": _SUPPORT_FIELDS.size}


class PayloadError(ValueError):
    """Raised for any malformed or hostile payload (one typed error)."""


class PayloadInfo(NamedTuple):
    """Header-level description of a payload (see :func:`payload_info`)."""

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


class _Header(NamedTuple):
    codec: str
    dtype: np.dtype  # wire (little-endian) dtype
    values: str
    shape: tuple[int, ...]
    numel: int
    nnz: int
    nbytes: int  # header length including codec fields; the body starts here
    rice: RiceCode | None  # golomb / support
    ref_nnz: int | None  # support


# ---------------------------------------------------------------------------
# sizes
# ---------------------------------------------------------------------------


def _check_codec(codec: str) -> str:
    if codec not in CODECS:
        raise ValueError(f"unknown codec {codec!r}; expected one of {CODECS}")
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
    _check_codec(codec)
    return _FIXED_HEADER + 4 * ndim + _FIELDS.get(codec, 0)


def _csr_dims(shape: tuple[int, ...]) -> tuple[int, int]:
    if len(shape) == 1:
        return 1, shape[0]
    return shape[0], math.prod(shape[1:])


def _csr_eligible(shape: tuple[int, ...]) -> bool:
    return len(shape) >= 1 and _csr_dims(shape)[0] + 1 <= _INT32_MAX


def _position_nbytes(codec: str, shape: tuple[int, ...], numel: int, nnz: int) -> int:
    """Position block length for the codecs whose layout depends on (n, k) only."""
    if codec in ("dense", "joint"):
        return 0
    if codec == "bitmap":
        return nbytes_for_bits(numel)
    if codec == "coo":
        return 4 * nnz
    if codec == "csr":
        return 4 * (_csr_dims(shape)[0] + 1) + 4 * nnz
    if codec == "ef":
        _, low_nbytes, high_nbits = ef_layout(numel, nnz)
        return low_nbytes + nbytes_for_bits(high_nbits)
    raise AssertionError(codec)


# ---------------------------------------------------------------------------
# encoding
# ---------------------------------------------------------------------------


def _prepare(x: np.ndarray, what: str = "tensor") -> tuple[np.ndarray, int]:
    """Validate ``x`` and return it C-contiguous, little-endian, plus dtype code."""
    arr = np.asarray(x)
    dt = arr.dtype
    code = None
    if dt.fields is None and dt.subdtype is None:
        code = _DTYPE_CODES.get(dt.newbyteorder("<"))
    if code is None:
        allowed = ", ".join(str(d.newbyteorder("=")) for d in _DTYPES)
        raise ValueError(f"unsupported {what} dtype {dt}; supported dtypes: {allowed}")
    if arr.ndim > MAX_NDIM:
        raise ValueError(f"{what} ndim {arr.ndim} exceeds the maximum of {MAX_NDIM}")
    if any(d > _MAX_DIM for d in arr.shape):
        raise ValueError(f"{what} shape {arr.shape} has a dimension larger than 2**32 - 1")
    if arr.size > MAX_NUMEL:
        raise ValueError(f"{what} has {arr.size} elements, more than the limit {MAX_NUMEL}")
    wire = _DTYPES[code]
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
    uint = _UINT_BY_SIZE.get(flat.dtype.itemsize)
    if uint is not None and not flat.dtype.hasobject:
        return flat.view(uint) != 0  # one comparison per element
    return flat.view(np.uint8).reshape(flat.size, flat.itemsize).any(axis=1)


def _reference_mask(reference: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
    """Flat support mask of a reference tensor (ValueError if unusable)."""
    ref, _ = _prepare(reference, "reference")
    if ref.shape != shape:
        raise ValueError(f"reference shape {ref.shape} != tensor shape {shape}")
    return support_mask(ref)


class _Plan:
    """Kept positions and value section of one tensor, shared by the sparse codecs."""

    def __init__(
        self,
        arr: np.ndarray,
        values: str,
        rng: np.random.Generator | None,
        reference: np.ndarray | None,
        quantized: bool = True,
    ) -> None:
        self.shape = arr.shape
        self.ndim = arr.ndim
        self.numel = arr.size
        self.dtype = arr.dtype
        self.values = values
        self.flat = flat = arr.reshape(-1)
        mask = support_mask(flat)
        idx = np.flatnonzero(mask)
        if values == "raw" or not quantized:
            # Not quantised: sizes of a tensor already representable in `values`.
            self.q = _values.Quantized(None, flat[idx], None)
            if values == "int8":
                self.q = _values.Quantized(None, flat[idx], np.float32(0.0))
        else:
            self.q = _values.quantize(flat[idx], values, rng)
            if self.q.keep is not None and not self.q.keep.all():
                mask[idx[~self.q.keep]] = False
                idx = idx[self.q.keep]
        self.mask = mask
        self.idx = idx
        self.nnz = idx.size
        self.section_nbytes = _values.section_nbytes(values, self.dtype, self.nnz)
        self.ref_mask = None
        self.ref_nnz = 0
        self.outside = 0
        if reference is not None:
            self.ref_mask = _reference_mask(reference, self.shape)
            self.ref_nnz = int(np.count_nonzero(self.ref_mask))
            self.outside = self.nnz - int(np.count_nonzero(mask[self.ref_mask]))
        self._rice: dict[str, tuple[RiceCode, np.ndarray, int]] = {}

    # -- eligibility and sizes --------------------------------------------

    def eligible(self, codec: str) -> bool:
        if codec == "csr":
            return _csr_eligible(self.shape)
        if codec == "support":
            return self.ref_mask is not None and self.outside == 0
        if codec == "joint":
            return self.eligible("support") and self.joint_count <= JOINT_MAX_COUNT
        return True

    @property
    def joint_count(self) -> int:
        """Number of coded positions relative to the reference support."""
        return min(self.nnz, self.ref_nnz - self.nnz)

    def check_eligible(self, codec: str) -> None:
        if codec == "csr" and not _csr_eligible(self.shape):
            raise ValueError(f"csr needs ndim >= 1 and rows + 1 <= 2**31 - 1, shape {self.shape}")
        if codec in ("support", "joint"):
            if self.ref_mask is None:
                raise ValueError(f"codec {codec!r} needs reference= (the shared reference tensor)")
            if self.outside:
                raise ValueError(
                    f"codec {codec!r}: {self.outside} kept positions lie outside the "
                    "reference support"
                )
        if codec == "joint" and self.joint_count > JOINT_MAX_COUNT:
            raise ValueError(
                f"codec 'joint' codes at most {JOINT_MAX_COUNT} positions, this tensor needs "
                f"{self.joint_count}"
            )

    def joint(self) -> JointPositions:
        """Coded ranks of the ``joint`` codec (relative to the reference support)."""
        assert self.ref_mask is not None
        occupied = self.mask[self.ref_mask]
        coded = np.flatnonzero(~occupied if uses_complement(self.ref_nnz, self.nnz) else occupied)
        return JointPositions(self.ref_nnz, self.nnz, coded.astype(np.int64))

    def rice(self, codec: str) -> tuple[RiceCode, np.ndarray, int]:
        """Rice fields, coded positions and the domain for golomb / support."""
        if codec not in self._rice:
            if codec == "golomb":
                domain, occupied = self.numel, self.mask
            else:
                domain, occupied = self.ref_nnz, self.mask[self.ref_mask]
            complement = uses_complement(domain, self.nnz)
            if complement:
                coded = np.flatnonzero(~occupied)
            elif codec == "golomb":
                coded = self.idx
            else:
                coded = np.flatnonzero(occupied)
            r, unary = rice_plan(coded, domain)
            self._rice[codec] = (RiceCode(complement, r, unary, coded.size), coded, domain)
        return self._rice[codec]

    def nbytes(self, codec: str) -> int:
        head = header_nbytes(self.ndim, codec)
        if codec == "dense":
            return head + _values.section_nbytes(self.values, self.dtype, self.numel)
        if codec in ("golomb", "support"):
            rc = self.rice(codec)[0]
            pos = rice_nbytes(rc.coded, rc.r, rc.unary_nbits)
        else:
            pos = _position_nbytes(codec, self.shape, self.numel, self.nnz)
        return head + pos + self.section_nbytes

    def best(self, allow_joint: bool = False) -> str:
        """Smallest eligible codec; ``joint`` is charged ``log2 C(m, k) / 8`` position bytes."""
        sizes: dict[str, float] = {
            c: self.nbytes(c) for c in CODECS if c != "joint" and self.eligible(c)
        }
        if allow_joint and self.eligible("joint"):
            share = sparse_bound_bits(self.ref_nnz, self.nnz, 0) / 8.0
            sizes["joint"] = self.nbytes("joint") + share
        return min(sizes, key=sizes.__getitem__)

    # -- bytes -------------------------------------------------------------

    def encode(self, codec: str, dcode: int) -> bytes:
        fields = b""
        nnz = self.nnz
        if codec == "dense":
            nnz = self.numel
            body = self._dense_section()
        else:
            section = _values.section_parts(self.q, self.values)
            if codec == "joint":
                body = section
            elif codec == "bitmap":
                body = [np.packbits(self.mask, bitorder="little").tobytes(), *section]
            elif codec == "coo":
                body = [self.idx.astype(_INDEX_DTYPE).tobytes(), *section]
            elif codec == "csr":
                body = [*self._csr(), *section]
            elif codec == "ef":
                body = [*ef_encode(self.idx, self.numel), *section]
            else:
                rc, coded, _ = self.rice(codec)
                r, unary = rc.r, rc.unary_nbits
                fields = _GOLOMB_FIELDS.pack(int(rc.complement), r, unary)
                if codec == "support":
                    fields = _SUPPORT_FIELDS.pack(self.ref_nnz, int(rc.complement), r, unary)
                body = [rice_encode(coded, r, unary), *section]
        header = struct.pack(
            f"<2sBBBBB{self.ndim}IQ",
            MAGIC,
            VERSION,
            CODECS.index(codec),
            dcode,
            VALUE_FORMATS.index(self.values),
            self.ndim,
            *self.shape,
            nnz,
        )
        return b"".join([header, fields, *body])

    def _dense_section(self) -> list[bytes]:
        if self.values == "raw":
            return [self.flat.tobytes()]
        if self.values == "fp16":
            out = np.zeros(self.numel, dtype=np.dtype("<f2"))
            out[self.idx] = self.q.stored
            return [out.tobytes()]
        codes = np.zeros(self.numel, dtype=np.int8)
        codes[self.idx] = self.q.stored
        return [np.array(self.q.scale, dtype="<f4").tobytes(), codes.tobytes()]

    def _csr(self) -> list[bytes]:
        rows, cols = _csr_dims(self.shape)
        rowptr = np.zeros(rows + 1, dtype=np.int64)
        if self.nnz:
            row = self.idx // cols
            np.cumsum(np.bincount(row, minlength=rows), out=rowptr[1:])
            col = self.idx - row * cols
        else:
            col = self.idx
        return [rowptr.astype(_INDEX_DTYPE).tobytes(), col.astype(_INDEX_DTYPE).tobytes()]


def _wants_sparse(arr: np.ndarray, min_sparse_numel: int) -> bool:
    if min_sparse_numel < 0:
        raise ValueError(f"min_sparse_numel must be >= 0, got {min_sparse_numel}")
    return arr.ndim > 1 and arr.size >= min_sparse_numel and np.issubdtype(arr.dtype, np.floating)


def choose_codec(
    x: np.ndarray,
    min_sparse_numel: int = 1024,
    *,
    values: str = "raw",
    reference: np.ndarray | None = None,
) -> str:
    """Pick the codec that ``encode_array(x, "auto", ...)`` would use.

    Parameters
    ----------
    x : np.ndarray
        Tensor to encode (a supported dtype, see the module docstring).
    min_sparse_numel : int, optional
        Tensors with fewer elements are always sent dense, by default 1024.
    values : str, optional
        Value format, one of :data:`VALUE_FORMATS`. For ``"fp16"`` the
        tensor is quantised first (deterministic); for ``"int8"`` the choice
        is made on ``x`` as is, which is exact when ``x`` is already
        int8-representable (e.g. a decoded int8 payload).
    reference : np.ndarray, optional
        Reference tensor enabling the ``support`` codec.

    Returns
    -------
    str
        ``"dense"`` if ``x.ndim <= 1``, ``x.size < min_sparse_numel`` or the
        dtype is not floating point; otherwise the eligible codec with the
        smallest encoded size, ties resolved in the order of :data:`CODECS`
        (``support`` is eligible when ``reference`` is given and contains the
        support of ``x``).

    Raises
    ------
    ValueError
        If the dtype, ndim, size or value format of ``x`` is not supported,
        the reference has another shape, or ``min_sparse_numel`` is negative.

    """
    arr, _ = _prepare(x)
    _values.check_format(values, arr.dtype)
    if not _wants_sparse(arr, min_sparse_numel):
        return "dense"
    return _Plan(arr, values, None, reference, quantized=values == "fp16").best()


def encoded_nbytes(
    x: np.ndarray,
    codec: str,
    *,
    values: str = "raw",
    reference: np.ndarray | None = None,
) -> int:
    """Exact length of ``encode_array(x, codec, values=values, reference=reference)``.

    Parameters
    ----------
    x : np.ndarray
        Tensor to measure. For ``values="int8"`` the result is exact when
        ``x`` is already int8-representable (e.g. a decoded int8 payload);
        otherwise it is the size for the current support of ``x``.
    codec : str
        One of :data:`CODECS`.
    values : str, optional
        Value format, one of :data:`VALUE_FORMATS`.
    reference : np.ndarray, optional
        Reference tensor, required for ``codec="support"``.

    Returns
    -------
    int
        Payload length in bytes (header included). For ``joint`` this is the
        tensor payload only; its positions travel in the joint block.

    Raises
    ------
    ValueError
        If ``codec`` or ``values`` is unknown, ``x`` is not supported, or
        the codec is not eligible (csr of a 0-d tensor, support without a
        reference or with kept positions outside it).

    """
    _check_codec(codec)
    arr, _ = _prepare(x)
    _values.check_format(values, arr.dtype)
    if codec == "dense":
        return header_nbytes(arr.ndim) + _values.section_nbytes(values, arr.dtype, arr.size)
    if codec not in ("support", "joint"):
        reference = None
    plan = _Plan(arr, values, None, reference, quantized=values == "fp16")
    plan.check_eligible(codec)
    return plan.nbytes(codec)


def encode_array(
    x: np.ndarray,
    codec: str = "auto",
    min_sparse_numel: int = 1024,
    *,
    values: str = "raw",
    reference: np.ndarray | None = None,
    rng: np.random.Generator | None = None,
) -> bytes:
    """Serialise a tensor into one self-describing payload.

    Parameters
    ----------
    x : np.ndarray
        Tensor to encode: 0 to 8 dimensions, at most ``2**31 - 1`` elements,
        dtype float32, float64, float16, int64, int32, uint8 or bool (any byte
        order; the payload is little-endian).
    codec : str, optional
        ``"auto"`` (default) for the smallest eligible codec (see
        :func:`choose_codec`; with lossy values it is chosen after
        quantising), or one of :data:`CODECS` to force a codec.
    min_sparse_numel : int, optional
        Threshold below which ``codec="auto"`` sends the tensor dense.
    values : str, optional
        Value format, one of :data:`VALUE_FORMATS` (``"raw"`` by default;
        ``"fp16"`` and ``"int8"`` need a floating dtype).
    reference : np.ndarray, optional
        Reference tensor of the same shape for the ``support`` codec; only
        ``codec="auto"`` and ``codec="support"`` look at it.
    rng : np.random.Generator, optional
        Source of the stochastic rounding, required for ``values="int8"``.

    Returns
    -------
    bytes
        The payload. With raw values ``decode_array`` of it is bit-identical
        to ``x``; with lossy values it is the quantised tensor.

    Raises
    ------
    ValueError
        If ``codec`` or ``values`` is unknown, ``x`` is not supported, int8
        is requested without ``rng`` or for non-finite values, the reference
        has another shape, or a forced codec is not eligible (csr of a 0-d
        tensor; support without a reference, or with kept positions outside
        the reference support: the message gives their count).

    """
    if codec == "joint":
        raise ValueError(
            "codec 'joint' keeps its positions in the message's joint block: "
            "use encode_array_joint (or encode_state)"
        )
    return _encode(x, codec, min_sparse_numel, values, reference, rng, allow_joint=False)[0]


def encode_array_joint(
    x: np.ndarray,
    min_sparse_numel: int = 1024,
    *,
    values: str = "raw",
    reference: np.ndarray,
    rng: np.random.Generator | None = None,
) -> tuple[bytes, JointPositions | None]:
    """Encode like ``encode_array(x, "auto", ...)``, with the ``joint`` codec as an option.

    ``joint`` is chosen when the kept positions lie in the reference support,
    at most :data:`~sparsyfed.wire.enumerative.MAX_COUNT` positions are
    coded, and the payload plus ``log2 C(m, k) / 8`` bytes of joint block is
    smaller than every other codec.

    Parameters
    ----------
    x, min_sparse_numel, values, rng
        As for :func:`encode_array`.
    reference : np.ndarray
        The reference tensor the receiver holds (same shape).

    Returns
    -------
    payload : bytes
        The tensor payload.
    positions : JointPositions or None
        For a ``joint`` payload, the ranks to put in the joint block
        (:func:`sparsyfed.wire.joint.encode_joint_block`); ``None`` otherwise.

    """
    return _encode(x, "auto", min_sparse_numel, values, reference, rng, allow_joint=True)


def _encode(
    x: np.ndarray,
    codec: str,
    min_sparse_numel: int,
    values: str,
    reference: np.ndarray | None,
    rng: np.random.Generator | None,
    allow_joint: bool,
) -> tuple[bytes, JointPositions | None]:
    if codec != "auto":
        _check_codec(codec)
    arr, dcode = _prepare(x)
    _values.check_format(values, arr.dtype)
    if values == "int8" and rng is None:
        raise ValueError("values='int8' needs rng=np.random.Generator (stochastic rounding)")
    if codec == "auto" and not _wants_sparse(arr, min_sparse_numel):
        codec = "dense"
    if codec == "dense":
        header = struct.pack(
            f"<2sBBBBB{arr.ndim}IQ",
            MAGIC,
            VERSION,
            0,
            dcode,
            VALUE_FORMATS.index(values),
            arr.ndim,
            *arr.shape,
            arr.size,
        )
        return b"".join([header, *_values.dense_section(arr.reshape(-1), values, rng)]), None
    if codec not in ("auto", "support"):
        reference = None  # only auto and support look at the reference
    plan = _Plan(arr, values, rng, reference)
    if codec == "auto":
        codec = plan.best(allow_joint)
    plan.check_eligible(codec)
    return plan.encode(codec, dcode), plan.joint() if codec == "joint" else None


# ---------------------------------------------------------------------------
# decoding
# ---------------------------------------------------------------------------


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


def _parse_rice(codec: str, raw: bytes, offset: int, numel: int, nnz: int) -> tuple:
    """Validate the golomb / support fields; return ``(RiceCode, m or None)``."""
    if codec == "golomb":
        flags, r, unary = _GOLOMB_FIELDS.unpack_from(raw, offset)
        domain, ref_nnz = numel, None
    else:
        ref_nnz, flags, r, unary = _SUPPORT_FIELDS.unpack_from(raw, offset)
        if ref_nnz > numel:
            raise PayloadError(f"support reference nnz {ref_nnz} exceeds numel {numel}")
        if nnz > ref_nnz:
            raise PayloadError(f"support nnz {nnz} exceeds reference nnz {ref_nnz}")
        domain = ref_nnz
    if flags > 1:
        raise PayloadError(f"{codec} flags {flags:#x} has unknown bits set")
    complement = bool(flags)
    if complement != uses_complement(domain, nnz):
        raise PayloadError(
            f"{codec} complement flag {int(complement)} does not match 2 * nnz > domain "
            f"({nnz}, {domain})"
        )
    coded = domain - nnz if complement else nnz
    if coded == 0:
        if r or unary:
            raise PayloadError(f"{codec} with no coded positions must have r = 0 and u = 0")
    else:
        if r > RICE_MAX:
            raise PayloadError(f"{codec} Rice parameter {r} exceeds {RICE_MAX}")
        limit = rice_max_unary(domain, coded, r)
        if not coded <= unary <= limit:
            raise PayloadError(
                f"{codec} unary stream length {unary} outside [{coded}, {limit}] for "
                f"{coded} positions in a domain of {domain}"
            )
    return RiceCode(complement, r, unary, coded), ref_nnz


def _parse_header(buf: np.ndarray) -> _Header:
    """Parse and fully validate the header, including the total length."""
    total = buf.size
    if total < _FIXED_HEADER:
        raise PayloadError(f"payload too short: {total} bytes, header needs >= {_FIXED_HEADER}")
    magic, version, codec_id, dcode, vcode, ndim = _PREFIX.unpack(buf[: _PREFIX.size].tobytes())
    if magic != MAGIC:
        raise PayloadError(f"bad magic {magic!r}, expected {MAGIC!r}")
    if version != VERSION:
        raise PayloadError(f"unsupported version {version}, expected {VERSION}")
    if codec_id >= len(CODECS):
        raise PayloadError(f"unknown codec id {codec_id}")
    if dcode >= len(_DTYPES):
        raise PayloadError(f"unknown dtype code {dcode}")
    if vcode >= len(VALUE_FORMATS):
        raise PayloadError(f"unknown value format {vcode}")
    if ndim > MAX_NDIM:
        raise PayloadError(f"ndim {ndim} exceeds the maximum of {MAX_NDIM}")
    codec = CODECS[codec_id]
    dtype = _DTYPES[dcode]
    values = VALUE_FORMATS[vcode]
    if values != "raw" and dtype.kind != "f":
        raise PayloadError(f"value format {values} needs a floating dtype, got {dtype}")
    head = _FIXED_HEADER + 4 * ndim + _FIELDS.get(codec, 0)
    if total < head:
        raise PayloadError(f"payload truncated in header: {total} bytes, header needs {head}")
    raw = buf[:head].tobytes()
    shape = struct.unpack_from(f"<{ndim}I", raw, _PREFIX.size)
    (nnz,) = _NNZ.unpack_from(raw, _PREFIX.size + 4 * ndim)
    numel = math.prod(shape)
    if numel > MAX_NUMEL:
        raise PayloadError(f"shape {shape} has {numel} elements, limit is {MAX_NUMEL}")
    if nnz > numel:
        raise PayloadError(f"nnz {nnz} exceeds numel {numel}")
    if codec == "dense" and nnz != numel:
        raise PayloadError(f"dense payload must have nnz == numel, got {nnz} != {numel}")
    if codec == "csr" and not _csr_eligible(shape):
        raise PayloadError(f"csr payload needs ndim >= 1 and rows < 2**31 - 1, shape {shape}")
    rice = ref_nnz = None
    if codec in _FIELDS:
        rice, ref_nnz = _parse_rice(codec, raw, _FIXED_HEADER + 4 * ndim, numel, nnz)
        positions = rice_nbytes(rice.coded, rice.r, rice.unary_nbits)
    else:
        positions = _position_nbytes(codec, shape, numel, nnz)
    count = numel if codec == "dense" else nnz
    expected = head + positions + _values.section_nbytes(values, dtype, count)
    if total != expected:
        kind = "truncated" if total < expected else "has trailing bytes"
        raise PayloadError(f"{codec} payload {kind}: {total} bytes, expected {expected}")
    return _Header(codec, dtype, values, shape, numel, nnz, head, rice, ref_nnz)


def payload_info(payload: bytes | bytearray | memoryview | np.ndarray) -> PayloadInfo:
    """Describe a payload from its header, after validating the header and length.

    The body contents are not checked (use :func:`decode_array` for that).

    Parameters
    ----------
    payload : bytes, bytearray, memoryview or np.ndarray
        A payload produced by :func:`encode_array` (ndarray: 1-D uint8).

    Returns
    -------
    PayloadInfo
        ``codec``, ``dtype`` (native byte order), ``shape``, ``numel``,
        ``nnz``, ``values`` (format name), ``value_bits`` (bits per stored
        value), ``position_bits`` (bits of the body spent on positions:
        ``8 * len(body) - value_bits * nnz``, minus the 32-bit int8 scale;
        0 for dense), ``reference_nnz`` (``m`` for support, else ``None``),
        ``nbytes`` (total payload length) and ``position_code_bits`` (the
        length of the position code itself, without the zero bits that pad
        its streams to whole bytes; equal to ``position_bits`` for coo and csr).

    Raises
    ------
    PayloadError
        If the header is malformed or the length does not match it.

    """
    buf = payload_buffer(payload)
    hdr = _parse_header(buf)
    bits = _values.value_bits(hdr.values, hdr.dtype)
    position_bits = code_bits = 0
    if hdr.codec != "dense":
        scale_bits = 32 if hdr.values == "int8" else 0
        position_bits = 8 * (buf.size - hdr.nbytes) - bits * hdr.nnz - scale_bits
        code_bits = position_bits
        if hdr.rice is not None:
            code_bits = hdr.rice.coded * hdr.rice.r + hdr.rice.unary_nbits
        elif hdr.codec == "ef":
            low, _, high_nbits = ef_layout(hdr.numel, hdr.nnz)
            code_bits = hdr.nnz * low + high_nbits
        elif hdr.codec == "bitmap":
            code_bits = hdr.numel
    return PayloadInfo(
        codec=hdr.codec,
        dtype=hdr.dtype.newbyteorder("="),
        shape=hdr.shape,
        numel=hdr.numel,
        nnz=hdr.nnz,
        values=hdr.values,
        value_bits=bits,
        position_bits=position_bits,
        reference_nnz=hdr.ref_nnz,
        nbytes=buf.size,
        position_code_bits=code_bits,
    )


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
    return _parse_header(payload_buffer(payload)).codec


def _check_raw_values(values: np.ndarray, dtype: np.dtype) -> None:
    """Check that stored sparse raw values are non-zero bit patterns (bool: byte 1)."""
    if values.size == 0:
        return
    bits = values.view(_UINT_BY_SIZE[dtype.itemsize])
    if dtype.kind == "b":
        if not np.all(bits == 1):
            raise PayloadError("stored bool values must all be True (byte 1)")
    elif not np.all(bits != 0):
        raise PayloadError("sparse payload stores an all-zero value")


def _zeros(shape: tuple[int, ...], dtype: np.dtype, empty: bool = False) -> np.ndarray:
    try:
        return np.empty(shape, dtype=dtype) if empty else np.zeros(shape, dtype=dtype)
    except MemoryError as exc:
        raise PayloadError(f"cannot allocate {math.prod(shape)} elements of {dtype}") from exc


def _csr_positions(block: np.ndarray, hdr: _Header) -> np.ndarray:
    rows, cols = _csr_dims(hdr.shape)
    rowptr = block[: 4 * (rows + 1)].view(_INDEX_DTYPE)
    col = block[4 * (rows + 1) :].view(_INDEX_DTYPE)
    if int(rowptr[0]) != 0:
        raise PayloadError(f"csr rowptr[0] must be 0, got {int(rowptr[0])}")
    if not np.all(rowptr[1:] >= rowptr[:-1]):
        raise PayloadError("csr row pointers are decreasing")
    if int(rowptr[-1]) != hdr.nnz:
        raise PayloadError(f"csr rowptr[-1] {int(rowptr[-1])} != nnz {hdr.nnz}")
    if hdr.nnz == 0:
        return np.zeros(0, dtype=np.int64)
    if int(col.min()) < 0 or int(col.max()) >= cols:
        raise PayloadError(
            f"csr column out of range [0, {cols}): min {int(col.min())}, max {int(col.max())}"
        )
    counts = np.diff(rowptr.astype(np.int64))
    pos = np.repeat(np.arange(rows, dtype=np.int64) * cols, counts)
    pos += col
    if not np.all(pos[1:] > pos[:-1]):
        raise PayloadError("csr columns are not strictly increasing within a row")
    return pos


def _usable_reference(hdr: _Header, reference: np.ndarray | None) -> np.ndarray:
    """Flat support mask of the reference of a ``support`` / ``joint`` payload."""
    if reference is None:
        raise PayloadError(f"{hdr.codec} payload needs reference= (the shared reference tensor)")
    try:
        return _reference_mask(reference, hdr.shape)
    except ValueError as exc:
        raise PayloadError(f"unusable reference: {exc}") from exc


def _support_domain(hdr: _Header, reference: np.ndarray | None) -> np.ndarray:
    ref_mask = _usable_reference(hdr, reference)
    m = int(np.count_nonzero(ref_mask))
    if m != hdr.ref_nnz:
        raise PayloadError(
            f"reference has {m} non-zeros, the payload was coded against {hdr.ref_nnz}"
        )
    return ref_mask


def _joint_selection(
    hdr: _Header, reference: np.ndarray | None, coded: np.ndarray | None
) -> np.ndarray:
    """Flat mask of the kept positions of a ``joint`` payload, from its checked ranks."""
    ref_mask = _usable_reference(hdr, reference)
    if coded is None:
        raise PayloadError(
            "joint payload: its positions are in the message's joint block "
            "(decode the whole message with decode_state)"
        )
    m = int(np.count_nonzero(ref_mask))
    if hdr.nnz > m:
        raise PayloadError(f"joint nnz {hdr.nnz} exceeds the reference's {m} non-zeros")
    count = min(hdr.nnz, m - hdr.nnz)
    if count > JOINT_MAX_COUNT:
        raise PayloadError(f"joint payload codes {count} positions, at most {JOINT_MAX_COUNT}")
    coded = np.asarray(coded)
    if coded.ndim != 1 or coded.size != count or coded.dtype.kind not in "iu":
        raise PayloadError(f"joint payload needs {count} coded ranks, got {coded.size}")
    if count and (int(coded[0]) < 0 or int(coded[-1]) >= m or not np.all(coded[1:] > coded[:-1])):
        raise PayloadError(f"joint ranks are not strictly increasing in [0, {m})")
    sub = np.zeros(m, dtype=bool)
    sub[coded] = True
    ref_mask[ref_mask] = ~sub if uses_complement(m, hdr.nnz) else sub  # a fresh array
    return ref_mask


def _decode_body(
    buf: np.ndarray,
    hdr: _Header,
    reference: np.ndarray | None,
    joint_coded: np.ndarray | None = None,
) -> np.ndarray:
    body = buf[hdr.nbytes :]
    wire = hdr.dtype
    native = wire.newbyteorder("=")
    count = hdr.numel if hdr.codec == "dense" else hdr.nnz
    section_len = _values.section_nbytes(hdr.values, wire, count)
    block, section = body[: body.size - section_len], body[body.size - section_len :]
    sparse = hdr.codec != "dense"
    if hdr.values == "raw" and wire.kind == "b" and not sparse and section.size:
        if section.max() > 1:
            raise PayloadError("dense bool payload has bytes other than 0/1")
    ref_mask = _support_domain(hdr, reference) if hdr.codec == "support" else None
    joint_sel = _joint_selection(hdr, reference, joint_coded) if hdr.codec == "joint" else None
    vals = _values.decode_section(section, count, hdr.values, wire, sparse)
    if hdr.values == "raw" and sparse:
        _check_raw_values(vals, wire)
    if not sparse:
        out = _zeros(hdr.shape, native, empty=True)
        out.reshape(-1)[...] = vals
        return out
    if hdr.codec == "bitmap":
        bits = unpack_positions(block, hdr.numel, hdr.nnz, "bitmap")
        sel: np.ndarray = bits
    elif hdr.codec == "coo":
        idx = block.view(_INDEX_DTYPE)
        if hdr.nnz:
            if int(idx[0]) < 0 or int(idx[-1]) >= hdr.numel:
                raise PayloadError(
                    f"coo index out of range [0, {hdr.numel}): first {int(idx[0])}, "
                    f"last {int(idx[-1])}"
                )
            # Compare neighbours directly: np.diff on int32 could wrap around.
            if not np.all(idx[1:] > idx[:-1]):
                raise PayloadError("coo indices are not strictly increasing")
        sel = idx.astype(np.intp)
    elif hdr.codec == "csr":
        sel = _csr_positions(block, hdr)
    elif hdr.codec == "ef":
        sel = ef_decode(block, hdr.numel, hdr.nnz)
    elif hdr.codec == "joint":
        assert joint_sel is not None
        sel = joint_sel
    else:
        assert hdr.rice is not None
        domain = hdr.numel if hdr.codec == "golomb" else int(hdr.ref_nnz or 0)
        coded = rice_decode(block, domain, hdr.rice)
        if hdr.rice.complement:
            occupied = np.ones(domain, dtype=bool)
            occupied[coded] = False
        else:
            occupied = coded
        if hdr.codec == "support":
            assert ref_mask is not None
            sub = occupied
            if not hdr.rice.complement:
                sub = np.zeros(domain, dtype=bool)
                sub[coded] = True
            ref_mask[ref_mask] = sub  # ref_mask is a fresh array
            sel = ref_mask
        else:
            sel = occupied
    out = _zeros(hdr.shape, native)
    out.reshape(-1)[sel] = vals
    return out


def decode_array(
    payload: bytes | bytearray | memoryview | np.ndarray,
    *,
    max_numel: int = MAX_NUMEL,
    reference: np.ndarray | None = None,
    joint_coded: np.ndarray | None = None,
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
    reference : np.ndarray, optional
        The reference tensor a ``support`` or ``joint`` payload was coded
        against (same shape, same support); ignored by the other codecs.
    joint_coded : np.ndarray, optional
        For a ``joint`` payload, its coded ranks as decoded from the
        message's joint block (:func:`sparsyfed.wire.joint.decode_joint_block`).

    Returns
    -------
    np.ndarray
        A writable, C-contiguous array in native byte order that owns its
        memory: bit-identical to the encoded tensor for raw values, the
        quantised tensor otherwise.

    Raises
    ------
    PayloadError
        For any malformed payload: bad magic, version, codec id, dtype code
        or value format, ndim > 8, more than ``max_numel`` elements, nnz >
        numel, codec fields out of range, a length that does not match the
        header exactly, positions out of range or not strictly increasing,
        popcounts that differ from the header, set padding bits, a Rice
        parameter other than the encoder's choice, a missing or mismatching
        reference, or stored values that are not canonical (zero values in a
        sparse codec, bad int8 scale or codes, non-canonical float16). No
        other exception type escapes.

    """
    buf = payload_buffer(payload)
    hdr = _parse_header(buf)
    if hdr.numel > max_numel:
        raise PayloadError(f"shape {hdr.shape} has {hdr.numel} elements, limit is {max_numel}")
    try:
        return _decode_body(buf, hdr, reference, joint_coded)
    except PayloadError:
        raise
    except (BitstreamError, ValueSectionError) as exc:
        raise PayloadError(str(exc)) from exc
    except (ValueError, TypeError, IndexError, OverflowError) as exc:
        # Safety net: validation above should make this unreachable.
        raise PayloadError(f"internal decoding error: {exc!r}") from exc
