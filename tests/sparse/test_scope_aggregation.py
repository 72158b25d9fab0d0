"""Prune scope (prune_scope, prune_layers) of the upload step, and aggregation=nz_mean."""

from __future__ import annotations

import pytest
import torch
from helpers import round_ctx

from sparsyfed.config import ConfigError
from sparsyfed.methods import ClientUpdate, Method, MethodSettings, ModelSpec
from sparsyfed.methods.aggregate import fedavg_pseudo_gradients
from sparsyfed.sparse.scope import PruneScope
from sparsyfed.sparse.topk import num_to_prune
from sparsyfed.upload.steps import make_upload

KEYS = ("a.weight", "b.weight", "c.weight", "d.weight")


def model_state(seed: int = 0) -> dict[str, torch.Tensor]:
    """Four 'layers' of very different scales (a global threshold would empty the small ones)."""
    gen = torch.Generator().manual_seed(seed)
    shapes = {"a.weight": (8, 3), "b.weight": (16, 8), "c.weight": (32, 16), "d.weight": (10, 32)}
    scales = {"a.weight": 5.0, "b.weight": 1.0, "c.weight": 0.05, "d.weight": 2.0}
    state = {k: scales[k] * torch.randn(*shape, generator=gen) for k, shape in shapes.items()}
    state["b.bias"] = torch.randn(16, generator=gen)
    return state


def zeros(t: torch.Tensor) -> int:
    return int((t == 0).sum())


@pytest.mark.parametrize("mode", ["weights", "delta_topk"])
@pytest.mark.parametrize("sparsity", [0.5, 0.9, 0.97])
def test_layerwise_prunes_every_layer_to_the_target(mode, sparsity):
    trained, received = model_state(0), model_state(1)
    up = make_upload(trained, received, sparsity, KEYS, mode, PruneScope("layerwise"))
    for key in KEYS:
        n = up[key].numel()
        assert zeros(up[key]) == num_to_prune(n, sparsity)  # exact count in every layer
        assert abs(zeros(up[key]) / n - sparsity) <= 1 / n  # "== S within one entry"
        assert not torch.signbit(up[key][up[key] == 0]).any()
    assert zeros(up["b.bias"]) == 0
    # The official global prune spreads the same total very unevenly over these layers.
    glob = make_upload(trained, received, sparsity, KEYS, mode)
    total = sum(up[k].numel() for k in KEYS)
    assert sum(zeros(glob[k]) for k in KEYS) == num_to_prune(total, sparsity)
    if sparsity >= 0.9:
        assert zeros(glob["c.weight"]) == glob["c.weight"].numel()  # the small layer collapses


@pytest.mark.parametrize("scope", ["global", "layerwise"])
@pytest.mark.parametrize("mode", ["weights", "delta_topk"])
def test_skip_first_last_keeps_them_dense_and_the_rest_at_the_target(scope, mode):
    trained, received = model_state(2), model_state(3)
    sparsity = 0.8
    up = make_upload(trained, received, sparsity, KEYS, mode, PruneScope(scope, "skip_first_last"))
    expected_first = trained["a.weight"] - (received["a.weight"] if mode == "delta_topk" else 0)
    torch.testing.assert_close(up["a.weight"], expected_first, rtol=0, atol=0)
    assert zeros(up["a.weight"]) == 0 and zeros(up["d.weight"]) == 0
    middle = ("b.weight", "c.weight")
    n_mid = sum(up[k].numel() for k in middle)
    if scope == "global":
        assert sum(zeros(up[k]) for k in middle) == num_to_prune(n_mid, sparsity)
    else:
        assert all(zeros(up[k]) == num_to_prune(up[k].numel(), sparsity) for k in middle)
    # The official prune (all layers) does prune the first and last layers here.
    official = make_upload(trained, received, sparsity, KEYS, mode)
    assert zeros(official["a.weight"]) > 0 or zeros(official["d.weight"]) > 0


