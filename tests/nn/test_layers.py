"""Powerprop layers and activation Top-K: the properties that make SparsyFed SparsyFed."""

from __future__ import annotations

import math

import pytest
import torch
from torch import nn
from torch.nn import functional as F

from sparsyfed.core.training import LocalTraining, train_sgd
from sparsyfed.nn.activation_topk import topk_threshold
from sparsyfed.nn.init import init_weights
from sparsyfed.nn.layers import (
    PowerConv1d,
    PowerLinear,
    powerprop,
    reset_activation_state,
    sparse_layers,
    wrap_layers,
)


def _conv_net(dims: int = 1) -> nn.Module:
    conv = nn.Conv1d if dims == 1 else nn.Conv2d
    pool = nn.AdaptiveAvgPool1d(1) if dims == 1 else nn.AdaptiveAvgPool2d(1)
    return nn.Sequential(
        conv(2, 8, 3, padding=1, bias=False),
        nn.ReLU(),
        conv(8, 8, 3, padding=1, bias=True),
        pool,
        nn.Flatten(),
        nn.Linear(8, 4),
    )


def test_powerprop_matches_formula_and_beta_one_is_identity():
    v = torch.tensor([-2.0, -0.5, 0.0, 0.25, 3.0])
    assert torch.equal(powerprop(v, 1.0), v)
    expected = torch.tensor([-(2.0**1.25), -(0.5**1.25), 0.0, 0.25**1.25, 3.0**1.25])
    torch.testing.assert_close(powerprop(v, 1.25), expected)


def test_zero_weight_gets_zero_gradient_with_beta_above_one():
    v = torch.tensor([0.0, 0.3, -0.7], requires_grad=True)
    (powerprop(v, 1.25) * torch.tensor([5.0, 1.0, 1.0])).sum().backward()
    assert v.grad[0].item() == 0.0
    assert not torch.isnan(v.grad).any()
    assert v.grad[1].item() != 0.0


@pytest.mark.parametrize("act_pruning", [False, True])
def test_zeros_stay_zero_through_local_training(act_pruning):
    torch.manual_seed(0)
    model = wrap_layers(_conv_net(), beta=1.25, act_pruning=act_pruning)
    init_weights(model, torch.Generator().manual_seed(1))
    masks = {}
    for name, layer in sparse_layers(model):
        with torch.no_grad():
            layer.weight[torch.rand_like(layer.weight) < 0.6] = 0.0
        masks[name] = layer.weight.detach() == 0
    x, y = torch.randn(64, 2, 12), torch.randint(0, 4, (64,))
    hp = LocalTraining(lr=0.5, epochs=3, batch_size=8, weight_decay=1e-3)
    train_sgd(model, x, y, hp)
    for name, layer in sparse_layers(model):
        w = layer.weight.detach()
        assert torch.all(w[masks[name]] == 0), name
        assert torch.any(w[~masks[name]] != 0), name


def test_zeros_regrow_with_beta_one():
    torch.manual_seed(0)
    model = wrap_layers(_conv_net(), beta=1.0, act_pruning=False)
    first = model[0]
    with torch.no_grad():
        first.weight[:, :, 0] = 0.0
    x, y = torch.randn(32, 2, 12), torch.randint(0, 4, (32,))
    train_sgd(model, x, y, LocalTraining(lr=0.5, batch_size=8))
    assert torch.any(first.weight[:, :, 0] != 0)


def _reference_grads(layer_fn, x, w, b, x_pruned, grad_out):
    """Autograd reference: input grad from the dense input, weight grad from the pruned one."""
    x1 = x.clone().requires_grad_(True)
    w1 = w.clone().requires_grad_(True)
    b1 = None if b is None else b.detach().clone().requires_grad_(True)
    out = layer_fn(x1, w1, b1)
    out.backward(grad_out)
    w2 = w.clone().requires_grad_(True)
    layer_fn(x_pruned, w2, None).backward(grad_out)
    return out.detach(), x1.grad, w2.grad, None if b1 is None else b1.grad


@pytest.mark.parametrize(
    "make_layer, shape",
    [
        (lambda: nn.Conv1d(3, 5, 3, padding=1, bias=True), (4, 3, 10)),
        (lambda: nn.Conv2d(3, 5, 3, padding=1, stride=2, bias=False), (4, 3, 9, 9)),
        (lambda: nn.Linear(6, 5), (7, 6)),
    ],
)
def test_activation_topk_exact_forward_and_input_grad_pruned_weight_grad(make_layer, shape):
    torch.manual_seed(3)
    plain = make_layer()
    layer = make_layer()
    layer.load_state_dict(plain.state_dict())
    holder = nn.Sequential(layer)
    wrap_layers(holder, beta=1.25, act_pruning=True, act_threshold="per_batch")
    with torch.no_grad():
        layer.weight[torch.rand_like(layer.weight) < 0.7] = 0.0  # 70% weight sparsity
    holder.train()
    x = torch.randn(shape)
    grad_out_shape = layer(x).shape
    grad_out = torch.randn(grad_out_shape)

    xin = x.clone().requires_grad_(True)
    out = layer(xin)
    out.backward(grad_out)
    keep = layer.last_keep_fraction
    sparsity = float((layer.weight == 0).float().mean())
    assert keep == pytest.approx(1 - sparsity)

    w_eff = powerprop(layer.weight.detach(), 1.25)
    threshold = topk_threshold(x, keep)
    x_pruned = x * (x.abs() >= threshold)
    kept = int((x_pruned != 0).sum())
    assert kept == math.ceil(keep * x.numel())

    if isinstance(layer, nn.Linear):
        fn = lambda a, w, b: F.linear(a, w, b)  # noqa: E731
    else:
        fn = lambda a, w, b: layer._conv_forward(a, w, b)  # noqa: E731
    ref_out, ref_gx, ref_gw_eff, ref_gb = _reference_grads(
        fn, x, w_eff, layer.bias, x_pruned, grad_out
    )
    torch.testing.assert_close(out.detach(), ref_out)
    torch.testing.assert_close(xin.grad, ref_gx)
    # The stored parameter's gradient is the pruned dL/dw chained through Powerprop.
    dw_dv = 1.25 * layer.weight.detach().abs().pow(0.25)
    torch.testing.assert_close(layer.weight.grad, ref_gw_eff * dw_dv)
    if ref_gb is not None:
        torch.testing.assert_close(layer.bias.grad, ref_gb)
    else:
        assert layer.bias is None
    # The weight gradient really differs from the dense one (something was pruned).
    w_dense = w_eff.clone().requires_grad_(True)
    fn(x, w_dense, None).backward(grad_out)
    assert not torch.allclose(w_dense.grad, ref_gw_eff)


