"""Enumerative coding and the joint position block of a message."""

from __future__ import annotations

import itertools
import math
import struct
from dataclasses import replace

import numpy as np
import pytest
from codec_helpers import F32, bit_nnz, header
from hypothesis import given, settings
from hypothesis import strategies as st

from sparsyfed.config.schema import WireOptions
from sparsyfed.upload.transport import encode_uplink
from sparsyfed.wire.bounds import sparse_bound_bits
from sparsyfed.wire.codec import (
    JointPositions,
    PayloadError,
    decode_array,
    encode_array,
    encode_array_joint,
    payload_info,
    support_mask,
)
from sparsyfed.wire.enumerative import MAX_COUNT, subset_rank, subset_unrank
from sparsyfed.wire.joint import block_code_bits, decode_joint_block, encode_joint_block
from sparsyfed.wire.message import EncodedMessage, decode_state, encode_state
from sparsyfed.wire.report import payload_report


def with_tensor(message: EncodedMessage, key: str, blob) -> EncodedMessage:
    """``message`` with one payload replaced."""
    return replace(message, tensors={**message.tensors, key: blob})


HEAD = 11  # joint block header: magic, version, count, fingerprint
FINGERPRINT = 0x1234ABCD

# ---------------------------------------------------------------------------
# enumerative coding
# ---------------------------------------------------------------------------


def test_rank_is_a_bijection_onto_the_binomial_range() -> None:
    for domain in range(9):
        for count in range(domain + 1):
            ranks = []
            for subset in itertools.combinations(range(domain), count):
                rank = subset_rank(np.array(subset, dtype=np.int64))
                assert tuple(subset_unrank(rank, count, domain)) == subset
                ranks.append(rank)
            assert sorted(ranks) == list(range(math.comb(domain, count)))


@settings(max_examples=60, deadline=None)
@given(
    domain=st.integers(1, 2**31 - 1),
    count=st.integers(0, MAX_COUNT),
    seed=st.integers(0, 2**16),
    edge=st.sampled_from(["random", "low", "high"]),
)
def test_unrank_inverts_rank_on_large_domains(domain: int, count: int, seed: int, edge: str):
    count = min(count, domain)
    rng = np.random.default_rng(seed)
    if edge == "low":
        pos = np.arange(count, dtype=np.int64)
    elif edge == "high":
        pos = np.arange(domain - count, domain, dtype=np.int64)
    else:
        pos = np.unique(rng.integers(0, domain, size=count))
        count = pos.size
    rank = subset_rank(pos)
    assert 0 <= rank < math.comb(domain, count)
    np.testing.assert_array_equal(subset_unrank(rank, count, domain), pos)


# ---------------------------------------------------------------------------
# the joint block on its own
# ---------------------------------------------------------------------------


def random_parts(rng: np.random.Generator, n: int) -> list[JointPositions]:
    parts = []
    for _ in range(n):
        m = int(rng.integers(0, 5000))
        k = int(rng.integers(0, m + 1))
        c = min(k, m - k)
        if c > MAX_COUNT:
            k = m - int(rng.integers(0, min(m, MAX_COUNT) + 1))
            c = min(k, m - k)
        coded = np.sort(rng.choice(m, size=c, replace=False)).astype(np.int64)
        parts.append(JointPositions(m, k, coded))
    return parts


@pytest.mark.parametrize("seed", range(20))
def test_block_round_trip_pays_the_rounding_once(seed: int) -> None:
    rng = np.random.default_rng(seed)
    parts = random_parts(rng, int(rng.integers(0, 12)))
    block = encode_joint_block(parts, FINGERPRINT)
    sizes = [(p.domain, p.nnz) for p in parts]
    for got, part in zip(decode_joint_block(block, sizes, FINGERPRINT), parts, strict=True):
        np.testing.assert_array_equal(got, part.coded)
    bound = sum(sparse_bound_bits(m, k, 0) for m, k in sizes)
    bits = block_code_bits(sizes)
    # ceil(log2 prod C) bits: at most one bit over the bound for the whole message.
    assert bound - 1e-6 * max(1.0, bound) <= bits <= bound + 1 + 1e-6 * max(1.0, bound)
    assert len(block) == HEAD + (bits + 7) // 8


