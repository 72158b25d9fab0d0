"""End-to-end properties of SparsyFed through the real ClientApp and round loop (no Ray)."""

from __future__ import annotations

import itertools
import json

import numpy as np
import pytest
import torch
from flwr.app import Array
from helpers import client_updates, make_cfg, read_rows
from inprocess_grid import run_inprocess

from sparsyfed.core.client import run_client_round
from sparsyfed.core.server import FederatedServer
from sparsyfed.core.task import get_task
from sparsyfed.flower.records import get_message, put_message
from sparsyfed.wire.codec import CODECS, payload_info
from sparsyfed.wire.message import decode_state, encode_state
from sparsyfed.wire.report import nonzero_count


def tiny_cfg(tmp_path, data_dir, *extra: str):
    return make_cfg(tmp_path, data_dir, "rounds=5", *extra)


def client_round(task, pid: int, server_round: int, received: dict):
    upload, _, metrics = run_client_round(task, task.round_context(server_round), pid, received)
    return upload, metrics


def test_upload_prunable_weights_have_exactly_target_sparsity(tmp_path, data_dir):
    cfg = tiny_cfg(tmp_path, data_dir, "sparsity=0.9")
    server = FederatedServer(cfg)
    task = get_task(cfg)
    upload, num_examples, _ = run_client_round(
        task, task.round_context(1), 2, server.global_arrays()
    )
    prunable = task.prunable_keys
    numel = sum(upload[k].size for k in prunable)
    zeros = sum(int((upload[k] == 0).sum()) for k in prunable)
    assert zeros == round(0.9 * numel)
    # Bit-level too: pruned entries are +0.0, so the wire carries exactly the kept values.
    assert sum(nonzero_count(upload[k]) for k in prunable) == numel - zeros
    # Biases and BatchNorm are never pruned.
    for key, value in upload.items():
        if key not in prunable and value.dtype.kind == "f" and "running" not in key:
            assert nonzero_count(value) == value.size, key
    assert num_examples == len(task.partitions[2])


def test_keep_fraction_equals_one_minus_received_layer_sparsity(tmp_path, data_dir):
    cfg = tiny_cfg(tmp_path, data_dir, "sparsity=0.8")
    server = FederatedServer(cfg)
    task = get_task(cfg)
    # Round 1: the initial model is dense, so nothing is pruned (keep 1.0).
    _, m1 = client_round(task, 0, 1, server.global_arrays())
    assert all(v == 1.0 for v in m1.value("act_keep_fraction").values())
    upload, _ = client_round(task, 1, 1, server.global_arrays())
    received = upload  # a sparse model, as a client receives after round 1
    _, m2 = client_round(task, 0, 2, received)
    keep = m2.value("act_keep_fraction")
    assert keep
    for layer, value in keep.items():
        w = received[f"{layer}.weight"]
        assert value == pytest.approx(max(1 - float((w == 0).mean()), 1e-7)), layer
        assert value < 1.0


def test_sparsyfed_global_mask_never_grows_after_round_1_but_topk_regrows(tmp_path, data_dir):
    sparsyfed = tiny_cfg(tmp_path / "a", data_dir, "sparsity=0.9")
    run_inprocess(sparsyfed)
    rows = read_rows(sparsyfed)[1:]
    assert [r["round"] for r in rows] == [1, 2, 3, 4, 5]
    for prev, row in itertools.pairwise(rows):
        assert row["global_regrowth"] == 0
        assert row["nnz_prunable"] <= prev["nnz_prunable"]
    # Every round's global prunable sparsity is at most the target (union of masks) ...
    assert all(r["sparsity_prunable"] <= 0.9 + 1e-9 for r in rows)
    assert rows[-1]["sparsity_prunable"] > 0.5
    # ... and each client uploaded exactly 10% of the prunable weights (+ dense small tensors).
    assert all(len(set(r["uplink_nnz_per_client"].values())) >= 1 for r in rows)

    topk = tiny_cfg(
        tmp_path / "b", data_dir, "sparsity=0.9", "beta=1.0", "method.act_pruning=false"
    )
    run_inprocess(topk)
    topk_rows = read_rows(topk)[2:]
    assert sum(r["global_regrowth"] for r in topk_rows) > 0


def test_round_metrics_bytes_are_encoded_lengths_and_sparse_beats_dense(tmp_path, data_dir):
    cfg = tiny_cfg(tmp_path, data_dir, "sparsity=0.95", "rounds=2")
    summary = run_inprocess(cfg)
    rows = read_rows(cfg)
    r = rows[-1]
    assert r["uplink_bytes"] == sum(r["uplink_bytes_per_client"].values())
    assert r["uplink_bytes"] < r["uplink_dense_bytes"] / 4
    assert r["uplink_bound_bytes"] <= r["uplink_bytes"]
    assert r["downlink_bytes"] == 3 * r["downlink_bytes_per_client"]
    assert r["downlink_bound_bytes"] <= r["downlink_bytes"]
    assert set(r["uplink_codecs"]) <= set(CODECS)
    assert summary["uplink_bytes_total"] == sum(x["uplink_bytes"] for x in rows[1:])
    for name in ("config.yaml", "metrics.jsonl", "summary.json", "partitions.json"):
        assert (tmp_path / "run" / name).is_file()


