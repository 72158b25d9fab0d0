"""Helpers shared by the codec tests (wire format version 2, built from its documentation)."""

from __future__ import annotations

import math
import struct

import numpy as np
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st

from sparsyfed.wire.codec import STANDALONE_CODECS, decode_array, encode_array

DTYPES = [np.float32, np.float64, np.float16, np.int64, np.int32, np.uint8, np.bool_]
FLOAT_DTYPES = [np.float32, np.float64, np.float16]
# Codes as documented in the wire format (independent of the implementation).
DTYPE_CODE = {np.dtype(d): i for i, d in enumerate(DTYPES)}
CODEC_ID = {
    name: i
    for i, name in enumerate(["dense", "bitmap", "coo", "csr", "ef", "golomb", "support", "joint"])
}
VALUE_CODE = {"raw": 0, "fp16": 1, "int8": 2}
FIELD_BYTES = {"golomb": 10, "support": 18}
UINT = {1: np.uint8, 2: np.uint16, 4: np.uint32, 8: np.uint64}
F32 = DTYPE_CODE[np.dtype(np.float32)]

SETTINGS = settings(
    max_examples=100,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)


def make_array(
    rng: np.random.Generator,
    shape: tuple[int, ...],
    dtype: type,
    density: float,
    specials: bool = False,
) -> np.ndarray:
    """Random tensor whose kept entries are random bit patterns (NaNs included)."""
    dt = np.dtype(dtype)
    n = math.prod(shape)
    if dt.kind == "b":
        values = np.ones(n, dtype=bool)
    else:
        values = rng.integers(0, 256, size=n * dt.itemsize, dtype=np.uint8).view(dt)
    out = np.zeros(n, dtype=dt)
    keep = rng.random(n) < density
    out[keep] = values[keep]
    if specials and dt.kind == "f" and n:
        pos = rng.integers(0, n, size=min(n, 4))
        out[pos[0]] = -0.0
        out[pos[-1]] = np.nan
        if len(pos) > 2:
            # A NaN with a non-default payload and the sign bit set.
            bits = out.view(UINT[dt.itemsize])
            bits[pos[1]] = ~np.array(0, dtype=UINT[dt.itemsize])
            out[pos[2]] = -np.inf
    return out.reshape(shape)


def make_finite(
    rng: np.random.Generator, shape: tuple[int, ...], dtype: type, density: float, exp: int
) -> np.ndarray:
    """Random finite tensor (normal values times 2**exp), with some -0.0 and ties at max."""
    n = math.prod(shape)
    out = np.zeros(n, dtype=np.float64)
    keep = rng.random(n) < density
    out[keep] = rng.standard_normal(int(keep.sum())) * 2.0**exp
    out = out.astype(dtype)
    if n > 2:
        out[int(rng.integers(0, n))] = -0.0
        if rng.random() < 0.3:
            i, j = rng.integers(0, n, size=2)
            out[j] = -out[i]  # a tie of magnitudes, possibly at the maximum
    return out.reshape(shape)


def superset_reference(rng: np.random.Generator, x: np.ndarray, extra: float) -> np.ndarray:
    """Reference whose support contains the support of ``x`` plus random extra positions."""
    flat = np.ascontiguousarray(x).reshape(-1)
    ref = flat.view(UINT[flat.dtype.itemsize]) != 0
    ref = ref | (rng.random(flat.size) < extra)
    return ref.astype(np.float32).reshape(x.shape)


def bit_nnz(x: np.ndarray) -> int:
    """Number of elements whose bit pattern is not all zero."""
    flat = np.ascontiguousarray(x).reshape(-1)
    return int(np.count_nonzero(flat.view(UINT[flat.dtype.itemsize])))


def assert_bit_identical(a: np.ndarray, b: np.ndarray) -> None:
    assert a.dtype == b.dtype
    assert a.shape == b.shape
    assert np.ascontiguousarray(a).tobytes() == np.ascontiguousarray(b).tobytes()


def header(
    codec: str | int,
    dcode: int,
    shape: tuple[int, ...],
    nnz: int,
    *,
    values: int = 0,
    magic: bytes = b"SF",
    version: int = 2,
    ndim: int | None = None,
) -> bytes:
    """Hand-built fixed header (without codec fields) following the documented format."""
    cid = CODEC_ID[codec] if isinstance(codec, str) else codec
    nd = len(shape) if ndim is None else ndim
    return struct.pack(
        f"<2sBBBBB{len(shape)}IQ", magic, version, cid, dcode, values, nd, *shape, nnz
    )


def header_len(ndim: int, codec: str = "dense") -> int:
    return 2 + 1 + 1 + 1 + 1 + 1 + 4 * ndim + 8 + FIELD_BYTES.get(codec, 0)


def golomb_fields(complement: int, r: int, unary: int) -> bytes:
    return struct.pack("<BBQ", complement, r, unary)


def support_fields(m: int, complement: int, r: int, unary: int) -> bytes:
    return struct.pack("<QBBQ", m, complement, r, unary)


def pack_bits(bits: list[int]) -> bytes:
    """Bit ``b`` of the stream is bit ``b % 8`` of byte ``b // 8``."""
    out = bytearray((len(bits) + 7) // 8)
    for b, bit in enumerate(bits):
        out[b // 8] |= bit << (b % 8)
    return bytes(out)


def f32(*values: float) -> bytes:
    return np.asarray(values, dtype="<f4").tobytes()


def idx32(*values: int) -> bytes:
    return np.asarray(values, dtype="<i4").tobytes()


def codec_kwargs(codec: str, x: np.ndarray) -> dict:
    """Keyword arguments for encoding ``x`` with ``codec`` (support: x is its own reference)."""
    return {"reference": x} if codec == "support" else {}


def usable_codecs(x: np.ndarray) -> list[str]:
    return [c for c in STANDALONE_CODECS if not (c == "csr" and x.ndim == 0)]


def round_trip(x: np.ndarray, codec: str, **kwargs) -> np.ndarray:
    ref = kwargs.get("reference")
    return decode_array(encode_array(x, codec, **kwargs), reference=ref)


@st.composite
def tensors(draw: st.DrawFn, dtypes: list[type] = DTYPES, max_ndim: int = 4) -> np.ndarray:
    shape = tuple(draw(st.lists(st.integers(0, 7), min_size=0, max_size=max_ndim)))
    dtype = draw(st.sampled_from(dtypes))
    density = draw(st.sampled_from([0.0, 1.0]) | st.floats(0.0, 1.0))
    seed = draw(st.integers(0, 2**32 - 1))
    specials = draw(st.booleans())
    return make_array(np.random.default_rng(seed), shape, dtype, density, specials)


@st.composite
def finite_tensors(draw: st.DrawFn, max_ndim: int = 4) -> np.ndarray:
    shape = tuple(draw(st.lists(st.integers(0, 7), min_size=0, max_size=max_ndim)))
    dtype = draw(st.sampled_from(FLOAT_DTYPES))
    density = draw(st.sampled_from([0.0, 1.0]) | st.floats(0.0, 1.0))
    seed = draw(st.integers(0, 2**32 - 1))
    lo, hi = (-26, 12) if dtype == np.float16 else (-140, 110)
    exp = draw(st.integers(lo, hi))
    return make_finite(np.random.default_rng(seed), shape, dtype, density, exp)
