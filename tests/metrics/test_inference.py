"""Sparse inference execution: equal outputs, per-layer choices, throughput counts."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from sparsyfed.metrics.inference import (
    CsrConv,
    fold_powerprop,
    side_by_side,
    sparse_execution,
)
from sparsyfed.models.cnn import UniformCNN
from sparsyfed.nn.init import init_weights
from sparsyfed.nn.layers import prunable_layers, wrap_layers
from sparsyfed.sparse.topk import global_magnitude_prune_


def _sparse_cnn(spatial_dims: int, beta: float = 1.0) -> nn.Module:
    model = UniformCNN(1, 10, spatial_dims=spatial_dims, width=8, depth=3, kernel_size=3)
    init_weights(model, torch.Generator().manual_seed(0))
    global_magnitude_prune_([m.weight.data for _, m in prunable_layers(model)], 0.9)
    if beta != 1.0:
        wrap_layers(model, beta, act_pruning=True)
    return model.eval()


@pytest.mark.parametrize(("dims", "shape"), [(1, (4, 1, 40)), (2, (4, 1, 8, 8))])
def test_sparse_execution_computes_the_models_outputs(dims, shape):
    model = _sparse_cnn(dims, beta=1.25)
    x = torch.randn(shape, generator=torch.Generator().manual_seed(1))
    run = sparse_execution(model, x, policy="sparse", reps=1)
    assert all(layer.sparse for layer in run.layers)
    assert sum(isinstance(m, CsrConv) for m in run.sparse.modules()) == 3
    with torch.no_grad():
        want = model(x)  # Powerprop applied on the fly, as the run evaluated it
    torch.testing.assert_close(run.sparse(x), want, rtol=1e-4, atol=1e-5)
    torch.testing.assert_close(run.dense(x), want, rtol=1e-5, atol=1e-6)
    assert [c.density for c in run.layers] == pytest.approx(
        [float((m.weight != 0).float().mean()) for _, m in prunable_layers(model)]
    )


def test_folding_powerprop_leaves_plain_layers_with_the_effective_weight():
    model = _sparse_cnn(1, beta=1.25)
    folded = fold_powerprop(model)
    layer = dict(prunable_layers(folded))["classifier"]
    original = dict(prunable_layers(model))["classifier"]
    assert type(layer) is nn.Linear
    torch.testing.assert_close(layer.weight, original.effective_weight())


def test_best_policy_takes_the_faster_of_the_timed_executions_and_counts_batches():
    model = _sparse_cnn(1)
    x = torch.randn(2, 1, 40)
    run = sparse_execution(model, x, policy="best", reps=2)
    for layer in run.layers:
        assert layer.sparse == (layer.sparse_seconds < layer.dense_seconds)
    dense = sparse_execution(model, x, policy="dense", reps=1)
    assert not any(layer.sparse for layer in dense.layers)
    results = side_by_side({"dense": run.dense, "best": run.sparse}, x, seconds=0.04, blocks=2)
    for result in results.values():
        assert result.batches >= 2 and result.median_latency > 0
        assert result.batches_per_second > 0
