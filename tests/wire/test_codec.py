"""Tests for :mod:`sparsyfed.wire.codec` (wire format v2) and :mod:`sparsyfed.wire.bounds`.

Hostile and fuzzed payloads are in ``test_codec_fuzz.py``.
"""

from __future__ import annotations

import math
import struct

import numpy as np
import pytest
from codec_helpers import (
    CODEC_ID,
    DTYPE_CODE,
    F32,
    FLOAT_DTYPES,
    SETTINGS,
    VALUE_CODE,
    assert_bit_identical,
    bit_nnz,
    codec_kwargs,
    f32,
    finite_tensors,
    golomb_fields,
    header,
    header_len,
    idx32,
    make_array,
    pack_bits,
    round_trip,
    superset_reference,
    support_fields,
    tensors,
    usable_codecs,
)
from hypothesis import given, settings
from hypothesis import strategies as st

from sparsyfed.wire.bounds import sparse_bound_bits, sparse_bound_bytes
from sparsyfed.wire.codec import (
    CODECS,
    STANDALONE_CODECS,
    VALUE_FORMATS,
    PayloadError,
    choose_codec,
    decode_array,
    encode_array,
    encoded_nbytes,
    header_nbytes,
    payload_codec,
    payload_info,
)


def test_public_constants() -> None:
    assert CODECS == ("dense", "bitmap", "coo", "csr", "ef", "golomb", "support", "joint")
    assert VALUE_FORMATS == ("raw", "fp16", "int8")
    assert {c: header_nbytes(2, c) for c in ("dense", "golomb", "support")} == {
        "dense": 23,
        "golomb": 33,
        "support": 41,
    }
    assert header_nbytes(0) == 15


def smallest(x: np.ndarray, **kwargs) -> str:
    sizes = {}
    for c in STANDALONE_CODECS:
        try:
            sizes[c] = encoded_nbytes(x, c, **kwargs)
        except ValueError:
            continue
    return min(sizes, key=sizes.__getitem__)


def check_info(payload: bytes, x: np.ndarray, codec: str, values: str = "raw") -> None:
    info = payload_info(payload)
    assert info.codec == codec
    assert info.shape == x.shape and info.numel == x.size
    assert info.dtype == x.dtype
    assert info.values == values
    assert info.nbytes == len(payload)
    bits = {"raw": 8 * x.dtype.itemsize, "fp16": 16, "int8": 8}[values]
    assert info.value_bits == bits
    if codec == "dense":
        assert info.nnz == x.size and info.position_bits == 0
    else:
        assert info.nnz == bit_nnz(x)
        scale = 32 if values == "int8" else 0
        body = len(payload) - header_nbytes(x.ndim, codec)
        assert info.position_bits == 8 * body - bits * info.nnz - scale
    assert (info.reference_nnz is not None) == (codec == "support")


# ---------------------------------------------------------------------------
# round trips, sizes and bounds
# ---------------------------------------------------------------------------


@SETTINGS
@given(x=tensors(), extra=st.sampled_from([0.0, 0.3, 1.0]), seed=st.integers(0, 2**16))
def test_round_trip_bit_exact_every_codec(x: np.ndarray, extra: float, seed: int) -> None:
    ref = superset_reference(np.random.default_rng(seed), x, extra)
    for codec in (*usable_codecs(x), "auto"):
        payload = encode_array(x, codec, min_sparse_numel=0, reference=ref)
        assert isinstance(payload, bytes)
        y = decode_array(payload, reference=ref)
        assert_bit_identical(x, y)
        assert y.flags.writeable and y.flags.owndata
        assert not np.shares_memory(y, np.frombuffer(payload, dtype=np.uint8))
        expected = codec
        if codec == "auto":
            expected = choose_codec(x, min_sparse_numel=0, reference=ref)
        assert payload_codec(payload) == expected
        check_info(payload, x, expected)
        assert encoded_nbytes(x, expected, reference=ref) == len(payload)
        # Canonical: the same bytes again.
        assert encode_array(y, expected, reference=ref) == payload
    if x.ndim == 0:
        with pytest.raises(ValueError, match="csr"):
            encode_array(x, "csr")


@SETTINGS
@given(
    x=finite_tensors(),
    values=st.sampled_from(["fp16", "int8"]),
    extra=st.sampled_from([0.0, 0.5]),
    seed=st.integers(0, 2**16),
)
def test_quantised_round_trip_is_idempotent(
    x: np.ndarray, values: str, extra: float, seed: int
) -> None:
    rng = np.random.default_rng(seed)
    ref = superset_reference(rng, x, extra)
    for codec in (*usable_codecs(x), "auto"):
        payload = encode_array(x, codec, min_sparse_numel=0, values=values, reference=ref, rng=rng)
        xq = decode_array(payload, reference=ref)
        assert xq.dtype == x.dtype and xq.shape == x.shape
        used = payload_codec(payload)
        check_info(payload, xq, used, values)
        # Quantised payloads are fixed points, whatever the generator.
        again = encode_array(
            xq, used, values=values, reference=ref, rng=np.random.default_rng(seed + 1)
        )
        assert again == payload
        assert encoded_nbytes(xq, used, values=values, reference=ref) == len(payload)
        if codec == "auto":
            assert used == choose_codec(xq, min_sparse_numel=0, values=values, reference=ref)
        xf, qf = x.astype(np.float64), xq.astype(np.float64)
        if values == "fp16":
            expected = np.array(np.clip(xf, -65504, 65504), dtype=np.float16, ndmin=1)
            expected[expected == 0] = 0.0  # -0.0 -> +0.0
            expected = expected.reshape(x.shape)
            assert_bit_identical(qf.astype(np.float16), expected)
        else:
            amax = np.abs(xf).max(initial=0.0)
            s_min = 2.0**-24 if x.dtype == np.float16 else 2.0**-126
            # Within one grid step (~max(amax / 127, s_min), up to rounding of the grid).
            assert np.all(np.abs(qf - xf) <= max(amax / 112, s_min * 1.01))
        assert not np.any(np.signbit(xq) & (xq == 0))


