"""Hostile, hand-built and fuzzed payloads: only PayloadError, and canonical when accepted."""

from __future__ import annotations

import time

import numpy as np
import pytest
from codec_helpers import (
    DTYPE_CODE,
    DTYPES,
    F32,
    assert_bit_identical,
    f32,
    golomb_fields,
    header,
    header_len,
    idx32,
    make_array,
    make_finite,
    superset_reference,
    support_fields,
    usable_codecs,
)
from hypothesis import given, settings
from hypothesis import strategies as st

from sparsyfed.wire.codec import (
    CODECS,
    VALUE_FORMATS,
    PayloadError,
    decode_array,
    encode_array,
    payload_codec,
    payload_info,
)

# Mutated headers easily describe 10**9-element all-zero tensors in a few bytes
# (valid, but slow to re-encode), so the fuzz tests cap the decoded size.
FUZZ_MAX_NUMEL = 2**16


def check_hostile(payload: bytes, reference: np.ndarray | None = None) -> bool:
    """Decoding either raises PayloadError or yields the canonical pre-image.

    Returns whether the payload decoded successfully.
    """
    try:
        y = decode_array(payload, max_numel=FUZZ_MAX_NUMEL, reference=reference)
    except PayloadError as exc:
        # The decoder's last-resort net says "internal": validation missed it.
        assert "internal" not in str(exc), str(exc)
        try:  # only the header is checked here, so it may pass; no other error
            payload_info(payload)
        except PayloadError:
            pass
        return False
    info = payload_info(payload)
    again = encode_array(
        y,
        info.codec,
        values=info.values,
        reference=reference if info.codec == "support" else None,
        rng=np.random.default_rng(0),
    )
    assert again == bytes(payload)
    return True


def valid_payloads(rng: np.random.Generator) -> list[tuple[bytes, np.ndarray | None]]:
    out = []
    shapes = [(), (0,), (5,), (3, 4), (2, 3, 5), (9, 1), (17,), (6, 11)]
    for shape in shapes:
        for dtype in DTYPES:
            density = float(rng.choice([0.0, 0.1, 0.5, 0.8, 1.0]))
            x = make_array(rng, shape, dtype, density, specials=True)
            ref = superset_reference(rng, x, 0.3)
            for codec in usable_codecs(x):
                out.append((encode_array(x, codec, reference=ref), ref))
            if dtype in (np.float32, np.float64, np.float16):
                xf = make_finite(rng, shape, dtype, density, 0)
                ref = superset_reference(rng, xf, 0.3)
                for values in VALUE_FORMATS[1:]:
                    for codec in usable_codecs(xf):
                        p = encode_array(xf, codec, values=values, reference=ref, rng=rng)
                        out.append((p, ref))
    return out


def mutate(rng: np.random.Generator, payload: bytes) -> bytes:
    b = bytearray(payload)
    op = int(rng.integers(0, 9))
    if op == 0 and b:  # flip random bits in 1-3 bytes
        for _ in range(int(rng.integers(1, 4))):
            b[int(rng.integers(0, len(b)))] ^= int(rng.integers(1, 256))
    elif op == 1:  # truncate
        del b[int(rng.integers(0, len(b) + 1)) :]
    elif op == 2:  # extend
        b.extend(rng.integers(0, 256, size=int(rng.integers(1, 16)), dtype=np.uint8).tobytes())
    elif op == 3 and len(b) > 6:  # overwrite one header byte after the magic
        b[int(rng.integers(2, min(len(b), 41)))] = int(rng.integers(0, 256))
    elif op == 4 and b:  # delete a slice
        i = int(rng.integers(0, len(b)))
        del b[i : i + int(rng.integers(1, 5))]
    elif op == 5:  # insert random bytes
        i = int(rng.integers(0, len(b) + 1))
        b[i:i] = rng.integers(0, 256, size=int(rng.integers(1, 5)), dtype=np.uint8).tobytes()
    elif op == 6 and len(b) > 15:  # perturb the body only
        i = int(rng.integers(15, len(b)))
        b[i] = int(rng.integers(0, 256))
    elif op == 7 and len(b) > 5:  # switch codec id or value format
        b[3 + 2 * int(rng.integers(0, 2))] = int(rng.integers(0, 8))
    else:  # fresh random bytes behind a plausible prefix
        n = int(rng.integers(0, 64))
        b = bytearray(b"SF\x02") + bytearray(rng.integers(0, 256, size=n, dtype=np.uint8).tobytes())
    return bytes(b)


