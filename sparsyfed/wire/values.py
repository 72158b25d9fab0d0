"""Value formats of the wire codecs: raw values, float16 and stochastic int8.

A payload stores its kept values in one *value section* at the end of the
body. Three formats exist (the position in :data:`VALUE_FORMATS` is the code
on the wire); ``fp16`` and ``int8`` are lossy and only allowed for floating
point tensors.

``raw``
    ``count`` values in the tensor dtype, little-endian.
``fp16``
    ``count`` little-endian IEEE float16 values, decoded with
    ``values.astype(dtype)``. Encoding rounds to nearest; finite values beyond
    the float16 range saturate to ``+-65504``, infinities stay infinite, every
    NaN becomes the canonical quiet NaN ``0x7E00`` and both zeros become
    ``+0.0`` (so a sparse codec drops them).
``int8``
    A float32 scale ``s`` (4 bytes), then ``count`` int8 codes in
    ``[-127, 127]``. Value ``i`` decodes to
    ``(np.float32(code_i) * np.float32(s)).astype(dtype)`` (the *grid*
    ``D_s(c)``). The encoder picks ``s`` as the smallest float32 with
    ``D_s(127) >= max|x|`` but at least ``s_min`` (``2**-24`` for float16
    tensors, ``2**-126`` otherwise); when that minimum is not the clamp
    ``s_min`` itself the elements of largest magnitude get the codes
    ``+-127`` (their decoded value is the grid point just at or above
    ``max|x|``, a few ulps away for float32). Every other element is rounded
    stochastically to one of the two neighbouring grid points
    ``D_s(c) <= x <= D_s(c + 1)``, upwards with probability
    ``(x - D_s(c)) / (D_s(c + 1) - D_s(c))``, so the decoded value is unbiased.
    ``s`` is ``0`` when all codes are zero. Non-finite inputs are rejected.

Decoding validates the section so that every accepted section is the one the
encoder would produce for the decoded values: float16 values must be
canonical (no ``-0.0``, only NaN ``0x7E00``; sparse codecs store no zero);
int8 scales must be finite, within ``[s_min, s_max]``, and either equal to
``s_min`` or minimal with a code of magnitude 127; codes must lie in
``[-127, 127]`` and be non-zero in sparse codecs. Quantisation is therefore
idempotent: re-encoding a decoded quantised tensor reproduces it bit for bit,
whatever random generator is used.
"""

from __future__ import annotations

import functools
from typing import NamedTuple

import numpy as np

__all__ = [
    "VALUE_FORMATS",
    "Quantized",
    "ValueSectionError",
    "check_format",
    "decode_section",
    "dense_section",
    "quantize",
    "section_nbytes",
    "section_parts",
    "value_bits",
]

VALUE_FORMATS: tuple[str, ...] = ("raw", "fp16", "int8")
"""Value format names; the position of a name is its code on the wire."""

_F2 = np.dtype("<f2")
_F4 = np.dtype("<f4")
_F8 = np.dtype("<f8")
_U2 = np.dtype("<u2")
_U4 = np.dtype("<u4")
_I1 = np.dtype("i1")
_FP16_NAN = 0x7E00
_FP16_MAX_BITS = 0x7BFF  # 65504
_SCALE_BYTES = 4


class ValueSectionError(ValueError):
    """A value section of a payload is malformed or not canonical."""


class Quantized(NamedTuple):
    """Kept values in their wire format.

    ``keep`` is ``None`` when every input value is kept, otherwise a boolean
    mask over the inputs; ``stored`` holds the wire values of the kept inputs
    (raw values, float16 values or int8 codes) and ``scale`` the int8 scale
    (``None`` for the other formats).
    """

    keep: np.ndarray | None
    stored: np.ndarray
    scale: np.float32 | None


