"""Prune by score, random prune to an exact count, PruneScope.groups (sparsyfed/sparse/select.py)."""

from __future__ import annotations

import torch
from torch import nn

from sparsyfed.sparse.scope import PruneScope
from sparsyfed.sparse.select import freeze_zeros, keep_highest_scores_, random_prune_


def test_keep_highest_scores_uses_one_threshold_over_all_tensors():
    a = torch.tensor([[1.0, -2.0], [3.0, -4.0]])
    b = torch.tensor([-5.0, 6.0, 7.0])
    # Scores (not magnitudes): the 3 lowest of 7 are a[0,1] (-9), b[2] (-1), a[1,1] (0).
    sa = torch.tensor([[0.5, -9.0], [2.0, 0.0]])
    sb = torch.tensor([4.0, 1.0, -1.0])
    kept = keep_highest_scores_([a, b], [sa, sb], 3 / 7)
    assert kept == 4
    assert torch.equal(a, torch.tensor([[1.0, 0.0], [3.0, 0.0]]))
    assert torch.equal(b, torch.tensor([-5.0, 6.0, 0.0]))
    assert not torch.signbit(a[a == 0]).any() and not torch.signbit(b[b == 0]).any()  # +0.0


def test_keep_highest_scores_edge_sparsities():
    t = torch.arange(1.0, 5.0)
    assert keep_highest_scores_([t], [t.clone()], 0.0) == 4 and bool(t.all())
    assert keep_highest_scores_([t], [t.clone()], 1.0) == 0 and not t.any()
    assert keep_highest_scores_([], [], 0.5) == 0


def test_random_prune_removes_exactly_the_missing_zeros_among_the_non_zeros():
    gen = torch.Generator().manual_seed(0)
    tensors = [torch.randn(10, 10, generator=gen) + 10, torch.randn(50, generator=gen) + 10]
    tensors[0][0, :7] = 0.0  # 7 zeros already present count toward the target
    before = [t.clone() for t in tensors]
    removed = random_prune_(tensors, 0.4, torch.Generator().manual_seed(1))
    assert removed == 60 - 7  # round(0.4 * 150) = 60 zeros in all
    assert sum(int((t == 0).sum()) for t in tensors) == 60
    for old, new in zip(before, tensors, strict=True):
        assert bool((new[old == 0] == 0).all())  # old zeros stay
        kept = new != 0
        assert torch.equal(new[kept], old[kept])  # kept entries unchanged
        assert not torch.signbit(new[new == 0]).any()
    # Already sparse enough: nothing happens.
    assert random_prune_(tensors, 0.3, torch.Generator().manual_seed(2)) == 0


def test_random_prune_is_seeded():
    def mask(seed: int) -> torch.Tensor:
        t = torch.ones(1000)
        random_prune_([t], 0.5, torch.Generator().manual_seed(seed))
        return t == 0

    assert torch.equal(mask(3), mask(3))
    assert not torch.equal(mask(3), mask(4))
    # Not a magnitude prune: equal magnitudes, yet an exact count.
    assert int(mask(3).sum()) == 500


def test_prune_scope_groups():
    keys = ("a", "b", "c", "d")
    assert PruneScope().groups(keys) == (keys,)
    assert PruneScope("layerwise").groups(keys) == (("a",), ("b",), ("c",), ("d",))
    assert PruneScope("global", "skip_first_last").groups(keys) == (("b", "c"),)
    assert PruneScope("layerwise", "skip_first_last").groups(keys) == (("b",), ("c",))


def test_freeze_zeros_reapplies_the_zeros_of_the_model_it_saw():
    model = nn.Sequential(nn.Linear(3, 2), nn.Linear(2, 2))
    with torch.no_grad():
        model[0].weight[0, 1] = 0.0
    hook = freeze_zeros(model)
    with torch.no_grad():
        for p in model.parameters():
            p.add_(1.0)
    hook(model)
    assert model[0].weight[0, 1] == 0.0 and int((model[0].weight == 0).sum()) == 1
    assert bool((model[0].bias != 0).all())  # biases are not prunable
