"""Position coders: Elias-Fano and Rice-coded gaps (with the complement rule).

Both code a strictly increasing list of ``k`` positions in ``[0, n)``; the
bit-level layouts are documented in :mod:`sparsyfed.wire.codec`. Decoders
raise :class:`~sparsyfed.wire.bitstream.BitstreamError` for any malformed
stream.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from sparsyfed.wire.bitstream import (
    BitstreamError,
    bits_to_fixed,
    fixed_bits,
    nbytes_for_bits,
    pack_fixed,
    pack_positions,
    unary_positions,
    unpack_bits,
    unpack_fixed,
    unpack_positions,
)

__all__ = [
    "RICE_MAX",
    "RiceCode",
    "ef_decode",
    "ef_encode",
    "ef_layout",
    "rice_choose",
    "rice_decode",
    "rice_encode",
    "rice_max_unary",
    "rice_nbytes",
    "rice_plan",
    "uses_complement",
]

RICE_MAX = 31
"""Largest Rice parameter (gaps are below ``2**31``)."""


# ---------------------------------------------------------------------------
# Elias-Fano
# ---------------------------------------------------------------------------


def ef_layout(numel: int, nnz: int) -> tuple[int, int, int]:
    """Elias-Fano layout ``(l, low_nbytes, high_nbits)`` for ``nnz`` positions < ``numel``.

    Parameters
    ----------
    numel : int
        Domain size ``n``.
    nnz : int
        Number of positions ``k``.

    Returns
    -------
    tuple of int
        ``l = floor(log2(n / k))`` low bits per position, ``ceil(k * l / 8)``
        and ``k + (n >> l) + 1``; all zero for ``k == 0``.

    """
    if nnz <= 0:
        return 0, 0, 0
    low = max(0, (numel // nnz).bit_length() - 1)
    return low, nbytes_for_bits(nnz * low), nnz + (numel >> low) + 1


def ef_encode(idx: np.ndarray, numel: int) -> list[bytes]:
    """Elias-Fano bytes (low stream, then high bit vector) of strictly increasing ``idx``.

    Parameters
    ----------
    idx : np.ndarray
        Sorted distinct positions in ``[0, numel)``.
    numel : int
        Domain size.

    Returns
    -------
    list of bytes
        Empty for no positions.

    """
    k = idx.size
    low, _, high_nbits = ef_layout(numel, k)
    if k == 0:
        return []
    idx = idx.astype(np.int64, copy=False)
    lows = pack_fixed(idx & ((1 << low) - 1), low)
    high = pack_positions((idx >> low) + np.arange(k, dtype=np.int64), high_nbits)
    return [lows.tobytes(), high.tobytes()]


def ef_decode(body: np.ndarray, numel: int, nnz: int) -> np.ndarray:
    """Validated int64 positions of an Elias-Fano position block.

    Parameters
    ----------
    body : np.ndarray
        uint8 bytes, exactly the block (low stream and high vector).
    numel : int
        Domain size.
    nnz : int
        Number of positions.

    Returns
    -------
    np.ndarray
        Strictly increasing int64 positions below ``numel``.

    Raises
    ------
    BitstreamError
        For set padding bits, a wrong popcount, or positions that are not
        strictly increasing or not below ``numel``.

    """
    low, low_nbytes, high_nbits = ef_layout(numel, nnz)
    if nnz == 0:
        return np.zeros(0, dtype=np.int64)
    ones = unpack_positions(body[low_nbytes:], high_nbits, nnz, "ef high-bit vector")
    pos = (ones - np.arange(nnz, dtype=np.int64)) << low
    pos |= unpack_fixed(body[:low_nbytes], nnz, low, "ef low-bit stream")
    if not np.all(pos[1:] > pos[:-1]):
        raise BitstreamError("ef positions are not strictly increasing")
    if int(pos[-1]) >= numel:
        raise BitstreamError(f"ef position {int(pos[-1])} out of range [0, {numel})")
    return pos


# ---------------------------------------------------------------------------
# Rice-coded gaps
# ---------------------------------------------------------------------------


class RiceCode(NamedTuple):
    """Fields of a Rice position block: which set is coded and its layout."""

    complement: bool  # the unoccupied positions are coded
    r: int  # Rice parameter
    unary_nbits: int  # length of the unary stream in bits
    coded: int  # number of coded positions


def uses_complement(domain: int, nnz: int) -> bool:
    """Whether the complement is coded: more than half of the domain is occupied.

    Parameters
    ----------
    domain : int
        Domain size ``N``.
    nnz : int
        Number of occupied positions ``k``.

    Returns
    -------
    bool
        ``2 * k > N``.

    """
    return 2 * nnz > domain


def rice_nbytes(coded: int, r: int, unary_nbits: int) -> int:
    """Length of a Rice block: ``ceil((coded * r + unary_nbits) / 8)`` (one bit stream).

    Parameters
    ----------
    coded : int
        Number of coded positions.
    r : int
        Rice parameter.
    unary_nbits : int
        Length of the unary stream.

    Returns
    -------
    int
        Bytes.

    """
    return nbytes_for_bits(coded * r + unary_nbits)


def rice_max_unary(domain: int, coded: int, r: int) -> int:
    """Upper bound of the unary stream length: ``coded + ((domain - coded) >> r)``.

    Parameters
    ----------
    domain : int
        Domain size.
    coded : int
        Number of coded positions.
    r : int
        Rice parameter.

    Returns
    -------
    int
        The gaps of ``coded`` distinct positions below ``domain`` sum to at
        most ``domain - coded``, so their quotients sum to at most this minus
        ``coded``.

    """
    return coded + ((domain - coded) >> r)


def _gaps(positions: np.ndarray) -> np.ndarray:
    gaps = np.empty(positions.size, dtype=np.int64)
    if positions.size:
        gaps[0] = positions[0]
        np.subtract(positions[1:], positions[:-1], out=gaps[1:])
        gaps[1:] -= 1
    return gaps


def _rice_candidates(domain: int, coded: int) -> range:
    # r0 = floor(log2(mean gap * ln 2)), with ln 2 ~ 709 / 1024 in integers.
    t = ((domain - coded) * 709) // (1024 * coded)
    r0 = max(t.bit_length() - 1, 0)
    return range(max(r0 - 1, 0), min(r0 + 2, RICE_MAX) + 1)


def rice_choose(gaps: np.ndarray, domain: int) -> tuple[int, int]:
    """Rice parameter of minimal block size and the unary stream length.

    Parameters
    ----------
    gaps : np.ndarray
        int64 gaps ``p_i - p_{i-1} - 1`` (``p_{-1} = -1``).
    domain : int
        Domain size.

    Returns
    -------
    tuple of int
        ``(r, unary_nbits)``: the smallest ``r`` among
        ``r0 - 1 .. r0 + 2`` (clipped to ``[0, 31]``) minimising
        :func:`rice_nbytes`, where ``r0 = max(0, bit_length(t) - 1)`` and
        ``t = ((domain - c) * 709) // (1024 * c)``; ``(0, 0)`` for no gaps.

    """
    coded = gaps.size
    if coded == 0:
        return 0, 0
    best = None
    buf = np.empty_like(gaps)
    for r in _rice_candidates(domain, coded):
        np.right_shift(gaps, r, out=buf)
        unary = int(buf.sum()) + coded
        size = rice_nbytes(coded, r, unary)
        if best is None or size < best[0]:
            best = (size, r, unary)
    assert best is not None
    return best[1], best[2]


def rice_plan(positions: np.ndarray, domain: int) -> tuple[int, int]:
    """The Rice parameter and unary length :func:`rice_encode` needs (see :func:`rice_choose`).

    Parameters
    ----------
    positions : np.ndarray
        Strictly increasing integer positions.
    domain : int
        Domain size.

    Returns
    -------
    tuple of int
        ``(r, unary_nbits)``; the block is :func:`rice_nbytes` long.

    """
    return rice_choose(_gaps(positions.astype(np.int64, copy=False)), domain)


def rice_encode(positions: np.ndarray, r: int, unary: int) -> bytes:
    """Rice-code sorted distinct positions with the parameters of :func:`rice_plan`.

    Parameters
    ----------
    positions : np.ndarray
        Strictly increasing integer positions.
    r, unary : int
        Rice parameter and unary stream length, as returned by :func:`rice_plan`.

    Returns
    -------
    bytes
        One bit stream: the ``c * r`` low bits, then the ``unary`` bits, padded
        to a whole byte once (:func:`rice_nbytes` bytes).

    """
    gaps = _gaps(positions.astype(np.int64, copy=False))
    if gaps.size == 0:
        return b""
    low_nbits = gaps.size * r
    bits = np.zeros(low_nbits + unary, dtype=np.uint8)
    bits[:low_nbits] = fixed_bits(gaps & ((1 << r) - 1), r)
    bits[low_nbits + unary_positions(gaps >> r)] = 1
    return np.packbits(bits, bitorder="little").tobytes()


def rice_decode(body: np.ndarray, domain: int, code: RiceCode) -> np.ndarray:
    """Validated positions of a Rice block.

    Parameters
    ----------
    body : np.ndarray
        uint8 bytes, exactly ``rice_nbytes(code.coded, code.r, code.unary_nbits)``.
    domain : int
        Domain size.
    code : RiceCode
        Header fields (already checked against :func:`rice_max_unary`).

    Returns
    -------
    np.ndarray
        Strictly increasing int64 positions below ``domain``.

    Raises
    ------
    BitstreamError
        For set padding bits, a unary popcount different from the coded
        count, a unary stream that does not end with its last set bit,
        positions not below ``domain``, or a Rice parameter other than the
        one the encoder chooses.

    """
    coded, r, unary = code.coded, code.r, code.unary_nbits
    if coded == 0:
        return np.zeros(0, dtype=np.int64)
    low_nbits = coded * r
    bits = unpack_bits(body, low_nbits + unary, "rice block")
    ones = np.flatnonzero(bits[low_nbits:])
    if ones.size != coded:
        raise BitstreamError(f"rice unary stream has {ones.size} set bits, expected {coded}")
    if int(ones[-1]) != unary - 1:
        raise BitstreamError("rice unary stream does not end with its last set bit")
    gaps = np.empty(coded, dtype=np.int64)
    gaps[0] = ones[0]
    np.subtract(ones[1:], ones[:-1], out=gaps[1:])
    gaps[1:] -= 1
    gaps <<= r
    gaps |= bits_to_fixed(bits[:low_nbits], coded, r)
    pos = np.cumsum(gaps + 1) - 1
    if int(pos[-1]) >= domain:
        raise BitstreamError(f"rice position {int(pos[-1])} out of range [0, {domain})")
    if rice_choose(gaps, domain) != (r, unary):
        raise BitstreamError(f"rice parameter {r} is not the encoder's choice for these gaps")
    return pos
