"""Local SGD training, evaluation and the learning-rate schedule (docs/methods.md section 5)."""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

import torch
from torch import Tensor, nn
from torch.nn import functional as F

from sparsyfed.core.sgd import PlainSGD
from sparsyfed.data.augment import random_crop_flip
from sparsyfed.metrics.values import Metrics

if TYPE_CHECKING:
    from sparsyfed.config.schema import LrConfig

LR_SCHEDULES = ("exponential", "constant")


def lr_at_round(server_round: int, lr_cfg: LrConfig, total_rounds: int) -> float:
    """Return the client learning rate of a 1-indexed server round.

    ``exponential``: ``lr_t = lr_0 * exp((t - w) / (T - w) * ln(lr_T / lr_0))`` for
    ``t >= w`` and ``lr_0`` before the warm-up ``w`` ends, with ``T`` the total
    number of rounds (so ``lr_T`` is reached in the last round).
    ``constant``: ``lr_0`` every round.
    """
    lr0 = lr_cfg.initial
    if lr_cfg.schedule == "constant":
        return lr0
    lr_final = lr_cfg.final
    warmup = lr_cfg.warmup_rounds
    if server_round < warmup or total_rounds <= warmup:
        return lr0
    progress = (server_round - warmup) / (total_rounds - warmup)
    return lr0 * math.exp(progress * math.log(lr_final / lr0))


@dataclass(frozen=True)
class LocalTraining:
    """Hyper-parameters of one client's local training in one round."""

    lr: float
    epochs: int = 1
    batch_size: int = 16
    weight_decay: float = 1e-3
    momentum: float = 0.0
    seed: int = 0  # the client's training stream (batch order, augmentation)
    prox_mu: float = 0.0
    augment: bool = False  # random crop + horizontal flip of image batches (CIFAR option)


def train_sgd(
    model: nn.Module,
    x: Tensor,
    y: Tensor,
    hp: LocalTraining,
    after_step: Callable[[nn.Module], None] | None = None,
) -> Metrics:
    """Train ``model`` with plain SGD and cross-entropy on ``(x, y)``.

    A fresh optimizer (:class:`~sparsyfed.core.sgd.PlainSGD`, the update of
    ``torch.optim.SGD``) is built every call (clients are stateless). Batches are
    drawn from a permutation seeded by ``hp.seed``; a final batch of one
    sample is skipped (BatchNorm cannot train on it). With ``hp.prox_mu > 0``
    the FedProx term ``mu/2 * ||w - w_received||^2`` is added (as its gradient).
    ``after_step(model)`` runs after every optimizer step (e.g. to re-apply a
    fixed mask). With ``hp.augment`` every image batch is randomly cropped and
    flipped (:func:`sparsyfed.data.random_crop_flip`, same seeded generator).

    Returns
    -------
    Metrics
        ``train_loss`` and ``train_accuracy`` of the last epoch (means over the
        samples seen; averaged over clients) and ``samples_trained`` (over all
        epochs; summed over clients).

    """
    model.train()
    optimizer = PlainSGD(
        model.parameters(), lr=hp.lr, momentum=hp.momentum, weight_decay=hp.weight_decay
    )
    generator = torch.Generator().manual_seed(hp.seed)
    anchor = [p.detach().clone() for p in model.parameters()] if hp.prox_mu > 0 else None
    n = x.shape[0]
    loss_sum = correct = seen = 0.0
    trained = 0
    for _ in range(hp.epochs):
        loss_sum = correct = seen = 0.0
        order = torch.randperm(n, generator=generator).to(x.device)
        for start in range(0, n, hp.batch_size):
            idx = order[start : start + hp.batch_size]
            if idx.numel() < 2:
                continue
            xb, yb = x[idx], y[idx]
            if hp.augment:
                xb = random_crop_flip(xb, generator)
            optimizer.zero_grad()
            logits = model(xb)
            loss = F.cross_entropy(logits, yb)
            loss.backward()
            if anchor is not None:
                _add_proximal_gradient(model, anchor, hp.prox_mu)
            optimizer.step()
            if after_step is not None:
                after_step(model)
            loss_sum += float(loss.detach()) * idx.numel()
            correct += float((logits.detach().argmax(1) == yb).sum())
            seen += idx.numel()
            trained += idx.numel()
    # Sample-weighted over the clients, as the official fit-metric aggregation.
    weight = max(seen, 1)
    metrics = Metrics().weighted_mean("train_loss", loss_sum / weight, weight)
    metrics.weighted_mean("train_accuracy", correct / weight, weight)
    return metrics.sum("samples_trained", trained)


def steps_per_epoch(num_samples: int, batch_size: int) -> int:
    """Optimizer steps of one epoch of :func:`train_sgd` (a last batch of one is skipped)."""
    full, rest = divmod(num_samples, batch_size)
    return full + (1 if rest >= 2 else 0) if batch_size >= 2 else 0


@torch.no_grad()
def _add_proximal_gradient(model: nn.Module, anchor: list[Tensor], mu: float) -> None:
    for param, ref in zip(model.parameters(), anchor, strict=True):
        if param.grad is not None:
            param.grad.add_(param - ref, alpha=mu)


@torch.no_grad()
def evaluate(model: nn.Module, x: Tensor, y: Tensor, batch_size: int = 256) -> dict[str, float]:
    """Return mean cross-entropy ``loss`` and ``accuracy`` of ``model`` in eval mode."""
    model.eval()
    loss_sum = correct = 0.0
    for start in range(0, x.shape[0], batch_size):
        xb, yb = x[start : start + batch_size], y[start : start + batch_size]
        logits = model(xb)
        loss_sum += float(F.cross_entropy(logits, yb, reduction="sum"))
        correct += float((logits.argmax(1) == yb).sum())
    n = max(x.shape[0], 1)
    return {"loss": loss_sum / n, "accuracy": correct / n}
