"""Mask helpers for methods that train under, or build, explicit masks (FLASH).

Torch only: keep exactly the ``k`` largest magnitudes of a tensor, split a
budget of kept entries over tensors, draw random masks with exact counts, and
keep parameters at zero outside a mask during training (statically, or with
dynamic prune-and-regrow).
"""

from __future__ import annotations

import functools
import math
from collections.abc import Collection, Mapping
from fractions import Fraction

import torch
from torch import Tensor, nn

from sparsyfed.nn.kernels import masked_zero, masked_zero_


@torch.no_grad()
def keep_largest_(t: Tensor, k: int) -> Tensor:
    """Keep exactly the ``k`` largest magnitudes of ``t`` (any tie order), zero the rest."""
    n = t.numel()
    if k >= n:
        return t
    if k <= 0:
        return t.zero_()
    keep = torch.zeros(n, dtype=torch.bool, device=t.device)
    keep[torch.topk(t.detach().abs().flatten(), k, sorted=False).indices] = True
    return t.masked_fill_(~keep.view_as(t), 0.0)  # +0.0, never -0.0


def allocate_counts(
    targets: Mapping[str, float | Fraction], caps: Mapping[str, int], total: int
) -> dict[str, int]:
    """Split ``total`` into integers proportional to ``targets``, each at most its cap.

    Keys whose proportional share reaches their cap get the cap and the rest is
    re-split among the others; the last split takes floors and hands out the
    remainder by largest fractional part (first key on ties). Exact rational
    arithmetic, so the counts sum to ``min(total, sum(caps))``. Keys with no
    target weight share in proportion to their caps if nothing else is left.
    """
    remaining = min(int(total), sum(int(c) for c in caps.values()))
    counts = dict.fromkeys(targets, 0)
    free = [k for k in targets if caps[k] > 0]
    share: dict[str, Fraction] = {}
    while free and remaining > 0:
        weights = {k: Fraction(max(targets[k], 0)) for k in free}
        if sum(weights.values()) == 0:
            weights = {k: Fraction(caps[k]) for k in free}
        norm = sum(weights.values())
        share = {k: remaining * weights[k] / norm for k in free}
        full = [k for k in free if share[k] >= caps[k]]
        if not full:
            floors = {k: math.floor(share[k]) for k in free}
            left = remaining - sum(floors.values())
            by_remainder = sorted(free, key=lambda k: share[k] - floors[k], reverse=True)
            for k in by_remainder[:left]:
                floors[k] += 1
            counts.update(floors)
            break
        for k in full:
            counts[k] = int(caps[k])
            remaining -= int(caps[k])
            free.remove(k)
    return counts


def random_mask(shape: torch.Size, count: int, generator: torch.Generator) -> Tensor:
    """A boolean mask of ``shape`` with exactly ``count`` uniformly random True entries."""
    n = math.prod(shape)
    mask = torch.zeros(n, dtype=torch.bool)
    mask[torch.randperm(n, generator=generator)[:count]] = True
    return mask.view(shape)


def _mask_grad(dead: Tensor, grad: Tensor) -> Tensor:
    return masked_zero(grad, dead)  # grad.masked_fill(dead, 0.0), bit for bit