def check_format(values: str, dtype: np.dtype) -> int:
    """Validate a value format for a tensor dtype and return its code.

    Parameters
    ----------
    values : str
        One of :data:`VALUE_FORMATS`.
    dtype : np.dtype
        Dtype of the tensor.

    Returns
    -------
    int
        The format code (index in :data:`VALUE_FORMATS`).

    Raises
    ------
    ValueError
        If the format is unknown, or lossy for a non-floating dtype.

    """
    if values not in VALUE_FORMATS:
        raise ValueError(f"unknown value format {values!r}; expected one of {VALUE_FORMATS}")
    if values != "raw" and dtype.kind != "f":
        raise ValueError(f"value format {values!r} needs a floating dtype, got {dtype}")
    return VALUE_FORMATS.index(values)


def value_bits(values: str, dtype: np.dtype) -> int:
    """Bits per stored value: ``8 * itemsize`` for raw, 16 for fp16, 8 for int8.

    Parameters
    ----------
    values : str
        One of :data:`VALUE_FORMATS`.
    dtype : np.dtype
        Dtype of the tensor.

    Returns
    -------
    int
        Bits per value (the int8 scale is not included).

    """
    return {"raw": 8 * dtype.itemsize, "fp16": 16, "int8": 8}[values]


def section_nbytes(values: str, dtype: np.dtype, count: int) -> int:
    """Length in bytes of a value section holding ``count`` values.

    Parameters
    ----------
    values : str
        One of :data:`VALUE_FORMATS`.
    dtype : np.dtype
        Dtype of the tensor.
    count : int
        Number of stored values.

    Returns
    -------
    int
        ``count * value_bits / 8``, plus 4 scale bytes for int8.

    """
    extra = _SCALE_BYTES if values == "int8" else 0
    return extra + count * value_bits(values, dtype) // 8


# ---------------------------------------------------------------------------
# float16
# ---------------------------------------------------------------------------


def _to_fp16(v: np.ndarray) -> np.ndarray:
    """Canonical saturating float16 rounding of ``v`` (see the module docstring)."""
    with np.errstate(over="ignore", invalid="ignore"):
        h = v.astype(_F2)
    bits = h.view(_U2)
    mag = bits & np.uint16(0x7FFF)
    inf = np.flatnonzero(mag == 0x7C00)
    if inf.size:
        finite = inf[np.isfinite(v[inf])]
        bits[finite] = (bits[finite] & np.uint16(0x8000)) | np.uint16(_FP16_MAX_BITS)
    bits[mag > 0x7C00] = _FP16_NAN
    bits[mag == 0] = 0
    return h


def _check_fp16(h: np.ndarray, sparse: bool) -> None:
    bits = h.view(_U2)
    mag = bits & np.uint16(0x7FFF)
    if sparse:
        if np.any(mag == 0):
            raise ValueSectionError("sparse payload stores a zero float16 value")
    elif np.any(bits == 0x8000):
        raise ValueSectionError("float16 values contain -0.0 (not canonical)")
    nan = mag > 0x7C00
    if np.any(bits[nan] != _FP16_NAN):
        raise ValueSectionError("float16 NaN is not the canonical 0x7E00")


# ---------------------------------------------------------------------------
# int8
# ---------------------------------------------------------------------------


def _grid(codes: np.ndarray, scale: np.float32, dtype: np.dtype) -> np.ndarray:
    """Decoded values ``(float32(codes) * scale).astype(dtype)``."""
    with np.errstate(over="ignore"):
        return (codes.astype(np.float32) * np.float32(scale)).astype(dtype)


def _f32(bits: int) -> np.float32:
    return np.array(bits, dtype=_U4).view(np.float32)[()]


def _top(bits: int, dtype: np.dtype) -> float:
    """``D_s(127)`` for the float32 scale with bit pattern ``bits``."""
    return float(_grid(np.array([127], dtype=np.int8), _f32(bits), dtype)[0])


@functools.cache
def _scale_limits(dtype: np.dtype) -> tuple[int, int]:
    """Bit patterns ``(s_min, s_max)`` of the allowed int8 scales for ``dtype``.

    ``s_min`` keeps the grid injective and non-zero; ``s_max`` is the largest
    float32 whose grid stays finite.
    """
    s_min = np.float32(2.0**-24 if dtype.itemsize == 2 else 2.0**-126)
    lo, hi = 1, 0x7F7FFFFF  # largest finite float32
    while lo < hi:  # last bit pattern with a finite D_s(127)
        mid = (lo + hi + 1) // 2
        if np.isfinite(_top(mid, dtype)):
            lo = mid
        else:
            hi = mid - 1
    return int(np.array(s_min).view(_U4)), lo


