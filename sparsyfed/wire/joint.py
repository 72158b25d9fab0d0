"""The joint position block: positions of all ``joint`` tensors of one message, coded together.

When an upload keeps almost the whole support of the model it received, each
tensor carries only a few bits of position information (which handful of the
``m`` received non-zeros it dropped, ``log2 C(m, k)`` bits). Coding each such
tensor on its own wastes a visible share: per-tensor codec fields, the
redundancy of a gap code on a handful of positions, and the padding of every
tensor's bit stream to whole bytes. The joint block codes the position sets
of all ``joint`` tensors of a message as ONE number, so the message pays
``ceil(sum_t log2 C(m_t, k_t))`` bits for all of them, less than one bit over
the bound, plus one padding to whole bytes.

Format (little-endian, no alignment)::

    offset  size  field
    0       2     magic, the ASCII bytes ``b"SJ"``
    2       1     version (u8), 2
    3       4     count (u32), the number of joint tensors
    7       4     reference fingerprint (u32), see below
    11      ...   the joint rank R in ceil(B / 8) bytes, little-endian

The joint tensors are taken in sorted key order ``t = 0 .. count - 1``.
Tensor ``t`` has ``m_t`` reference non-zeros and ``k_t`` kept values, and
codes the ``c_t = min(k_t, m_t - k_t)`` ranks of its payload
(:class:`~sparsyfed.wire.codec.JointPositions`), whose combinatorial rank
``r_t = sum_i C(p_i, i + 1)`` lies in ``[0, C_t)``, ``C_t = C(m_t, c_t)``.
``R = r_0 + C_0 * (r_1 + C_1 * (r_2 + ...))`` and ``B`` is the bit length of
``prod_t C_t - 1`` (0 when the product is 1). A decoder requires
``R < prod_t C_t``, which also makes the padding bits zero, so every valid
block is the canonical encoding of its position sets.

The ``joint`` payloads do not store ``m_t``, so the block carries a
fingerprint of the references instead: the CRC-32 (``zlib.crc32``, chained
over the tensors in order) of each reference's support mask packed
least-significant bit first (``numpy.packbits(mask, bitorder="little")``).
A receiver holding other references than the sender (another model version,
or the same popcounts at other positions) gets a :class:`PayloadError`
instead of silently misplaced values, except with probability ``2**-32``.
"""

from __future__ import annotations

import math
import struct
import zlib
from collections.abc import Sequence

import numpy as np

from sparsyfed.wire.codec import JointPositions, PayloadError
from sparsyfed.wire.enumerative import (
    MAX_COUNT,
    combined_radix,
    split_rank,
    subset_rank,
    subset_unrank,
)

__all__ = [
    "block_code_bits",
    "decode_joint_block",
    "encode_joint_block",
    "reference_fingerprint",
]

_MAGIC = b"SJ"
_VERSION = 2
_HEAD = struct.Struct("<2sBII")


def reference_fingerprint(masks: Sequence[np.ndarray]) -> int:
    """CRC-32 of the references' support masks (flat bool arrays, in block order)."""
    crc = 0
    for mask in masks:
        crc = zlib.crc32(np.packbits(mask, bitorder="little").tobytes(), crc)
    return crc


def _sizes(parts: Sequence[tuple[int, int]]) -> list[tuple[int, int]]:
    """``(m, c)`` for each ``(m, k)``: the radix of each tensor is ``C(m, c)``."""
    return [(m, min(k, m - k)) for m, k in parts]


def block_code_bits(parts: Sequence[tuple[int, int]]) -> int:
    """Bits ``B`` of the joint rank for tensors with ``(m, k)`` = (reference nnz, kept)."""
    return (combined_radix(_sizes(parts)) - 1).bit_length()


def encode_joint_block(parts: Sequence[JointPositions], fingerprint: int) -> bytes:
    """Code the position sets of ``parts`` (in the order given) as one block.

    ``fingerprint`` is :func:`reference_fingerprint` of their references.
    """
    sizes = _sizes([(p.domain, p.nnz) for p in parts])
    joint = 0
    for (domain, count), part in zip(reversed(sizes), reversed(parts), strict=True):
        if part.coded.size != count:
            raise ValueError(f"joint part codes {part.coded.size} ranks, expected {count}")
        if count > MAX_COUNT:
            raise ValueError(f"joint part codes {count} ranks, at most {MAX_COUNT}")
        joint = joint * math.comb(domain, count) + subset_rank(part.coded)
    nbits = (combined_radix(sizes) - 1).bit_length()
    head = _HEAD.pack(_MAGIC, _VERSION, len(parts), fingerprint)
    return head + joint.to_bytes((nbits + 7) // 8, "little")


def decode_joint_block(
    block: bytes, parts: Sequence[tuple[int, int]], fingerprint: int
) -> list[np.ndarray]:
    """Decode a joint block for tensors with ``(m, k)`` = (reference nnz, kept), in order.

    ``fingerprint`` is :func:`reference_fingerprint` of the receiver's references.

    Returns
    -------
    list of np.ndarray
        The coded ranks of each tensor (see
        :class:`~sparsyfed.wire.codec.JointPositions`).

    Raises
    ------
    PayloadError
        For a bad magic, version or count, references other than the
        sender's, a length that does not match, a rank out of range, or a
        tensor with more than ``MAX_COUNT`` coded positions.

    """
    if len(block) < _HEAD.size:
        raise PayloadError(f"joint block too short: {len(block)} bytes")
    magic, version, count, sent_fingerprint = _HEAD.unpack_from(block)
    if magic != _MAGIC:
        raise PayloadError(f"joint block: bad magic {magic!r}, expected {_MAGIC!r}")
    if version != _VERSION:
        raise PayloadError(f"joint block: unsupported version {version}, expected {_VERSION}")
    if count != len(parts):
        raise PayloadError(f"joint block codes {count} tensors, the message has {len(parts)}")
    if sent_fingerprint != fingerprint:
        raise PayloadError(
            "joint block was coded against other references than the receiver holds "
            f"(fingerprint {sent_fingerprint:#010x} != {fingerprint:#010x})"
        )
    for domain, kept in parts:
        if not 0 <= kept <= domain:
            raise PayloadError(f"joint tensor keeps {kept} of a reference with {domain} non-zeros")
    sizes = _sizes(parts)
    for _, coded in sizes:
        if coded > MAX_COUNT:
            raise PayloadError(f"joint tensor codes {coded} positions, at most {MAX_COUNT}")
    radix = combined_radix(sizes)
    nbytes = ((radix - 1).bit_length() + 7) // 8
    if len(block) != _HEAD.size + nbytes:
        raise PayloadError(
            f"joint block is {len(block)} bytes, expected {_HEAD.size + nbytes} for its tensors"
        )
    joint = int.from_bytes(block[_HEAD.size :], "little")
    if joint >= radix:
        raise PayloadError("joint block rank is out of range")
    return [
        subset_unrank(rank, coded, domain)
        for rank, (domain, coded) in zip(split_rank(joint, sizes), sizes, strict=True)
    ]
