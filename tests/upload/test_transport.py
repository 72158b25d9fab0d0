"""Uplink/downlink policy: conditional coding against the received model, error feedback."""

from __future__ import annotations

import numpy as np
import pytest

from sparsyfed.config import ConfigError, compose_config, load_config
from sparsyfed.config.schema import WireOptions
from sparsyfed.upload.transport import encode_downlink, encode_uplink
from sparsyfed.wire.bounds import sparse_bound_bits
from sparsyfed.wire.codec import decode_array, payload_info, support_mask
from sparsyfed.wire.message import decode_state
from sparsyfed.wire.report import payload_report


def sparse(rng: np.random.Generator, shape, density: float, within=None) -> np.ndarray:
    """Random float32 tensor with the given density, optionally inside another's support."""
    x = rng.standard_normal(shape).astype(np.float32)
    pool = np.flatnonzero(support_mask(within)) if within is not None else np.arange(x.size)
    keep = rng.choice(pool, size=round(density * x.size), replace=False)
    out = np.zeros(x.size, dtype=np.float32)
    out[keep] = x.reshape(-1)[keep]
    return out.reshape(shape)


def model_pair(seed: int = 0, received_density: float = 0.2, upload_density: float = 0.05):
    """A received global model and an upload whose weights lie in its support (beta > 1)."""
    rng = np.random.default_rng(seed)
    received = {
        "conv.weight": sparse(rng, (64, 32, 3, 3), received_density),
        "fc.weight": sparse(rng, (10, 2048), received_density),
        "conv.bias": rng.standard_normal(64).astype(np.float32),
        "bn.num_batches_tracked": np.array(7, dtype=np.int64),
    }
    upload = dict(received)
    for key in ("conv.weight", "fc.weight"):
        upload[key] = sparse(rng, received[key].shape, upload_density, within=received[key])
    return received, upload


def test_uplink_inside_received_support_uses_support_codec_and_saves_position_bits():
    received, upload = model_pair()
    blobs, residual = encode_uplink(upload, received, WireOptions())
    assert residual == {}
    for key in ("conv.weight", "fc.weight"):
        assert payload_info(blobs.tensors[key]).codec == "support"
    decoded = decode_state(blobs, references=received)
    for key, value in upload.items():
        assert decoded[key].tobytes() == value.tobytes(), key
    report = payload_report(decoded, blobs, references=received)
    # The conditional bound is below the unconditional one, and the codec beats every
    # codec that ignores the side information.
    assert report.conditional.cond_bound_bytes < report.bound_bytes
    assert report.conditional.cond_bound_bytes <= report.bytes
    assert report.bytes < report.conditional.best_unconditional_bytes
    # Positions: within 5% of log2 C(m, k) (METHOD: 20% received, 5% sent).
    assert (
        report.conditional.support_position_bits
        <= 1.05 * report.conditional.support_position_bound_bits
    )
    conv = upload["conv.weight"]
    m = int(support_mask(received["conv.weight"]).sum())
    k = int(support_mask(conv).sum())
    assert sparse_bound_bits(m, k, 0) < 0.6 * sparse_bound_bits(conv.size, k, 0)


def test_uplink_outside_received_support_falls_back_losslessly():
    received, upload = model_pair()
    regrown = upload["fc.weight"].copy()
    outside = np.flatnonzero(~support_mask(received["fc.weight"]))[:5]
    regrown.reshape(-1)[outside] = 1.5  # Top-K with beta = 1: zeros regrow
    upload["fc.weight"] = regrown
    blobs, _ = encode_uplink(upload, received, WireOptions())
    assert payload_info(blobs.tensors["fc.weight"]).codec != "support"
    assert payload_info(blobs.tensors["conv.weight"]).codec == "support"  # decided per tensor
    decoded = decode_state(blobs, references=received)
    assert decoded["fc.weight"].tobytes() == regrown.tobytes()
    report = payload_report(decoded, blobs, references=received)
    assert report.bytes >= report.conditional.cond_bound_bytes


def test_conditional_off_never_uses_the_reference():
    received, upload = model_pair()
    blobs, _ = encode_uplink(upload, received, WireOptions(conditional=False))
    assert all(payload_info(b).codec != "support" for b in blobs.tensors.values())
    decoded = decode_state(blobs)  # decodable without side information
    assert decoded["conv.weight"].tobytes() == upload["conv.weight"].tobytes()


