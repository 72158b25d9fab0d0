"""SNIP (Lee et al. 2019): prune at initialisation by connection sensitivity, docs/methods.md 11.5.

The round-0 model is pruned once, on one seeded randomly chosen client's data
(:class:`~sparsyfed.methods.InitialClient`), to the run's ``sparsity``; the
mask is then fixed for the whole run, as in the FedSparsify original
(``PurgeSNIP``):

- **Score**: ``|dL/dw * w|`` for every prunable (conv/linear) weight, ``L``
  the mean cross-entropy over the first ``method.score_batches`` batches the
  client's round-0 stream draws (1 batch of ``batch_size`` samples by
  default, as the original's ``x_chunks[c][:batch_size]``; ``null``: all its
  data), the model in eval mode (the original's Keras ``model(x)`` call: the
  BatchNorm statistics of the initial model, and the round-0 model's buffers
  stay untouched).
- **Mask**: the ``N - round(S * N)`` highest scores are kept (one global
  threshold by default; ``prune_scope`` / ``prune_layers`` apply as for the
  upload Top-K), ``+0.0`` is written elsewhere.
- **Enforcement**: clients train under the received model's zeros
  (:func:`~sparsyfed.sparse.select.freeze_zeros`, re-applied after every
  optimizer step) and upload without a prune (upload sparsity 0: the weights
  or, under ``upload=delta_topk``, the delta, which is zero at every masked
  entry); FedAvg of masked weights stays in the mask, and with ``server_lr != 1``
  or momentum the base aggregation restricts the result to the uploads'
  union (the mask).

The mask travels once, as the zeros of the round-0 model, so the method
exchanges no separate mask (``exchanges_masks = False``).
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from typing import ClassVar

import torch
from torch import Tensor, nn
from torch.nn import functional as F

from sparsyfed.core.context import RoundContext
from sparsyfed.core.training import LocalTraining, train_sgd
from sparsyfed.methods.base import InitialClient, Method, Option
from sparsyfed.metrics.values import Metrics
from sparsyfed.sparse.select import freeze_zeros, keep_highest_scores_

Batch = tuple[Tensor, Tensor]


def score_batches(client: InitialClient, batches: int | None) -> list[Batch]:
    """The batches a score is computed on: the first ``batches`` of the client's round-0 order.

    The order is the permutation ``train_sgd`` would draw with ``client.hp.seed``
    (the client's round-0 stream, which no training round uses), cut into
    ``client.hp.batch_size`` samples; ``batches=None`` takes every sample.
    """
    n = client.x.shape[0]
    order = torch.randperm(n, generator=torch.Generator().manual_seed(client.hp.seed))
    size = client.hp.batch_size
    count = math.ceil(n / size) if batches is None else min(batches, math.ceil(n / size))
    return [
        (client.x[idx], client.y[idx])
        for idx in (order[i * size : (i + 1) * size] for i in range(count))
    ]


def mean_loss_terms(model: nn.Module, batches: list[Batch]) -> Iterator[Tensor]:
    """Yield each batch's share of the mean cross-entropy over all the batches' samples."""
    total = sum(int(y.shape[0]) for _, y in batches)
    for x, y in batches:
        yield F.cross_entropy(model(x), y, reduction="sum") / total


def snip_scores(model: nn.Module, weights: list[Tensor], batches: list[Batch]) -> list[Tensor]:
    """Connection sensitivity ``|dL/dw * w|`` of every tensor in ``weights``.

    ``L`` is the mean cross-entropy over all samples of ``batches`` (the
    gradient is accumulated batch by batch); call with the model in the mode
    the score should see.
    """
    grads = [torch.zeros_like(w) for w in weights]
    for term in mean_loss_terms(model, batches):
        for acc, g in zip(grads, torch.autograd.grad(term, weights), strict=True):
            acc.add_(g)
    return [(g * w.detach()).abs() for g, w in zip(grads, weights, strict=True)]


class PruneAtInit(Method):
    """Prune the round-0 model by a data-dependent score, then keep its mask for the run.

    Subclasses give :meth:`keep_priority` (higher = keep). Option
    ``method.score_batches``: the number of the chosen client's batches the
    score sees (``null``: all of its data).
    """

    uses_sparsity = True
    initial_client_data = True
    exchanges_masks = False
    option_specs: ClassVar[dict[str, Option]] = {
        "score_batches": Option(
            int,
            lambda v: v >= 1,
            "it must be an integer >= 1, or null (all the client's data)",
            nullable=True,
            official=1,
        ),
    }

    def keep_priority(
        self, model: nn.Module, weights: list[Tensor], batches: list[Batch]
    ) -> list[Tensor]:
        """One tensor per weight; the highest entries are kept."""
        raise NotImplementedError

    def initialize_from_client(
        self, model: nn.Module, client: InitialClient, generator: torch.Generator
    ) -> nn.Module:
        """Prune the initialised model to ``sparsity`` by :meth:`keep_priority` on ``client``'s data."""
        keys = self.model_spec.prunable_keys
        weights = {k: model.get_parameter(k) for k in keys}
        batches = score_batches(client, self.options["score_batches"])
        was_training = model.training
        model.eval()
        scores = self.keep_priority(model, list(weights.values()), batches)
        priority = dict(zip(keys, scores, strict=True))
        model.train(was_training)
        for group in self.settings.prune.groups(keys):
            keep_highest_scores_(
                [weights[k] for k in group], [priority[k] for k in group], self.sparsity
            )
        return model

    def train(
        self, model: nn.Module, x: Tensor, y: Tensor, hp: LocalTraining, ctx: RoundContext
    ) -> Metrics:
        """Local SGD under the received model's zeros (re-applied after every step)."""
        return train_sgd(model, x, y, hp, after_step=freeze_zeros(model))

    def upload_sparsity(self, ctx: RoundContext) -> float:
        """No client prune: the trained model already holds exactly the mask's zeros."""
        return 0.0


class Snip(PruneAtInit):
    """SNIP: keep the weights of highest connection sensitivity ``|dL/dw * w|``."""

    def keep_priority(
        self, model: nn.Module, weights: list[Tensor], batches: list[Batch]
    ) -> list[Tensor]:
        """The SNIP score itself."""
        return snip_scores(model, weights, batches)
