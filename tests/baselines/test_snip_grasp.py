"""SNIP and GraSP: hand-checked scores, the mask rule, and a mask held from round 0 on."""

from __future__ import annotations

import math

import pytest
import torch
from helpers import make_cfg, read_rows
from inprocess_grid import run_inprocess
from torch import nn
from torch.func import functional_call

import baselines.grasp as grasp_module
from baselines.grasp import Grasp, grasp_scores, hessian_gradient_product
from baselines.snip import Snip, score_batches, snip_scores
from sparsyfed.config import ConfigError
from sparsyfed.core.task import Task
from sparsyfed.core.training import LocalTraining
from sparsyfed.methods import InitialClient
from sparsyfed.methods.base import MethodSettings, ModelSpec
from sparsyfed.nn.layers import prunable_weight_names


def _method(cls, model: nn.Module, sparsity: float, batches: int | None = 1):
    settings = MethodSettings(
        cls.__name__.lower(), sparsity=sparsity, options={"score_batches": batches}
    )
    method = cls(settings)
    params = tuple(n for n, _ in model.named_parameters())
    method.setup(ModelSpec(tuple(prunable_weight_names(model)), params, lambda: model))
    return method


def _client(x, y, batch_size=16, seed=5) -> InitialClient:
    return InitialClient(0, x, y, LocalTraining(lr=0.1, batch_size=batch_size, seed=seed))


# ----------------------------------------------------------------------- SNIP
def test_snip_score_is_the_hand_computed_connection_sensitivity():
    layer = nn.Linear(2, 2, bias=False)
    with torch.no_grad():
        layer.weight.copy_(torch.tensor([[1.0, 2.0], [-1.5, 0.5]]))
    x, y = torch.tensor([[1.0, -1.0]]), torch.tensor([0])
    # logits = W x = (-1, -2); dL/dW = (softmax - e_y) x^T, p0 = softmax_0.
    p0 = 1 / (1 + math.exp(-1.0))
    grad = torch.tensor([[p0 - 1, 1 - p0], [1 - p0, p0 - 1]])
    (score,) = snip_scores(layer, [layer.weight], [(x, y)])
    torch.testing.assert_close(score, (grad * layer.weight.detach()).abs())
    # |1 - p0| * (1, 2, 1.5, 0.5): at 50% SNIP keeps W[0,1] and W[1,0], writes +0.0 elsewhere.
    method = _method(Snip, layer, 0.5)
    method.initialize_from_client(layer, _client(x, y, batch_size=1), torch.Generator())
    assert torch.equal(layer.weight.detach(), torch.tensor([[0.0, 2.0], [-1.5, 0.0]]))
    assert not torch.signbit(layer.weight[layer.weight == 0]).any()


def test_score_batches_follow_the_round_zero_order_and_accumulate_exactly():
    gen = torch.Generator().manual_seed(0)
    x, y = torch.randn(37, 3, generator=gen, dtype=torch.float64), torch.randint(0, 4, (37,))
    client = _client(x, y, batch_size=8, seed=11)
    order = torch.randperm(37, generator=torch.Generator().manual_seed(11))
    two = score_batches(client, 2)
    assert [b[0].shape[0] for b in two] == [8, 8]
    assert torch.equal(two[1][0], x[order[8:16]]) and torch.equal(two[1][1], y[order[8:16]])
    every = score_batches(client, None)
    assert [b[0].shape[0] for b in every] == [8, 8, 8, 8, 5]
    assert len(score_batches(client, 99)) == 5
    # The score of several batches is the score of their samples in one batch (mean loss).
    model = nn.Sequential(nn.Linear(3, 5), nn.Tanh(), nn.Linear(5, 4)).double()
    weights = [model[0].weight, model[2].weight]
    whole = (torch.cat([b[0] for b in two]), torch.cat([b[1] for b in two]))
    for score in (snip_scores, grasp_scores):
        for a, b in zip(score(model, weights, two), score(model, weights, [whole]), strict=True):
            torch.testing.assert_close(a, b)


def test_score_batches_option_is_validated(tmp_path, data_dir):
    for bad in ("0", "-1", "1.5"):
        with pytest.raises(ConfigError, match="score_batches"):
            make_cfg(tmp_path, data_dir, "method=snip", f"method.score_batches={bad}")
    assert make_cfg(tmp_path, data_dir, "method=grasp", "method.score_batches=null")