@SETTINGS
@given(x=tensors(), m=st.sampled_from([0, 1, 16, 64, 1024]), seed=st.integers(0, 2**16))
def test_auto_choice(x: np.ndarray, m: int, seed: int) -> None:
    rng = np.random.default_rng(seed)
    for ref in (None, superset_reference(rng, x, 0.2)):
        chosen = choose_codec(x, min_sparse_numel=m, reference=ref)
        if x.ndim >= 2 and x.size >= m and np.issubdtype(x.dtype, np.floating):
            assert chosen == smallest(x, reference=ref)
        else:
            assert chosen == "dense"
        payload = encode_array(x, min_sparse_numel=m, reference=ref)
        assert payload_codec(payload) == chosen


@SETTINGS
@given(x=tensors(), seed=st.integers(0, 2**16))
def test_no_codec_beats_information_bound(x: np.ndarray, seed: int) -> None:
    ref = superset_reference(np.random.default_rng(seed), x, 0.5)
    k = bit_nnz(x)
    bits = 8 * x.dtype.itemsize
    for codec in usable_codecs(x):
        size = encoded_nbytes(x, codec, reference=ref)
        if codec == "support":
            m = bit_nnz(ref)
            assert 8 * size >= sparse_bound_bits(m, k, bits)
        elif codec == "dense":
            assert 8 * size >= sparse_bound_bits(x.size, x.size, bits)
        else:
            assert 8 * size >= sparse_bound_bits(x.size, k, bits)


@settings(max_examples=60, deadline=None)
@given(x=finite_tensors(), values=st.sampled_from(["fp16", "int8"]), seed=st.integers(0, 99))
def test_quantised_sizes_respect_bound(x: np.ndarray, values: str, seed: int) -> None:
    rng = np.random.default_rng(seed)
    ref = superset_reference(rng, x, 0.5)
    bits = {"fp16": 16, "int8": 8}[values]
    for codec in usable_codecs(x):
        payload = encode_array(x, codec, values=values, reference=ref, rng=rng)
        info = payload_info(payload)
        n = info.reference_nnz if codec == "support" else info.numel
        k = info.numel if codec == "dense" else info.nnz
        assert 8 * len(payload) >= sparse_bound_bits(n, k, bits)


def test_hand_computed_sizes_100x100_float32() -> None:
    rng = np.random.default_rng(0)
    x = np.zeros((100, 100), dtype=np.float32)
    idx = rng.choice(x.size, size=50, replace=False)
    x.reshape(-1)[idx] = rng.standard_normal(50).astype(np.float32) + 10.0
    head = header_len(2)
    assert head == header_nbytes(2) == 23
    assert encoded_nbytes(x, "coo") == head + 50 * 8 == 423
    assert encoded_nbytes(x, "csr") == head + 101 * 4 + 50 * 8 == 827
    assert encoded_nbytes(x, "bitmap") == head + 1250 + 50 * 4 == 1473
    assert encoded_nbytes(x, "dense") == head + 40000
    assert encoded_nbytes(x, "dense", values="fp16") == head + 20000
    assert encoded_nbytes(x, "dense", values="int8") == head + 4 + 10000
    # ef: l = floor(log2(10000 / 50)) = 7 -> 350 low bits = 44 bytes; high
    # vector 50 + (10000 >> 7) + 1 = 129 bits = 17 bytes; then 50 values.
    assert encoded_nbytes(x, "ef") == head + 44 + 17 + 50 * 4 == 284
    assert encoded_nbytes(x, "ef", values="fp16") == head + 44 + 17 + 50 * 2
    payload = encode_array(x, "coo")
    # The flat indices sit right after the header, sorted, then the values.
    stored = np.frombuffer(payload, dtype="<i4", count=50, offset=head)
    np.testing.assert_array_equal(stored, np.sort(idx))
    assert_bit_identical(decode_array(payload), x)
    # Golomb pays 10 bytes of fields: with 50 positions ef is still smaller.
    assert encoded_nbytes(x, "golomb") > encoded_nbytes(x, "ef")
    assert choose_codec(x) == "ef"


def test_auto_reaches_each_codec() -> None:
    rng = np.random.default_rng(1)
    shape = (64, 64)
    dense = make_array(rng, shape, np.float32, 1.0)
    mid = make_array(rng, shape, np.float32, 0.4)
    sparse = make_array(rng, shape, np.float32, 0.005)
    assert choose_codec(dense) == "dense"
    assert choose_codec(mid) == "bitmap"
    assert choose_codec(sparse) == "ef"
    big = make_array(rng, (500, 400), np.float32, 0.01)
    assert choose_codec(big) == "golomb"
    ref = superset_reference(rng, big, 0.02)
    assert choose_codec(big, reference=ref) == "support"
    # coo only wins (by the tie order) for a single value in a large tensor:
    # numel = 2**17 -> ef l = 17, 3 + 1 position bytes == coo's 4 index bytes.
    single = np.zeros((512, 256), dtype=np.float32)
    single[100, 7] = 2.5
    assert encoded_nbytes(single, "coo") == encoded_nbytes(single, "ef")
    assert choose_codec(single) == "coo"
    # csr always costs rows + 1 pointers more than coo, so auto never picks it.
    assert encoded_nbytes(big, "csr") == encoded_nbytes(big, "coo") + 4 * 501
    # 1-D, small, and non-float tensors are always dense under "auto" ...
    assert choose_codec(sparse.reshape(-1)) == "dense"
    assert choose_codec(sparse[:8, :8]) == "dense"
    assert choose_codec((sparse != 0).astype(np.int32)) == "dense"
    # ... but a forced codec is honoured for any tensor it applies to.
    for x in (sparse.reshape(-1), sparse[:2, :2], np.float32(3.0), np.zeros(0, np.uint8)):
        for codec in usable_codecs(np.asarray(x)):
            payload = encode_array(x, codec, **codec_kwargs(codec, np.asarray(x)))
            assert payload_codec(payload) == codec


