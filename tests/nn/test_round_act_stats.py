"""Per-round activation statistics of the wrapped layers: means over all training batches."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from torch import nn

from sparsyfed.core.client import layer_metrics
from sparsyfed.metrics.flops import activation_densities, activation_keep_fractions
from sparsyfed.nn.layers import reset_activation_state, spectral_exponent, wrap_layers


def _zero_first(weight: torch.Tensor, count: int) -> None:
    with torch.no_grad():
        weight.view(-1)[:count] = 0.0


def test_keep_fraction_and_density_are_sample_weighted_batch_means():
    torch.manual_seed(0)
    model = wrap_layers(nn.Sequential(nn.Linear(10, 8)), 1.25, True, act_threshold="per_batch")
    layer = model[0]
    model.train()
    batches = [(4, 40), (12, 64)]  # (batch samples, zeros among the 80 weights)
    keeps, kept, numel = [], 0, 0
    for samples, zeros in batches:
        _zero_first(layer.weight, zeros)
        x = torch.randn(samples, 10)  # no ties: the Top-K keeps exactly ceil(keep * numel)
        model(x).sum().backward()
        keep = 1.0 - zeros / 80
        keeps.append(keep)
        kept += math.ceil(keep * x.numel())
        numel += x.numel()
    model.eval()
    model(torch.randn(30, 10))  # evaluation batches are not counted
    expected_keep = (4 * keeps[0] + 12 * keeps[1]) / 16
    metrics = layer_metrics(model)
    assert metrics.value("act_keep_fraction")["0"] == pytest.approx(expected_keep)
    assert metrics.value("act_density")["0"] == pytest.approx(kept / numel)
    assert layer.last_keep_fraction == pytest.approx(keeps[1])  # the last batch alone differs
    assert expected_keep != pytest.approx(keeps[1])
    reset_activation_state(model)
    assert layer.mean_keep_fraction == 1.0 and layer.mean_act_density == 1.0


def test_realised_density_counts_relu_zeros_keep_fraction_does_not():
    torch.manual_seed(1)
    net = nn.Sequential(nn.Linear(6, 32), nn.ReLU(), nn.Linear(32, 4))
    model = wrap_layers(net, 1.25, True, act_threshold="per_batch")
    _zero_first(model[2].weight, 32)  # 25% zeros: keep 0.75 > the ReLU output's density
    model.train()
    x = torch.randn(16, 6)
    model(x).sum().backward()
    with torch.no_grad():  # not a training forward: not counted
        relu_density = float((torch.relu(model[0](x)) != 0).float().mean())
    model(x).sum().backward()  # second batch, same input: same statistics
    keep = activation_keep_fractions(model)
    density = activation_densities(model)
    assert keep == {"0": 1.0, "2": 0.75}
    # Ties at threshold 0 keep every entry, so the saved input is the ReLU output itself.
    assert density["2"] == pytest.approx(relu_density)
    assert density["2"] < 0.7
    assert density["0"] == 1.0


def test_dense_layers_report_keep_one_and_the_realised_density():
    torch.manual_seed(2)
    net = nn.Sequential(nn.Linear(6, 32), nn.ReLU(), nn.Linear(32, 4))
    model = wrap_layers(net, 1.25, act_pruning=False)
    model.train()
    x = torch.randn(16, 6)
    model(x).sum().backward()
    with torch.no_grad():  # not a training forward: not counted
        relu_density = float((torch.relu(model[0](x)) != 0).float().mean())
    metrics = layer_metrics(model)
    assert metrics.value("act_keep_fraction") == {"0": 1.0, "2": 1.0}
    assert relu_density < 0.7
    assert metrics.value("act_density")["2"] == pytest.approx(relu_density)


def test_spectral_layers_report_the_exponent_applied():
    torch.manual_seed(3)
    net = nn.Sequential(nn.Conv1d(2, 4, 3), nn.ReLU(), nn.Flatten(), nn.Linear(40, 3))
    model = wrap_layers(net, beta=-1.0, act_pruning=True)
    received = {"0": model[0].weight.detach().clone(), "3": model[3].weight.detach().clone()}
    model.train()
    optimizer = torch.optim.SGD(model.parameters(), lr=0.5)
    for _ in range(3):  # the weights move; the exponent stays the received weights' one
        optimizer.zero_grad()
        model(torch.randn(8, 2, 12)).sum().backward()
        optimizer.step()
    expected = {name: spectral_exponent(w) for name, w in received.items()}
    assert all(spectral_exponent(model[int(n)].weight.detach()) != e for n, e in expected.items())
    metrics = layer_metrics(model)
    assert metrics.value("spectral_exponent") == expected
    assert metrics.value("spectral_exponent_mean") == float(np.mean(list(expected.values())))
    fixed = wrap_layers(
        nn.Sequential(nn.Conv1d(2, 4, 3), nn.ReLU(), nn.Flatten(), nn.Linear(40, 3)), 1.25, True
    )
    fixed.train()
    fixed(torch.randn(8, 2, 12)).sum().backward()
    assert "spectral_exponent" not in layer_metrics(fixed)
