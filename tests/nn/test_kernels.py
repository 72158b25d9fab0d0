"""The fast helpers give the plain formulas' values bit for bit (signed zeros, NaN, ties)."""

from __future__ import annotations

import math

import pytest
import torch
from torch import nn

from sparsyfed.nn.activation_topk import prune_by_threshold, topk_threshold
from sparsyfed.nn.kernels import (
    count_nonzero,
    kth_largest,
    masked_zero,
    masked_zero_,
    zero_below_,
    zero_below_count_,
)
from sparsyfed.nn.layers import powerprop, sparse_layers, wrap_layers


def _bits(t: torch.Tensor) -> torch.Tensor:
    """The raw bit patterns (so -0.0 differs from +0.0)."""
    return t.contiguous().view(torch.int32)


def _awkward(n: int, seed: int) -> torch.Tensor:
    """Normal values with ReLU zeros, negative zeros, ties, infinities and a NaN."""
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(n, generator=g)
    x[torch.rand(n, generator=g) < 0.4] = 0.0
    x[torch.rand(n, generator=g) < 0.05] = -0.0
    x[torch.rand(n, generator=g) < 0.05] = 0.5  # ties
    x[torch.rand(n, generator=g) < 0.001] = -0.5
    x[:3] = torch.tensor([float("inf"), float("-inf"), float("nan")])
    return x


@pytest.mark.parametrize("n", [7, 5000, 70_000])
def test_count_nonzero_is_torch_count_nonzero(n):
    x = _awkward(n, n)
    got = count_nonzero(x.view(-1, 1) if n % 2 else x)
    assert got.dtype == torch.int64 and got.dim() == 0
    assert int(got) == int(torch.count_nonzero(x))


@pytest.mark.parametrize("n", [9, 40_000])
def test_zero_below_is_the_masked_fill_bit_for_bit(n):
    w = _awkward(n, 3 + n)
    for t in (0.0, 0.5, 1.3):
        threshold = torch.tensor(t)
        expected = w.clone().masked_fill_(w.abs() < threshold, 0.0)
        got = zero_below_(w.clone(), threshold)
        nan = torch.isnan(expected)
        assert torch.equal(torch.isnan(got), nan)
        assert torch.equal(_bits(got)[~nan], _bits(expected)[~nan])  # pruned entries are +0.0


@pytest.mark.parametrize("layout", ["float32", "float64", "strided"])
def test_zero_below_count_counts_the_dropped_and_gives_the_non_zeros(layout):
    w = _awkward(40_000, 7)
    if layout == "float64":
        w = w.double()
    elif layout == "strided":
        w = w.reshape(200, 200).t()  # not contiguous: the masked-fill path
    for t in (0.5, 1.3):
        threshold = torch.tensor(t, dtype=w.dtype)
        dropped_expected = int((w.abs() < threshold).sum())
        got = w.clone()
        dropped = zero_below_count_(got, threshold)
        assert dropped.dtype == torch.int64 and int(dropped) == dropped_expected
        assert w.numel() - int(dropped) == int(torch.count_nonzero(got))
        assert 0 < dropped_expected < w.numel()


@pytest.mark.parametrize("n", [9, 40_000])
def test_prune_by_threshold_is_the_product_with_the_mask_bit_for_bit(n):
    x = _awkward(n, 11 + n).reshape(-1, 1)
    for t in (0.0, 0.5, 2.0):
        threshold = torch.tensor(t)
        expected = x * (x.abs() >= threshold)
        got = prune_by_threshold(x, threshold)
        nan = torch.isnan(expected)
        assert torch.equal(torch.isnan(got), nan)
        assert torch.equal(_bits(got)[~nan], _bits(expected)[~nan])  # -0.0 kept as -0.0


@pytest.mark.parametrize("n", [1000, 40_000, 300_000])
@pytest.mark.parametrize("keep", [1e-7, 0.01, 0.05, 0.2, 0.6, 1.0])
def test_kth_largest_is_kthvalue(n, keep):
    for seed, finite in ((0, True), (1, False)):
        x = _awkward(n, seed + n).abs()
        if finite:
            x = torch.nan_to_num(x, nan=0.0, posinf=7.0)
        k = min(n, max(1, math.ceil(keep * n)))
        expected = torch.kthvalue(x, n - k + 1).values
        got = kth_largest(x, k)
        assert torch.equal(got, expected) or (got.isnan() and expected.isnan())