def test_min_sparse_numel_boundary() -> None:
    x = np.zeros((32, 32), dtype=np.float32)
    x[3, 5] = 1.0
    assert choose_codec(x, min_sparse_numel=1024) == "ef"
    assert choose_codec(x) == "ef"
    assert choose_codec(x, min_sparse_numel=1025) == "dense"
    assert payload_codec(encode_array(x, min_sparse_numel=1025)) == "dense"
    assert choose_codec(x[None], min_sparse_numel=0) == "ef"  # 3-D works too


def test_ties_resolved_in_codec_order() -> None:
    empty = np.zeros((0, 5), dtype=np.float32)
    sizes = {c: encoded_nbytes(empty, c) for c in STANDALONE_CODECS if c != "support"}
    # csr stores one row pointer (rows = 0), golomb 10 bytes of fields.
    assert sizes["dense"] == sizes["bitmap"] == sizes["coo"] == sizes["ef"]
    assert choose_codec(empty, min_sparse_numel=0) == "dense"
    # bitmap and coo tie: numel=32, nnz=1 -> bitmap body 4 + 4, coo body 4 + 4
    # (ef is smaller: l = 5 -> 1 low byte, 1 + 1 + 1 high bits -> 1 byte).
    x = np.zeros((4, 8), dtype=np.float32)
    x[1, 2] = 1.5
    assert encoded_nbytes(x, "bitmap") == encoded_nbytes(x, "coo")
    assert encoded_nbytes(x, "ef") == header_len(2) + 6
    assert choose_codec(x, min_sparse_numel=0) == "ef"
    # bitmap and ef tie (coo is larger): numel=9, nnz=1.
    y = np.zeros((3, 3), dtype=np.float32)
    y[2, 1] = -1.0
    assert encoded_nbytes(y, "bitmap") == encoded_nbytes(y, "ef") < encoded_nbytes(y, "coo")
    assert choose_codec(y, min_sparse_numel=0) == "bitmap"


@pytest.mark.parametrize("codec", STANDALONE_CODECS)
def test_scalars_and_empty(codec: str) -> None:
    for x in (
        np.array(-0.0, dtype=np.float32),
        np.array(np.nan, dtype=np.float16),
        np.array(0.0),
        np.array(True),
        np.array(7, dtype=np.int64),
        np.zeros((0,), dtype=np.float32),
        np.zeros((3, 0, 2), dtype=np.int32),
        np.zeros((0, 4), dtype=np.float64),
        np.zeros((), dtype=np.uint8),
    ):
        if codec == "csr" and x.ndim == 0:
            continue
        kwargs = codec_kwargs(codec, x)
        payload = encode_array(x, codec, **kwargs)
        assert len(payload) == encoded_nbytes(x, codec, **kwargs)
        assert_bit_identical(decode_array(payload, **kwargs), x)


@pytest.mark.parametrize("codec", STANDALONE_CODECS)
def test_negative_zero_and_nan_are_kept(codec: str) -> None:
    x = np.zeros((4, 4), dtype=np.float32)
    x[0, 1] = -0.0
    x[2, 3] = np.float32(np.nan)
    x.view(np.uint32)[3, 0] = 0x7FC0_1234  # NaN with a custom payload
    kwargs = codec_kwargs(codec, x)
    payload = encode_array(x, codec, **kwargs)
    y = decode_array(payload, **kwargs)
    assert_bit_identical(x, y)
    assert np.signbit(y[0, 1])
    if codec != "dense":
        assert payload_info(payload).nnz == 3


def test_non_contiguous_and_big_endian_inputs() -> None:
    rng = np.random.default_rng(2)
    x = make_array(rng, (6, 10), np.float64, 0.3, specials=True)
    for view in (x.T, x[::2, 1::3], x[:, ::-1]):
        for codec in STANDALONE_CODECS:
            kwargs = codec_kwargs(codec, view)
            assert_bit_identical(round_trip(view, codec, **kwargs), np.ascontiguousarray(view))
    big = x.astype(">f8")
    for codec in STANDALONE_CODECS:
        kwargs = codec_kwargs(codec, big)
        y = round_trip(big, codec, **kwargs)
        assert y.dtype == np.float64
        assert y.tobytes() == x.tobytes()
        finite = np.where(big != 0, rng.standard_normal(big.shape), 0.0).astype(">f8")
        q = round_trip(finite, codec, values="int8", rng=np.random.default_rng(0), **kwargs)
        assert q.dtype == np.float64


@pytest.mark.parametrize("kind", ["bytes", "bytearray", "memoryview", "ndarray"])
def test_payload_input_types_and_ownership(kind: str) -> None:
    x = make_array(np.random.default_rng(3), (5, 7), np.float32, 0.4)
    raw = encode_array(x, "bitmap")
    payload = {
        "bytes": raw,
        "bytearray": bytearray(raw),
        "memoryview": memoryview(raw),
        "ndarray": np.frombuffer(raw, dtype=np.uint8).copy(),
    }[kind]
    y = decode_array(payload)
    assert_bit_identical(x, y)
    assert y.flags.writeable
    assert y.flags.c_contiguous
    if isinstance(payload, np.ndarray):
        assert not np.shares_memory(y, payload)
    y[...] = 0  # must not raise (writable) nor corrupt the payload
    assert bytes(payload) == raw
    assert payload_codec(payload) == "bitmap"
    assert payload_info(payload).nbytes == len(raw)