def test_keep_fraction_floor_and_dense_round():
    layer = nn.Sequential(nn.Linear(10, 10))
    wrap_layers(layer, beta=1.25, act_pruning=True, act_keep_floor=0.01)
    lin = layer[0]
    x = torch.randn(4, 10)
    lin(x).sum().backward()
    assert lin.last_keep_fraction == 1.0  # no zero weights: dense, like round 1
    with torch.no_grad():
        lin.weight.zero_()
        lin.weight[0, 0] = 1.0  # 99% sparse
    lin(x).sum().backward()
    assert lin.last_keep_fraction == pytest.approx(0.01)


def test_eval_mode_does_not_prune_activations():
    torch.manual_seed(0)
    net = _conv_net()
    model = wrap_layers(_conv_net(), beta=1.25, act_pruning=True)
    model.load_state_dict(net.state_dict())
    with torch.no_grad():
        for _, layer in sparse_layers(model):
            layer.weight[torch.rand_like(layer.weight) < 0.5] = 0.0
    model.eval()
    reset_activation_state(model)
    x = torch.randn(5, 2, 12)
    out = model(x)
    for _, layer in sparse_layers(model):
        assert layer.last_keep_fraction == 1.0
        assert layer._act_threshold is None
    plain = _conv_net()
    plain.load_state_dict(
        {
            k: (powerprop(v, 1.25) if k.endswith("weight") else v)
            for k, v in model.state_dict().items()
        }
    )
    plain.eval()
    torch.testing.assert_close(out, plain(x))


def test_first_batch_threshold_cached_for_conv_not_linear():
    model = wrap_layers(_conv_net(), beta=1.25, act_pruning=True, act_threshold="first_batch")
    with torch.no_grad():
        for _, layer in sparse_layers(model):
            layer.weight[..., 0] = 0.0
    model.train()
    model(torch.randn(4, 2, 12)).sum().backward()
    convs = [layer for _, layer in sparse_layers(model) if isinstance(layer, PowerConv1d)]
    linears = [layer for _, layer in sparse_layers(model) if isinstance(layer, PowerLinear)]
    first = [c._act_threshold.clone() for c in convs]
    assert all(t is not None for t in first)
    assert all(lin._act_threshold is None for lin in linears)
    model(10 * torch.randn(4, 2, 12)).sum().backward()
    for conv, t in zip(convs, first, strict=True):
        assert torch.equal(conv._act_threshold, t)
    reset_activation_state(model)
    assert all(c._act_threshold is None for c in convs)


def test_init_inverse_power_and_seeded():
    a = wrap_layers(_conv_net(), beta=1.25, act_pruning=False)
    b = wrap_layers(_conv_net(), beta=1.25, act_pruning=False)
    dense = _conv_net()
    init_weights(a, torch.Generator().manual_seed(7))
    init_weights(b, torch.Generator().manual_seed(7))
    init_weights(dense, torch.Generator().manual_seed(7))
    for (ka, va), (_, vd) in zip(a.state_dict().items(), dense.state_dict().items(), strict=True):
        assert torch.equal(va, b.state_dict()[ka])
        if ka.endswith("weight") and va.dim() > 1:
            # Same draw u; stored v = sign(u)|u|^(1/beta), so the effective weight equals u.
            torch.testing.assert_close(powerprop(va, 1.25), vd)
            fan_in = vd[0].numel()
            sigma = math.sqrt(1 / fan_in) / 0.87962566
            assert vd.abs().max() <= 2 * sigma + 1e-6
        elif ka.endswith("bias"):
            assert torch.all(va == 0)


def test_powerprop_gradient_matches_autograd_of_the_formula():
    v = torch.tensor([-1.3, -0.2, 0.05, 0.7, 2.0], dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(lambda t: powerprop(t, 1.25), (v,))
    ref = v.detach().clone().requires_grad_(True)
    (torch.sign(ref) * ref.abs().pow(1.25)).sum().backward()
    powerprop(v, 1.25).sum().backward()
    torch.testing.assert_close(v.grad, ref.grad)