def test_downlink_is_lossless_and_never_conditional():
    received, _ = model_pair()
    blobs = encode_downlink(received, WireOptions())
    decoded = decode_state(blobs)
    for key, value in received.items():
        assert decoded[key].tobytes() == value.tobytes()
        assert payload_info(blobs.tensors[key]).values == "raw"


@pytest.mark.parametrize("values", ["fp16", "int8"])
def test_quantised_uplink_keeps_support_and_reports_value_bits(values):
    received, upload = model_pair()
    rng = np.random.default_rng(3)
    blobs, residual = encode_uplink(upload, received, WireOptions(values=values), rng=rng)
    decoded = decode_state(blobs, references=received)
    bits = {"fp16": 16, "int8": 8}[values]
    for key in ("conv.weight", "fc.weight"):
        info = payload_info(blobs.tensors[key])
        assert info.values == values and info.value_bits == bits
        # Quantisation may drop values that round to zero, never add positions.
        assert not np.any(support_mask(decoded[key]) & ~support_mask(upload[key]))
        np.testing.assert_allclose(residual[key], upload[key] - decoded[key], atol=0)
    # Biases and counters travel raw and exactly.
    assert decoded["conv.bias"].tobytes() == upload["conv.bias"].tobytes()
    assert payload_info(blobs.tensors["conv.bias"]).values == "raw"
    assert set(residual) == {"conv.weight", "fc.weight"}
    raw_blobs, _ = encode_uplink(upload, received, WireOptions())
    assert blobs.nbytes < 0.75 * raw_blobs.nbytes


def test_error_feedback_makes_the_sum_of_sent_updates_track_the_true_sum():
    """With feedback, sum of decoded uploads = T * x - e_T: the error does not accumulate."""
    received, upload = model_pair(seed=1)
    wire = WireOptions(values="int8")
    x = upload["fc.weight"]
    total = np.zeros_like(x, dtype=np.float64)
    residual = None
    rounds = 30
    for t in range(rounds):
        blobs, residual = encode_uplink(
            upload, received, wire, residual=residual, rng=np.random.default_rng(t)
        )
        total += decode_array(blobs.tensors["fc.weight"], reference=received["fc.weight"])
    with_feedback = np.abs(total + residual["fc.weight"] - rounds * x.astype(np.float64)).max()
    assert with_feedback < 1e-3 * np.abs(x).max()
    # Without feedback the error of the sum grows like sqrt(T) times one rounding step.
    no_fb = WireOptions(values="int8", error_feedback=False)
    plain = np.zeros_like(total)
    for t in range(rounds):
        blobs, res = encode_uplink(upload, received, no_fb, rng=np.random.default_rng(t))
        assert res == {}
        plain += decode_array(blobs.tensors["fc.weight"], reference=received["fc.weight"])
    err_fb = np.abs(total - rounds * x).mean()
    err_plain = np.abs(plain - rounds * x).mean()
    assert err_fb < 0.5 * err_plain


def test_wire_options_from_config_and_check():
    wire = load_config(compose_config(["wire.codec=golomb", "wire.values=int8"])).wire
    assert wire.codec == "golomb" and wire.values == "int8" and wire.conditional
    assert load_config(compose_config([])).wire == WireOptions()
    with pytest.raises(ConfigError, match=r"wire\.codec='support'"):
        load_config(compose_config(["wire.codec=support"]))
    with pytest.raises(ConfigError, match=r"wire\.values='int4'"):
        load_config(compose_config(["wire.values=int4"]))


def test_wire_joint_switches_the_joint_block():
    received, upload = model_pair(received_density=0.2, upload_density=0.2)  # upload = support
    for key in ("conv.weight", "fc.weight"):
        upload[key] = received[key] * np.float32(1.5)
        upload[key].reshape(-1)[np.flatnonzero(received[key])[:3]] = 0.0  # drop 3
    joint, _ = encode_uplink(upload, received, WireOptions())
    alone, _ = encode_uplink(upload, received, WireOptions(joint=False))
    assert load_config(compose_config(["wire.joint=false"])).wire.joint is False
    assert {payload_info(joint.tensors[k]).codec for k in ("conv.weight", "fc.weight")} == {"joint"}
    assert {payload_info(alone.tensors[k]).codec for k in ("conv.weight", "fc.weight")} == {
        "support"
    }
    for blobs in (joint, alone):
        decoded = decode_state(blobs, references=received)
        assert all(decoded[k].tobytes() == v.tobytes() for k, v in upload.items())
    assert joint.nbytes < alone.nbytes