def test_encode_rejects_bad_input() -> None:
    x = np.ones((2, 2), dtype=np.float32)
    with pytest.raises(ValueError, match=r"'zip'.*dense.*bitmap.*coo.*csr.*ef.*golomb.*support"):
        encode_array(x, "zip")
    with pytest.raises(ValueError, match="zip"):
        encoded_nbytes(x, "zip")
    with pytest.raises(ValueError, match="value format"):
        encode_array(x, values="bf16")
    with pytest.raises(ValueError, match="rng"):
        encode_array(x, values="int8")
    for bad_values in ("fp16", "int8"):
        with pytest.raises(ValueError, match="floating"):
            encode_array(x.astype(np.int32), "coo", values=bad_values, rng=np.random.default_rng())
        with pytest.raises(ValueError, match="floating"):
            choose_codec(x.astype(bool), values=bad_values)
    for bad in (
        np.ones(3, dtype=np.int8),
        np.ones(3, dtype=np.complex64),
        np.ones(3, dtype=np.uint16),
        np.array(["a"]),
        np.array([object()]),
    ):
        for codec in ("auto", *STANDALONE_CODECS):
            with pytest.raises(ValueError, match="dtype"):
                encode_array(bad, codec)
        with pytest.raises(ValueError):
            choose_codec(bad)
    with pytest.raises(ValueError, match="ndim"):
        encode_array(np.zeros((1,) * 9, dtype=np.float32))
    with pytest.raises(ValueError):
        choose_codec(x, min_sparse_numel=-1)
    with pytest.raises(ValueError, match="reference"):
        encode_array(x, "support")
    with pytest.raises(ValueError, match="reference shape"):
        encode_array(x, "support", reference=np.ones((4,), np.float32))


# ---------------------------------------------------------------------------
# ef (Elias-Fano) codec
# ---------------------------------------------------------------------------


def ef_low_bits(numel: int, nnz: int) -> int:
    """floor(log2(numel / nnz)) by exact integer search."""
    low = 0
    while nnz << (low + 1) <= numel:
        low += 1
    return low


def ef_positions(positions: list[int], numel: int) -> bytes:
    """Reference ef position bytes, built element by element from the docs."""
    k = len(positions)
    if k == 0:
        return b""
    low = ef_low_bits(numel, k)
    low_stream = [(p >> j) & 1 for p in positions for j in range(low)]
    high_stream = [0] * (k + (numel >> low) + 1)
    for i, p in enumerate(positions):
        high_stream[(p >> low) + i] = 1
    return pack_bits(low_stream) + pack_bits(high_stream)


