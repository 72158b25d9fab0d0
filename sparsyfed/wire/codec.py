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
    3         1         codec id (u8), stated by each codec class (``wire_id``):
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
    through :mod:`sparsyfed.wire.message` (an ``EncodedMessage`` carries the block).

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

Implementation
--------------
This module is the public API; the format is implemented in
:mod:`sparsyfed.wire.format` (constants, dtype table, fixed header),
:mod:`sparsyfed.wire.codecs` and :mod:`sparsyfed.wire.rice_codecs` (one class
per codec, stating its codec id and implementing its codec fields and
position block), :mod:`sparsyfed.wire.registry` (the codecs by id and name,
the header parser), :mod:`sparsyfed.wire.plan` (the per-tensor encoding
plan), :mod:`sparsyfed.wire.encode` and :mod:`sparsyfed.wire.decode`.
"""

from __future__ import annotations

from sparsyfed.wire.decode import decode_array, payload_codec, payload_info
from sparsyfed.wire.encode import choose_codec, encode_array, encode_array_joint, encoded_nbytes
from sparsyfed.wire.format import (
    MAX_NDIM,
    MAX_NUMEL,
    JointPositions,
    PayloadError,
    PayloadInfo,
    payload_buffer,
    support_mask,
)
from sparsyfed.wire.registry import CODECS, STANDALONE_CODECS, header_nbytes
from sparsyfed.wire.values import VALUE_FORMATS

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