def test_random_mutations_only_raise_payload_error() -> None:
    rng = np.random.default_rng(1234)
    seeds = valid_payloads(rng)
    for p, ref in seeds:
        assert check_hostile(p, ref)
    start = time.perf_counter()
    decoded = 0
    trials = 10_000
    for _ in range(trials):
        p, ref = seeds[int(rng.integers(0, len(seeds)))]
        m = mutate(rng, p)
        if rng.random() < 0.3:
            m = mutate(rng, m)
        if rng.random() < 0.1:
            ref = None
        decoded += check_hostile(m, ref)
    # Sanity: the fuzzer is neither all-accept nor all-reject.
    assert 0 < decoded < trials
    assert time.perf_counter() - start < 15


@settings(max_examples=300, deadline=None)
@given(data=st.binary(max_size=80), prefix=st.booleans())
def test_random_bytes_only_raise_payload_error(data: bytes, prefix: bool) -> None:
    check_hostile((b"SF\x02" + data) if prefix else data)


GOOD_COO = header("coo", F32, (10,), 2) + idx32(1, 4) + f32(1.0, 2.0)
GOOD_BITMAP = header("bitmap", F32, (10,), 2) + bytes([0b0001_0010, 0]) + f32(1.0, 2.0)
GOOD_DENSE = header("dense", F32, (2, 2), 4) + f32(1.0, 0.0, -0.0, 3.0)
# ef, numel 10, positions 1 and 4: l = 2 -> low parts 1, 0 (4 bits, 1 byte);
# high parts 0, 1 -> bits 0 and 2 of a 2 + (10 >> 2) + 1 = 5 bit vector.
GOOD_EF = header("ef", F32, (10,), 2) + bytes([0b0001, 0b0_0101]) + f32(1.0, 2.0)
# csr, shape (2, 5), positions 1 and 4 -> both in row 0.
GOOD_CSR = header("csr", F32, (2, 5), 2) + idx32(0, 2, 2) + idx32(1, 4) + f32(1.0, 2.0)
# golomb, numel 10, positions 1 and 4: gaps 1, 2; c = 2: t = (8 * 709) // 2048 = 2,
# r0 = 1, candidates 0..3; r = 0: 0 + ceil(5 / 8) = 1 byte (smallest): unary
# bits at 1 and 4, u = 5.
GOOD_GOLOMB = header("golomb", F32, (10,), 2) + golomb_fields(0, 0, 5) + bytes([0b1_0010])
GOOD_GOLOMB += f32(1.0, 2.0)
REF = np.zeros(10, dtype=np.float32)
REF[[1, 2, 4, 7]] = 1.0
# support against REF (m = 4): ranks 0 and 2, 2 * 2 > 4 is false; gaps 0, 1:
# t = (2 * 709) // 2048 = 0 -> r0 = 0, candidates 0..2; r = 0: unary bits 0, 2, u = 3.
GOOD_SUPPORT = header("support", F32, (10,), 2) + support_fields(4, 0, 0, 3) + bytes([0b101])
GOOD_SUPPORT += f32(1.0, 2.0)


def ef(low: int, high: int, *values: float, nnz: int = 2) -> bytes:
    """ef payload with numel 10 and hand-written low / high bytes."""
    return header("ef", F32, (10,), nnz) + bytes([low, high]) + f32(*values)


def golomb(flags: int, r: int, unary: int, block: bytes, nnz: int = 2, n: int = 10) -> bytes:
    return header("golomb", F32, (n,), nnz) + golomb_fields(flags, r, unary) + block


def csr(rowptr: tuple[int, ...], cols: tuple[int, ...], shape: tuple[int, ...] = (2, 5)) -> bytes:
    nnz = len(cols)
    values = f32(*range(1, nnz + 1))
    return header("csr", F32, shape, nnz) + idx32(*rowptr) + idx32(*cols) + values


def test_hand_built_payloads_decode() -> None:
    expected = np.zeros(10, dtype=np.float32)
    expected[[1, 4]] = [1.0, 2.0]
    for good in (GOOD_COO, GOOD_BITMAP, GOOD_EF, GOOD_GOLOMB):
        assert_bit_identical(decode_array(good), expected)
    assert_bit_identical(decode_array(GOOD_SUPPORT, reference=REF), expected)
    assert_bit_identical(decode_array(GOOD_CSR), expected.reshape(2, 5))
    assert_bit_identical(
        decode_array(GOOD_DENSE), np.array([[1.0, 0.0], [-0.0, 3.0]], dtype=np.float32)
    )
    assert encode_array(expected, "coo") == GOOD_COO
    assert encode_array(expected, "bitmap") == GOOD_BITMAP
    assert encode_array(expected, "ef") == GOOD_EF
    assert encode_array(expected, "golomb") == GOOD_GOLOMB
    assert encode_array(expected, "support", reference=REF) == GOOD_SUPPORT
    assert encode_array(expected.reshape(2, 5), "csr") == GOOD_CSR


