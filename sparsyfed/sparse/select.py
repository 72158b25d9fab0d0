"""Prune by a score or at random to an exact count, and train under a model's own zeros.

Helpers of the methods that choose *which* weights to remove by something
other than magnitude (SNIP, GraSP: a saliency score; FedSparsify-Random:
chance), and of every method whose clients keep the zeros of the model they
received (:func:`freeze_zeros`). Like
:func:`~sparsyfed.sparse.topk.global_magnitude_prune_`, both prunes leave
exactly ``round(s * N)`` zeros over the tensors given together (zeros already
present count) and write ``+0.0``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import torch
from torch import Tensor, nn

from sparsyfed.nn.layers import prunable_layers
from sparsyfed.sparse.topk import keep_top_flat_, num_to_prune


@torch.no_grad()
def keep_highest_scores_(
    tensors: Sequence[Tensor], scores: Sequence[Tensor], sparsity: float
) -> int:
    """Zero the ``round(sparsity * N)`` entries of lowest score over all ``tensors``, in place.

    One threshold over the tensors together; exactly ``N - round(sparsity * N)``
    entries are kept (ties at the threshold are split by ``torch.topk``, so the
    count is exact).

    Parameters
    ----------
    tensors : sequence of Tensor
        The tensors to prune, modified in place.
    scores : sequence of Tensor
        One score tensor per tensor (same shapes); higher means keep.
    sparsity : float
        Target fraction of zeros in [0, 1].

    Returns
    -------
    int
        The number of entries kept.

    """
    if not tensors:
        return 0
    flat = torch.cat([s.detach().flatten().to(torch.float64) for s in scores])
    return keep_top_flat_(tensors, flat, sparsity)


@torch.no_grad()
def random_prune_(tensors: Sequence[Tensor], sparsity: float, generator: torch.Generator) -> int:
    """Zero uniformly random non-zero entries until ``round(sparsity * N)`` are zero, in place.

    The entries already zero count toward the target and stay zero; the
    missing ``max(0, round(sparsity * N) - zeros)`` are drawn without
    replacement among the non-zero entries of all ``tensors`` together.

    Parameters
    ----------
    tensors : sequence of Tensor
        The tensors to prune, modified in place.
    sparsity : float
        Target fraction of zeros in [0, 1].
    generator : torch.Generator
        The (CPU) generator of the draw.

    Returns
    -------
    int
        The number of entries zeroed by this call.

    """
    if not tensors:
        return 0
    alive = torch.cat([(t.detach() != 0).flatten().cpu() for t in tensors])
    total = alive.numel()
    remove = num_to_prune(total, sparsity) - (total - int(alive.sum()))
    if remove <= 0:
        return 0
    positions = torch.nonzero(alive).flatten()
    chosen = positions[torch.randperm(positions.numel(), generator=generator)[:remove]]
    dead = torch.zeros(total, dtype=torch.bool)
    dead[chosen] = True
    offset = 0
    for t in tensors:
        n = t.numel()
        t.masked_fill_(dead[offset : offset + n].view_as(t).to(t.device), 0.0)
        offset += n
    return remove


def freeze_zeros(model: nn.Module) -> Callable[[nn.Module], None]:
    """Freeze the zeros of ``model``'s prunable weights; return a hook that re-applies them.

    The hook writes ``+0.0`` into every weight entry that is zero now; it runs
    once here (a no-op on a received model) and, as ``train_sgd``'s
    ``after_step``, after every optimizer step.
    """
    layers = [layer for _, layer in prunable_layers(model)]
    pruned = [layer.weight.detach() == 0 for layer in layers]

    @torch.no_grad()
    def apply(_: nn.Module) -> None:
        for layer, off in zip(layers, pruned, strict=True):
            layer.weight.masked_fill_(off, 0.0)

    apply(model)
    return apply
