"""PruneFL (Jiang et al., TNNLS 2022) as the FedSparsify authors ran it, docs/methods.md section 11.8.

Plain layers (``beta = 1``); the mask covers the conv/linear weights.

- **Initial pruning** (round 0, :meth:`PruneFL.initialize_from_client`): one
  seeded random client (:class:`~sparsyfed.methods.base.InitialClient`)
  repeats ``method.initial_reconfigurations`` times: train
  ``method.initial_epochs`` local epochs (from the second time on under the
  current mask), take the gradient of its loss over its whole training split,
  and select the mask that keeps the ``N - round(S N)`` weights of largest
  ``g^2 / t_l`` (:func:`~sparsyfed.sparse.importance.top_mask`). The mask is
  applied to the freshly initialised model (``method.initial_weights=fresh``,
  as the FedSparsify code, which discards the client's trained weights) or to
  the client's trained model (``trained``). So the round-0 sparsity is ``S``.
- **Training**: every client trains under the mask (gradients and values
  masked, :class:`~sparsyfed.sparse.masks.MaskedParameters`): the mask sent
  with the model right after a readjustment, else the received model's support.
  No client prune (upload sparsity 0); the server runs FedAvg.
- **Readjustment** in rounds ``t`` with ``t % method.readjust_interval == 0``
  (except the last round, whose new mask nobody would train): each client,
  before training, computes the gradient ``g_k`` of its loss over its whole
  training split at the received model (eval mode, no weight decay, as the
  FedSparsify code) and uploads, as side tensors of the prunable keys,
  ``g_k`` (``method.importance=squared_sum``: the server scores
  ``(sum_k g_k)^2``, as the FedSparsify code) or ``g_k^2`` (``sum_squared``:
  the server scores ``sum_k g_k^2``, PruneFL's squared gradients). The server
  keeps the ``N - round(s_t N)`` entries of largest ``score / t_l`` with
  ``s_t = S * 0.5^(t / H)``, ``H = method.ratio_halflife`` (null: the run's
  ``rounds``, as the FedSparsify code): pruned entries of the FedAvg become
  ``+0.0``, regrown ones start at ``0`` and the mask travels with the next
  model (a boolean side tensor per key, counted in the downlink bytes).
  The FedSparsify code readjusts at the start of round ``t`` and trains that
  round under the new mask; here round ``t``'s clients send the scores with
  their update and round ``t + 1`` trains under the new mask.

``t_l``, the execution time of a parameter of layer ``l``, is modelled from
FLOPs (``method.time_model``, :func:`~sparsyfed.sparse.importance.layer_times`;
default ``layer_alone``, the FLOPs of one training step with only that layer
trainable, what the FedSparsify code times on the device), so runs are
reproducible; it is never measured.
"""

from __future__ import annotations

import copy
import dataclasses
import functools
from collections.abc import Mapping, Sequence
from typing import ClassVar

import torch
from torch import Tensor, nn
from torch.nn import functional as F

from sparsyfed.core.context import RoundContext
from sparsyfed.core.training import LocalTraining, train_sgd
from sparsyfed.methods.base import ClientUpdate, InitialClient, Method, Option, State
from sparsyfed.metrics.values import Metrics
from sparsyfed.nn.layers import prunable_layers
from sparsyfed.sparse.importance import TIME_MODELS, importance, keep_count, layer_times, top_mask
from sparsyfed.sparse.masks import MaskedParameters

IMPORTANCES = ("squared_sum", "sum_squared")
INITIAL_WEIGHTS = ("fresh", "trained")


def readjust_ratio(t: int, ratio: float, halflife: float) -> float:
    """The fraction of prunable weights a readjustment in round ``t`` prunes: ``s 0.5^(t/H)``."""
    return ratio * 0.5 ** (t / halflife)