def test_block_rejects_hostile_input() -> None:
    parts = [
        JointPositions(10, 2, np.array([3, 7])),
        JointPositions(6, 5, np.array([4])),  # complement: 2 * 5 > 6
    ]
    sizes = [(10, 2), (6, 5)]
    block = encode_joint_block(parts, FINGERPRINT)
    radix = math.comb(10, 2) * math.comb(6, 1)  # 270 -> 9 bits, 2 bytes
    assert len(block) == HEAD + 2
    cases = {
        "short": block[:5],
        "magic": b"SX" + block[2:],
        "version": block[:2] + b"\x01" + block[3:],
        "count": block[:3] + struct.pack("<I", 3) + block[7:],
        "fingerprint": block[:7] + struct.pack("<I", FINGERPRINT + 1) + block[HEAD:],
        "truncated": block[:-1],
        "trailing": block + b"\x00",
        "rank out of range": block[:HEAD] + radix.to_bytes(2, "little"),
        "padding bit set": block[:HEAD]
        + (int.from_bytes(block[HEAD:], "little") | 1 << 15).to_bytes(2, "little"),
    }
    for name, bad in cases.items():
        with pytest.raises(PayloadError):
            decode_joint_block(bad, sizes, FINGERPRINT)
        assert name
    with pytest.raises(PayloadError, match="other references"):
        decode_joint_block(block, sizes, FINGERPRINT ^ 1)
    with pytest.raises(PayloadError, match="keeps"):
        decode_joint_block(block, [(10, 11), (6, 5)], FINGERPRINT)
    with pytest.raises(PayloadError, match="at most"):
        decode_joint_block(block, [(10_000, 2 * MAX_COUNT), (6, 5)], FINGERPRINT)
    # The largest valid rank decodes.
    top = block[:HEAD] + (radix - 1).to_bytes(2, "little")
    assert [g.tolist() for g in decode_joint_block(top, sizes, FINGERPRINT)] == [[8, 9], [5]]


# ---------------------------------------------------------------------------
# whole messages
# ---------------------------------------------------------------------------


def late_round_pair(seed: int, drops: tuple[int, ...] = (0, 3, 17, 40, 300)):
    """Received model and an upload that keeps all but a few of its non-zeros per tensor."""
    rng = np.random.default_rng(seed)
    shapes = [(32, 3, 3, 3), (64, 32, 3, 3), (128, 64, 3, 3), (10, 512), (96, 96)]
    received, upload = {}, {}
    for i, (shape, drop) in enumerate(zip(shapes, drops, strict=True)):
        x = rng.standard_normal(shape).astype(np.float32)
        x[rng.random(shape) < 0.9] = 0.0
        received[f"layer{i}.weight"] = x
        y = (x * 1.01).astype(np.float32)
        nz = np.flatnonzero(x)
        y.reshape(-1)[rng.choice(nz, size=min(drop, nz.size), replace=False)] = 0.0
        upload[f"layer{i}.weight"] = y
    received["layer0.bias"] = rng.standard_normal(32).astype(np.float32)
    upload["layer0.bias"] = received["layer0.bias"] + 1.0
    return received, upload


