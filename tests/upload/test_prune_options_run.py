"""prune_scope, prune_layers and aggregation=nz_mean on real client rounds and a real run."""

from __future__ import annotations

import pytest
import torch
from helpers import client_updates, make_cfg, read_rows
from inprocess_grid import run_inprocess

from sparsyfed.core.server import FederatedServer
from sparsyfed.core.task import get_task
from sparsyfed.methods.aggregate import fedavg_pseudo_gradients


def zeros(t: torch.Tensor) -> int:
    return int((t == 0).sum())


@pytest.mark.parametrize("method", ["sparsyfed", "topk"])
def test_layerwise_skip_first_last_uploads_of_real_clients(tmp_path, data_dir, method):
    cfg = make_cfg(
        tmp_path,
        data_dir,
        f"method={method}",
        "sparsity=0.9",
        "prune_scope=layerwise",
        "prune_layers=skip_first_last",
    )
    server = FederatedServer(cfg)
    keys = get_task(cfg).prunable_keys
    assert len(keys) >= 3
    for update in client_updates(server, [0, 1], 1):
        state = update.state
        assert zeros(state[keys[0]]) == 0 and zeros(state[keys[-1]]) == 0  # dense stem, classifier
        for key in keys[1:-1]:
            assert zeros(state[key]) == round(0.9 * state[key].numel())
        # SparsyFed's activation keep fraction follows the received (dense) layers: 1 in round 1.
        if method == "sparsyfed":
            keep = update.metrics.value("act_keep_fraction")
            assert all(v == pytest.approx(1.0) for v in keep.values())


def test_skip_first_last_run_reports_the_sparsity_of_the_pruned_layers(tmp_path, data_dir):
    cfg = make_cfg(
        tmp_path,
        data_dir,
        "method=sparsyfed",
        "sparsity=0.9",
        "rounds=2",
        "prune_layers=skip_first_last",
    )
    run_inprocess(cfg)
    rows = read_rows(cfg)
    task = get_task(cfg)
    keys = task.prunable_keys
    numel = {k: v.numel() for k, v in task.initial_state().items()}
    middle = keys[1:-1]
    for row in rows[1:]:
        layers = row["layer_sparsity"]
        assert layers[keys[0]] == 0.0 and layers[keys[-1]] == 0.0
        pruned = sum(layers[k] * numel[k] for k in middle) / sum(numel[k] for k in middle)
        assert row["sparsity_pruned"] == pytest.approx(pruned)
        # The global model is the union of uploads at S over the middle layers.
        assert 0.5 < row["sparsity_pruned"] <= 0.9 + 1e-9
        assert row["sparsity_prunable"] < row["sparsity_pruned"]
    default = make_cfg(tmp_path / "d", data_dir, "method=sparsyfed", "sparsity=0.9", "rounds=1")
    run_inprocess(default)
    assert "sparsity_pruned" not in read_rows(default)[1]  # only where it differs


def test_nz_mean_global_model_is_the_mean_over_the_holders(tmp_path, data_dir):
    cfg = make_cfg(tmp_path, data_dir, "method=topk", "sparsity=0.9", "aggregation=nz_mean")
    server = FederatedServer(cfg)
    keys = get_task(cfg).prunable_keys
    previous = {k: v.clone() for k, v in server.state.items()}
    updates = client_updates(server, [0, 1, 2], 1)
    server.apply_updates(get_task(cfg).round_context(1), updates)
    states, n = [u.state for u in updates], [u.num_examples for u in updates]
    for key in keys:
        stacked = torch.stack([s[key].double() for s in states])
        w = torch.tensor(n, dtype=torch.float64).view(-1, *[1] * (stacked.dim() - 1))
        holders = (w * (stacked != 0)).sum(0)
        expected = torch.where(holders > 0, (w * stacked).sum(0) / holders.clamp_min(1), 0.0)
        torch.testing.assert_close(server.state[key].double(), expected, rtol=1e-6, atol=1e-7)
    # Non-prunable tensors (biases, BatchNorm) keep the plain weighted mean.
    plain = fedavg_pseudo_gradients(previous, states, n)
    for key in set(server.state) - set(keys):
        torch.testing.assert_close(server.state[key], plain[key])
    # The union of the uploads is kept, at larger magnitudes than FedAvg's diluted mean.
    assert any((server.state[k].abs() > plain[k].abs() + 1e-6).any() for k in keys) and all(
        torch.equal(server.state[k] != 0, plain[k] != 0) for k in keys
    )