def full_gradient(model: nn.Module, x: Tensor, y: Tensor, batch_size: int) -> dict[str, Tensor]:
    """Gradient of the mean cross-entropy over all of ``(x, y)`` of every prunable weight.

    Eval mode (BatchNorm uses its running statistics), computed in chunks of
    ``batch_size`` samples and summed, so it equals the one-batch gradient.
    """
    was_training = model.training
    model.eval()
    layers = {f"{name}.weight": layer.weight for name, layer in prunable_layers(model)}
    grads = {k: torch.zeros_like(w) for k, w in layers.items()}
    for start in range(0, x.shape[0], batch_size):
        loss = F.cross_entropy(model(x[start : start + batch_size]), y[start : start + batch_size])
        parts = torch.autograd.grad(
            loss * (min(batch_size, x.shape[0] - start) / x.shape[0]), list(layers.values())
        )
        for key, part in zip(layers, parts, strict=True):
            grads[key].add_(part)
    model.train(was_training)
    return grads


def train_masked(
    model: nn.Module, x: Tensor, y: Tensor, hp: LocalTraining, masks: Mapping[str, Tensor]
) -> Metrics:
    """Local SGD with the prunable weights outside ``masks`` kept at ``+0.0``."""
    params = {f"{name}.weight": layer.weight for name, layer in prunable_layers(model)}
    masking = MaskedParameters(params, masks)
    try:
        return train_sgd(model, x, y, hp, after_step=masking.after_step)
    finally:
        masking.close()


