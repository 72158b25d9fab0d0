"""Top-K, SparsyFed ablations, FedAvgM, FedProx and the delta_topk upload: defining properties."""

from __future__ import annotations

import pytest
import torch
from helpers import make_cfg, read_rows, round_ctx
from inprocess_grid import run_inprocess

from sparsyfed.config import compose_config, load_config
from sparsyfed.core.client import run_client_round
from sparsyfed.core.server import FederatedServer
from sparsyfed.core.task import Task
from sparsyfed.methods import ClientUpdate, build_method
from sparsyfed.nn.layers import sparse_layers


def cfg_for(tmp_path, data_dir, *extra: str):
    return make_cfg(tmp_path, data_dir, "rounds=4", *extra)


def client_round(task: Task, pid: int, server_round: int, received: dict):
    """Upload and metrics of one real client round."""
    upload, _, metrics = run_client_round(task, task.round_context(server_round), pid, received)
    return upload, metrics


def sparse_received(cfg) -> tuple[Task, dict]:
    """A global model after one round: sparse prunable weights."""
    task = Task(cfg)
    server = FederatedServer(cfg)
    upload, _ = client_round(task, 1, 1, server.global_arrays())
    return task, upload


def test_topk_zeros_regrow_in_local_training_sparsyfed_zeros_do_not(tmp_path, data_dir):
    topk = cfg_for(tmp_path, data_dir, "method=topk", "sparsity=0.9")
    task, received = sparse_received(topk)
    _, m = client_round(task, 0, 2, received)
    assert m.value("local_regrowth") > 0  # pruned weights came back during training
    assert m.value("local_regrowth_after_prune") >= 0

    sparsyfed = cfg_for(tmp_path, data_dir, "method=sparsyfed", "sparsity=0.9")
    task, received = sparse_received(sparsyfed)
    _, m = client_round(task, 0, 2, received)
    assert m.value("local_regrowth") == 0 and m.value("local_regrowth_after_prune") == 0


def test_topk_global_sparsity_falls_below_target_sparsyfed_holds(tmp_path, data_dir):
    topk = cfg_for(tmp_path / "t", data_dir, "method=topk", "sparsity=0.9")
    sparsyfed = cfg_for(tmp_path / "s", data_dir, "method=sparsyfed", "sparsity=0.9")
    run_inprocess(topk)
    run_inprocess(sparsyfed)
    t_rows, s_rows = read_rows(topk)[1:], read_rows(sparsyfed)[1:]
    assert all(r["sparsity_prunable"] < 0.9 for r in t_rows)
    assert sum(r["global_regrowth"] for r in t_rows[1:]) > 0
    assert all(r["global_regrowth"] == 0 for r in s_rows[1:])
    assert s_rows[-1]["sparsity_prunable"] > t_rows[-1]["sparsity_prunable"]
    for r in s_rows:  # the mask metrics are logged every round
        assert 0.0 <= r["client_mask_iou"] <= 1.0 and 0.0 <= r["global_mask_iou"] <= 1.0
        assert r["train_flops"] <= r["train_flops_dense"]


def test_sparsyfed_na_prunes_no_activations_and_sparsefedpp_uses_its_floor(tmp_path, data_dir):
    na = cfg_for(tmp_path, data_dir, "method=sparsyfed_na", "sparsity=0.9")
    task, received = sparse_received(na)
    _, m = client_round(task, 0, 2, received)
    keeps = list(m.value("act_keep_fraction").values())
    assert keeps and all(v == 1.0 for v in keeps)

    pp = cfg_for(tmp_path, data_dir, "method=sparsefedpp", "sparsity=0.999")
    assert pp.method.options["act_keep_floor"] == 0.01
    task = Task(pp)
    model = task.new_model()
    assert all(layer.act_keep_floor == 0.01 for _, layer in sparse_layers(model))
    _, received = sparse_received(pp)
    _, m = client_round(task, 0, 2, received)
    keeps = list(m.value("act_keep_fraction").values())
    assert min(keeps) == pytest.approx(0.01)


def test_delta_topk_uploads_a_sparse_pseudo_gradient_and_server_applies_its_mean(
    tmp_path, data_dir
):
    cfg = cfg_for(tmp_path, data_dir, "method=sparsyfed", "sparsity=0.9", "upload=delta_topk")
    server = FederatedServer(cfg)
    received = server.global_arrays()
    updates = []
    ctx = server.task.round_context(1)
    for pid in (2, 5):
        delta, n, _ = run_client_round(server.task, ctx, pid, received)
        prunable = server.task.prunable_keys
        numel = sum(delta[k].size for k in prunable)
        assert sum(int((delta[k] == 0).sum()) for k in prunable) == round(0.9 * numel)
        updates.append(ClientUpdate(pid, {k: torch.from_numpy(v) for k, v in delta.items()}, n))
    before = {k: v.clone() for k, v in server.state.items()}
    key = server.task.prunable_keys[1]
    expected = before[key] + 0.5 * (updates[0].state[key] + updates[1].state[key])
    server.apply_updates(ctx, updates)
    torch.testing.assert_close(server.state[key], expected)


