"""Vectorised bit streams shared by the ``ef``, ``golomb`` and ``support`` codecs.

Every stream is packed least-significant bit first: bit ``b`` of a stream is
bit ``b % 8`` of byte ``b // 8`` (``np.packbits(..., bitorder="little")``),
and the padding bits after the last stream bit must be zero. Two stream kinds
exist:

* a *fixed-width* stream stores ``count`` unsigned integers of ``width`` bits
  each; bit ``j`` of value ``i`` is stream bit ``i * width + j``;
* a *bit-position* stream is a bit vector of ``nbits`` bits in which the
  listed, strictly increasing positions are set (the unary parts of
  Elias-Fano and Rice codes: value ``q_i`` sits at ``sum_{j<=i} q_j + i``).

Decoders raise :class:`BitstreamError` (a ``ValueError``) on set padding bits
or on a wrong number of set bits; the caller turns that into its own error.
No Python loop runs over the elements.
"""

from __future__ import annotations

import numpy as np

__all__ = [
    "MAX_WIDTH",
    "BitstreamError",
    "bits_to_fixed",
    "fixed_bits",
    "nbytes_for_bits",
    "pack_fixed",
    "pack_positions",
    "unary_positions",
    "unpack_bits",
    "unpack_fixed",
    "unpack_positions",
]

MAX_WIDTH = 32
"""Largest supported width of a fixed-width stream, in bits."""

_U4 = np.dtype("<u4")


class BitstreamError(ValueError):
    """A bit stream is malformed (set padding bits, wrong popcount, bad width)."""


def nbytes_for_bits(nbits: int) -> int:
    """Number of bytes holding ``nbits`` bits, ``ceil(nbits / 8)``.

    Parameters
    ----------
    nbits : int
        Stream length in bits, ``>= 0``.

    Returns
    -------
    int
        ``(nbits + 7) // 8``.

    """
    return (nbits + 7) // 8


def _check_width(width: int) -> None:
    if not 0 <= width <= MAX_WIDTH:
        raise BitstreamError(f"bit width {width} outside [0, {MAX_WIDTH}]")


def _check_padding(packed: np.ndarray, nbits: int, what: str) -> None:
    if packed.size != nbytes_for_bits(nbits):
        raise BitstreamError(f"{what}: {packed.size} bytes cannot hold exactly {nbits} bits")
    rem = nbits % 8
    if rem and int(packed[-1]) >> rem:
        raise BitstreamError(f"{what}: padding bits are not zero")


def pack_fixed(values: np.ndarray, width: int) -> np.ndarray:
    """Pack the low ``width`` bits of every value into one stream.

    Parameters
    ----------
    values : np.ndarray
        1-D non-negative integers below ``2**width`` (higher bits are ignored).
    width : int
        Bits per value, ``0 <= width <= 32``.

    Returns
    -------
    np.ndarray
        ``ceil(len(values) * width / 8)`` uint8 bytes.

    """
    return np.packbits(fixed_bits(values, width), bitorder="little")


def fixed_bits(values: np.ndarray, width: int) -> np.ndarray:
    """The unpacked bits (uint8 0/1) of the fixed-width stream of ``values``.

    Parameters
    ----------
    values : np.ndarray
        1-D non-negative integers below ``2**width`` (higher bits are ignored).
    width : int
        Bits per value, ``0 <= width <= 32``.

    Returns
    -------
    np.ndarray
        ``len(values) * width`` bits, bit ``j`` of value ``i`` at ``i * width + j``.

    """
    _check_width(width)
    count = values.size
    if width == 0 or count == 0:
        return np.zeros(0, dtype=np.uint8)
    # Row i of the (count, width) bit matrix holds the low bits of value i,
    # least significant first; flattened in C order it is the stream.
    as_bytes = values.astype(_U4, copy=False).view(np.uint8).reshape(count, 4)
    return np.unpackbits(as_bytes, axis=1, count=width, bitorder="little").reshape(-1)


