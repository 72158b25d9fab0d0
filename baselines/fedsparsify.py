"""FedSparsify (Stripelis et al. 2022, "Purge-Merge-Tune"), docs/methods.md section 11.

Progressive magnitude pruning to the target sparsity ``S_T`` (top-level
``sparsity``) over the run's ``rounds`` with the schedule of
:func:`sparsity_schedule`. Both variants use plain layers (``beta = 1``) and
SparsyFed's local training recipe (the base ``train``), and from round
``start_round + 1`` on every client trains under the binary mask of the model
it received (its non-zero prunable weights), re-applied after every optimizer
step.

- **Global** (:class:`FedSparsifyGlobal`): clients upload the masked model; the
  server runs sample-weighted FedAvg and then purges the merged model to
  ``s_t`` with one magnitude threshold over all prunable weights.
- **Local** (:class:`FedSparsifyLocal`): each client purges its own model to
  ``s_t`` before uploading; the server merges with Majority Voting
  (:func:`majority_vote_merge`) with the quorum ``method.vote_quorum``
  (:func:`vote_threshold`).

Purges follow the run's prune scope (``prune_scope``, ``prune_layers``): the
client purge is the shared upload step, the server purge of the Global variant
uses the same :class:`~sparsyfed.sparse.scope.PruneScope`, and the vote covers
the weights the purge covers.

Prunable tensors are the conv/linear weights only (``prunable_weight_names``);
the Keras original also purged biases and BatchNorm gamma/beta, which here stay
dense as in every other method of this project. Purges write ``+0.0`` and count
the zeros already present, so a purge to ``s`` leaves exactly ``round(s * N)``
zeros (unless more were already there).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import ClassVar

import torch
from torch import Tensor, nn

from sparsyfed.core.context import RoundContext
from sparsyfed.core.training import LocalTraining, train_sgd
from sparsyfed.methods.aggregate import fedavg_pseudo_gradients
from sparsyfed.methods.base import ClientUpdate, Method, MethodSettings, Option, State
from sparsyfed.metrics.values import Metrics
from sparsyfed.sparse.select import freeze_zeros
from sparsyfed.validation import fail

VOTE_QUORUMS = ("floor_half", "half")
"""``floor_half``: ``>= floor(K/2)`` votes (the original code); ``half``: ``>= K/2`` (the paper's Eq. 2)."""


def vote_threshold(num_clients: int, quorum: str = "floor_half") -> int:
    """The number of votes an entry needs to survive the Majority Voting merge.

    ``floor_half`` (default, the original code) needs ``floor(K / 2)`` votes,
    ``half`` (the paper's ``>= K/2``) needs ``ceil(K / 2)``; they differ only
    for odd ``K`` (``K = 5``: 2 against 3 votes).

    Parameters
    ----------
    num_clients : int
        ``K``, the number of client states merged.
    quorum : str
        ``floor_half`` or ``half``.

    """
    if quorum == "floor_half":
        return num_clients // 2
    if quorum == "half":
        return (num_clients + 1) // 2
    raise ValueError(f"quorum={quorum!r} must be one of {VOTE_QUORUMS}")


def sparsity_schedule(
    t: int,
    target: float,
    total_rounds: int,
    n: float = 3,
    frequency: int = 1,
    start_round: int = 1,
    initial: float = 0.0,
) -> float:
    """Return FedSparsify's sparsity ``s_t`` of round ``t``.

    ``s_t = S_T + (S_0 - S_T) * (1 - (t' - t0) / (T - t0))**n`` with
    ``t' = F * floor(t / F)``; ``s_t = S_0`` for ``t <= t0`` and ``s_t = S_T``
    for ``t >= T`` (also when ``F`` does not divide ``T``, where the bare
    formula would stop short of ``S_T``); the result is clamped to
    ``[S_0, S_T]`` (``t' < t0`` can happen for ``F > 1``).

    Parameters
    ----------
    t : int
        The 1-indexed round.
    target : float
        ``S_T``, the final sparsity.
    total_rounds : int
        ``T``, the round at which ``S_T`` is reached.
    n : float
        The schedule exponent (3 in the paper).
    frequency : int
        ``F``: the sparsity changes only every ``F`` rounds.
    start_round : int
        ``t0``: no pruning up to and including this round.
    initial : float
        ``S_0``, the sparsity the schedule starts from.

    """
    if frequency < 1:
        raise ValueError(f"frequency={frequency!r} must be >= 1")
    if not 0.0 <= initial <= target <= 1.0:
        raise ValueError(f"need 0 <= initial ({initial}) <= target ({target}) <= 1")
    if t <= start_round:
        return float(initial)
    if t >= total_rounds or total_rounds <= start_round:
        return float(target)
    t_eff = frequency * (t // frequency)
    progress = (t_eff - start_round) / (total_rounds - start_round)
    value = target + (initial - target) * (1.0 - min(progress, 1.0)) ** n
    return float(min(max(value, initial), target))


@torch.no_grad()
def majority_vote_merge(
    states: Sequence[Mapping[str, Tensor]],
    weights: Sequence[float],
    keys: Sequence[str],
    quorum: str = "floor_half",
) -> dict[str, Tensor]:
    """Merge client states with FedSparsify's Majority Voting.

    Every tensor is first averaged with the sample weights,
    ``avg = sum_k n_k theta_k / sum_k n_k`` (zeros of clients that pruned an
    entry included). For the tensors named in ``keys`` an entry is then kept
    only if at least :func:`vote_threshold` of the ``K`` clients hold it
    non-zero (``floor_half``: ``floor(K / 2)``, so ``K = 4`` and ``K = 5``
    both need 2 votes; ``half``: ``K / 2`` rounded up); other entries become
    ``+0.0``. Tensors not in ``keys`` are the plain weighted average.

    Parameters
    ----------
    states : sequence of mappings of str to Tensor
        The ``K`` client states (same keys and shapes).
    weights : sequence of float
        The clients' sample counts ``n_k``.
    keys : sequence of str
        The keys of the prunable tensors that are voted on.
    quorum : str
        ``floor_half`` (the original code) or ``half`` (the paper).

    Returns
    -------
    dict of str to Tensor
        The merged state, with the dtypes of ``states[0]`` (integer tensors are
        rounded back).

    """
    missing = [k for k in keys if states and k not in states[0]]
    if missing:
        raise KeyError(f"voted keys missing from the client states: {missing}")
    # The weighted average (zeros included) is plain FedAvg with server lr 1.
    merged = fedavg_pseudo_gradients(states[0], states, weights)
    needed = vote_threshold(len(states), quorum)
    for key in keys:
        device = merged[key].device
        votes = torch.zeros(merged[key].shape, dtype=torch.int64, device=device)
        for state in states:
            votes.add_((state[key].detach().to(device) != 0).to(torch.int64))
        merged[key].masked_fill_(votes < needed, 0.0)
    return merged


class _FedSparsify(Method):
    """Shared parts of both variants: the schedule, the mask during training, plain layers.

    Options (``method.*``): ``schedule_exponent`` (n), ``frequency`` (F),
    ``start_round`` (t0) and ``initial_sparsity`` (S_0). ``sparsity`` is S_T
    and the run's ``rounds`` is T.
    """

    uses_sparsity = True
    option_specs: ClassVar[dict[str, Option]] = {
        "schedule_exponent": Option(float, lambda v: v > 0, "it must be > 0"),
        "frequency": Option(int, lambda v: v >= 1, "it must be an integer >= 1"),
        "start_round": Option(int, lambda v: v >= 0, "it must be an integer >= 0"),
        "initial_sparsity": Option(float, allowed="it must lie in [0, sparsity]"),
    }

    @classmethod
    def check_settings(cls, settings: MethodSettings) -> None:
        """``initial_sparsity`` must lie in ``[0, sparsity]``."""
        initial = settings.options["initial_sparsity"]
        if not 0.0 <= initial <= settings.sparsity:
            fail(
                "method.initial_sparsity",
                initial,
                f"it must lie in [0, sparsity={settings.sparsity}]",
            )

    def target_at(self, ctx: RoundContext) -> float:
        """The schedule's sparsity ``s_t`` of a round."""
        return sparsity_schedule(
            ctx.round,
            self.sparsity,
            ctx.total_rounds,
            n=self.options["schedule_exponent"],
            frequency=self.options["frequency"],
            start_round=self.options["start_round"],
            initial=self.options["initial_sparsity"],
        )

    def purges_in(self, ctx: RoundContext) -> bool:
        """Whether the mask is enforced and a purge happens in this round (``t > t0``)."""
        return ctx.round > self.options["start_round"]

    def train(
        self, model: nn.Module, x: Tensor, y: Tensor, hp: LocalTraining, ctx: RoundContext
    ) -> Metrics:
        """Local SGD; from round ``t0 + 1`` on under the received model's binary mask."""
        keep_mask = freeze_zeros(model) if self.purges_in(ctx) else None
        metrics = train_sgd(model, x, y, hp, after_step=keep_mask)
        return metrics.mean("schedule_sparsity", self.target_at(ctx))


class FedSparsifyGlobal(_FedSparsify):
    """FedSparsify-Global: masked local training, FedAvg, server-side purge to ``s_t``.

    The merge is the base aggregation (sample-weighted FedAvg; ``server_lr``
    and ``server_momentum`` apply as for every method, restricted to the
    uploads' union, which is the received mask), so the masked entries stay zero
    and the purge only adds zeros. Clients do not
    prune (their upload sparsity is 0), so ``upload=delta_topk`` sends the
    dense delta of the masked weights.
    """

    def upload_sparsity(self, ctx: RoundContext) -> float:
        """No client-side purge: the server purges after FedAvg."""
        return 0.0

    def after_aggregate(self, global_state: State, ctx: RoundContext) -> State:
        """Purge the merged model to ``s_t`` (one global magnitude threshold by default).

        The purge follows the run's prune scope: ``prune_scope=layerwise``
        purges every layer to ``s_t`` separately, ``prune_layers=skip_first_last``
        leaves the first and last layer out.
        """
        if self.purges_in(ctx):
            self.settings.prune.prune_(
                global_state, self.model_spec.prunable_keys, self.target_at(ctx)
            )
        return global_state


class FedSparsifyLocal(_FedSparsify):
    """FedSparsify-Local: masked local training, client purge to ``s_t``, Majority Voting.

    The merge is a weight merge: it declares ``upload=weights`` and
    ``aggregation=fedavg`` only and no server optimizer (``server_lr = 1``,
    no momentum). Its own option ``method.vote_quorum`` (``floor_half``, the
    original code, or ``half``, the paper) sets the votes an entry needs. With ``K >= 4``
    clients per round the vote can zero more entries than any one client did,
    so the next round's clients may hold more than ``round(s_t * N)`` zeros
    (the mask is never relaxed).
    """

    upload_modes = ("weights",)
    aggregations = ("fedavg",)
    server_optimizer = False
    option_specs: ClassVar[dict[str, Option]] = {
        **_FedSparsify.option_specs,
        "vote_quorum": Option(str, choices=VOTE_QUORUMS, official="floor_half"),
    }

    def upload_sparsity(self, ctx: RoundContext) -> float:
        """Purge the local model to ``s_t`` (global magnitude over its prunable weights)."""
        return self.target_at(ctx) if self.purges_in(ctx) else 0.0

    def aggregate(
        self,
        global_state: Mapping[str, Tensor],
        updates: Sequence[ClientUpdate],
        ctx: RoundContext,
    ) -> State:
        """Majority Voting on the purged weights, weighted average elsewhere."""
        merged = majority_vote_merge(
            [u.state for u in updates],
            [u.num_examples for u in updates],
            self.settings.prune.targets(self.model_spec.prunable_keys),
            self.options["vote_quorum"],
        )
        return {k: merged[k].to(v.dtype) for k, v in global_state.items()}
