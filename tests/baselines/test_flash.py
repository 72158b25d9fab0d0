"""FLASH and FLASH-SPDST: round-1 mask construction and the fixed mask afterwards."""

from __future__ import annotations

import pytest
import torch
from helpers import client_updates, make_cfg, make_plain, read_rows, round_ctx
from inprocess_grid import run_inprocess

from baselines.flash import Flash, keep_counts
from sparsyfed.config import ConfigError, load_config
from sparsyfed.core.client import run_client_round
from sparsyfed.core.server import FederatedServer
from sparsyfed.core.task import get_task
from sparsyfed.core.training import steps_per_epoch
from sparsyfed.methods import ClientUpdate, MethodSettings
from sparsyfed.methods.aggregate import fedavg_pseudo_gradients
from sparsyfed.sparse.masks import DynamicSparsity, MaskedParameters, allocate_counts


def tiny_cfg(tmp_path, data_dir, *extra: str):
    return make_cfg(tmp_path, data_dir, *extra)


def round_one_updates(server: FederatedServer, pids) -> list[ClientUpdate]:
    return client_updates(server, pids, 1)


def _sparse(values, nnz_positions):
    t = torch.zeros_like(values)
    t.view(-1)[nnz_positions] = values.view(-1)[nnz_positions]
    return t


FLASH_OPTIONS = {"warmup_epochs": 1, "round1_mask": True, "zero_k": "keep"}