def _int8_scale(amax: float, dtype: np.dtype) -> tuple[np.float32, bool]:
    """Encoder scale for ``max|x| = amax > 0`` and whether to force codes +-127."""
    bmin, bmax = _scale_limits(dtype)
    if not _top(bmax, dtype) >= amax:
        raise ValueError(f"int8 values need max|x| <= {_top(bmax, dtype)}, got {amax}")
    # Smallest bit pattern with D_s(127) >= amax. D is monotone in the bit
    # pattern; the answer lies within a few float32 ulps of amax / 127 (a few
    # thousand for float16 tensors), so try that window in one vectorised step.
    guess = int(np.array(np.float32(amax / 127.0)).view(_U4))
    width = 1 << 14 if dtype.itemsize == 2 else 4
    lo, hi = max(1, guess - width), min(bmax, guess + width)
    window = np.arange(lo, hi + 1, dtype=_U4)
    tops = _grid(np.full(window.size, 127, dtype=_I1), window.view(np.float32), dtype)
    if lo < hi and tops[0] < amax <= tops[-1]:
        lo = hi = lo + int(np.searchsorted(tops.astype(np.float64), amax, side="left"))
    else:
        lo, hi = 1, bmax
    while lo < hi:
        mid = (lo + hi) // 2
        if _top(mid, dtype) >= amax:
            hi = mid
        else:
            lo = mid + 1
    if lo < bmin:
        return _f32(bmin), False
    return _f32(lo), True


def _quantize_int8(v: np.ndarray, rng: np.random.Generator) -> tuple[np.ndarray, np.float32]:
    """Stochastic int8 codes of the finite values ``v`` and their scale."""
    dtype = v.dtype
    if v.size == 0:
        return np.zeros(0, dtype=_I1), np.float32(0.0)
    if not np.all(np.isfinite(v)):
        bad = int(np.count_nonzero(~np.isfinite(v)))
        raise ValueError(f"int8 values need finite inputs, got {bad} non-finite values")
    v64 = v.astype(np.float64)
    mag = np.abs(v64)
    amax = float(mag.max())
    if amax == 0.0:
        return np.zeros(v.size, dtype=_I1), np.float32(0.0)
    scale, forced = _int8_scale(amax, dtype)
    lo = np.floor(v64 / float(scale))
    np.clip(lo, -127, 126, out=lo)
    lo -= _grid(lo, scale, dtype) > v
    lo += _grid(lo + 1, scale, dtype) <= v
    np.clip(lo, -127, 126, out=lo)
    below = _grid(lo, scale, dtype).astype(np.float64)
    step = _grid(lo + 1, scale, dtype).astype(np.float64) - below
    prob = (v64 - below) / step
    codes = lo + (rng.random(v.size) < prob)
    if forced:
        top = mag == amax
        codes[top] = np.copysign(127.0, v64[top])
    codes = codes.astype(_I1)
    if not codes.any():  # only possible with the clamped scale s_min
        scale = np.float32(0.0)
    return codes, scale


def _check_int8(codes: np.ndarray, scale: np.float32, dtype: np.dtype, sparse: bool) -> None:
    if np.any(codes == -128):
        raise ValueSectionError("int8 code -128 is outside [-127, 127]")
    if sparse and np.any(codes == 0):
        raise ValueSectionError("sparse payload stores a zero int8 code")
    nonzero = bool(codes.size) and bool(np.any(codes))
    if not nonzero:
        if int(np.array(scale).view(_U4)) != 0:
            raise ValueSectionError(f"int8 scale must be +0.0 when all codes are zero, got {scale}")
        return
    bmin, bmax = _scale_limits(dtype)
    bits = int(np.array(scale).view(_U4))
    if not bmin <= bits <= bmax:  # also rejects negative, NaN and infinite scales
        raise ValueSectionError(f"int8 scale {scale} outside [{_f32(bmin)}, {_f32(bmax)}]")
    if bits == bmin:
        return
    cmax = int(np.abs(codes.astype(np.int16)).max())
    if cmax != 127 or _top(bits - 1, dtype) >= _top(bits, dtype):
        raise ValueSectionError(
            f"int8 scale {scale} is not canonical (largest code {cmax}, must be 127 "
            "with the smallest scale giving that value)"
        )