def kept(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    flat = np.ascontiguousarray(x).reshape(-1)
    pos = np.flatnonzero(flat.view(np.dtype(f"u{flat.dtype.itemsize}")))
    return pos, flat[pos].astype(flat.dtype.newbyteorder("<"))


def ef_payload(x: np.ndarray) -> bytes:
    """Reference ef payload of ``x`` (header, positions, values)."""
    pos, vals = kept(x)
    return (
        header("ef", DTYPE_CODE[vals.dtype.newbyteorder("=")], x.shape, pos.size)
        + ef_positions(pos.tolist(), x.size)
        + vals.tobytes()
    )


@SETTINGS
@given(x=tensors())
def test_ef_matches_reference_layout(x: np.ndarray) -> None:
    payload = encode_array(x, "ef")
    assert payload == ef_payload(x)
    assert_bit_identical(decode_array(payload), x)


@settings(max_examples=100, deadline=None)
@given(
    k=st.integers(1, 300),
    scale=st.integers(1, 40),
    offset=st.integers(-1, 1),
    seed=st.integers(0, 2**32 - 1),
)
def test_ef_low_bit_boundaries(k: int, scale: int, offset: int, seed: int) -> None:
    n = max(k, k * scale + offset)
    rng = np.random.default_rng(seed)
    x = np.zeros((1, n), dtype=np.float32)
    x[0, rng.choice(n, size=k, replace=False)] = rng.random(k, dtype=np.float32) + 1.0
    low = ef_low_bits(n, k)
    assert low == max(0, math.floor(math.log2(n / k)))
    body = (k * low + 7) // 8 + (k + (n >> low) + 1 + 7) // 8 + 4 * k
    assert encoded_nbytes(x, "ef") == header_len(2) + body
    payload = encode_array(x, "ef")
    assert payload == ef_payload(x)
    assert_bit_identical(decode_array(payload), x)


def test_ef_hand_computed_100_elements() -> None:
    x = np.zeros((10, 10), dtype=np.float32)
    positions = [3, 17, 42, 43, 99]
    x.reshape(-1)[positions] = [1.0, -2.0, 3.5, np.nan, -0.0]
    assert encoded_nbytes(x, "ef") == header_len(2) + 3 + 2 + 5 * 4 == 48
    payload = encode_array(x, "ef")
    head = header_len(2)
    # low nibbles 3, 1, 10, 11, 3; high parts 0, 1, 2, 2, 6 -> bits 0, 2, 4, 5, 10.
    assert payload[head : head + 3] == bytes([0x13, 0xBA, 0x03])
    assert payload[head + 3 : head + 5] == bytes([0b0011_0101, 0b0000_0100])
    assert payload[head + 5 :] == x.reshape(-1)[positions].tobytes()
    assert_bit_identical(decode_array(payload), x)


@pytest.mark.parametrize("density", [0.01, 0.05])
def test_ef_close_to_information_bound(density: float) -> None:
    n = 1_000_000
    k = int(n * density)
    rng = np.random.default_rng(7)
    x = np.zeros((1000, 1000), dtype=np.float32)
    x.reshape(-1)[rng.choice(n, size=k, replace=False)] = rng.random(k, dtype=np.float32) + 1.0
    size = encoded_nbytes(x, "ef")
    bound = sparse_bound_bytes(n, k, 32)
    assert bound <= size <= 1.05 * bound
    assert size < encoded_nbytes(x, "coo")


# ---------------------------------------------------------------------------
# golomb (Rice-coded gaps) and support codecs
# ---------------------------------------------------------------------------


def rice_r(gaps: list[int], domain: int) -> tuple[int, int]:
    """The documented Rice parameter choice, by brute force over the candidates."""
    c = len(gaps)
    if c == 0:
        return 0, 0
    t = ((domain - c) * 709) // (1024 * c)
    r0 = max(t.bit_length() - 1, 0)
    best = None
    for r in range(max(r0 - 1, 0), min(r0 + 2, 31) + 1):
        unary = sum(g >> r for g in gaps) + c
        size = (c * r + unary + 7) // 8
        if best is None or size < best[0]:
            best = (size, r, unary)
    return best[1], best[2]


def rice_block(positions: list[int], domain: int, nnz: int) -> tuple[int, int, int, bytes]:
    """Reference (complement, r, u, block bytes) built element by element from the docs."""
    complement = 2 * nnz > domain
    if complement:
        occupied = set(positions)
        positions = [p for p in range(domain) if p not in occupied]
    gaps, prev = [], -1
    for p in positions:
        gaps.append(p - prev - 1)
        prev = p
    r, unary = rice_r(gaps, domain)
    low = [(g >> j) & 1 for g in gaps for j in range(r)]
    high = [0] * unary
    acc = 0
    for i, g in enumerate(gaps):
        acc += g >> r
        high[acc + i] = 1
    return int(complement), r, unary, pack_bits(low + high)


def golomb_payload(x: np.ndarray) -> bytes:
    pos, vals = kept(x)
    comp, r, unary, block = rice_block(pos.tolist(), x.size, pos.size)
    return (
        header("golomb", DTYPE_CODE[vals.dtype.newbyteorder("=")], x.shape, pos.size)
        + golomb_fields(comp, r, unary)
        + block
        + vals.tobytes()
    )


@SETTINGS
@given(x=tensors())
def test_golomb_matches_reference_layout(x: np.ndarray) -> None:
    payload = encode_array(x, "golomb")
    assert payload == golomb_payload(x)
    assert_bit_identical(decode_array(payload), x)


@SETTINGS
@given(x=tensors(dtypes=FLOAT_DTYPES), extra=st.floats(0.0, 1.0), seed=st.integers(0, 99))
def test_support_matches_reference_layout(x: np.ndarray, extra: float, seed: int) -> None:
    ref = superset_reference(np.random.default_rng(seed), x, extra)
    ref_mask = ref.reshape(-1) != 0
    pos, vals = kept(x)
    ranks = np.flatnonzero(np.isin(np.flatnonzero(ref_mask), pos))
    m = int(ref_mask.sum())
    comp, r, unary, block = rice_block(ranks.tolist(), m, pos.size)
    expected = (
        header("support", DTYPE_CODE[vals.dtype.newbyteorder("=")], x.shape, pos.size)
        + support_fields(m, comp, r, unary)
        + block
        + vals.tobytes()
    )
    payload = encode_array(x, "support", reference=ref)
    assert payload == expected
    assert payload_info(payload).reference_nnz == m
    assert_bit_identical(decode_array(payload, reference=ref), x)


def test_golomb_hand_computed() -> None:
    x = np.zeros((2, 10), dtype=np.float32)
    x.reshape(-1)[[2, 3, 9, 17]] = [1.0, 2.0, 3.0, 4.0]
    # n = 20, c = 4: t = (16 * 709) // 4096 = 2 -> r0 = 1, candidates 0..3.
    # gaps 2, 0, 5, 7; one stream of c * r + u bits. r = 0: u = 14 + 4 = 18 bits
    # -> 3 bytes; r = 1: lows 0, 0, 1, 1 (4 bits), quotients 1, 0, 2, 3 -> u = 10,
    # 14 bits -> 2 bytes, the smallest (r = 2: 8 + 6 and r = 3: 12 + 4 bits tie).
    # Unary bits at 1, 2, 5, 9, i.e. stream bits 5, 6, 9, 13.
    payload = encode_array(x, "golomb")
    head = header_len(2, "golomb")
    assert payload[header_len(2) : head] == golomb_fields(0, 1, 10)
    assert payload[head : head + 2] == bytes([0b0110_1100, 0b0010_0010])
    assert payload == golomb_payload(x)
    assert payload[head + 2 :] == f32(1.0, 2.0, 3.0, 4.0)
    assert_bit_identical(decode_array(payload), x)
    # The complement: 17 of 20 occupied -> the 3 free positions 0, 5, 6 are coded.
    y = np.ones((2, 10), dtype=np.float32)
    y.reshape(-1)[[0, 5, 6]] = 0.0
    payload = encode_array(y, "golomb")
    info = payload_info(payload)
    assert info.nnz == 17
    assert payload[header_len(2) : header_len(2) + 1] == b"\x01"
    assert_bit_identical(decode_array(payload), y)


@pytest.mark.parametrize("density", [0.0005, 0.001, 0.01, 0.05, 0.2, 0.35, 0.5, 0.65, 0.9, 0.99])
def test_golomb_within_5_percent_of_position_bound(density: float) -> None:
    n = 200_000
    rng = np.random.default_rng(int(density * 1e6))
    k = round(n * density)
    x = np.zeros((400, 500), dtype=np.float32)
    x.reshape(-1)[rng.choice(n, size=k, replace=False)] = rng.random(k, dtype=np.float32) + 1.0
    payload = encode_array(x, "golomb")
    info = payload_info(payload)
    bound = sparse_bound_bits(n, k, 0)
    assert bound <= info.position_bits <= 1.05 * bound
    total = sparse_bound_bits(n, k, 32)
    assert total <= 8 * len(payload)
    if density <= 0.05:  # without the 33 header bytes, which matter for tiny k only
        assert 8 * (len(payload) - header_len(2, "golomb")) <= 1.01 * total
        if k >= 2000:
            assert 8 * len(payload) <= 1.01 * total
    assert_bit_identical(decode_array(payload), x)


@pytest.mark.parametrize(("ref_density", "density"), [(0.1, 0.05), (0.02, 0.01), (0.5, 0.45)])
def test_support_within_5_percent_of_conditional_bound(ref_density: float, density: float) -> None:
    n = 200_000
    rng = np.random.default_rng(3)
    ref_pos = rng.choice(n, size=round(n * ref_density), replace=False)
    k = round(n * density)
    pos = rng.choice(ref_pos, size=k, replace=False)
    ref = np.zeros((400, 500), dtype=np.float64)
    ref.reshape(-1)[ref_pos] = 1.0
    x = np.zeros((400, 500), dtype=np.float32)
    x.reshape(-1)[pos] = rng.standard_normal(k).astype(np.float32)
    payload = encode_array(x, "support", reference=ref)
    info = payload_info(payload)
    m = ref_pos.size
    assert info.reference_nnz == m
    bound = sparse_bound_bits(m, k, 0)
    assert bound <= info.position_bits <= 1.05 * bound
    if (ref_density, density) == (0.1, 0.05):
        # ~0.10 n position bits instead of ~0.29 n without the reference.
        assert info.position_bits < 0.106 * n
        assert payload_info(encode_array(x, "golomb")).position_bits > 0.28 * n
    assert choose_codec(x, reference=ref) == "support"
    assert_bit_identical(decode_array(payload, reference=ref), x)


def test_support_subset_violation_and_reference_errors() -> None:
    rng = np.random.default_rng(4)
    x = make_array(rng, (40, 50), np.float32, 0.05)
    ref = superset_reference(rng, x, 0.05)
    flat_ref = ref.reshape(-1).copy()
    outside = np.flatnonzero(x.reshape(-1).view(np.uint32))[:3]
    flat_ref[outside] = 0.0
    bad_ref = flat_ref.reshape(x.shape)
    with pytest.raises(ValueError, match="3 kept positions"):
        encode_array(x, "support", reference=bad_ref)
    with pytest.raises(ValueError, match="3 kept positions"):
        encoded_nbytes(x, "support", reference=bad_ref)
    # auto never picks support when x is not a subset of the reference.
    assert choose_codec(x, reference=bad_ref) != "support"
    assert payload_codec(encode_array(x, reference=bad_ref)) != "support"
    # Decoding needs the very same support.
    payload = encode_array(x, "support", reference=ref)
    assert_bit_identical(decode_array(payload, reference=ref.astype(bool)), x)
    with pytest.raises(PayloadError, match="reference"):
        decode_array(payload)
    with pytest.raises(PayloadError, match="reference"):
        decode_array(payload, reference=ref.reshape(50, 40))
    with pytest.raises(PayloadError, match="reference"):
        decode_array(payload, reference=bad_ref)
    with pytest.raises(PayloadError, match="reference"):
        decode_array(payload, reference=np.ones(x.shape, dtype=np.complex64))
    more = ref.copy()
    more.reshape(-1)[np.flatnonzero(ref.reshape(-1) == 0)[0]] = 1.0
    with pytest.raises(PayloadError, match="non-zeros"):
        decode_array(payload, reference=more)
    # Same popcount, different support: decodes (the codec cannot tell) but
    # to other positions; the receiver must use the sender's reference.
    # The other codecs ignore the reference.
    assert_bit_identical(decode_array(encode_array(x, "ef"), reference=more), x)


def test_support_with_empty_and_full_reference() -> None:
    x = np.zeros((8, 8), dtype=np.float32)
    for ref in (np.zeros_like(x), np.ones_like(x)):
        payload = encode_array(x, "support", reference=ref)
        assert_bit_identical(decode_array(payload, reference=ref), x)
    x[2, 3] = 1.0
    full = np.ones_like(x)
    # With a full reference support is golomb with 8 more bytes of fields.
    assert encoded_nbytes(x, "support", reference=full) == encoded_nbytes(x, "golomb") + 8
    y = np.ones_like(x)
    assert_bit_identical(decode_array(encode_array(y, "support", reference=y), reference=y), y)


# ---------------------------------------------------------------------------
# csr
# ---------------------------------------------------------------------------


def test_csr_hand_built() -> None:
    x = np.zeros((3, 4), dtype=np.float32)
    x[0, 1], x[0, 3], x[2, 0] = 1.0, 2.0, 3.0
    expected = header("csr", F32, (3, 4), 3) + idx32(0, 2, 2, 3) + idx32(1, 3, 0) + f32(1, 2, 3)
    assert encode_array(x, "csr") == expected
    assert_bit_identical(decode_array(expected), x)
    # 1-D: a single row; 3-D: rows = shape[0], cols = prod(shape[1:]).
    v = np.array([0, 5, 0, 7], dtype=np.int32)
    assert encode_array(v, "csr") == (
        header("csr", DTYPE_CODE[np.dtype(np.int32)], (4,), 2)
        + idx32(0, 2)
        + idx32(1, 3)
        + idx32(5, 7)
    )
    t = np.zeros((2, 2, 3), dtype=np.float32)
    t[1, 1, 2] = 9.0
    assert encode_array(t, "csr") == (
        header("csr", F32, (2, 2, 3), 1) + idx32(0, 0, 1) + idx32(5) + f32(9.0)
    )
    assert encode_array(np.zeros((0, 3), np.float32), "csr") == header(
        "csr", F32, (0, 3), 0
    ) + idx32(0)


# ---------------------------------------------------------------------------
# value formats
# ---------------------------------------------------------------------------


def test_fp16_saturation_nan_and_zero() -> None:
    x = np.zeros((4, 4), dtype=np.float32)
    x[0, :4] = [1e6, -70000.0, 65519.0, np.inf]
    x[1, :3] = [np.nan, -0.0, 1e-9]  # 1e-9 underflows to 0 in float16
    x.view(np.uint32)[2, 0] = 0xFFC0_1234  # negative NaN with a payload
    x[3, 3] = 0.5
    payload = encode_array(x, "coo", values="fp16")
    y = decode_array(payload)
    assert y[0, 0] == 65504 and y[0, 1] == -65504 and y[0, 2] == 65504 and y[0, 3] == np.inf
    assert np.isnan(y[1, 0]) and np.isnan(y[2, 0])
    assert y.view(np.uint32)[1, 0] == y.view(np.uint32)[2, 0]  # one canonical NaN
    assert y[3, 3] == 0.5
    assert payload_info(payload).nnz == 7  # -0.0 and the underflow are dropped
    assert not np.signbit(y[1, 1])
    dense = decode_array(encode_array(x, "dense", values="fp16"))
    assert_bit_identical(dense, y)


def test_int8_unbiased_stochastic_rounding() -> None:
    rng = np.random.default_rng(5)
    x = np.zeros((30, 40), dtype=np.float32)
    x.reshape(-1)[::3] = rng.standard_normal(400).astype(np.float32)
    x[0, 0] = 4.0  # the maximum, scale ~ 4 / 127
    trials = 400
    acc = np.zeros(x.shape, dtype=np.float64)
    for _ in range(trials):
        acc += decode_array(encode_array(x, "ef", values="int8", rng=rng))
    mean = acc / trials
    step = 4.0 / 127
    # Each decode is within one step; the mean within ~4 standard errors.
    assert np.all(np.abs(mean - x) <= 4 * (step / 2) / math.sqrt(trials) + 1e-7)
    assert abs((mean - x).mean()) < 1e-4
    payload = encode_array(x, "ef", values="int8", rng=rng)
    nnz = payload_info(payload).nnz
    scale = np.frombuffer(payload, "<f4", count=1, offset=len(payload) - nnz - 4)[0]
    assert decode_array(payload)[0, 0] == np.float32(127) * scale >= 4.0


@pytest.mark.parametrize("dtype", FLOAT_DTYPES)
def test_int8_idempotent_on_own_output(dtype: type) -> None:
    rng = np.random.default_rng(6)
    for exp in (-30, -10, 0, 5, 20):
        if dtype == np.float16 and not -20 <= exp <= 5:
            continue
        x = (rng.standard_normal((20, 30)) * 2.0**exp).astype(dtype)
        x[rng.random(x.shape) < 0.5] = 0
        for codec in ("dense", "bitmap", "golomb"):
            p1 = encode_array(x, codec, values="int8", rng=rng)
            xq = decode_array(p1)
            for seed in range(3):
                p2 = encode_array(xq, codec, values="int8", rng=np.random.default_rng(seed))
                assert p2 == p1
    # The smallest allowed float32 scale (2**-126) leaves tiny tensors coarse but exact.
    tiny = np.zeros((4, 4), dtype=np.float32)
    tiny[0, :3] = [1e-44, -3e-44, 2e-40]
    p1 = encode_array(tiny, "coo", values="int8", rng=rng)
    assert encode_array(decode_array(p1), "coo", values="int8", rng=rng) == p1


def test_int8_rejects_non_finite_and_huge() -> None:
    rng = np.random.default_rng(0)
    for bad in (np.inf, -np.inf, np.nan):
        x = np.zeros((4, 4), dtype=np.float32)
        x[1, 1] = bad
        x[2, 2] = bad
        for codec in ("dense", "coo", "auto"):
            with pytest.raises(ValueError, match="2 non-finite"):
                encode_array(x, codec, values="int8", rng=rng)
    huge = np.zeros((4, 4), dtype=np.float64)
    huge[0, 0] = 1e300
    with pytest.raises(ValueError, match="int8"):
        encode_array(huge, "coo", values="int8", rng=rng)


def int8_payload(
    codec: str, shape: tuple[int, ...], scale: float, codes: list[int], nnz: int, block: bytes
) -> bytes:
    return (
        header(codec, F32, shape, nnz, values=VALUE_CODE["int8"])
        + block
        + f32(scale)
        + np.asarray(codes, dtype=np.int8).tobytes()
    )


def test_int8_hand_built_payloads() -> None:
    rng = np.random.default_rng(1)
    x = np.zeros(10, dtype=np.float32)
    x[[1, 4]] = [1.0, -0.5]
    payload = encode_array(x, "coo", values="int8", rng=rng)
    scale = np.frombuffer(payload, "<f4", count=1, offset=len(payload) - 6)[0]
    assert np.float32(127) * scale >= 1.0 > np.float32(127) * np.nextafter(scale, np.float32(0))
    codes = np.frombuffer(payload, np.int8, offset=len(payload) - 2)
    assert codes[0] == 127 and codes[1] in (-64, -63)
    good = int8_payload("coo", (10,), float(scale), [127, -64], 2, idx32(1, 4))
    y = decode_array(good)
    assert y[1] == np.float32(127) * scale and y[4] == np.float32(-64) * scale
    bad = {
        "zero code": int8_payload("coo", (10,), float(scale), [127, 0], 2, idx32(1, 4)),
        "code -128": int8_payload("coo", (10,), float(scale), [127, -128], 2, idx32(1, 4)),
        "max code not 127": int8_payload("coo", (10,), float(scale), [126, -64], 2, idx32(1, 4)),
        "scale nan": int8_payload("coo", (10,), float("nan"), [127, -64], 2, idx32(1, 4)),
        "scale inf": int8_payload("coo", (10,), float("inf"), [127, -64], 2, idx32(1, 4)),
        "scale negative": int8_payload("coo", (10,), -float(scale), [127, -64], 2, idx32(1, 4)),
        "scale zero": int8_payload("coo", (10,), 0.0, [127, -64], 2, idx32(1, 4)),
        "scale subnormal": int8_payload("coo", (10,), 1e-40, [127, -64], 2, idx32(1, 4)),
        "scale with nothing kept": int8_payload("coo", (10,), 1.0, [], 0, b""),
        "negative zero scale": int8_payload("coo", (10,), -0.0, [], 0, b""),
        "dense all-zero codes, scale 1": int8_payload("dense", (2,), 1.0, [0, 0], 2, b""),
    }
    for name, payload in bad.items():
        assert payload_codec(payload) in CODECS, name
        with pytest.raises(PayloadError):
            decode_array(payload)
    # float16 tensors: many scales give the same D_s(127); only the smallest is canonical.
    h = x.astype(np.float16)
    p16 = encode_array(h, "coo", values="int8", rng=rng)
    s16 = np.frombuffer(p16, "<f4", count=1, offset=len(p16) - 6)[0]
    assert decode_array(p16)[1] == np.float16(np.float32(127) * s16) >= 1.0
    up = np.nextafter(s16, np.float32(1))
    assert np.float16(np.float32(127) * up) == np.float16(np.float32(127) * s16)
    f16 = DTYPE_CODE[np.dtype(np.float16)]
    bad16 = header("coo", f16, (10,), 2, values=2) + idx32(1, 4) + f32(up) + bytes([127, 192])
    assert payload_codec(bad16) == "coo"
    with pytest.raises(PayloadError, match="canonical"):
        decode_array(bad16)
    dense_zero = int8_payload("dense", (2,), 0.0, [0, 0], 2, b"")
    assert_bit_identical(decode_array(dense_zero), np.zeros(2, np.float32))
    # Non-float dtypes cannot carry lossy values.
    with pytest.raises(PayloadError, match="floating"):
        decode_array(
            header("dense", DTYPE_CODE[np.dtype(np.int32)], (1,), 1, values=2) + f32(0) + b"\0"
        )


def test_fp16_hand_built_payloads() -> None:
    def fp16(codec: str, bits: list[int], block: bytes, nnz: int) -> bytes:
        return header(codec, F32, (2,), nnz, values=1) + block + np.asarray(bits, "<u2").tobytes()

    assert_bit_identical(
        decode_array(fp16("dense", [0x3C00, 0x0000], b"", 2)), np.array([1.0, 0.0], np.float32)
    )
    for payload in (
        fp16("dense", [0x3C00, 0x8000], b"", 2),  # -0.0
        fp16("dense", [0x7E01, 0x0000], b"", 2),  # non-canonical NaN
        fp16("dense", [0xFE00, 0x0000], b"", 2),  # negative NaN
        fp16("coo", [0x0000], idx32(1), 1),  # zero stored
        fp16("coo", [0x8000], idx32(1), 1),  # -0.0 stored
    ):
        with pytest.raises(PayloadError):
            decode_array(payload)


def test_auto_with_quantised_values() -> None:
    rng = np.random.default_rng(8)
    x = np.zeros((300, 200), dtype=np.float32)
    x.reshape(-1)[rng.choice(x.size, 600, replace=False)] = rng.standard_normal(600)
    for values in ("fp16", "int8"):
        payload = encode_array(x, values=values, rng=rng)
        assert payload_codec(payload) == "golomb"
        assert payload_info(payload).values == values
        xq = decode_array(payload)
        assert choose_codec(xq, values=values) == "golomb"
    dense = rng.standard_normal((40, 40)).astype(np.float32)
    payload = encode_array(dense, values="int8", rng=rng)
    assert payload_codec(payload) == "dense"
    assert len(payload) == header_len(2) + 4 + 1600


# ---------------------------------------------------------------------------
# bounds
# ---------------------------------------------------------------------------


def test_sparse_bound_known_values() -> None:
    assert sparse_bound_bits(8, 2) == pytest.approx(math.log2(28) + 64, abs=1e-9)
    assert sparse_bound_bits(8, 0) == 0.0
    assert sparse_bound_bits(0, 0) == 0.0
    assert sparse_bound_bits(8, 8) == 32 * 8
    assert sparse_bound_bits(1000, 1000, 16) == 16 * 1000
    assert sparse_bound_bits(10, 3, value_bits=0) == pytest.approx(math.log2(120), abs=1e-9)
    assert sparse_bound_bytes(8, 2) == pytest.approx((math.log2(28) + 64) / 8, abs=1e-9)
    assert sparse_bound_bits(np.int64(8), np.int32(2)) == pytest.approx(math.log2(28) + 64)


@settings(max_examples=200, deadline=None)
@given(
    n=st.integers(0, 3000),
    frac=st.floats(0.0, 1.0),
    bits=st.sampled_from([0, 8, 32, 64]),
)
def test_sparse_bound_matches_exact_binomial(n: int, frac: float, bits: int) -> None:
    k = round(n * frac)
    exact = math.log2(math.comb(n, k)) + bits * k
    assert sparse_bound_bits(n, k, bits) == pytest.approx(exact, rel=1e-9, abs=1e-6)
    symmetric = sparse_bound_bits(n, n - k, 0) + bits * k
    assert sparse_bound_bits(n, k, bits) == pytest.approx(symmetric, rel=1e-12, abs=1e-9)


def test_sparse_bound_large_and_monotone() -> None:
    n = 10**9
    b1 = sparse_bound_bits(n, 10**6)
    b2 = sparse_bound_bits(n, 2 * 10**6)
    assert 0 < b1 < b2 < 32 * n
    assert math.isfinite(b2)


@pytest.mark.parametrize(
    ("numel", "nnz", "value_bits", "match"),
    [
        (8, 9, 32, "nnz=9, numel=8"),
        (8, -1, 32, "nnz=-1"),
        (-1, 0, 32, "numel=-1"),
        (8, 2, -1, "value_bits=-1"),
    ],
)
def test_sparse_bound_invalid(numel: int, nnz: int, value_bits: int, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        sparse_bound_bits(numel, nnz, value_bits)
    with pytest.raises(ValueError):
        sparse_bound_bytes(numel, nnz, value_bits)


def test_sparse_bound_rejects_non_integers() -> None:
    with pytest.raises(TypeError):
        sparse_bound_bits(8.0, 2)  # type: ignore[arg-type]


def test_header_fields_match_documentation() -> None:
    x = np.zeros((3, 5), dtype=np.float64)
    x[1, 2] = 1.0
    p = encode_array(x, "golomb", values="fp16")
    magic, version, cid, dcode, vcode, ndim = struct.unpack_from("<2sBBBBB", p)
    assert (magic, version, cid, dcode, vcode, ndim) == (b"SF", 2, CODEC_ID["golomb"], 1, 1, 2)
    assert struct.unpack_from("<2IQ", p, 7) == (3, 5, 1)


@pytest.mark.parametrize("codec", ["bitmap", "ef", "golomb", "support"])
def test_position_code_bits_are_the_position_bits_without_byte_padding(codec: str) -> None:
    rng = np.random.default_rng(11)
    for n, density in ((1000, 0.3), (4096, 0.05), (777, 0.9)):
        reference = (rng.random(n) < 0.5).astype(np.float32)
        x = np.zeros(n, dtype=np.float32)
        pool = np.flatnonzero(reference)
        keep = rng.choice(pool, size=max(1, int(density * pool.size)), replace=False)
        x[keep] = rng.standard_normal(keep.size).astype(np.float32) + 3.0
        info = payload_info(encode_array(x, codec, reference=reference))
        streams = 2 if codec == "ef" else 1  # golomb and support: one stream
        assert info.position_code_bits <= info.position_bits < info.position_code_bits + 8 * streams
