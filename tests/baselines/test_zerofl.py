"""ZeroFL: dense first layer, in-place weight Top-K, fixed activation Top-K."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
import torch
from helpers import make_cfg, round_ctx
from inprocess_grid import run_inprocess
from torch import nn

from baselines.zerofl import ZeroFL
from sparsyfed.config import ConfigError, compose_config, load_config
from sparsyfed.core.client import layer_metrics, run_client_round
from sparsyfed.core.server import FederatedServer
from sparsyfed.core.task import Task
from sparsyfed.core.training import LocalTraining
from sparsyfed.methods import MethodSettings, method_settings
from sparsyfed.methods.sparsyfed import SparsyFed
from sparsyfed.nn.init import init_weights
from sparsyfed.nn.layers import (
    SparseLayerMixin,
    prunable_layers,
    sparse_layers,
    weight_topk_threshold,
)
from sparsyfed.upload.steps import make_upload

S = 0.75  # 192-weight convs and a 32-weight linear layer: S * numel is an integer


def _net() -> nn.Module:
    return nn.Sequential(
        nn.Conv1d(2, 8, 3, padding=1, bias=False),
        nn.ReLU(),
        nn.Conv1d(8, 8, 3, padding=1, bias=False),
        nn.ReLU(),
        nn.Conv1d(8, 8, 3, padding=1, bias=True),
        nn.AdaptiveAvgPool1d(1),
        nn.Flatten(),
        nn.Linear(8, 4),
    )


def _cfg(sparsity: float = S, **method) -> MethodSettings:
    options = {"mask_ratio": 0.0, "act_threshold": "first_batch", "wrap_downsample": False}
    options |= method
    return MethodSettings("zerofl", sparsity=sparsity, options=options)


CTX = round_ctx(2)


def _model(method: ZeroFL, seed: int = 1) -> nn.Module:
    model = method.prepare_model(_net())
    init_weights(model, torch.Generator().manual_seed(seed))
    return model


def _data(n: int = 64, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    return torch.randn(n, 2, 12, generator=g), torch.randint(0, 4, (n,), generator=g)


class _Recorder:
    """Forward (pre-)hooks on every conv/linear layer, active in training mode only."""

    def __init__(self, model: nn.Module) -> None:
        self.before: dict[str, list[torch.Tensor]] = {}
        self.after: dict[str, list[torch.Tensor]] = {}
        self.thresholds: dict[str, list[torch.Tensor | None]] = {}
        for name, layer in prunable_layers(model):
            self.before[name], self.after[name], self.thresholds[name] = [], [], []
            layer.register_forward_pre_hook(self._pre(name))
            layer.register_forward_hook(self._post(name))

    def _pre(self, name):
        def hook(module, _args):
            if module.training:
                self.before[name].append(module.weight.detach().clone())

        return hook

    def _post(self, name):
        def hook(module, _args, _out):
            if module.training:
                self.after[name].append(module.weight.detach().clone())
                t = getattr(module, "_weight_threshold", None)
                self.thresholds[name].append(None if t is None else t.clone())

        return hook


def test_first_layer_stays_plain_and_dense_others_are_wrapped():
    method = ZeroFL(_cfg())
    model = _model(method)
    layers = list(prunable_layers(model))
    assert type(layers[0][1]) is nn.Conv1d  # not the wrapped class
    assert all(isinstance(layer, SparseLayerMixin) for _, layer in layers[1:])
    assert [name for name, _ in sparse_layers(model)] == [name for name, _ in layers[1:]]
    rec = _Recorder(model)
    x, y = _data()
    method.train(model, x, y, LocalTraining(lr=0.1, batch_size=16, epochs=2), CTX)
    first = layers[0][0]
    assert len(rec.after[first]) == 8
    for w in rec.after[first]:
        assert torch.count_nonzero(w) == w.numel()  # never pruned in the forward
    for name, _ in layers[1:]:
        w = rec.after[name][0]
        assert (w == 0).sum() > 0, name


@pytest.mark.parametrize("sparsity", [0.75, 0.9])
def test_forward_weights_exactly_s_sparse_and_conv_reuses_first_threshold(sparsity):
    method = ZeroFL(_cfg(sparsity))
    model = _model(method)
    rec = _Recorder(model)
    x, y = _data()
    method.train(model, x, y, LocalTraining(lr=0.2, batch_size=16, epochs=2), CTX)
    metrics = layer_metrics(model)
    for name, layer in sparse_layers(model):
        first = rec.after[name][0]
        numel = first.numel()
        # The official count: ceil((1 - S) * numel) kept at the first batch, zeros as +0.0.
        keep = math.ceil((1 - sparsity) * numel)
        assert int(torch.count_nonzero(first)) == keep, name
        assert not torch.signbit(first[first == 0]).any(), name
        if isinstance(layer, nn.Linear):
            # Recomputed on every forward: the same count every time, no cache.
            assert all(t is None for t in rec.thresholds[name])
            for w in rec.after[name]:
                assert int(torch.count_nonzero(w)) == keep, name
        else:
            t0 = rec.thresholds[name][0]
            assert t0 is not None
            # The first batch's threshold is the (numel - k + 1)-th smallest magnitude.
            expected = rec.before[name][0].abs().flatten().kthvalue(numel - keep + 1).values
            assert torch.equal(t0, expected)
            for before, after, t in zip(
                rec.before[name], rec.after[name], rec.thresholds[name], strict=True
            ):
                assert torch.equal(t, t0), name  # reused, not recomputed
                assert torch.equal(after, before.masked_fill(before.abs() < t0, 0.0)), name
        # The reported forward weight density is the mean over the training forwards.
        mean_density = np.mean([float(torch.count_nonzero(w)) / numel for w in rec.after[name]])
        assert metrics.value("forward_weight_density")[name] == pytest.approx(mean_density)
    # The first layer is not wrapped, so it reports nothing.
    assert next(iter(rec.after)) not in metrics.value("forward_weight_density")


def test_weight_topk_keeps_the_official_ceil_count_in_a_4608_weight_layer():
    """At S = 0.95 a 4,608-weight conv or linear layer keeps ceil(230.4) = 231 weights."""
    sparsity = 0.95
    net = nn.Sequential(
        nn.Conv2d(1, 8, 3, padding=1, bias=False),  # the plain first layer
        nn.Conv2d(8, 64, 3, padding=1, bias=False),  # 64 * 8 * 3 * 3 = 4,608 weights
        nn.AdaptiveAvgPool2d(1),
        nn.Flatten(),
        nn.Linear(64, 72),  # 72 * 64 = 4,608 weights
    )
    method = ZeroFL(_cfg(sparsity))
    model = method.prepare_model(net)
    init_weights(model, torch.Generator().manual_seed(3))
    received = {name: layer.weight.detach().clone() for name, layer in sparse_layers(model)}
    assert all(w.numel() == 4608 for w in received.values())
    model.train()
    # 72 samples: the linear input has 72 * 64 = 4,608 entries too.
    x = torch.randn(72, 1, 2, 2, generator=torch.Generator().manual_seed(4))
    nn.functional.cross_entropy(model(x), torch.zeros(72, dtype=torch.long)).backward()
    keep = math.ceil((1 - sparsity) * 4608)
    assert keep == 231 and round(sparsity * 4608) == 4378  # the upload convention keeps 230
    for name, layer in sparse_layers(model):
        w = layer.weight.detach()
        assert int(torch.count_nonzero(w)) == 231, name
        # The kept weights are the 231 largest received magnitudes, unchanged.
        top = received[name].abs().flatten().topk(231).indices
        assert torch.equal(torch.nonzero(w.flatten()).flatten(), top.sort().values), name
        torch.testing.assert_close(w.flatten()[top], received[name].flatten()[top])
        # The activation Top-K uses the same ceil count over the whole batch tensor.
        nnz, numel = layer._act_nnz
        assert int(nnz) == math.ceil((1 - sparsity) * numel), name
    assert model[4]._act_nnz[1] == 4608 and int(model[4]._act_nnz[0]) == 231


@pytest.mark.parametrize(("numel", "kept"), [(4608, 231), (100, 6)])
def test_weight_topk_count_is_the_official_float_product(numel, kept):
    """``ceil((1 - S) * numel)`` as floats: 1 - 0.95 > 0.05, so 100 weights keep 6, not 5."""
    w = torch.randperm(numel, generator=torch.Generator().manual_seed(0)).float() + 1.0
    threshold = weight_topk_threshold(w, 1.0 - 0.95)
    assert int((w >= threshold).sum()) == kept == math.ceil((1.0 - 0.95) * numel)


def test_activation_keep_is_fixed_one_minus_s_regardless_of_weight_sparsity():
    method = ZeroFL(_cfg(act_threshold="first_batch"))
    sf_options = {
        "act_pruning": True,
        "act_keep_floor": 1e-7,
        "act_threshold": "first_batch",
        "wrap_downsample": True,
    }
    sparsyfed = SparsyFed(MethodSettings("sparsyfed", beta=1.25, sparsity=S, options=sf_options))
    x, y = _data(48)
    hp = LocalTraining(lr=0.05, batch_size=16)
    # Received weights: dense (round 1) and 90% zeros in one conv (more than S).
    for zero_fraction in (0.0, 0.9):
        model = _model(method)
        dense_sf = _model(sparsyfed)
        conv = next(layer for _, layer in sparse_layers(model))
        with torch.no_grad():
            conv.weight[torch.rand(conv.weight.shape) < zero_fraction] = 0.0
        method.train(model, x, y, hp, CTX)
        metrics = layer_metrics(model)
        for name, layer in sparse_layers(model):
            assert layer.last_keep_fraction == 1 - S, name
            assert metrics.value("act_keep_fraction")[name] == 1 - S, name
            if isinstance(layer, nn.Linear):
                # Linear layers prune each batch to ceil((1 - S) * B * F) entries.
                nnz, numel = layer._act_nnz
                assert int(nnz) == math.ceil((1 - S) * numel)
            else:
                assert layer._act_threshold is not None  # cached per round
        # SparsyFed derives the keep fraction from the weights: dense weights, no pruning.
        sparsyfed.train(dense_sf, x, y, hp, CTX)
        assert all(v == 1.0 for v in layer_metrics(dense_sf).value("act_keep_fraction").values())


def test_pruned_weights_get_gradients_and_regrow():
    method = ZeroFL(_cfg())
    model = _model(method)
    model.train()
    x, y = _data(16)
    nn.functional.cross_entropy(model(x), y).backward()
    for name, layer in sparse_layers(model):
        pruned = layer.weight.detach() == 0
        assert pruned.sum() == layer.weight.numel() - math.ceil((1 - S) * layer.weight.numel())
        # Dense gradient: the pruned weights get (non-zero) gradients too.
        assert torch.count_nonzero(layer.weight.grad[pruned]) > 0, name

    method = ZeroFL(_cfg())
    model = _model(method)
    rec = _Recorder(model)
    x, y = _data(96)
    # Regrowth needs an SGD step larger than the kept magnitudes' threshold, so a
    # large learning rate and small batches (the loss stays finite).
    metrics = method.train(model, x, y, LocalTraining(lr=2.0, batch_size=4, weight_decay=0.0), CTX)
    assert np.isfinite(metrics.value("train_loss"))
    for name, layer in sparse_layers(model):
        first_zero = rec.after[name][0] == 0
        # Some weights zeroed at the first batch are back in a later forward
        # (SparsyFed with beta > 1 never regrows: tests/test_layers.py).
        regrown = [int((w[first_zero] != 0).sum()) for w in rec.after[name][1:]]
        assert max(regrown) > 0, name
        if not isinstance(layer, nn.Linear):
            # ... because SGD moved them past the cached threshold.
            t0 = rec.thresholds[name][0]
            assert all(torch.all(w[w != 0].abs() >= t0) for w in rec.after[name])


@pytest.mark.parametrize("mask_ratio", [0.0, 0.1])
def test_upload_has_exactly_s_minus_mask_ratio_zeros(mask_ratio):
    sparsity = 0.9
    method = ZeroFL(_cfg(sparsity, mask_ratio=mask_ratio))
    model = _model(method)
    received = {k: v.clone() for k, v in model.state_dict().items()}
    x, y = _data()
    hp = LocalTraining(lr=0.2, batch_size=16)
    method.train(model, x, y, hp, CTX)
    trained = {k: v.clone() for k, v in model.state_dict().items()}
    # Shrink part of the (dense) first layer so the global threshold reaches it.
    stem = model[0].weight
    with torch.no_grad():
        stem[:4] *= 1e-3
    keys = [f"{name}.weight" for name, _ in prunable_layers(model)]
    upload = make_upload(model.state_dict(), received, method.upload_sparsity(CTX), keys, "weights")
    numel = sum(upload[k].numel() for k in keys)
    zeros = sum(int((upload[k] == 0).sum()) for k in keys)
    assert zeros == round((sparsity - mask_ratio) * numel)
    # The first layer is part of the upload prune, and pruned entries are +0.0.
    assert torch.all(upload[keys[0]][:4] == 0)
    for k in keys:
        assert not torch.signbit(upload[k][upload[k] == 0]).any(), k
    # Biases are never pruned.
    assert torch.equal(upload["4.bias"], trained["4.bias"])


@pytest.mark.parametrize("upload", ["weights", "delta_topk"])
def test_client_upload_with_mask_ratio_keeps_one_minus_s_plus_mask_ratio(
    tmp_path, data_dir, upload
):
    """A real client round: the upload density over prunable weights is 1 - S + mask_ratio."""
    cfg = make_cfg(
        tmp_path,
        data_dir,
        "method=zerofl",
        "sparsity=0.9",
        "method.mask_ratio=0.1",
        f"upload={upload}",
    )
    task = Task(cfg)
    received = FederatedServer(cfg).global_arrays()
    upload_state, _, _ = run_client_round(task, task.round_context(1), 0, received)
    keys = task.prunable_keys
    numel = sum(upload_state[k].size for k in keys)
    nonzero = sum(int(np.count_nonzero(upload_state[k])) for k in keys)
    # Exactly N - round(0.8 N) kept: density 1 - 0.9 + 0.1 = 0.2, not 1 - S = 0.1.
    assert nonzero == numel - round((0.9 - 0.1) * numel)
    assert nonzero / numel == pytest.approx(0.2, abs=1 / numel)
    # Biases are sent unpruned: the trained values (weights) or their deltas (delta_topk).
    bias = next(k for k in upload_state if k.endswith("bias"))
    assert np.count_nonzero(upload_state[bias]) == upload_state[bias].size


@pytest.mark.parametrize("bad", [-0.1, 0.95, "x", None])
def test_mask_ratio_outside_zero_to_s_is_rejected(bad):
    plain = compose_config(["method=zerofl", "sparsity=0.9"])
    plain["method"]["mask_ratio"] = bad
    with pytest.raises(ConfigError, match=r"method\.mask_ratio"):
        load_config(plain)


def test_beta_does_not_apply_and_is_reported_as_ignored():
    cfg = load_config(compose_config(["method=zerofl", "beta=1.25"]))
    cls, settings, ignored = method_settings(cfg)
    assert cls is ZeroFL and settings.beta == 1.0
    assert ignored == {"beta": 1.25}


def test_delta_upload_is_pruned_to_the_methods_own_upload_sparsity():
    cfg = load_config(compose_config(["method=zerofl", "sparsity=0.9", "method.mask_ratio=0.1"]))
    cls, settings, _ = method_settings(cfg)
    assert cls(settings).upload_sparsity(CTX) == pytest.approx(0.8)
    g = torch.Generator().manual_seed(0)
    trained = {"w": torch.randn(10, 10, generator=g), "b": torch.randn(10, generator=g)}
    received = {"w": torch.randn(10, 10, generator=g), "b": torch.randn(10, generator=g)}
    delta = make_upload(trained, received, cls(settings).upload_sparsity(CTX), ["w"], "delta_topk")
    assert int((delta["w"] == 0).sum()) == 80  # S - mask_ratio, not S
    torch.testing.assert_close(delta["b"], trained["b"] - received["b"])


def test_end_to_end_inprocess_run(tmp_path):
    cfg = compose_config(
        [
            "method=zerofl",
            "sparsity=0.9",
            "dataset.num_samples=1500",
            "num_clients=8",
            "clients_per_round=3",
            "rounds=2",
            "model.width=16",
            "model.depth=4",
            "partition.alpha=0.5",
            f"data_dir={tmp_path / 'data'}",
        ]
    )
    cfg["output_dir"] = str(tmp_path / "run")
    cfg = load_config(cfg)
    assert cfg.method.impl == "baselines.zerofl:ZeroFL" and cfg.beta == 1.0
    summary = run_inprocess(cfg)
    assert np.isfinite(summary["final_accuracy"])
    with open(tmp_path / "run" / "metrics.jsonl") as fh:
        rows = [json.loads(line) for line in fh][1:]
    assert [r["round"] for r in rows] == [1, 2]
    for row in rows:
        assert np.isfinite(row["accuracy"])
        keep = row["act_keep_fraction"]
        assert keep and all(v == pytest.approx(0.1) for v in keep.values())
        assert "features.0.0" not in keep  # the first layer is not wrapped
        # FedAvg of uploads at exactly 90% prunable sparsity: at most 90% sparse.
        assert 0.5 < row["sparsity_prunable"] <= 0.9 + 1e-9