# ---------------------------------------------------------------------- GraSP
def test_grasp_hessian_gradient_product_matches_the_autograd_hessian():
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(3, 4), nn.Tanh(), nn.Linear(4, 3, bias=False)).double()
    x, y = torch.randn(6, 3, dtype=torch.float64), torch.tensor([0, 1, 2, 0, 1, 2])
    keys = ["0.weight", "2.weight"]
    weights = [model.get_parameter(k) for k in keys]
    shapes = [w.shape for w in weights]
    flat = torch.cat([w.detach().flatten() for w in weights])

    def loss(v: torch.Tensor) -> torch.Tensor:
        parts = torch.split(v, [s.numel() for s in shapes])
        params = {k: p.view(s) for k, p, s in zip(keys, parts, shapes, strict=True)}
        out = functional_call(model, params, (x,))
        return nn.functional.cross_entropy(out, y)

    hessian = torch.autograd.functional.hessian(loss, flat)
    g = torch.autograd.functional.jacobian(loss, flat)
    grads, hg = hessian_gradient_product(model, weights, [(x[:4], y[:4]), (x[4:], y[4:])])
    torch.testing.assert_close(torch.cat([t.flatten() for t in grads]), g)
    torch.testing.assert_close(torch.cat([t.flatten() for t in hg]), hessian @ g)
    scores = grasp_scores(model, weights, [(x, y)])
    torch.testing.assert_close(torch.cat([s.flatten() for s in scores]), -flat * (hessian @ g))


def test_grasp_removes_the_weights_of_highest_score(tmp_path, data_dir, monkeypatch):
    task = Task(make_cfg(tmp_path, data_dir, "method=grasp", "sparsity=0.3"))
    method = task.method
    assert isinstance(method, Grasp)
    model = task.new_model()
    method.initialize(model, torch.Generator().manual_seed(0))
    weights = [model.get_parameter(k) for k in task.prunable_keys]
    numel = sum(w.numel() for w in weights)
    hand = torch.randperm(numel, generator=torch.Generator().manual_seed(1)).double() - numel / 2
    parts = list(torch.split(hand, [w.numel() for w in weights]))
    hand_scores = [p.view(w.shape) for p, w in zip(parts, weights, strict=True)]
    monkeypatch.setattr(grasp_module, "grasp_scores", lambda *_: hand_scores)
    x, y = task.client_data(0)
    method.initialize_from_client(model, _client(x, y), torch.Generator())
    removed = torch.cat([(w == 0).flatten() for w in weights])
    expected = hand >= torch.sort(hand, descending=True).values[round(0.3 * numel) - 1]
    assert torch.equal(removed, expected)  # the top 30% scores, positive and largest


# ------------------------------------------------------------ both, on a task
@pytest.mark.parametrize("method", ["snip", "grasp"])
def test_round_zero_mask_is_exact_and_leaves_batchnorm_untouched(tmp_path, data_dir, method):
    cfg = make_cfg(tmp_path, data_dir, f"method={method}", "sparsity=0.8")
    task = Task(cfg)
    state = task.initial_state()
    keys = task.prunable_keys
    numel = sum(state[k].numel() for k in keys)
    assert sum(int((state[k] == 0).sum()) for k in keys) == round(0.8 * numel)
    assert not any(torch.signbit(state[k][state[k] == 0]).any() for k in keys)
    for key, value in state.items():  # scored in eval mode: statistics as initialised
        if key.endswith("running_mean") or key.endswith("num_batches_tracked"):
            assert not value.any(), key
        if key.endswith("running_var"):
            assert bool((value == 1).all()), key
    again = Task(make_cfg(tmp_path / "again", data_dir, f"method={method}", "sparsity=0.8"))
    assert all(torch.equal(v, again.initial_state()[k]) for k, v in state.items())  # seeded


def test_snip_follows_a_layerwise_prune_scope(tmp_path, data_dir):
    layerwise = ("prune_scope=layerwise", "prune_layers=skip_first_last")
    cfg = make_cfg(tmp_path, data_dir, "method=snip", "sparsity=0.7", *layerwise)
    task = Task(cfg)
    state = task.initial_state()
    keys = task.prunable_keys
    assert not (state[keys[0]] == 0).any() and not (state[keys[-1]] == 0).any()
    for key in keys[1:-1]:
        assert int((state[key] == 0).sum()) == round(0.7 * state[key].numel())


@pytest.mark.parametrize(
    ("method", "extra"),
    [
        ("snip", ()),
        ("grasp", ()),
        ("snip", ("upload=delta_topk", "server_lr=0.5", "server_momentum=0.9")),
    ],
)
def test_target_sparsity_holds_from_round_zero_on(tmp_path, data_dir, method, extra):
    cfg = make_cfg(tmp_path, data_dir, f"method={method}", "rounds=2", "sparsity=0.9", *extra)
    task = Task(cfg)
    numel = sum(task.new_model().get_parameter(k).numel() for k in task.prunable_keys)
    assert task.method.upload_sparsity(task.round_context(1)) == 0.0
    run_inprocess(cfg)
    rows = read_rows(cfg)
    assert [r["round"] for r in rows] == [0, 1, 2]
    for row in rows:
        assert row["nnz_prunable"] == numel - round(0.9 * numel), row["round"]
        assert row["sparsity_prunable"] == round(0.9 * numel) / numel
    # The same mask: no entry revived, and the count never changes.
    assert [r["global_regrowth"] for r in rows[1:]] == [0, 0]
    assert rows[2]["accuracy"] != rows[0]["accuracy"] or rows[2]["loss"] != rows[0]["loss"]
