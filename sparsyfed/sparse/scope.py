"""Which prunable weights a magnitude prune covers, and with one threshold or one per layer.

The run's top-level keys ``prune_scope`` and ``prune_layers`` are read once
into a :class:`PruneScope` (``RunConfig.prune``); the upload step and the
server-side purges that follow these keys take it from there
(docs/methods.md sections 4.6 and 4.7).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from torch import Tensor

from sparsyfed.sparse.topk import global_magnitude_prune_
from sparsyfed.validation import as_choice, fail

PRUNE_SCOPES = ("global", "layerwise")
"""``global`` (official): one magnitude threshold over all pruned weights; ``layerwise``: one per layer."""
PRUNE_LAYERS = ("all", "skip_first_last")
"""``all`` (official): every conv/linear weight; ``skip_first_last``: the first and last stay dense."""


@dataclass(frozen=True)
class PruneScope:
    """How a magnitude prune to a sparsity ``s`` is spread over the prunable weights.

    Attributes
    ----------
    scope : str
        ``global``: ``round(s * N)`` zeros over the pruned tensors together (one
        threshold); ``layerwise``: ``round(s * n_l)`` zeros in every pruned
        tensor ``l`` separately.
    layers : str
        ``all``: every prunable (conv/linear) weight is pruned;
        ``skip_first_last``: the first and the last prunable weight (model
        order) are left out of the prune, the target applies to the rest.

    """

    scope: str = "global"
    layers: str = "all"

    def __post_init__(self) -> None:
        as_choice("prune_scope", self.scope, PRUNE_SCOPES)
        as_choice("prune_layers", self.layers, PRUNE_LAYERS)

    @property
    def is_default(self) -> bool:
        """Whether this is the official prune (global over every prunable weight)."""
        return self.scope == "global" and self.layers == "all"

    def targets(self, prunable_keys: Sequence[str]) -> tuple[str, ...]:
        """The keys a prune touches, in model order (``ConfigError`` if none are left).

        Parameters
        ----------
        prunable_keys : sequence of str
            The ``state_dict`` keys of the conv/linear weights, in model order.

        """
        keys = tuple(prunable_keys)
        if self.layers == "all":
            return keys
        if len(keys) < 3:
            fail(
                "prune_layers",
                self.layers,
                f"the model has {len(keys)} prunable layers; skipping the first and the last "
                "needs at least 3",
            )
        return keys[1:-1]

    def prune_(
        self, state: Mapping[str, Tensor], prunable_keys: Sequence[str], sparsity: float
    ) -> None:
        """Magnitude-prune the target tensors of ``state`` to ``sparsity``, in place.

        Zeros already present count toward the target and pruned entries are
        written as ``+0.0`` (:func:`~sparsyfed.sparse.topk.global_magnitude_prune_`).

        Parameters
        ----------
        state : mapping of str to Tensor
            A model state; its target tensors are modified in place.
        prunable_keys : sequence of str
            The keys of the conv/linear weights, in model order.
        sparsity : float
            Target fraction of zeros in [0, 1] (per tensor for ``layerwise``).

        """
        for group in self.groups(prunable_keys):
            global_magnitude_prune_([state[key] for key in group], sparsity)

    def groups(self, prunable_keys: Sequence[str]) -> tuple[tuple[str, ...], ...]:
        """The key groups that each get one threshold: all targets together, or one per layer.

        Parameters
        ----------
        prunable_keys : sequence of str
            The keys of the conv/linear weights, in model order.

        """
        keys = self.targets(prunable_keys)
        return tuple((key,) for key in keys) if self.scope == "layerwise" else (keys,)


OFFICIAL_PRUNE = PruneScope()
"""The official prune: one global threshold over every conv/linear weight."""
