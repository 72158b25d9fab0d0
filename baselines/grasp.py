"""GraSP (Wang et al. 2020): Gradient Signal Preservation at initialisation, docs/methods.md 11.6.

The protocol is SNIP's (:class:`~baselines.snip.PruneAtInit`: one seeded
client's first ``method.score_batches`` batches, eval mode, one global
threshold, the mask fixed for the run); only the score differs:

``S(w) = -w * (H g)``,  ``g = dL/dw``,  ``H = d^2 L / dw^2``

over the prunable (conv/linear) weights, the Hessian-gradient product by
double backpropagation (``H g = d(g_detached . dL/dw)/dw``). Removing a
weight with a large ``S`` reduces the gradient norm least (or increases it),
so GraSP removes the ``round(S * N)`` weights of **highest** score (the
paper's Eq. 8 and Algorithm 1); the FedSparsify original (``PurgeGrasp``)
keeps the highest ``w * Hg`` instead, the same rule.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from baselines.snip import Batch, PruneAtInit, mean_loss_terms


def hessian_gradient_product(
    model: nn.Module, weights: list[Tensor], batches: list[Batch]
) -> tuple[list[Tensor], list[Tensor]]:
    """Return ``(g, H g)`` of the mean cross-entropy over ``batches`` w.r.t. ``weights``.

    Both are sums over the batches of each batch's share of the mean loss, so
    they equal the full-set values in eval mode (no batch statistics).
    """
    grads = [torch.zeros_like(w) for w in weights]
    for term in mean_loss_terms(model, batches):
        for acc, g in zip(grads, torch.autograd.grad(term, weights), strict=True):
            acc.add_(g)
    hg = [torch.zeros_like(w) for w in weights]
    for term in mean_loss_terms(model, batches):
        inner = torch.autograd.grad(term, weights, create_graph=True)
        z = sum((gi * g).sum() for gi, g in zip(inner, grads, strict=True))
        for acc, h in zip(hg, torch.autograd.grad(z, weights), strict=True):
            acc.add_(h)
    return grads, hg


def grasp_scores(model: nn.Module, weights: list[Tensor], batches: list[Batch]) -> list[Tensor]:
    """The GraSP score ``-w * (H g)`` of every tensor in ``weights`` (highest = removed first)."""
    _, hg = hessian_gradient_product(model, weights, batches)
    return [-(w.detach() * h) for w, h in zip(weights, hg, strict=True)]


class Grasp(PruneAtInit):
    """GraSP: remove the weights of highest ``-w * Hg`` (keep the lowest)."""

    def keep_priority(
        self, model: nn.Module, weights: list[Tensor], batches: list[Batch]
    ) -> list[Tensor]:
        """Minus the GraSP score: the lowest scores have the highest priority."""
        return [-s for s in grasp_scores(model, weights, batches)]