def test_same_seed_same_run_and_other_seed_differs(tmp_path, data_dir):
    a = tiny_cfg(tmp_path / "a", data_dir, "rounds=2")
    b = tiny_cfg(tmp_path / "b", data_dir, "rounds=2")
    c = tiny_cfg(tmp_path / "c", data_dir, "rounds=2", "seed=1")
    sa, sb = run_inprocess(a), run_inprocess(b)
    run_inprocess(c)
    assert sa["final_accuracy"] == sb["final_accuracy"]
    assert [r["clients"] for r in read_rows(a)[1:]] == [r["clients"] for r in read_rows(b)[1:]]
    assert [r["clients"] for r in read_rows(a)[1:]] != [r["clients"] for r in read_rows(c)[1:]]
    assert read_rows(a)[0]["loss"] != read_rows(c)[0]["loss"]  # seeded initial model


def _corrupt_payload(reply, sent):
    record = reply.content["update"]
    key = next(iter(record))
    record[key] = Array(dtype="uint8", shape=(3,), stype=record[key].stype, data=b"bad")
    return reply


def _received(sent) -> dict[str, np.ndarray]:
    return decode_state(get_message(sent.content, "model"))


def _replace_update(reply, message) -> None:
    for name in ("update", "update.joint"):
        if name in reply.content:
            del reply.content[name]
    put_message(reply.content, "update", message)


def _nonfinite_payload(reply, sent):
    state = decode_state(get_message(reply.content, "update"), references=_received(sent))
    key = next(k for k, v in state.items() if v.dtype.kind == "f")
    state[key] = np.full_like(state[key], np.nan)
    _replace_update(reply, encode_state(state))
    return reply


def _foreign_reference_payload(reply, sent):
    """An upload coded against a model the server never sent (half its support)."""
    foreign, state = {}, {}
    for key, value in _received(sent).items():
        foreign[key], state[key] = value, value
        if value.ndim > 1 and value.size >= 1024:
            foreign[key] = value.copy()
            foreign[key].reshape(-1)[1::2] = 0.0
            state[key] = np.zeros_like(value)
            state[key].reshape(-1)[::8] = 0.5
    message = encode_state(state, references=foreign)
    codecs = {payload_info(b).codec for b in message.tensors.values()}
    assert codecs & {"support", "joint"}
    _replace_update(reply, message)
    return reply


@pytest.mark.parametrize(
    "corruption", [_corrupt_payload, _nonfinite_payload, _foreign_reference_payload]
)
def test_malformed_update_is_dropped_and_round_completes(tmp_path, data_dir, corruption):
    cfg = tiny_cfg(tmp_path, data_dir, "rounds=2")
    first_round = FederatedServer(cfg).sample_clients()
    run_inprocess(cfg, corrupt={first_round[0]: corruption})
    rows = read_rows(cfg)
    assert rows[1]["num_updates"] == 2
    [failure] = rows[1]["client_failures"]
    assert failure["partition"] == first_round[0]
    assert failure["cause"] in ("malformed", "non-finite")
    assert np.isfinite(rows[-1]["accuracy"])
    # The global model is exactly the aggregate of the two good clients.
    server = FederatedServer(cfg)
    assert server.sample_clients() == first_round
    updates = client_updates(server, first_round[1:], 1)
    server.apply_updates(server.task.round_context(1), updates)
    assert server.evaluate()["loss"] == rows[1]["loss"]


def test_sparsyfed_uplink_is_coded_against_the_received_model(tmp_path, data_dir):
    cfg = tiny_cfg(tmp_path, data_dir, "sparsity=0.9", "rounds=3")
    run_inprocess(cfg)
    rows = read_rows(cfg)[1:]
    # Round 1: the received model is dense, so the side information is worthless
    # (small tensors may still use the joint block, which then codes log2 C(n, k)).
    assert "support" not in rows[0]["uplink_codecs"]
    assert rows[0]["uplink_cond_bound_bytes"] == pytest.approx(rows[0]["uplink_bound_bytes"])
    for r in rows[1:]:
        support = r["uplink_codecs"].get("support", 0)
        assert support + r["uplink_codecs"].get("joint", 0) > 0
        sent, best = r["uplink_bytes_per_client"], r["uplink_best_unconditional_bytes_per_client"]
        assert list(sent) == list(best) == [str(p) for p in r["clients"]]
        for pid in sent:
            assert sent[pid] < best[pid]
        assert r["uplink_cond_bound_bytes"] < r["uplink_bound_bytes"]
        assert r["uplink_cond_bound_bytes"] <= r["uplink_bytes"]
        assert r["uplink_support_position_bits"] >= r["uplink_support_position_bound_bits"] > 0
        # Tiny tensors (~100 position bits each): allow each Rice-coded tensor its two
        # streams' padding bits and each client's joint block its padding to a byte.
        slack = 16 * support + 8 * len(r["uplink_bytes_per_client"])
        bound = r["uplink_support_position_bound_bits"]
        assert r["uplink_support_position_bits"] <= 1.05 * bound + slack
        assert (
            r["uplink_support_unconditional_position_bits"] > 2 * r["uplink_support_position_bits"]
        )
    cumulative = [r["uplink_bytes_cum"] for r in rows]
    assert cumulative == list(itertools.accumulate(r["uplink_bytes"] for r in rows))
    assert rows[-1]["downlink_bytes_cum"] == sum(r["downlink_bytes"] for r in rows)
    assert rows[-1]["uplink_dense_ratio"] == pytest.approx(
        rows[-1]["uplink_dense_bytes"] / rows[-1]["uplink_bytes"]
    )
    assert set(rows[-1]["downlink_codec_per_tensor"]) == set(rows[-1]["uplink_codec_per_tensor"])