def test_fedavgm_applies_server_momentum():
    cfg = load_config(compose_config(["method=fedavgm", "server_momentum=0.5", "server_lr=1.0"]))
    method = build_method(cfg)
    ctx = round_ctx(1)
    g0 = {"w": torch.zeros(2)}
    up = [ClientUpdate(0, {"w": torch.tensor([1.0, 2.0])}, 1)]
    g1 = method.aggregate(g0, up, ctx)  # v1 = delta = [1, 2]
    torch.testing.assert_close(g1["w"], torch.tensor([1.0, 2.0]))
    g2 = method.aggregate(g1, [ClientUpdate(0, {"w": g1["w"] + 1.0}, 1)], ctx)  # v2 = 0.5 v1 + 1
    torch.testing.assert_close(g2["w"], g1["w"] + torch.tensor([1.5, 2.0]))
    # The momentum buffer is the method's checkpointed state: a restored copy continues alike.
    restored = build_method(cfg)
    restored.load_state(method.state())
    step = [ClientUpdate(0, {"w": g2["w"] - 1.0}, 1)]
    torch.testing.assert_close(restored.aggregate(g2, step, ctx), method.aggregate(g2, step, ctx))
    # Running statistics are averaged, never pushed by momentum (a variance must stay >= 0).
    var = {"bn.running_var": torch.tensor([1.0])}
    method.aggregate(var, [ClientUpdate(0, {"bn.running_var": torch.tensor([0.1])}, 1)], ctx)
    out = method.aggregate(var, [ClientUpdate(0, {"bn.running_var": torch.tensor([0.1])}, 1)], ctx)
    torch.testing.assert_close(out["bn.running_var"], torch.tensor([0.1]))


def test_fedprox_pulls_local_weights_toward_the_received_model(tmp_path, data_dir):
    plain = cfg_for(tmp_path, data_dir, "method=fedavg")
    prox = cfg_for(tmp_path, data_dir, "method=fedavg", "prox_mu=5.0")
    received = FederatedServer(plain).global_arrays()
    drift = {}
    for name, cfg in (("plain", plain), ("prox", prox)):
        upload, _ = client_round(Task(cfg), 0, 1, received)
        drift[name] = sum(
            float(((torch.from_numpy(upload[k]) - torch.from_numpy(received[k])) ** 2).sum())
            for k in Task(cfg).prunable_keys
        )
    assert drift["prox"] < 0.7 * drift["plain"]


def test_spectral_exponent_is_deterministic_and_matches_its_formula():
    from sparsyfed.nn.layers import spectral_exponent

    w = torch.randn(16, 8, 3, generator=torch.Generator().manual_seed(0))
    e1, e2 = spectral_exponent(w), spectral_exponent(w.clone())
    assert e1 == e2 > 1.0
    v = w.abs().reshape(16, -1).double()
    sigma_max = torch.linalg.matrix_norm(v, ord=2)
    # One power iteration under-estimates sigma_max, so the exponent is at least the exact one.
    assert e1 >= 1.0 + float((v / sigma_max).mean()) - 1e-12
    assert e1 <= 1.0 + float((v / (0.5 * sigma_max)).mean())
    assert spectral_exponent(torch.zeros(4, 4)) == 1.0


def test_spectral_variant_runs_and_keeps_the_mask_frozen(tmp_path, data_dir):
    cfg = cfg_for(tmp_path, data_dir, "method=sparsyfed_spectral", "sparsity=0.9")
    assert cfg.beta == -1.0
    run_inprocess(cfg)
    r = read_rows(cfg)[1:]
    assert all(row["global_regrowth"] == 0 for row in r[1:])
    assert all(row["local_regrowth"] == 0 for row in r)


def test_augmentation_changes_the_batches_but_is_seeded():
    from sparsyfed.core.training import LocalTraining, train_sgd

    torch.manual_seed(0)
    x = torch.randn(8, 3, 32, 32)
    y = torch.arange(8) % 4

    def run(augment: bool, seed: int) -> torch.Tensor:
        model = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(3 * 32 * 32, 4))
        torch.nn.init.zeros_(model[1].weight)
        torch.nn.init.zeros_(model[1].bias)
        train_sgd(model, x, y, LocalTraining(lr=0.1, batch_size=4, seed=seed, augment=augment))
        return model[1].weight.detach().clone()

    assert torch.equal(run(True, 1), run(True, 1))
    assert not torch.equal(run(True, 1), run(False, 1))
    assert not torch.equal(run(True, 1), run(True, 2))