# ---------------------------------------------------------------------------
# public helpers used by the codecs
# ---------------------------------------------------------------------------


def quantize(v: np.ndarray, values: str, rng: np.random.Generator | None = None) -> Quantized:
    """Convert the kept values of a tensor to a value format.

    Parameters
    ----------
    v : np.ndarray
        1-D kept values in the tensor's (little-endian) dtype.
    values : str
        One of :data:`VALUE_FORMATS`.
    rng : np.random.Generator, optional
        Source of the stochastic rounding; required for ``"int8"``.

    Returns
    -------
    Quantized
        ``keep`` marks the inputs that stay non-zero (``None`` for raw).

    Raises
    ------
    ValueError
        For int8 without ``rng``, with non-finite inputs or with values
        beyond the float32 range.

    """
    if values == "raw":
        return Quantized(None, v, None)
    if values == "fp16":
        h = _to_fp16(v)
        keep = h.view(_U2) != 0
        return Quantized(keep, h[keep], None)
    if rng is None:
        raise ValueError("values='int8' needs rng=np.random.Generator (stochastic rounding)")
    codes, scale = _quantize_int8(v, rng)
    keep = codes != 0
    return Quantized(keep, codes[keep], scale)


def dense_section(flat: np.ndarray, values: str, rng: np.random.Generator | None) -> list[bytes]:
    """Value section of the dense codec (all ``numel`` values).

    Parameters
    ----------
    flat : np.ndarray
        The whole tensor, flat, in its little-endian dtype.
    values : str
        One of :data:`VALUE_FORMATS`.
    rng : np.random.Generator, optional
        Required for ``"int8"``.

    Returns
    -------
    list of bytes
        The section, possibly in several pieces.

    """
    if values == "raw":
        return [flat.tobytes()]
    if values == "fp16":
        return [_to_fp16(flat).tobytes()]
    nz = np.flatnonzero(flat)
    q = quantize(flat[nz], values, rng)
    codes = np.zeros(flat.size, dtype=_I1)
    codes[nz[q.keep]] = q.stored
    return [np.float32(q.scale).astype(_F4).tobytes(), codes.tobytes()]


def section_parts(q: Quantized, values: str) -> list[bytes]:
    """Bytes of a sparse value section.

    Parameters
    ----------
    q : Quantized
        Output of :func:`quantize` (``stored`` already restricted to kept values).
    values : str
        One of :data:`VALUE_FORMATS`.

    Returns
    -------
    list of bytes
        The section, possibly in several pieces.

    """
    if values == "int8":
        return [np.float32(q.scale).astype(_F4).tobytes(), q.stored.tobytes()]
    return [q.stored.tobytes()]


def decode_section(
    section: np.ndarray, count: int, values: str, dtype: np.dtype, sparse: bool
) -> np.ndarray:
    """Validate a value section and return the decoded values.

    Parameters
    ----------
    section : np.ndarray
        uint8 bytes of the section, of length ``section_nbytes(values, dtype, count)``.
    count : int
        Number of stored values.
    values : str
        One of :data:`VALUE_FORMATS`.
    dtype : np.dtype
        Little-endian wire dtype of the tensor.
    sparse : bool
        Whether the codec is sparse (stored values must then be non-zero).

    Returns
    -------
    np.ndarray
        ``count`` values in the tensor dtype (may be a view of ``section``
        for raw values).

    Raises
    ------
    ValueSectionError
        If the section is malformed or not canonical.

    """
    if values == "raw":
        return section.view(dtype)
    if values == "fp16":
        h = section.view(_F2)
        _check_fp16(h, sparse)
        return h.astype(dtype)
    scale = section[:_SCALE_BYTES].view(_F4)[0].astype(np.float32)
    codes = section[_SCALE_BYTES:].view(_I1)
    _check_int8(codes, scale, dtype, sparse)
    return _grid(codes, scale, dtype)