def test_kth_largest_falls_back_when_the_sample_misses_the_top():
    # The largest values sit between the sample's stride points: the bound is too high.
    n = 1 << 16
    x = torch.zeros(n)
    x[1::16] = torch.arange(1, n // 16 + 1, dtype=torch.float32)
    x[::16] = 1e6  # every sampled element is huge
    k = n // 8
    assert torch.equal(kth_largest(x, k), torch.kthvalue(x, n - k + 1).values)


def test_topk_threshold_is_the_kthvalue_of_the_magnitudes():
    x = torch.randn(16, 64, 8, 8).relu_() - 0.1
    for keep in (0.05, 0.3):
        k = math.ceil(keep * x.numel())
        expected = torch.kthvalue(x.abs().flatten(), x.numel() - k + 1).values
        assert torch.equal(topk_threshold(x, keep), expected)


def test_powerprop_forward_and_backward_are_the_reference_formula_bit_for_bit():
    g = torch.Generator().manual_seed(5)
    v = torch.randn(3000, generator=g)
    v[::7] = 0.0
    v[1::11] = -0.0
    grad = torch.randn(3000, generator=g)
    for beta in (1.15, 1.25, 1.7):
        scale = v.abs().pow(beta - 1.0)
        p = v.clone().requires_grad_(True)
        w = powerprop(p, beta)
        w.backward(grad)
        assert torch.equal(_bits(w.detach()), _bits(v * scale))
        assert torch.equal(_bits(p.grad), _bits(grad * scale * beta))
        assert torch.all(p.grad[v == 0] == 0)


def test_activation_topk_keeps_the_same_entries_as_the_forward_mask():
    """The backward prunes with the forward's threshold: kept entries and counts as before."""
    torch.manual_seed(0)
    net = nn.Sequential(nn.Conv2d(3, 8, 3, padding=1), nn.ReLU(), nn.Conv2d(8, 4, 3, padding=1))
    model = wrap_layers(net, beta=1.25, act_pruning=True, act_threshold="per_batch")
    with torch.no_grad():
        for _, layer in sparse_layers(model):
            layer.weight[torch.rand_like(layer.weight) < 0.8] = 0.0
    model.train()
    x = torch.randn(4, 3, 9, 9)
    conv = model[2]
    hidden = torch.relu(model[0](x)).detach()
    model(x).sum().backward()
    threshold = topk_threshold(hidden, conv.last_keep_fraction)
    reference = hidden * (hidden.abs() >= threshold)
    nnz, numel = conv._act_nnz
    assert numel == hidden.numel() and int(nnz) == int(torch.count_nonzero(reference))
    # The weight gradient is the one of the pruned input (chained through Powerprop).
    w_eff = powerprop(conv.weight.detach(), 1.25).requires_grad_(True)
    out = torch.nn.functional.conv2d(reference, w_eff, None, 1, 1)
    out.backward(torch.ones_like(out))
    dw_dv = 1.25 * conv.weight.detach().abs().pow(0.25)
    torch.testing.assert_close(conv.weight.grad, w_eff.grad * dw_dv)


def test_masked_zero_is_the_masked_fill_bit_for_bit():
    g = torch.Generator().manual_seed(9)
    t = _awkward(5000, 9).reshape(50, 100)
    dead = torch.rand(t.shape, generator=g) < 0.7
    expected = t.masked_fill(dead, 0.0)
    got = masked_zero(t, dead)
    nan = torch.isnan(expected)
    assert torch.equal(torch.isnan(got), nan)
    assert torch.equal(_bits(got)[~nan], _bits(expected)[~nan])
    inplace = t.clone()
    assert masked_zero_(inplace, dead) is inplace
    assert torch.equal(torch.isnan(inplace), nan)
    assert torch.equal(_bits(inplace)[~nan], _bits(expected)[~nan])
    # Non-contiguous input: the plain path, same values.
    assert torch.equal(masked_zero(t.t(), dead.t()), t.t().masked_fill(dead.t(), 0.0))