def test_prune_scope_targets_and_bad_values():
    assert PruneScope().targets(KEYS) == KEYS
    assert PruneScope(layers="skip_first_last").targets(KEYS) == KEYS[1:-1]
    with pytest.raises(ConfigError, match=r"prune_layers='skip_first_last'.*at least 3"):
        PruneScope(layers="skip_first_last").targets(KEYS[:2])
    with pytest.raises(ConfigError, match="prune_scope='per_tensor'"):
        PruneScope("per_tensor")
    with pytest.raises(ConfigError, match="prune_layers='none'"):
        PruneScope(layers="none")


# ------------------------------------------------------------------------ nz_mean
def three_clients() -> tuple[dict, list[dict[str, torch.Tensor]], list[int]]:
    theta_t = {"w": torch.tensor([1.0, 1.0, 1.0, 1.0]), "b": torch.tensor([0.5, 0.5])}
    states = [
        {"w": torch.tensor([2.0, 0.0, 0.0, 4.0]), "b": torch.tensor([0.0, 1.0])},
        {"w": torch.tensor([4.0, 6.0, 0.0, 0.0]), "b": torch.tensor([0.0, 2.0])},
        {"w": torch.tensor([0.0, 3.0, 0.0, 8.0]), "b": torch.tensor([3.0, 3.0])},
    ]
    return theta_t, states, [1, 2, 3]


def test_nz_mean_is_the_mean_over_the_clients_that_kept_the_entry():
    theta_t, states, n = three_clients()
    out = fedavg_pseudo_gradients(theta_t, states, n, nz_mean_keys={"w"})
    # w[0]: (1*2 + 2*4)/(1+2); w[1]: (2*6 + 3*3)/(2+3); w[2]: nobody kept it; w[3]: (1*4 + 3*8)/4
    torch.testing.assert_close(out["w"], torch.tensor([10 / 3, 21 / 5, 0.0, 7.0]))
    assert not torch.signbit(out["w"][2])
    # Arrays outside nz_mean_keys: the plain weighted mean, zeros included.
    torch.testing.assert_close(out["b"], torch.tensor([9 / 6, 14 / 6]))
    # fedavg (the default) divides by every client's samples.
    fedavg = fedavg_pseudo_gradients(theta_t, states, n)
    torch.testing.assert_close(fedavg["w"], torch.tensor([10 / 6, 21 / 6, 0.0, 28 / 6]))


def test_nz_mean_composes_with_the_server_learning_rate():
    theta_t, states, n = three_clients()
    nz = fedavg_pseudo_gradients(theta_t, states, n, nz_mean_keys={"w"})
    out = fedavg_pseudo_gradients(theta_t, states, n, server_lr=0.5, nz_mean_keys={"w"})
    # theta_{t+1} = theta_t + lr * (nz_mean - theta_t)
    torch.testing.assert_close(out["w"], theta_t["w"] + 0.5 * (nz["w"] - theta_t["w"]))


def _method(aggregation: str, **kw) -> Method:
    method = Method(MethodSettings(name="fedavg", aggregation=aggregation, **kw))
    method.setup(ModelSpec(prunable_keys=("w",), parameter_keys=("w", "b"), new_model=None))
    return method


@pytest.mark.parametrize("momentum", [0.0, 0.9])
def test_method_aggregate_applies_nz_mean_to_prunable_weights_only(momentum):
    theta_t, states, n = three_clients()
    updates = [ClientUpdate(i, s, k) for i, (s, k) in enumerate(zip(states, n, strict=True))]
    nz = fedavg_pseudo_gradients(theta_t, states, n, nz_mean_keys={"w"})
    out = _method("nz_mean", server_lr=0.5, server_momentum=momentum).aggregate(
        theta_t, updates, round_ctx(1)
    )
    # First round: velocity = the mean pseudo-gradient, so both steps are lr * (avg - theta_t).
    torch.testing.assert_close(out["w"], theta_t["w"] + 0.5 * (nz["w"] - theta_t["w"]))
    torch.testing.assert_close(out["b"], theta_t["b"] + 0.5 * (nz["b"] - theta_t["b"]))
    plain = _method("fedavg").aggregate(theta_t, updates, round_ctx(1))
    torch.testing.assert_close(plain["w"], fedavg_pseudo_gradients(theta_t, states, n)["w"])
    assert not torch.equal(
        plain["w"], _method("nz_mean").aggregate(theta_t, updates, round_ctx(1))["w"]
    )
