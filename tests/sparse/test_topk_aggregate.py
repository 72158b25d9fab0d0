"""Global magnitude Top-K, sparsity reports and FedAvg of pseudo-gradients."""

from __future__ import annotations

import pytest
import torch

from sparsyfed.methods.aggregate import fedavg_pseudo_gradients
from sparsyfed.sparse.topk import global_magnitude_prune_, num_to_prune, sparsity_report


@pytest.mark.parametrize("sparsity", [0.0, 0.5, 0.9, 0.95, 0.99, 1.0])
def test_global_prune_leaves_exactly_round_s_n_zeros_and_keeps_the_largest(sparsity):
    g = torch.Generator().manual_seed(0)
    tensors = [
        torch.randn(30, 7, generator=g),
        0.1 * torch.randn(5, 3, 3, generator=g),
        torch.randn(64, generator=g),
    ]
    original = torch.cat([t.flatten().abs() for t in tensors])
    total = original.numel()
    kept = global_magnitude_prune_(tensors, sparsity)
    flat = torch.cat([t.flatten() for t in tensors])
    assert int((flat == 0).sum()) == num_to_prune(total, sparsity) == total - kept
    zeros = flat[flat == 0]
    assert not torch.signbit(zeros).any()  # +0.0 only: -0.0 would cost bytes on the wire
    if 0 < kept < total:
        survivors = original[flat != 0]
        victims = original[flat == 0]
        assert survivors.min() >= victims.max()


def test_global_prune_counts_existing_zeros_and_handles_ties():
    t = torch.tensor([0.0, 0.0, 1.0, 1.0, 1.0, 1.0, 2.0, 3.0, 0.0, 5.0])
    global_magnitude_prune_([t], 0.5)
    assert int((t == 0).sum()) == 5
    assert t[9] == 5.0 and t[7] == 3.0 and t[6] == 2.0


def test_sparsity_report_prunable_vs_all_params_and_per_layer():
    state = {
        "a.weight": torch.tensor([[0.0, 1.0], [0.0, 0.0]]),
        "a.bias": torch.tensor([1.0, 2.0]),
        "bn.running_mean": torch.zeros(3),
    }
    rep = sparsity_report(state, ["a.weight"], ["a.weight", "a.bias"])
    assert rep["sparsity_prunable"] == 0.75
    assert rep["sparsity_params"] == 0.5
    assert rep["layer_sparsity"] == {"a.weight": 0.75}
    assert rep["nnz_prunable"] == 1


def test_fedavg_equals_hand_computed_weighted_mean():
    g = {"w": torch.tensor([1.0, 2.0, 3.0]), "n": torch.tensor(10)}
    c1 = {"w": torch.tensor([2.0, 0.0, 4.0]), "n": torch.tensor(12)}
    c2 = {"w": torch.tensor([5.0, 0.0, 1.0]), "n": torch.tensor(13)}
    out = fedavg_pseudo_gradients(g, [c1, c2], [1, 3])
    assert torch.allclose(out["w"], torch.tensor([0.25 * 2 + 0.75 * 5, 0.0, 0.25 * 4 + 0.75 * 1]))
    assert out["w"][1].item() == 0.0  # zero in every client stays exactly zero
    assert out["n"].dtype == torch.int64 and out["n"].item() == 13  # round(12.75)
    # Server lr eta: theta_t + eta * mean(delta)
    half = fedavg_pseudo_gradients(g, [c1, c2], [1, 3], server_lr=0.5)
    expected = g["w"] + 0.5 * (0.25 * (c1["w"] - g["w"]) + 0.75 * (c2["w"] - g["w"]))
    assert torch.allclose(half["w"], expected)


def test_fedavg_rejects_bad_input():
    g = {"w": torch.zeros(2)}
    with pytest.raises(ValueError, match="zero client updates"):
        fedavg_pseudo_gradients(g, [], [])
    with pytest.raises(ValueError, match="positive"):
        fedavg_pseudo_gradients(g, [g], [0])