BOOL = DTYPE_CODE[np.dtype(bool)]
HOSTILE = {
    "empty": b"",
    "short": b"SF\x02",
    "bad magic": b"XY" + GOOD_COO[2:],
    "bad version 0": GOOD_COO[:2] + b"\x00" + GOOD_COO[3:],
    "bad version 1": GOOD_COO[:2] + b"\x01" + GOOD_COO[3:],
    "bad version 3": GOOD_COO[:2] + b"\x03" + GOOD_COO[3:],
    "unknown codec": header(7, F32, (10,), 2) + idx32(1, 4) + f32(1.0, 2.0),
    "unknown codec 255": header(255, F32, (10,), 2) + idx32(1, 4) + f32(1.0, 2.0),
    "unknown dtype 7": header("coo", 7, (10,), 2) + idx32(1, 4) + f32(1.0, 2.0),
    "unknown dtype 255": header("coo", 255, (10,), 2) + idx32(1, 4) + f32(1.0, 2.0),
    "unknown value format": header("coo", F32, (10,), 2, values=3) + idx32(1, 4) + f32(1, 2),
    "fp16 values for int32": header("coo", 4, (10,), 2, values=1) + idx32(1, 4) + bytes(4),
    "ndim 9": header("dense", F32, (1,) * 9, 1) + f32(1.0),
    "ndim lies (too big)": header("dense", F32, (2,), 2, ndim=3) + f32(1.0, 2.0),
    "huge shape dense": header("dense", F32, (2**16, 2**16), 2**32) + f32(1.0),
    "huge shape coo": header("coo", F32, (2**32 - 1, 2**32 - 1), 0),
    "shape just over limit": header("coo", F32, (2**31,), 0),
    "nnz > numel": header("bitmap", F32, (4,), 5) + bytes([0x0F]) + f32(1, 2, 3, 4, 5),
    "nnz huge": header("coo", F32, (10,), 2**64 - 1),
    "dense nnz != numel": header("dense", F32, (2, 2), 3) + f32(1.0, 0.0, -0.0, 3.0),
    "coo repeated index": header("coo", F32, (10,), 2) + idx32(3, 3) + f32(1.0, 2.0),
    "coo decreasing": header("coo", F32, (10,), 2) + idx32(5, 2) + f32(1.0, 2.0),
    "coo wraparound": header("coo", F32, (10,), 3) + idx32(0, 2**31 - 1, -(2**31)) + f32(1, 2, 3),
    "coo index == numel": header("coo", F32, (10,), 2) + idx32(1, 10) + f32(1.0, 2.0),
    "coo negative index": header("coo", F32, (10,), 2) + idx32(-1, 4) + f32(1.0, 2.0),
    "coo zero value": header("coo", F32, (10,), 2) + idx32(1, 4) + f32(1.0, 0.0),
    "bitmap popcount high": header("bitmap", F32, (10,), 2) + bytes([0b0001_0011, 0]) + f32(1, 2),
    "bitmap popcount low": header("bitmap", F32, (10,), 2) + bytes([0b0000_0010, 0]) + f32(1, 2),
    "bitmap padding bits": header("bitmap", F32, (10,), 2)
    + bytes([0b0000_0010, 0b0100])
    + f32(1, 2),
    "bitmap zero value": header("bitmap", F32, (10,), 2) + bytes([0b0001_0010, 0]) + f32(0.0, 2.0),
    "bool value 2 dense": header("dense", BOOL, (2,), 2) + bytes([1, 2]),
    "bool value 2 coo": header("coo", BOOL, (4,), 1) + idx32(2) + bytes([2]),
    "ef popcount high": ef(0b0001, 0b0_0111, 1.0, 2.0),
    "ef popcount low": ef(0b0001, 0b0_0001, 1.0, 2.0),
    "ef popcount zero": ef(0b0001, 0b0_0000, 1.0, 2.0),
    "ef high padding bits": ef(0b0001, 0b10_0101, 1.0, 2.0),
    "ef low padding bits": ef(0b1_0001, 0b0_0101, 1.0, 2.0),
    "ef decreasing": ef(0b0111, 0b0_0011, 1.0, 2.0),
    "ef repeated position": ef(0b1010, 0b0_0011, 1.0, 2.0),
    "ef position == numel": ef(0b1001, 0b0_1001, 1.0, 2.0),
    "ef position past end": ef(0b0001, 0b1_0001, 1.0, 2.0),
    "ef zero value": ef(0b0001, 0b0_0101, 1.0, 0.0),
    "bool value 2 ef": header("ef", BOOL, (4,), 1) + bytes([2, 1, 2]),
    # csr
    "csr 0-d": header("csr", F32, (), 0),
    "csr rowptr[0] != 0": csr((1, 2, 2), (1, 4)),
    "csr rowptr decreasing": csr((0, 2, 1), (1, 4)),
    "csr rowptr[-1] != nnz": csr((0, 1, 1), (1, 4)),
    "csr rowptr negative": csr((0, -1, 2), (1, 4)),
    "csr rowptr huge": csr((0, 2**31 - 1, 2), (1, 4)),
    "csr column == cols": csr((0, 2, 2), (1, 5)),
    "csr column negative": csr((0, 2, 2), (-1, 4)),
    "csr columns repeated": csr((0, 2, 2), (3, 3)),
    "csr columns decreasing": csr((0, 2, 2), (4, 1)),
    "csr zero value": header("csr", F32, (2, 5), 2) + idx32(0, 2, 2) + idx32(1, 4) + f32(1, 0),
    "truncated csr": GOOD_CSR[:-1],
    "trailing csr": GOOD_CSR + b"\x00",
    # golomb
    "golomb unknown flag": golomb(2, 0, 5, bytes([0b1_0010])) + f32(1, 2),
    "golomb complement flag wrong": golomb(1, 0, 5, bytes([0b1_0010])) + f32(1, 2),
    "golomb r too big": golomb(0, 32, 2, bytes(8) + bytes([0b11])) + f32(1, 2),
    # r = 1 (one stream: low bits 0, 1, then unary bits at 1, 2): gaps 2, 1; r = 0 ties.
    "golomb r not the encoder's": golomb(0, 1, 3, bytes([0b1_1010])) + f32(1, 2),
    "golomb unary too long": golomb(0, 0, 2**40, b"") + f32(1, 2),
    "golomb unary shorter than count": golomb(0, 0, 1, bytes([1])) + f32(1, 2),
    "golomb unary not ending in 1": golomb(0, 0, 6, bytes([0b01_0010])) + f32(1, 2),
    "golomb unary popcount high": golomb(0, 0, 5, bytes([0b1_0011])) + f32(1, 2),
    "golomb unary popcount low": golomb(0, 0, 5, bytes([0b1_0000])) + f32(1, 2),
    "golomb padding bits": golomb(0, 0, 5, bytes([0b101_0010])) + f32(1, 2),
    "golomb unary past end": golomb(0, 0, 11, bytes([0b1, 0b100])) + f32(1, 2),
    # r = 2, low parts 3, 3 (bits 0-3), quotients 0, 1 (unary bits 4, 6) -> gaps 3, 7
    # -> positions 3, 11.
    "golomb position past end": golomb(0, 2, 3, bytes([0b0101_1111])) + f32(1, 2),
    "golomb empty with r": golomb(0, 3, 0, b"", nnz=0),
    "golomb empty with u": golomb(0, 0, 1, bytes(1), nnz=0),
    "golomb zero value": golomb(0, 0, 5, bytes([0b1_0010])) + f32(1, 0),
    "truncated golomb": GOOD_GOLOMB[:-1],
    "truncated golomb fields": GOOD_GOLOMB[: header_len(1) + 5],
    "trailing golomb": GOOD_GOLOMB + b"\x00",
    # support (decoded with REF)
    "support m > numel": header("support", F32, (10,), 2) + support_fields(11, 0, 0, 3),
    "support nnz > m": header("support", F32, (10,), 5) + support_fields(4, 0, 0, 3),
    "support m differs from reference": header("support", F32, (10,), 2)
    + support_fields(5, 0, 0, 4)
    + bytes([0b1001])
    + f32(1, 2),
    "support complement flag wrong": GOOD_SUPPORT[:31] + b"\x01" + GOOD_SUPPORT[32:],
    "support unary popcount": GOOD_SUPPORT[:-9] + bytes([0b111]) + GOOD_SUPPORT[-8:],
    "support unary past m": header("support", F32, (10,), 2)
    + support_fields(4, 0, 0, 5)
    + bytes([0b1_0001])
    + f32(1, 2),
    # r = 1, low parts 1, 1 (bits 0, 1), quotients 0, 1 (unary bits 2, 4) -> gaps 1, 3
    # -> ranks 1, 5 >= m = 4.
    "support rank past m": header("support", F32, (10,), 2)
    + support_fields(4, 0, 1, 3)
    + bytes([0b1_0111])
    + f32(1, 2),
    "truncated support": GOOD_SUPPORT[:-1],
    "trailing support": GOOD_SUPPORT + b"\x00",
    # shared
    "truncated ef": GOOD_EF[:-1],
    "truncated ef positions": GOOD_EF[: header_len(1) + 1],
    "trailing ef": GOOD_EF + b"\x00",
    "trailing ef empty": header("ef", F32, (10,), 0) + b"\x00",
    "truncated coo": GOOD_COO[:-1],
    "truncated bitmap": GOOD_BITMAP[:-3],
    "truncated dense": GOOD_DENSE[:-4],
    "truncated header": GOOD_COO[:20],
    "trailing coo": GOOD_COO + b"\x00",
    "trailing bitmap": GOOD_BITMAP + b"\x00\x00\x00\x00",
    "trailing dense": GOOD_DENSE + b"\x00",
}