@pytest.mark.parametrize("seed", range(4))
def test_late_round_upload_codes_positions_at_the_conditional_bound(seed: int) -> None:
    received, upload = late_round_pair(seed)
    shapes = {k: v.shape for k, v in upload.items()}
    blobs = encode_state(upload, references=received)
    decoded = decode_state(blobs, expected=shapes, references=received)
    for key, value in upload.items():
        assert decoded[key].tobytes() == value.tobytes(), key
    codecs = {k: payload_info(b).codec for k, b in blobs.tensors.items()}
    # layer0 has 864 elements (< 1024): dense; 300 dropped positions exceed MAX_COUNT.
    assert codecs == {
        "layer0.weight": "dense",
        "layer1.weight": "joint",
        "layer2.weight": "joint",
        "layer3.weight": "joint",
        "layer4.weight": "support",
        "layer0.bias": "dense",
    }
    report = payload_report(decoded, blobs, references=received)
    bound = report.conditional.support_position_bound_bits
    joint_bound = sum(
        sparse_bound_bits(bit_nnz(received[k]), bit_nnz(upload[k]), 0)
        for k in ("layer1.weight", "layer2.weight", "layer3.weight")
    )
    support_code = payload_info(blobs.tensors["layer4.weight"]).position_code_bits
    # The three joint tensors cost ceil(sum log2 C) bits together.
    cond = report.conditional
    joint_code = cond.support_position_code_bits - support_code
    assert joint_bound <= joint_code + 1e-6 <= joint_bound + 1 + 1e-6
    assert cond.support_position_code_bits <= 1.05 * bound
    # Per-message coding beats per-tensor Rice on the same tensors, in bytes too.
    per_tensor = encode_state(upload, references=received, joint=False)
    assert per_tensor.joint is None
    old = payload_report(decoded, per_tensor, references=received)
    assert cond.support_position_code_bits < old.conditional.support_position_code_bits
    assert report.bytes < old.bytes < old.conditional.best_unconditional_bytes


def test_upload_equal_to_received_support_costs_no_position_bits() -> None:
    received, upload = late_round_pair(0, drops=(0, 0, 0, 0, 0))
    blobs = encode_state(upload, references=received)
    decoded = decode_state(blobs, references=received)
    report = payload_report(decoded, blobs, references=received)
    assert report.conditional.support_position_code_bits == 0
    assert len(blobs.joint) == HEAD  # header only: every C(m, k) is 1


@settings(max_examples=40, deadline=None)
@given(
    seed=st.integers(0, 2**16),
    values=st.sampled_from(["raw", "fp16", "int8"]),
    drops=st.tuples(*[st.integers(0, 400)] * 5),
)
def test_joint_messages_round_trip_and_are_canonical(seed: int, values: str, drops) -> None:
    received, upload = late_round_pair(seed, drops)
    rng = np.random.default_rng(seed)
    blobs = encode_state(upload, values=values, references=received, rng=rng)
    decoded = decode_state(blobs, references=received)
    for key, value in upload.items():
        # Never a position outside the received support.
        assert not np.any(support_mask(decoded[key]) & ~support_mask(received[key]))
        if values == "raw":
            assert decoded[key].tobytes() == value.tobytes()
    # A decoded message re-encodes to the same bytes (lossy values are idempotent).
    again = encode_state(decoded, values=values, references=received, rng=rng)
    assert again == blobs


def test_quantised_uplink_with_error_feedback_uses_the_joint_block() -> None:
    received, upload = late_round_pair(1)
    wire = WireOptions(values="int8")
    blobs, residual = encode_uplink(upload, received, wire, rng=np.random.default_rng(0))
    assert blobs.joint is not None
    decoded = decode_state(blobs, references=received)
    for key, res in residual.items():
        np.testing.assert_allclose(decoded[key] + res, upload[key], rtol=0, atol=1e-6)


def test_joint_codec_cannot_be_used_alone() -> None:
    received, upload = late_round_pair(0)
    key = "layer1.weight"
    with pytest.raises(ValueError, match="joint block"):
        encode_array(upload[key], "joint", reference=received[key])
    payload, part = encode_array_joint(upload[key], reference=received[key])
    assert part is not None and payload_info(payload).codec == "joint"
    with pytest.raises(PayloadError, match="joint block"):
        decode_array(payload, reference=received[key])
    with pytest.raises(PayloadError, match="reference"):
        decode_array(payload, joint_coded=part.coded)
    decoded = decode_array(payload, reference=received[key], joint_coded=part.coded)
    assert decoded.tobytes() == upload[key].tobytes()
    with pytest.raises(PayloadError, match="strictly increasing"):
        decode_array(payload, reference=received[key], joint_coded=part.coded[::-1].copy())
    with pytest.raises(PayloadError, match="coded ranks"):
        decode_array(payload, reference=received[key], joint_coded=part.coded[:-1])
    # No tensor name is reserved: the joint block has its own field.
    odd = {"@joint-positions": upload[key]}
    assert decode_state(encode_state(odd))["@joint-positions"].tobytes() == upload[key].tobytes()