def bits_to_fixed(bits: np.ndarray, count: int, width: int) -> np.ndarray:
    """Inverse of :func:`fixed_bits`: ``count`` int64 values from ``count * width`` bits."""
    _check_width(width)
    if width == 0 or count == 0:
        return np.zeros(count, dtype=np.int64)
    rows = np.packbits(bits.reshape(count, width), axis=1, bitorder="little")
    out = np.zeros((count, 4), dtype=np.uint8)
    out[:, : rows.shape[1]] = rows
    return out.view(_U4).reshape(count).astype(np.int64)


def unpack_bits(packed: np.ndarray, nbits: int, what: str = "bit stream") -> np.ndarray:
    """The first ``nbits`` bits (uint8 0/1) of a packed stream, validating length and padding.

    Raises
    ------
    BitstreamError
        If ``packed`` is not exactly ``ceil(nbits / 8)`` bytes or a padding bit is set.

    """
    _check_padding(packed, nbits, what)
    return np.unpackbits(packed, count=nbits, bitorder="little")


def unpack_fixed(
    packed: np.ndarray, count: int, width: int, what: str = "fixed-width stream"
) -> np.ndarray:
    """Inverse of :func:`pack_fixed`, validating the padding bits.

    Parameters
    ----------
    packed : np.ndarray
        uint8 bytes, exactly ``ceil(count * width / 8)`` of them.
    count : int
        Number of values.
    width : int
        Bits per value, ``0 <= width <= 32``.
    what : str, optional
        Stream name used in error messages.

    Returns
    -------
    np.ndarray
        ``count`` values as int64.

    Raises
    ------
    BitstreamError
        If the length is wrong or a padding bit is set.

    """
    _check_width(width)
    return bits_to_fixed(unpack_bits(packed, count * width, what), count, width)


def unary_positions(quotients: np.ndarray) -> np.ndarray:
    """Bit positions ``sum_{j<=i} q_j + i`` of a unary code of ``quotients``.

    Parameters
    ----------
    quotients : np.ndarray
        1-D non-negative integers.

    Returns
    -------
    np.ndarray
        Strictly increasing int64 positions; the stream length is the last
        position plus one.

    """
    pos = np.cumsum(quotients, dtype=np.int64)
    pos += np.arange(quotients.size, dtype=np.int64)
    return pos


def pack_positions(positions: np.ndarray, nbits: int) -> np.ndarray:
    """Bit vector of ``nbits`` bits with the given positions set.

    Parameters
    ----------
    positions : np.ndarray
        1-D integer positions in ``[0, nbits)``.
    nbits : int
        Length of the vector in bits.

    Returns
    -------
    np.ndarray
        ``ceil(nbits / 8)`` uint8 bytes.

    """
    bits = np.zeros(nbits, dtype=bool)
    bits[positions] = True
    return np.packbits(bits, bitorder="little")


def unpack_positions(
    packed: np.ndarray, nbits: int, expected: int, what: str = "bit vector"
) -> np.ndarray:
    """Positions of the set bits of a packed bit vector, validated.

    Parameters
    ----------
    packed : np.ndarray
        uint8 bytes, exactly ``ceil(nbits / 8)`` of them.
    nbits : int
        Length of the vector in bits.
    expected : int
        Required number of set bits.
    what : str, optional
        Stream name used in error messages.

    Returns
    -------
    np.ndarray
        Strictly increasing int64 positions.

    Raises
    ------
    BitstreamError
        If the length is wrong, a padding bit is set or the popcount differs
        from ``expected``.

    """
    _check_padding(packed, nbits, what)
    bits = np.unpackbits(packed, count=nbits, bitorder="little")
    ones = np.flatnonzero(bits)
    if ones.size != expected:
        raise BitstreamError(f"{what} has {ones.size} set bits, expected {expected}")
    return ones.astype(np.int64, copy=False)