# Cases whose header (including the total length) is consistent; only the body
# contents are wrong, so payload_codec() accepts them but decode_array() must not.
BODY_LEVEL = {
    name
    for name in HOSTILE
    if name.startswith(("coo ", "bitmap ", "ef ", "bool ", "csr ", "golomb ", "support "))
    and not name.startswith(
        (
            "csr 0-d",
            "golomb unknown",
            "golomb complement",
            "golomb r too",
            "golomb unary too",
            "golomb unary shorter",
            "golomb unary past",
            "support unary past",
            "golomb empty",
            "support m >",
            "support nnz",
            "support complement",
        )
    )
}


@pytest.mark.parametrize("name", sorted(HOSTILE))
def test_targeted_hostile_payloads(name: str) -> None:
    payload = HOSTILE[name]
    for form in (payload, bytearray(payload), memoryview(payload)):
        with pytest.raises(PayloadError) as info:
            decode_array(form, reference=REF)
        # Rejected by explicit validation, not by the decoder's safety net.
        assert "internal" not in str(info.value)
    if name in BODY_LEVEL:
        assert payload_codec(payload) in CODECS  # header alone is fine
    else:
        with pytest.raises(PayloadError):
            payload_codec(payload)
    check_hostile(payload, REF)


def test_decode_rejects_unusable_payload_objects() -> None:
    for bad in (
        "SF",
        [83, 70],
        None,
        np.frombuffer(GOOD_COO, dtype=np.uint8).astype(np.int16),
        np.frombuffer(GOOD_COO, dtype=np.uint8)[:34].reshape(2, 17),
        memoryview(np.frombuffer(GOOD_COO * 2, dtype=np.uint8))[::2],
    ):
        with pytest.raises(PayloadError):
            decode_array(bad)
        with pytest.raises(PayloadError):
            payload_codec(bad)
        with pytest.raises(PayloadError):
            payload_info(bad)
    # A non-contiguous but otherwise valid uint8 ndarray is accepted.
    strided = np.repeat(np.frombuffer(GOOD_COO, dtype=np.uint8), 2)[::2]
    assert_bit_identical(decode_array(strided), decode_array(GOOD_COO))
    assert issubclass(PayloadError, ValueError)


def test_max_numel_limit() -> None:
    assert decode_array(GOOD_COO, max_numel=10).shape == (10,)
    with pytest.raises(PayloadError, match="limit"):
        decode_array(GOOD_COO, max_numel=9)


def test_huge_sparse_headers_do_not_allocate() -> None:
    # A golomb header claiming 2**31 - 1 elements with a few bytes of body is
    # rejected by the length check (or max_numel) before anything is built.
    n = 2**31 - 1
    fake = header("golomb", F32, (n,), 1) + golomb_fields(0, 30, 2) + bytes(4) + f32(1.0)
    with pytest.raises(PayloadError):
        decode_array(fake, max_numel=2**20)
    with pytest.raises(PayloadError):
        decode_array(header("golomb", F32, (n,), 2) + golomb_fields(0, 0, 2**40))
