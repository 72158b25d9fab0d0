"""Importance-per-time mask selection (PruneFL's readjustment rule), Flower-free.

The importance of a weight is its squared-gradient score divided by the
execution time of one parameter of its layer, ``g^2 / t_l``; a mask keeps the
``keep`` most important weights over all tensors (the greedy solution of the
knapsack "most squared gradient per unit of time" with a fixed count).
Execution time is *modelled* from FLOPs (:func:`layer_times`), never measured,
so a mask is a deterministic function of the scores.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import torch
from torch import Tensor

TIME_MODELS = ("layer_alone", "per_weight", "uniform")
"""How a layer's execution time is modelled (:func:`layer_times`)."""


def layer_times(
    layer_flops: Mapping[str, int], numels: Mapping[str, int], model: str = "layer_alone"
) -> dict[str, float]:
    """The modelled execution time of every layer, in FLOPs per training sample.

    With ``F_l`` the dense forward FLOPs of layer ``l`` (module order) and
    ``n_l`` its weights:

    - ``layer_alone``: ``sum_m F_m + sum_{m > l} F_m + F_l``, one training step
      of the whole model with only layer ``l`` trainable (the full forward,
      the input gradients of the layers after ``l``, the weight gradient of
      ``l``): the FLOPs model of what the FedSparsify code measures (the time
      of training the model with every other layer frozen), attributed to
      every parameter of the layer;
    - ``per_weight``: ``(2 or 3) F_l / n_l``, the layer's own training FLOPs
      (forward, weight gradient and, except for the first layer, input
      gradient) per weight: the marginal cost of keeping one weight of a
      sparse layer;
    - ``uniform``: 1 (importance is the squared gradient alone).

    Parameters
    ----------
    layer_flops : mapping of str to int
        Dense forward FLOPs per sample by layer name, in module order.
    numels : mapping of str to int
        Weights per layer name (only needed for ``per_weight``).
    model : str
        One of :data:`TIME_MODELS`.

    Returns
    -------
    dict of str to float
        Layer name -> time (positive).

    """
    names = list(layer_flops)
    flops = [float(layer_flops[n]) for n in names]
    if model == "uniform":
        return dict.fromkeys(names, 1.0)
    if model == "per_weight":
        return {
            n: f * (2.0 if i == 0 else 3.0) / numels[n]
            for i, (n, f) in enumerate(zip(names, flops, strict=True))
        }
    if model == "layer_alone":
        total = sum(flops)
        return {n: total + sum(flops[i + 1 :]) + flops[i] for i, n in enumerate(names)}
    raise ValueError(f"time model {model!r} must be one of {TIME_MODELS}")


def importance(scores: Mapping[str, Tensor], times: Mapping[str, float]) -> dict[str, Tensor]:
    """``score / time`` per entry (``scores`` are squared-gradient scores, ``times`` per key)."""
    return {k: s.double() / float(times[k]) for k, s in scores.items()}


def keep_count(numel: int, ratio: float) -> int:
    """Entries kept when a fraction ``ratio`` of ``numel`` is pruned: ``numel - round(ratio * numel)``."""
    return numel - round(ratio * numel)


def top_mask(values: Mapping[str, Tensor], keep: int, order: Sequence[str]) -> dict[str, Tensor]:
    """Boolean masks keeping the ``keep`` largest entries over all tensors together.

    Ties are broken by position: earlier tensors of ``order`` first, then
    lower flat index, so the mask is deterministic.

    Parameters
    ----------
    values : mapping of str to Tensor
        The importance of every entry.
    keep : int
        Entries to keep in total, in ``[0, total]``.
    order : sequence of str
        The keys, in the order their entries are concatenated.

    Returns
    -------
    dict of str to Tensor
        A boolean mask per key (True = kept) with exactly ``keep`` True entries.

    """
    flat = torch.cat([values[k].detach().reshape(-1).double().cpu() for k in order])
    if not 0 <= keep <= flat.numel():
        raise ValueError(f"keep={keep} must lie in [0, {flat.numel()}]")
    chosen = torch.zeros(flat.numel(), dtype=torch.bool)
    ranked = torch.sort(flat, descending=True, stable=True).indices
    chosen[ranked[:keep]] = True
    masks, start = {}, 0
    for key in order:
        size = values[key].numel()
        masks[key] = chosen[start : start + size].reshape(values[key].shape)
        start += size
    return masks
