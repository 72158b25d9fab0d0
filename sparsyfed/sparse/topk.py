"""Magnitude Top-K pruning and sparsity statistics (docs/methods.md section 4)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import torch
from torch import Tensor


def num_to_prune(numel: int, sparsity: float) -> int:
    """Return ``round(sparsity * numel)``, the number of zeros a prune must leave."""
    if not 0.0 <= sparsity <= 1.0:
        raise ValueError(f"sparsity={sparsity!r} must lie in [0, 1]")
    return round(sparsity * numel)


@torch.no_grad()
def global_magnitude_prune_(tensors: Sequence[Tensor], sparsity: float) -> int:
    """Zero the smallest-magnitude entries over all ``tensors`` together, in place.

    Exactly ``round(sparsity * N)`` entries end up zero, ``N`` being the total
    number of entries; entries that are already zero count toward that number
    (as PyTorch's global unstructured L1 pruning in the official code). Ties at
    the threshold are broken by position, so the count is exact.

    Parameters
    ----------
    tensors : sequence of Tensor
        The tensors to prune (e.g. every conv/linear weight), modified in place.
    sparsity : float
        Target fraction of zeros in [0, 1].

    Returns
    -------
    int
        The number of entries kept (``N - round(sparsity * N)``).

    """
    if not tensors:
        return 0
    return keep_top_flat_(
        tensors, torch.cat([t.detach().abs().flatten() for t in tensors]), sparsity
    )


@torch.no_grad()
def keep_top_flat_(tensors: Sequence[Tensor], flat_scores: Tensor, sparsity: float) -> int:
    """Keep the ``N - round(sparsity * N)`` entries of highest score, zero the rest, in place.

    ``flat_scores`` holds the scores of all ``tensors`` flattened and
    concatenated in order. Ties at the threshold are split by
    ``torch.topk``, so the count is exact; pruned entries become ``+0.0``.

    Returns
    -------
    int
        The number of entries kept.

    """
    total = flat_scores.numel()
    keep = total - num_to_prune(total, sparsity)
    if keep >= total:
        return total
    mask = torch.zeros(total, dtype=torch.bool, device=flat_scores.device)
    if keep > 0:
        mask[torch.topk(flat_scores, keep, sorted=False).indices] = True
    offset = 0
    for t in tensors:
        n = t.numel()
        # masked_fill writes +0.0; multiplying by the mask would leave -0.0 for
        # negative weights, a non-zero bit pattern that the codecs must send.
        t.masked_fill_(~mask[offset : offset + n].view_as(t).to(t.device), 0.0)
        offset += n
    return keep


def zero_fraction(t: Tensor) -> float:
    """Fraction of exact zeros in ``t`` (0.0 for an empty tensor)."""
    n = t.numel()
    return float((t == 0).sum()) / n if n else 0.0


def sparsity_report(
    state: Mapping[str, Tensor], prunable: Sequence[str], parameter_names: Sequence[str]
) -> dict[str, object]:
    """Summarise the sparsity of a model state.

    Parameters
    ----------
    state : mapping of str to Tensor
        A ``state_dict``-like mapping.
    prunable : sequence of str
        Keys of the prunable weights (conv/linear).
    parameter_names : sequence of str
        Keys of the trainable parameters (the official ``sparsity`` counts
        zeros over all parameters, buffers excluded).

    Returns
    -------
    dict
        ``sparsity_prunable`` (zeros over prunable weights), ``sparsity_params``
        (zeros over all parameters), ``nnz_prunable``, ``numel_prunable`` and
        ``layer_sparsity`` (key -> zero fraction, every prunable tensor kept).

    """
    zeros_p = numel_p = 0
    layer: dict[str, float] = {}
    for key in prunable:
        t = state[key]
        z = int((t == 0).sum())
        zeros_p += z
        numel_p += t.numel()
        layer[key] = z / t.numel()
    zeros_all = sum(int((state[k] == 0).sum()) for k in parameter_names)
    numel_all = sum(state[k].numel() for k in parameter_names)
    return {
        "sparsity_prunable": zeros_p / numel_p if numel_p else 0.0,
        "sparsity_params": zeros_all / numel_all if numel_all else 0.0,
        "nnz_prunable": numel_p - zeros_p,
        "numel_prunable": numel_p,
        "layer_sparsity": layer,
    }