class MaskedParameters:
    """Keep parameters at ``+0.0`` outside a mask during :func:`train_sgd`.

    A tensor hook zeroes their gradients (before weight decay and momentum, so
    the optimizer state stays zero there too) and :meth:`after_step` re-sets
    the masked values after every optimizer step. Call :meth:`close` after
    training to remove the hooks.

    Parameters
    ----------
    params : mapping of str to Parameter
        The parameters to mask.
    masks : mapping of str to Tensor
        Boolean masks (True = trainable), one per parameter.

    """

    def __init__(self, params: Mapping[str, nn.Parameter], masks: Mapping[str, Tensor]) -> None:
        self.params = dict(params)
        # Inverted masks, updated in place by subclasses (the hooks hold them).
        self.dead = {k: ~masks[k].to(p.device, torch.bool) for k, p in self.params.items()}
        self._handles = [
            p.register_hook(functools.partial(_mask_grad, self.dead[k]))
            for k, p in self.params.items()
        ]
        self.apply()

    @torch.no_grad()
    def apply(self) -> None:
        """Set every masked entry to ``+0.0``."""
        for key, param in self.params.items():
            masked_zero_(param, self.dead[key])  # param.masked_fill_(dead, 0.0)

    def after_step(self, model: nn.Module) -> None:
        """The ``train_sgd`` callback."""
        self.apply()

    def close(self) -> None:
        """Remove the gradient hooks."""
        for handle in self._handles:
            handle.remove()
        self._handles = []


class DynamicSparsity(MaskedParameters):
    """Prune-and-regrow dynamic sparse training of masked parameters (SPDST stage 1).

    After each optimizer step whose number (1-based) is in ``update_steps``
    each tensor drops its ``ceil(rate * nnz)`` active entries of smallest
    magnitude; the same total is regrown at random inactive positions, split
    over the tensors by ``redistribution`` (see the module docstring). Regrown
    entries start at 0. With ``decay="linear"`` the rate after step ``t`` is
    ``prune_rate * (1 - t / total_steps)``.
    """

    def __init__(
        self,
        params: Mapping[str, nn.Parameter],
        masks: Mapping[str, Tensor],
        *,
        prune_rate: float,
        update_steps: Collection[int],
        total_steps: int,
        decay: str = "constant",
        redistribution: str = "magnitude",
        generator: torch.Generator,
    ) -> None:
        super().__init__(params, masks)
        self.prune_rate = prune_rate
        self.update_steps = frozenset(int(s) for s in update_steps)
        self.total_steps = int(total_steps)
        self.decay = decay
        self.redistribution = redistribution
        self.generator = generator
        self.step = 0
        self.updates = 0

    def rate(self) -> Fraction:
        """The prune rate after the current step (linear decay: to 0 over ``total_steps``).

        Exact rational arithmetic, so ``ceil(rate * nnz)`` never gains an entry
        from float rounding.
        """
        rate = Fraction(self.prune_rate)
        if self.decay == "linear":
            rate *= 1 - Fraction(self.step, max(1, self.total_steps))
        return rate

    def after_step(self, model: nn.Module) -> None:
        """Re-apply the mask; update it after the steps in ``update_steps``."""
        self.apply()
        self.step += 1
        if self.step in self.update_steps:
            self.update_masks(self.rate())

    @torch.no_grad()
    def update_masks(self, rate: float | Fraction) -> None:
        """Magnitude-prune ``ceil(rate * nnz)`` of every tensor's active entries, regrow at random."""
        removed: dict[str, int] = {}
        score: dict[str, Fraction] = {}
        room: dict[str, int] = {}
        for key, param in self.params.items():
            dead = self.dead[key].view(-1)
            mags = param.detach().abs().flatten()
            alive = ~dead
            nnz = int(alive.sum())
            score[key] = Fraction(float(mags[alive].mean())) if nnz else Fraction(0)
            r = min(nnz, math.ceil(rate * nnz))
            if r:
                candidates = mags.masked_fill(dead, math.inf)
                dead[torch.topk(candidates, r, largest=False, sorted=False).indices] = True
            removed[key] = r
            room[key] = int(dead.sum())
        self.apply()  # pruned weights become 0, so a re-picked one restarts at 0
        total = sum(removed.values())
        grow = removed if self.redistribution == "none" else allocate_counts(score, room, total)
        for key, count in grow.items():
            if count:
                dead = self.dead[key].view(-1)
                positions = torch.nonzero(dead).flatten()
                pick = torch.randperm(positions.numel(), generator=self.generator)[:count]
                dead[positions[pick.to(positions.device)]] = False
        self.updates += 1