def test_int8_uplink_with_error_feedback_runs_and_sends_less(tmp_path, data_dir):
    raw = tiny_cfg(tmp_path / "raw", data_dir, "sparsity=0.9", "rounds=3")
    int8 = tiny_cfg(tmp_path / "int8", data_dir, "sparsity=0.9", "rounds=3", "wire.values=int8")
    run_inprocess(raw)
    run_inprocess(int8)
    raw_rows, q_rows = read_rows(raw)[1:], read_rows(int8)[1:]
    assert [r["clients"] for r in raw_rows] == [r["clients"] for r in q_rows]
    for a, b in zip(raw_rows, q_rows, strict=True):
        assert (
            b["uplink_bytes"] < 0.85 * a["uplink_bytes"]
        )  # tiny model: most bytes are small dense tensors
        assert b["num_updates"] == 3
        assert b["uplink_bound_bytes"] <= b["uplink_bytes"]
    # Learns (chance is 0.1) and about as well as the raw uplink.
    assert q_rows[-1]["accuracy"] > max(0.15, raw_rows[-1]["accuracy"] - 0.05)


def test_batchnorm_counters_stay_integer_and_bn_stats_are_averaged(tmp_path, data_dir):
    cfg = tiny_cfg(tmp_path, data_dir)
    server = FederatedServer(cfg)
    updates = client_updates(server, (0, 1), 1)
    server.apply_updates(server.task.round_context(1), updates)
    counters = [k for k in server.state if k.endswith("num_batches_tracked")]
    assert counters
    for key in counters:
        assert server.state[key].dtype == torch.int64
        assert server.state[key].item() == updates[0].state[key].item()  # equal sizes -> same count
    mean_key = next(k for k in server.state if k.endswith("running_mean"))
    expected = (updates[0].state[mean_key].double() + updates[1].state[mean_key].double()) / 2
    torch.testing.assert_close(server.state[mean_key].double(), expected)


def test_console_warns_once_when_a_layer_collapses():
    import logging

    from sparsyfed.callbacks.console import ConsoleProgress

    console = ConsoleProgress()
    console.total_rounds = 5
    seen: list[str] = []
    handler = logging.Handler()
    handler.emit = lambda record: seen.append(record.getMessage())
    console.logger.addHandler(handler)
    row = {
        "round": 3,
        "accuracy": 0.5,
        "loss": 1.0,
        "sparsity_prunable": 0.9,
        "uplink_bytes": 1,
        "downlink_bytes": 1,
        "round_seconds": 0.1,
        "layer_sparsity": {"a.weight": 0.9, "b.weight": 1.0},
    }
    try:
        console.on_round_end(row, None)
        console.on_round_end(row | {"round": 4}, None)
    finally:
        console.logger.removeHandler(handler)
    warnings = [m for m in seen if "100% sparse" in m]
    assert len(warnings) == 1 and "b.weight" in warnings[0]


def test_federated_evaluation_uses_client_test_splits(tmp_path, data_dir):
    cfg = tiny_cfg(tmp_path, data_dir, "rounds=2", "fed_eval_clients=2")
    run_inprocess(cfg)
    rows = read_rows(cfg)[1:]
    task = get_task(cfg)
    seen = []
    for r in rows:
        clients = r["fed_eval_clients"]
        assert len(clients) == 2
        seen.append(clients)
        assert r["fed_eval_examples"] == sum(len(task.test_partitions[p]) for p in clients)
        assert 0.0 <= r["fed_accuracy"] <= 1.0 and np.isfinite(r["fed_loss"])
        assert 0 < r["fed_eval_downlink_bytes"] <= 2 * r["downlink_dense_bytes"] / 3
    # The evaluation sampler is seeded apart from the training sampler.
    again = tiny_cfg(tmp_path / "again", data_dir, "rounds=2", "fed_eval_clients=2")
    run_inprocess(again)
    assert [r["fed_eval_clients"] for r in read_rows(again)[1:]] == seen
    stats = json.loads((tmp_path / "run" / "partitions.json").read_text())
    assert stats["sizes"] == [len(p) for p in task.partitions]
    assert stats["train"]["num_clients"] == stats["test"]["num_clients"] == 8
    counts = stats["test"]["sample_counts"]  # LDA: round-robin sizes, every sample
    assert sum(counts) == stats["test"]["num_samples"] and max(counts) - min(counts) == 1
