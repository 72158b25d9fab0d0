"""End-to-end properties of SparsyFed through the real ClientApp and strategy (no Ray)."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
import torch
from flwr.app import Array
from helpers import make_cfg, read_rows
from inprocess_grid import run_inprocess

from sparsyfed.client import run_client_round
from sparsyfed.server import FederatedServer
from sparsyfed.sparse.payload import nonzero_count
from sparsyfed.task import get_task


def tiny_cfg(tmp_path, data_dir, *extra: str) -> dict:
    return make_cfg(tmp_path, data_dir, "rounds=5", *extra)


def test_upload_prunable_weights_have_exactly_target_sparsity(tmp_path, data_dir):
    cfg = tiny_cfg(tmp_path, data_dir, "sparsity=0.9")
    server = FederatedServer(cfg)
    task = get_task(cfg)
    upload, metrics = run_client_round(task, 2, 1, server.global_arrays())
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
    assert metrics["num_examples"] == len(task.partitions[2])


def test_keep_fraction_equals_one_minus_received_layer_sparsity(tmp_path, data_dir):
    cfg = tiny_cfg(tmp_path, data_dir, "sparsity=0.8")
    server = FederatedServer(cfg)
    task = get_task(cfg)
    # Round 1: the initial model is dense, so nothing is pruned (keep 1.0).
    _, m1 = run_client_round(task, 0, 1, server.global_arrays())
    assert all(v == 1.0 for k, v in m1.items() if k.startswith("act_keep/"))
    upload, _ = run_client_round(task, 1, 1, server.global_arrays())
    received = upload  # a sparse model, as a client receives after round 1
    _, m2 = run_client_round(task, 0, 2, received)
    keep = {k.removeprefix("act_keep/"): v for k, v in m2.items() if k.startswith("act_keep/")}
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
    assert all(len(set(r["uplink_nnz_per_client"])) >= 1 for r in rows)

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
    assert r["uplink_bytes"] == sum(r["uplink_bytes_per_client"])
    assert r["uplink_bytes"] < r["uplink_dense_bytes"] / 4
    assert r["uplink_bound_bytes"] <= r["uplink_bytes"]
    assert r["downlink_bytes"] == 3 * r["downlink_bytes_per_client"]
    assert r["downlink_bound_bytes"] <= r["downlink_bytes"]
    assert set(r["uplink_codecs"]) <= {"dense", "bitmap", "coo", "ef"}
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


def _corrupt_payload(reply):
    record = reply.content["arrays"]
    key = next(iter(record))
    record[key] = Array(dtype="uint8", shape=(3,), stype=record[key].stype, data=b"bad")
    return reply


def _nonfinite_payload(reply):
    from sparsyfed.records import blobs_to_record, record_to_blobs
    from sparsyfed.sparse.payload import decode_state, encode_state

    state = decode_state(record_to_blobs(reply.content["arrays"]))
    key = next(k for k, v in state.items() if v.dtype.kind == "f")
    state[key] = np.full_like(state[key], np.nan)
    reply.content["arrays"] = blobs_to_record(encode_state(state))
    return reply


@pytest.mark.parametrize("corruption", [_corrupt_payload, _nonfinite_payload])
def test_malformed_update_is_dropped_and_round_completes(tmp_path, data_dir, corruption):
    cfg = tiny_cfg(tmp_path, data_dir, "rounds=2")
    corrupt = {pid: corruption for pid in range(8)}
    first_round = FederatedServer(cfg).sample_clients()
    corrupt = {first_round[0]: corruption}
    run_inprocess(cfg, corrupt=corrupt)
    rows = read_rows(cfg)
    assert rows[1]["num_updates"] == 2
    assert len(rows[1]["dropped_updates"]) == 1
    assert np.isfinite(rows[-1]["accuracy"])


def test_batchnorm_counters_stay_integer_and_bn_stats_are_averaged(tmp_path, data_dir):
    from sparsyfed.methods import ClientUpdate

    cfg = tiny_cfg(tmp_path, data_dir)
    server = FederatedServer(cfg)
    task = get_task(cfg)
    updates = []
    for pid in (0, 1):
        upload, metrics = run_client_round(task, pid, 1, server.global_arrays())
        updates.append(
            ClientUpdate(
                pid, {k: torch.from_numpy(v) for k, v in upload.items()}, metrics["num_examples"]
            )
        )
    server.apply_updates(1, updates)
    counters = [k for k in server.state if k.endswith("num_batches_tracked")]
    assert counters
    for key in counters:
        assert server.state[key].dtype == torch.int64
        assert server.state[key].item() == updates[0].state[key].item()  # equal sizes -> same count
    mean_key = next(k for k in server.state if k.endswith("running_mean"))
    expected = (updates[0].state[mean_key].double() + updates[1].state[mean_key].double()) / 2
    torch.testing.assert_close(server.state[mean_key].double(), expected)


def test_recorder_warns_once_when_a_layer_collapses(tmp_path, data_dir):
    import logging

    from sparsyfed.results import RunRecorder

    cfg = tiny_cfg(tmp_path, data_dir)
    recorder = RunRecorder(tmp_path / "rec", cfg)
    seen: list[str] = []
    handler = logging.Handler()
    handler.emit = lambda record: seen.append(record.getMessage())
    recorder.logger.addHandler(handler)
    try:
        row = {"round": 3, "layer_sparsity": {"a.weight": 0.9, "b.weight": 1.0}}
        recorder.warn_empty_layers(row)
        recorder.warn_empty_layers(row | {"round": 4})
    finally:
        recorder.logger.removeHandler(handler)
    assert len(seen) == 1 and "b.weight" in seen[0] and "100% sparse" in seen[0]