def test_hostile_messages_raise_payload_error() -> None:
    received, upload = late_round_pair(2)
    shapes = {k: v.shape for k, v in upload.items()}
    blobs = encode_state(upload, references=received)
    key = "layer2.weight"
    info = payload_info(blobs.tensors[key])
    other_ref = dict(received)
    other_ref[key] = received[key].copy()
    other_ref[key].reshape(-1)[np.flatnonzero(received[key] == 0)[:1]] = 1.0  # m + 1
    shaped_ref = dict(received)
    shaped_ref[key] = received[key].reshape(64, -1)
    too_many = header("joint", F32, info.shape, bit_nnz(received[key]) - 2 * MAX_COUNT)
    too_many += np.ones(bit_nnz(received[key]) - 2 * MAX_COUNT, dtype="<f4").tobytes()
    over_m = header("joint", F32, info.shape, bit_nnz(received[key]) + 1)
    over_m += np.ones(bit_nnz(received[key]) + 1, dtype="<f4").tobytes()
    cases = [
        (replace(blobs, joint=None), received, "no"),
        (replace(blobs, joint=blobs.joint + b"\x00"), received, "bytes"),
        (blobs, None, "reference"),
        (blobs, other_ref, "other references"),
        (blobs, shaped_ref, "shape"),
        (with_tensor(blobs, key, too_many), received, "at most"),
        (with_tensor(blobs, key, over_m), received, "keeps"),
        (replace(blobs, joint=np.zeros((2, 2), np.uint8)), received, "1-D"),
        (replace(blobs, joint=5), received, "bytes"),
        (dict(blobs.tensors), received, "EncodedMessage"),
    ]
    plain = encode_state(upload)
    cases.append((replace(plain, joint=blobs.joint), received, "without joint"))
    for bad, refs, match in cases:
        with pytest.raises(PayloadError, match=match):
            decode_state(bad, expected=shapes, references=refs)


def test_mutated_joint_messages_only_raise_payload_error() -> None:
    rng = np.random.default_rng(7)
    messages = []
    for seed in range(6):
        received, upload = late_round_pair(seed, tuple(int(d) for d in rng.integers(0, 60, 5)))
        messages.append((received, encode_state(upload, references=received)))
    accepted = 0
    trials = 2_000
    for _ in range(trials):
        received, blobs = messages[int(rng.integers(0, len(messages)))]
        joint = rng.random() < 0.6
        target = None if joint else str(rng.choice(sorted(blobs.tensors)))
        data = bytearray(blobs.joint if joint else blobs.tensors[target])
        op = int(rng.integers(0, 4))
        if op == 0 and data:
            data[int(rng.integers(0, len(data)))] ^= int(rng.integers(1, 256))
        elif op == 1:
            del data[int(rng.integers(0, len(data) + 1)) :]
        elif op == 2:
            data.extend(rng.integers(0, 256, size=int(rng.integers(1, 4)), dtype=np.uint8))
        elif len(data) > HEAD:
            data[HEAD + int(rng.integers(0, len(data) - HEAD))] = int(rng.integers(0, 256))
        bad = (
            replace(blobs, joint=bytes(data)) if joint else with_tensor(blobs, target, bytes(data))
        )
        try:
            decoded = decode_state(bad, references=received)
        except PayloadError as exc:
            assert "internal" not in str(exc)
            continue
        accepted += 1
        # Accepted mutations are canonical encodings of what they decode to.
        assert encode_state(decoded, references=received) == bad
    assert 0 < accepted < trials