# ------------------------------------------------------------------ unit tests
@pytest.mark.parametrize("zero_k", ["keep", "zero"])
def test_round1_server_keeps_floor_size_times_mean_density_per_array(zero_k):
    g = torch.Generator().manual_seed(0)
    shapes = {"a.weight": (4, 5), "b.weight": (10,), "c.weight": (2, 3), "c.bias": (3,)}
    global_state = {k: torch.randn(s, generator=g) for k, s in shapes.items()}
    global_state["bn.num_batches_tracked"] = torch.tensor(0)
    # client 1 (n=1): a 8 nnz, b 1 nnz, c dense; client 2 (n=3): a 13 nnz, b 0 nnz, c dense.
    nnz = {1: {"a.weight": 8, "b.weight": 1}, 2: {"a.weight": 13, "b.weight": 0}}
    updates = []
    for pid, n in ((1, 1), (2, 3)):
        state = {}
        for key, shape in shapes.items():
            dense = torch.randn(shape, generator=g)
            if key in nnz[pid]:
                order = torch.randperm(dense.numel(), generator=g)
                dense = _sparse(dense, order[: nnz[pid][key]])
            state[key] = dense
        state["bn.num_batches_tracked"] = torch.tensor(5 * n)
        updates.append(ClientUpdate(pid, state, n))

    options = {**FLASH_OPTIONS, "zero_k": zero_k}
    method = Flash(MethodSettings("flash", sparsity=0.5, options=options))
    out = method.aggregate(global_state, updates, round_ctx(1))
    avg = fedavg_pseudo_gradients(global_state, [u.state for u in updates], [1, 3])

    expected = {"a.weight": (1 * 8 + 3 * 13) // 4, "b.weight": 0, "c.weight": 6, "c.bias": 3}
    assert expected["a.weight"] == 11  # 11.75 rounds down
    assert keep_counts(updates, list(expected)) == expected
    for key, k in expected.items():
        if k == 0:
            continue
        kept = out[key] != 0
        assert int(kept.sum()) == k, key
        assert not torch.signbit(out[key][~kept]).any()  # +0.0
        torch.testing.assert_close(out[key][kept], avg[key][kept])
        if 0 < k < out[key].numel():
            assert avg[key][kept].abs().min() >= avg[key][~kept].abs().max()
    # k = 0 (client 1 kept one entry, client 2 none): the official threshold keeps the whole
    # average (its one non-zero entry), zero_k=zero empties the array.
    assert int(torch.count_nonzero(avg["b.weight"])) == 1
    if zero_k == "keep":
        assert torch.equal(out["b.weight"], avg["b.weight"])
    else:
        assert torch.equal(out["b.weight"], torch.zeros(10))
    torch.testing.assert_close(out["c.weight"], avg["c.weight"])  # all dense: untouched
    assert out["bn.num_batches_tracked"].dtype == torch.int64
    assert out["bn.num_batches_tracked"].item() == avg["bn.num_batches_tracked"].item()

    # Later rounds (the round context says so): plain FedAvg, no prune.
    later = method.aggregate(global_state, updates, round_ctx(2))
    for key in shapes:
        torch.testing.assert_close(later[key], avg[key])


def test_allocate_counts_is_exact_proportional_and_capped():
    counts = allocate_counts({"a": 1, "b": 1, "c": 8}, {"a": 100, "b": 100, "c": 5}, 25)
    assert counts == {"a": 10, "b": 10, "c": 5}
    counts = allocate_counts({"a": 1, "b": 1, "c": 1}, {"a": 10, "b": 10, "c": 10}, 10)
    assert sum(counts.values()) == 10 and max(counts.values()) - min(counts.values()) == 1
    assert allocate_counts({"a": 0, "b": 0}, {"a": 3, "b": 1}, 100) == {"a": 3, "b": 1}


def test_masked_parameters_zero_gradients_values_and_momentum():
    layer = torch.nn.Linear(6, 4)
    mask = torch.rand(4, 6, generator=torch.Generator().manual_seed(1)) > 0.5
    masking = MaskedParameters({"w": layer.weight}, {"w": mask})
    opt = torch.optim.SGD(layer.parameters(), lr=0.1, momentum=0.9, weight_decay=0.1)
    for _ in range(3):
        opt.zero_grad()
        layer(torch.randn(8, 6)).pow(2).sum().backward()
        assert torch.all(layer.weight.grad[~mask] == 0)
        opt.step()
        masking.after_step(layer)
    assert torch.all(opt.state[layer.weight]["momentum_buffer"][~mask] == 0)
    assert torch.equal(layer.weight.detach() != 0, mask)
    masking.close()


def test_dynamic_sparsity_keeps_the_count_and_moves_the_mask():
    g = torch.Generator().manual_seed(0)
    weights = {
        "a": torch.nn.Parameter(torch.randn(20, 10)),
        "b": torch.nn.Parameter(torch.ones(50)),
    }
    masks = {"a": torch.rand(20, 10, generator=g) < 0.2, "b": torch.rand(50, generator=g) < 0.2}
    total = sum(int(m.sum()) for m in masks.values())
    for redistribution in ("none", "magnitude"):
        dst = DynamicSparsity(
            weights,
            {k: m.clone() for k, m in masks.items()},
            prune_rate=0.25,
            update_steps={1},
            total_steps=10,
            redistribution=redistribution,
            generator=torch.Generator().manual_seed(1),
        )
        before = {k: ~d.clone() for k, d in dst.dead.items()}
        dst.after_step(None)
        after = {k: ~d for k, d in dst.dead.items()}
        assert sum(int(m.sum()) for m in after.values()) == total
        assert any(not torch.equal(before[k], after[k]) for k in after)
        if redistribution == "none":
            assert all(int(before[k].sum()) == int(after[k].sum()) for k in after)
        else:  # "b" holds the larger magnitudes (all ones): it gains regrowth
            assert int(after["b"].sum()) > int(before["b"].sum())
        dst.close()


def test_flash_rejects_bad_options(tmp_path, data_dir):
    with pytest.raises(ConfigError, match="warmup_epochs"):
        make_cfg(tmp_path, data_dir, "method=flash", "method.warmup_epochs=-1")
    bad = {
        "flash": ("round1_mask=maybe", "zero_k=drop"),
        "flash_spdst": ("mask_layers=linear", "prune_rate_decay=cosine"),
    }
    for method, overrides in bad.items():
        for override in overrides:
            key, value = override.split("=")
            with pytest.raises(ConfigError, match=rf"method\.{key}.*{value}"):
                make_cfg(tmp_path, data_dir, f"method={method}", f"method.{override}")
    for method in ("flash", "flash_spdst"):
        with pytest.raises(ConfigError, match=r"upload=.delta_topk.*supports weights"):
            make_cfg(tmp_path, data_dir, f"method={method}", "upload=delta_topk")
    plain = make_plain(tmp_path, data_dir, "method=flash")
    plain["method"]["warmup_epoch"] = 2
    with pytest.raises(ConfigError, match=r"did you mean method\.warmup_epochs"):
        load_config(plain)


# ------------------------------------------------------------ client / server
def test_round2_clients_upload_the_received_support(tmp_path, data_dir):
    cfg = tiny_cfg(tmp_path, data_dir, "method=flash", "sparsity=0.9", "momentum=0.9", "rounds=4")
    server = FederatedServer(cfg)
    task = get_task(cfg)
    server.apply_updates(task.round_context(1), round_one_updates(server, [0, 1, 2]))
    received = server.global_arrays()
    supports = []
    for pid in (3, 4):
        upload, _, _ = run_client_round(task, task.round_context(2), pid, received)
        supports.append({k: upload[k] != 0 for k in task.parameter_keys})
    for key in task.parameter_keys:  # every parameter, BatchNorm and biases included
        assert (supports[0][key] == (received[key] != 0)).all(), key
        assert (supports[1][key] == supports[0][key]).all(), key


def test_flash_end_to_end_global_mask_is_fixed_after_round_1(tmp_path, data_dir):
    cfg = tiny_cfg(tmp_path, data_dir, "method=flash", "sparsity=0.9", "rounds=4")
    run_inprocess(cfg)
    rows = read_rows(cfg)
    assert rows[0]["sparsity_prunable"] == 0.0
    rows = rows[1:]
    assert [r["round"] for r in rows] == [1, 2, 3, 4]
    task = get_task(cfg)
    shapes = task.new_model().state_dict()
    numel = sum(shapes[k].numel() for k in task.prunable_keys)
    layers = len(task.prunable_keys)
    first = rows[0]
    # Per-array floors lose less than one entry per layer against the clients' exact (1 - S) N.
    assert (
        numel - round(0.9 * numel) - layers <= first["nnz_prunable"] <= numel - round(0.9 * numel)
    )
    for row in rows[1:]:
        assert row["global_regrowth"] == 0
        assert row["nnz_prunable"] == first["nnz_prunable"]
        assert row["layer_sparsity"] == first["layer_sparsity"]
        if row.get("client_mask_iou") is not None:
            assert row["client_mask_iou"] == 1.0


def test_flash_round1_keeps_the_received_zeros(tmp_path, data_dir):
    """As the official fixed_train, round 1 already masks the zeros of the received model."""
    cfg = tiny_cfg(tmp_path, data_dir, "method=flash", "sparsity=0.9")
    task = get_task(cfg)
    received = FederatedServer(cfg).global_arrays()
    zeros = {k: torch.from_numpy(received[k]) == 0 for k in task.parameter_keys}
    # init_weights zeroes the biases; BatchNorm shifts start at 0 (PyTorch default).
    assert zeros["classifier.bias"].all()
    assert any(k.endswith(".bias") and k != "classifier.bias" and zeros[k].all() for k in zeros)
    upload, _, _ = run_client_round(task, task.round_context(1), 0, received)
    for key, zero in zeros.items():
        value = torch.from_numpy(upload[key])
        assert torch.all(value[zero] == 0) and not torch.signbit(value[zero]).any(), key
    trained = [k for k in zeros if not zeros[k].any() and k not in task.prunable_keys]
    assert trained and all(not (upload[k] == received[k]).all() for k in trained)

    # round1_mask=false (dense round 1): those parameters train.
    dense_cfg = tiny_cfg(
        tmp_path, data_dir, "method=flash", "sparsity=0.9", "method.round1_mask=false"
    )
    upload, _, _ = run_client_round(get_task(dense_cfg), task.round_context(1), 0, received)
    assert torch.from_numpy(upload["classifier.bias"]).ne(0).any()


def test_dynamic_sparsity_drops_ceil_rate_times_nnz():
    """FLASH-ORIG prunes ceil(rate * nnz) per layer; linear decay: rate * (1 - t / T)."""
    for decay, total_steps, expected in (("constant", 10, 10 - 3), ("linear", 4, 10 - 2)):
        weight = torch.nn.Parameter(torch.randn(100, generator=torch.Generator().manual_seed(0)))
        mask = torch.zeros(100, dtype=torch.bool)
        mask[:10] = True
        dst = DynamicSparsity(
            {"w": weight},
            {"w": mask},
            prune_rate=0.25,
            update_steps={1},
            total_steps=total_steps,
            decay=decay,
            redistribution="none",
            generator=torch.Generator().manual_seed(1),
        )
        dst.after_step(None)  # constant: ceil(2.5) = 3; linear: ceil(10 * 0.25 * 3/4) = 2
        assert int(torch.count_nonzero(weight)) == expected, decay
        assert int((~dst.dead["w"]).sum()) == 10
        dst.close()


@pytest.mark.parametrize("epochs", [3, 1])
def test_flash_spdst_default_mask_schedule_and_linear_decay(
    tmp_path, data_dir, monkeypatch, epochs
):
    """Defaults: one mask update at the end of every epoch but the last, linearly decayed rate."""
    cfg = tiny_cfg(
        tmp_path, data_dir, "method=flash_spdst", "sparsity=0.9", f"method.stage1_epochs={epochs}"
    )
    task = get_task(cfg)
    seen = []
    update = DynamicSparsity.update_masks

    def record(self, rate):
        seen.append((self.step, rate, self.total_steps))
        return update(self, rate)

    monkeypatch.setattr(DynamicSparsity, "update_masks", record)
    ctx = task.round_context(1)
    received = FederatedServer(cfg).global_arrays()
    _, n, metrics = run_client_round(task, ctx, 0, received)
    per_epoch = steps_per_epoch(n, task.local_training(ctx, 0).batch_size)
    assert per_epoch >= 2
    steps = [e * per_epoch for e in range(1, epochs)] if epochs > 1 else [per_epoch // 2 + 1]
    assert [s for s, _, _ in seen] == steps
    assert all(t == per_epoch * epochs for _, _, t in seen)
    assert [float(r) for _, r, _ in seen] == pytest.approx(
        [0.25 * (1 - s / seen[0][2]) for s in steps]
    )
    assert metrics.value("dst_mask_updates") == len(steps)


def _conv_keys(task) -> list[str]:
    model = task.new_model()
    return [
        f"{n}.weight"
        for n, m in model.named_modules()
        if isinstance(m, (torch.nn.Conv1d, torch.nn.Conv2d))
    ]


@pytest.mark.parametrize("mask_layers", ["conv", "prunable"])
def test_flash_spdst_round1_reinitialises_with_exact_density_and_keeps_the_mask(
    tmp_path, data_dir, mask_layers
):
    cfg = tiny_cfg(
        tmp_path,
        data_dir,
        "method=flash_spdst",
        "sparsity=0.9",
        "rounds=3",
        "method.stage1_epochs=2",
        f"method.mask_layers={mask_layers}",
    )
    server = FederatedServer(cfg)
    task = get_task(cfg)
    conv = _conv_keys(task)
    assert conv and set(conv) < set(task.prunable_keys)
    # conv (FLASH-ORIG): the target density holds over the conv weights; the classifier is dense.
    keys = conv if mask_layers == "conv" else list(task.prunable_keys)
    numel = sum(server.state[k].numel() for k in keys)
    keep = numel - round(0.9 * numel)
    updates = round_one_updates(server, [0, 1])
    for u in updates:
        assert u.metrics.value("dst_mask_updates") > 0
        assert sum(int(torch.count_nonzero(u.state[k])) for k in keys) <= keep
        assert torch.count_nonzero(u.state["classifier.bias"]) == u.state["classifier.bias"].numel()
        classifier_dense = bool(u.state["classifier.weight"].ne(0).all())
        assert classifier_dense == (mask_layers == "conv")
    avg = fedavg_pseudo_gradients(
        server.state, [u.state for u in updates], [u.num_examples for u in updates]
    )
    server.apply_updates(task.round_context(1), updates)
    state = {k: v.clone() for k, v in server.state.items()}
    assert sum(int(torch.count_nonzero(state[k])) for k in keys) == keep
    assert bool(state["classifier.weight"].ne(0).all()) == (mask_layers == "conv")
    for key in keys:
        kept = state[key] != 0
        assert not torch.equal(state[key][kept], avg[key][kept])
    # A fresh model: default BatchNorm statistics and zero biases, not the averaged ones.
    mean_key = next(k for k in state if k.endswith("running_mean"))
    assert torch.equal(state[mean_key], torch.zeros_like(state[mean_key]))
    assert not torch.equal(avg[mean_key], state[mean_key])
    assert torch.equal(state["classifier.bias"], torch.zeros_like(state["classifier.bias"]))

    # Round 2: the upload keeps the mask exactly (and the dense classifier with conv).
    received = server.global_arrays()
    upload, _, _ = run_client_round(task, task.round_context(2), 2, received)
    for key in task.prunable_keys:
        assert torch.equal(torch.from_numpy(upload[key] != 0), state[key] != 0), key

    # End to end: density exactly 1 - S from round 1 on, and the mask never moves.
    run_inprocess(cfg)
    rows = read_rows(cfg)[1:]
    assert rows[0]["dst_mask_updates"] > 0  # a method's own metric reaches metrics.jsonl
    nnz = keep + (0 if mask_layers == "prunable" else state["classifier.weight"].numel())
    assert [r["nnz_prunable"] for r in rows] == [nnz] * 3
    assert all(r["global_regrowth"] == 0 for r in rows[1:])
    assert rows[1]["layer_sparsity"] == rows[0]["layer_sparsity"] == rows[2]["layer_sparsity"]