class PruneFL(Method):
    """PruneFL: initial pruning on one client, FedAvg under a mask readjusted by ``g^2 / t``.

    ``sparsity`` is ``S``, PruneFL's pruning ratio: the round-0 mask prunes
    ``S`` of the prunable weights and a readjustment in round ``t`` prunes
    ``S 0.5^(t/H)`` (0.3 as the FedSparsify paper ran it). Options
    (``method.*``): ``initial_reconfigurations``, ``initial_epochs``,
    ``initial_weights``, ``readjust_interval``, ``ratio_halflife``,
    ``importance``, ``time_model`` (module docstring).
    """

    uses_sparsity = True
    initial_client_data = True
    exchanges_masks = True
    option_specs: ClassVar[dict[str, Option]] = {
        "initial_reconfigurations": Option(int, lambda v: v >= 1, "an integer >= 1", official=5),
        "initial_epochs": Option(int, lambda v: v >= 1, "an integer >= 1", official=10),
        "initial_weights": Option(str, choices=INITIAL_WEIGHTS, official="fresh"),
        "readjust_interval": Option(int, lambda v: v >= 1, "an integer >= 1", official=50),
        "ratio_halflife": Option(
            float, lambda v: v > 0, "null or a number > 0", nullable=True, official=None
        ),
        "importance": Option(str, choices=IMPORTANCES, official="squared_sum"),
        "time_model": Option(str, choices=TIME_MODELS),
    }

    def __init__(self, settings) -> None:
        super().__init__(settings)
        self._pending: State = {}  # the readjusted mask the next downlink carries

    # ---------------------------------------------------------------- helpers
    @functools.cached_property
    def _times(self) -> dict[str, float]:
        """Modelled execution time per prunable key (``method.time_model``)."""
        keys = self.model_spec.prunable_keys
        model = self.options["time_model"]
        if model == "uniform":
            return dict.fromkeys(keys, 1.0)
        if self.model_spec.layer_flops is None:
            raise RuntimeError(f"time_model={model} needs ModelSpec.layer_flops")
        shapes = self.model_spec.new_model().state_dict()
        flops = dict(self.model_spec.layer_flops())
        numels = {k.removesuffix(".weight"): shapes[k].numel() for k in keys}
        times = layer_times({n: flops[n] for n in numels}, numels, model)
        return {f"{n}.weight": t for n, t in times.items()}

    def select_mask(self, scores: Mapping[str, Tensor], ratio: float) -> dict[str, Tensor]:
        """Keep the ``N - round(ratio N)`` prunable entries of largest ``score / t_l``."""
        keys = self.model_spec.prunable_keys
        total = sum(scores[k].numel() for k in keys)
        return top_mask(importance(scores, self._times), keep_count(total, ratio), keys)

    def halflife(self, ctx: RoundContext) -> float:
        """``H``: ``method.ratio_halflife``, or the run's number of rounds when null."""
        value = self.options["ratio_halflife"]
        return float(ctx.total_rounds if value is None else value)

    def readjusts_in(self, ctx: RoundContext) -> bool:
        """Whether round ``t`` readjusts the mask: ``t % interval == 0`` and not the last round."""
        return ctx.round % self.options["readjust_interval"] == 0 and ctx.round < ctx.total_rounds

    # ------------------------------------------------------------------ model
    def initialize_from_client(
        self, model: nn.Module, client: InitialClient, generator: torch.Generator
    ) -> nn.Module:
        """The initial pruning on one client (module docstring); prunes ``model`` in place."""
        work = copy.deepcopy(model)
        hp = dataclasses.replace(client.hp, epochs=self.options["initial_epochs"])
        masks: dict[str, Tensor] | None = None
        for _ in range(self.options["initial_reconfigurations"]):
            if masks is None:
                train_sgd(work, client.x, client.y, hp)
            else:
                train_masked(work, client.x, client.y, hp, masks)
            grads = full_gradient(work, client.x, client.y, hp.batch_size)
            masks = self.select_mask({k: g.square() for k, g in grads.items()}, self.sparsity)
        assert masks is not None
        source = work if self.options["initial_weights"] == "trained" else model
        state = {k: v.detach().clone() for k, v in source.state_dict().items()}
        for key, keep in masks.items():
            state[key].masked_fill_(~keep, 0.0)
        model.load_state_dict(state)
        return model

    # ----------------------------------------------------------------- client
    def upload_side_keys(self, ctx: RoundContext) -> tuple[str, ...]:
        """The prunable keys in readjustment rounds (their gradient scores), else none."""
        return self.model_spec.prunable_keys if self.readjusts_in(ctx) else ()

    def client_round(
        self,
        model: nn.Module,
        x: Tensor,
        y: Tensor,
        hp: LocalTraining,
        ctx: RoundContext,
        side: Mapping[str, Tensor],
    ) -> tuple[Metrics, State]:
        """Scores at the received model (readjustment rounds), then training under the mask."""
        scores: State = {}
        if self.readjusts_in(ctx):
            grads = full_gradient(model, x, y, hp.batch_size)
            squared = self.options["importance"] == "sum_squared"
            scores = {k: g.square() if squared else g for k, g in grads.items()}
        state = model.state_dict()
        masks = {
            k: side[k].to(torch.bool) if k in side else state[k] != 0
            for k in self.model_spec.prunable_keys
        }
        metrics = train_masked(model, x, y, hp, masks)
        return metrics.mean("readjust_mask_received", float(bool(side))), scores

    def upload_sparsity(self, ctx: RoundContext) -> float:
        """No client prune: the mask alone sets the upload's support."""
        return 0.0

    # ----------------------------------------------------------------- server
    def aggregate(
        self,
        global_state: Mapping[str, Tensor],
        updates: Sequence[ClientUpdate],
        ctx: RoundContext,
    ) -> State:
        """FedAvg; in readjustment rounds, then the readjusted mask (module docstring)."""
        new_state = super().aggregate(global_state, updates, ctx)
        self._pending = {}
        if not self.readjusts_in(ctx) or not updates:
            return new_state
        keys = self.model_spec.prunable_keys
        summed = {k: sum(u.side[k].double() for u in updates) for k in keys}
        scores = (
            summed
            if self.options["importance"] == "sum_squared"
            else {k: v.square() for k, v in summed.items()}
        )
        ratio = readjust_ratio(ctx.round, self.sparsity, self.halflife(ctx))
        masks = self.select_mask(scores, ratio)
        for key, keep in masks.items():
            new_state[key].masked_fill_(~keep.to(new_state[key].device), 0.0)
        self._pending = masks
        return new_state

    def downlink_side(self) -> State:
        """The mask of the last readjustment, sent once with the model that follows it."""
        return dict(self._pending)

    # ------------------------------------------------------------ checkpoint
    def state(self) -> State:
        """The momentum buffer and the readjusted mask not yet sent."""
        return super().state() | {f"mask/{k}": v for k, v in self._pending.items()}

    def load_state(self, state: Mapping[str, Tensor]) -> None:
        """Restore :meth:`state`."""
        super().load_state(state)
        self._pending = {
            k.removeprefix("mask/"): v.clone().to(torch.bool)
            for k, v in state.items()
            if k.startswith("mask/")
        }
