"""FedSparsify-Random: FedSparsify-Global with random instead of magnitude purges, docs/methods.md 11.7.

The original's ``random`` purging op (``PurgeByWeightMagnitudeRandomGradual``),
the control of the FedSparsify paper: the progressive schedule ``s_t``, masked
local training and FedAvg of :class:`~baselines.fedsparsify.FedSparsifyGlobal`,
but the server purge removes uniformly random weights among the merged
model's non-zero prunable weights until exactly ``round(s_t * N)`` are zero
(:func:`~sparsyfed.sparse.select.random_prune_`; ``prune_scope=layerwise``:
per layer; ``prune_layers=skip_first_last``: first and last layer dense). The
masks are nested, so the global sparsity follows the schedule exactly.

Every round's draw has its own generator, seeded from the run-level stream
``ctx.seeds.method(RANDOM_PURGE_TAG)`` and the round, so a resumed run draws
what the uninterrupted one did. The original draws one permutation of all
trainable entries at the start and zeros its first ``int(s_t * N)``
positions; the distribution of the masks is the same (uniform and nested).
"""

from __future__ import annotations

import torch

from baselines.fedsparsify import FedSparsifyGlobal
from sparsyfed.core.context import RoundContext
from sparsyfed.core.seeds import derive_seed
from sparsyfed.methods.base import State
from sparsyfed.sparse.select import random_prune_

RANDOM_PURGE_TAG = 0xF5D201
"""Tag of the method's seed stream (``RoundContext.seeds.method``)."""


def purge_generator(ctx: RoundContext) -> torch.Generator:
    """The generator of round ``ctx.round``'s random purge."""
    return torch.Generator().manual_seed(derive_seed(ctx.seeds.method(RANDOM_PURGE_TAG), ctx.round))


class FedSparsifyRandom(FedSparsifyGlobal):
    """FedSparsify-Global's protocol with a random server purge to ``s_t``."""

    def after_aggregate(self, global_state: State, ctx: RoundContext) -> State:
        """Zero random non-zero prunable weights of the merged model until ``s_t`` is reached."""
        if self.purges_in(ctx):
            generator = purge_generator(ctx)
            target = self.target_at(ctx)
            for group in self.settings.prune.groups(self.model_spec.prunable_keys):
                random_prune_([global_state[k] for k in group], target, generator)
        return global_state
