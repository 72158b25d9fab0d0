"""Round metrics of real client rounds, the server and the run summary (docs/methods.md 17)."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from helpers import client_updates, make_cfg, read_rows

from sparsyfed.core.client import _load, run_client_round, support_change_metrics
from sparsyfed.core.executor import LocalExecutor
from sparsyfed.core.server import FederatedServer
from sparsyfed.core.task import Task
from sparsyfed.metrics.values import Metric, Metrics, Reduction, reduce_clients
from sparsyfed.run.session import execute, plan


def _round(task: Task, pid: int, server_round: int, received: dict):
    return run_client_round(task, task.round_context(server_round), pid, received)


def _sparse_received(cfg) -> tuple[Task, dict]:
    """A global model after one round: sparse prunable weights."""
    task = Task(cfg)
    upload, _, _ = _round(task, 1, 1, FederatedServer(cfg).global_arrays())
    return task, upload


def _count(mask_a, mask_b) -> int:
    return int(sum(torch.count_nonzero(a & b) for a, b in zip(mask_a, mask_b, strict=True)))


# ----------------------------------------------------------------------------- FLOPs


def test_train_flops_use_the_applied_keep_fraction_not_the_realised_density(tmp_path, data_dir):
    # Keep fractions near 0.8 exceed the ReLU outputs' own density (about 0.5).
    cfg = make_cfg(tmp_path, data_dir, "method=sparsyfed", "sparsity=0.2")
    task, received = _sparse_received(cfg)
    _, _, m = _round(task, 0, 2, received)
    keep, density = m.value("act_keep_fraction"), m.value("act_density")
    flops, first = task.layer_flops, next(iter(task.layer_flops))
    expected = 0.0
    for name, f in flops.items():
        w = received[f"{name}.weight"]
        d_w = np.count_nonzero(w) / w.size  # beta > 1: zeros stay zero in training
        k = max(d_w, 1e-7)  # max(1 - s_l, floor)
        assert keep[name] == pytest.approx(k)
        expected += f * (d_w + (0.0 if name == first else d_w) + k)
    expected *= m.value("samples_trained")
    assert m.value("train_flops") == pytest.approx(expected, rel=1e-12)
    # The realised density of the saved input is its own metric (ReLU zeros lower it).
    assert any(density[n] < keep[n] - 0.05 for n in keep)


def test_dense_round_gives_exactly_dense_flops_and_reports_relu_density(tmp_path, data_dir):
    cfg = make_cfg(tmp_path, data_dir, "method=sparsyfed", "sparsity=0.5")
    task = Task(cfg)
    _, _, m = _round(task, 0, 1, FederatedServer(cfg).global_arrays())  # dense received model
    assert set(m.value("act_keep_fraction").values()) == {1.0}
    assert m.value("train_flops") == m.value("train_flops_dense")
    assert min(m.value("act_density").values()) < 0.9  # ReLU-fed layers save sparse inputs


# -------------------------------------------------------------- regrowth, deactivation


def test_local_regrowth_is_sample_weighted_over_clients():
    received = {"w": torch.tensor([0.0, 0.0, 1.0, 1.0])}
    a = support_change_metrics(received, {"w": torch.tensor([1.0, 0.0, 1.0, 0.0])}, ["w"], 30)
    b = support_change_metrics(received, {"w": torch.tensor([1.0, 1.0, 0.0, 0.0])}, ["w"], 10)
    assert a.value("local_regrowth") == 1 and b.value("local_regrowth") == 2
    reduced = reduce_clients([(4, b), (1, a)])
    assert reduced["local_regrowth"] == (30 * 1 + 10 * 2) / 40
    assert reduced["local_deactivated"] == (30 * 1 + 10 * 2) / 40
    assert reduced["local_deactivated_per_client"] == {"1": 1, "4": 2}


def test_weighted_mean_metric_round_trips_and_is_checked():
    m = Metrics().weighted_mean("x", 2.0, 3).mean("y", 1.0)
    assert Metrics.from_json(m.to_json()) == m
    assert m["x"] == Metric(2.0, Reduction.WEIGHTED_MEAN, 3.0)
    with pytest.raises(ValueError, match="positive weight"):
        Metrics().weighted_mean("x", 1.0, 0)
    with pytest.raises(ValueError, match="weight"):
        Metric(1.0, Reduction.MEAN, 2.0)


@pytest.mark.parametrize("upload", ["weights", "delta_topk"])
def test_client_deactivation_and_regrowth_against_the_received_model(tmp_path, data_dir, upload):
    # ZeroFL zeroes weights in place during training, so deactivation after training is > 0.
    cfg = make_cfg(tmp_path, data_dir, "method=zerofl", f"upload={upload}")  # S = 0.95
    task = Task(cfg)
    received = FederatedServer(cfg).global_arrays()
    upload_arrays, n, m = _round(task, 0, 1, received)
    ctx = task.round_context(1)
    model = _load(task, received)
    task.method.train(model, *task.client_data(0), task.local_training(ctx, 0), ctx)
    trained = model.state_dict()
    keys = task.prunable_keys
    before = [torch.from_numpy(received[k]) != 0 for k in keys]
    rebuilt = [upload_arrays[k] + (received[k] if upload == "delta_topk" else 0) for k in keys]
    after_train = [trained[k] != 0 for k in keys]
    after_prune = [torch.from_numpy(np.asarray(v)) != 0 for v in rebuilt]
    lost_train = _count(before, [~a for a in after_train])
    lost_prune = _count(before, [~a for a in after_prune])
    assert lost_train > 0 and lost_prune > 0
    assert m.value("local_deactivated_per_client") == lost_train
    assert m.value("local_deactivated_after_prune_per_client") == lost_prune
    assert m["local_deactivated"] == Metric(float(lost_train), Reduction.WEIGHTED_MEAN, float(n))
    grown = _count([~b for b in before], after_prune)
    assert m["local_regrowth_after_prune"] == Metric(float(grown), Reduction.WEIGHTED_MEAN, n)


# ------------------------------------------------------------------------------ server


def test_global_vs_client_mask_iou_per_client_in_partition_order(tmp_path, data_dir):
    cfg = make_cfg(tmp_path, data_dir, "method=topk", "sparsity=0.7")
    server = FederatedServer(cfg)
    updates = client_updates(server, [5, 2, 0], 1)
    masks = {u.partition_id: [u.state[k] != 0 for k in server.task.prunable_keys] for u in updates}
    out = server.apply_updates(server.task.round_context(1), updates)
    new = [server.state[k] != 0 for k in server.task.prunable_keys]
    expected = {}
    for pid in sorted(masks):
        inter = _count(masks[pid], new)
        union = _count([~a for a in masks[pid]], [~b for b in new])
        union = sum(a.numel() for a in new) - union
        expected[str(pid)] = inter / union
    per_client = out["global_client_mask_iou_per_client"]
    assert list(per_client) == ["0", "2", "5"]
    assert per_client == pytest.approx(expected)
    # FedAvg's global support is the union of the uploads' supports: IoU = |upload| / |global|.
    assert 0.0 < min(per_client.values()) < 1.0
    assert out["global_client_mask_iou"] == float(np.mean(list(per_client.values())))


def test_mask_metrics_measured_later_are_those_of_their_own_round(tmp_path, data_dir):
    # The run loop sends the next round before it measures the masks (core/run.py).
    cfg = make_cfg(tmp_path, data_dir, "method=topk", "sparsity=0.7")
    at_once, later = FederatedServer(cfg), FederatedServer(cfg)
    ctx = at_once.task.round_context
    expected = at_once.apply_updates(ctx(1), client_updates(at_once, [5, 2, 0], 1))
    applied = later.aggregate(ctx(1), client_updates(later, [5, 2, 0], 1))
    round_one = {k: v.clone() for k, v in later.state.items()}
    later.aggregate(ctx(2), client_updates(later, [1, 3], 2))  # the global model moves on
    assert any(not torch.equal(later.state[k], round_one[k]) for k in round_one)
    assert later.mask_metrics(applied) == expected
    assert expected["global_deactivated"] > 0  # dense to sparse: a measure that can differ


# ----------------------------------------------------------------------------- summary


def test_summary_downlink_total_includes_the_federated_evaluation(tmp_path, data_dir):
    cfg = make_cfg(tmp_path, data_dir, "rounds=2", "fed_eval_clients=2")
    summary = execute(cfg, LocalExecutor(cfg), plan(cfg))
    rows = read_rows(cfg)[1:]
    train = sum(r["downlink_bytes"] for r in rows)
    evaluation = sum(r["fed_eval_downlink_bytes"] for r in rows)
    for r in rows:  # the evaluation sends the new model, which the next round sends again
        assert r["fed_eval_downlink_dense_bytes"] == 2 * r["downlink_dense_bytes"] // len(
            r["clients"]
        )
    assert evaluation > 0
    assert summary["downlink_train_bytes_total"] == train
    assert summary["fed_eval_downlink_bytes_total"] == evaluation
    assert summary["downlink_bytes_total"] == train + evaluation
    dense = sum(r["downlink_dense_bytes"] + r["fed_eval_downlink_dense_bytes"] for r in rows)
    assert summary["downlink_dense_bytes_total"] == dense


def test_train_loss_and_accuracy_are_sample_weighted_over_clients(tmp_path, data_dir):
    """The server's train_loss is the official sample-weighted mean of the clients' values."""
    cfg = make_cfg(tmp_path, data_dir, "method=fedavg", "partition.scheme=dirichlet")
    task = Task(cfg)
    received = FederatedServer(cfg).global_arrays()
    sizes = [len(task.partitions[pid]) for pid in range(cfg.num_clients)]
    small, large = sizes.index(min(s for s in sizes if s >= 4)), sizes.index(max(sizes))
    results = [_round(task, pid, 1, received) for pid in (small, large)]
    reduced = reduce_clients(
        [(pid, m) for pid, (_, _, m) in zip((small, large), results, strict=True)]
    )
    for name in ("train_loss", "train_accuracy"):
        values = [m.value(name) for _, _, m in results]
        weights = [m[name].weight for _, _, m in results]
        assert weights[0] != weights[1]  # the test needs clients of different sizes
        expected = (values[0] * weights[0] + values[1] * weights[1]) / sum(weights)
        assert reduced[name] == pytest.approx(expected, rel=1e-12)
        assert reduced[name] != pytest.approx(np.mean(values), rel=1e-9)
