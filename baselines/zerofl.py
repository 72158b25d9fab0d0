"""ZeroFL (Qiu et al., ICLR 2022) as re-implemented by the SparsyFed authors (METHOD.md 7.3).

Client: every conv/linear layer except the first one (in module order) runs
SWAT-style sparse training at sparsity ``S``:

- in the training forward the stored weight is overwritten in place with its
  magnitude Top-K at keep fraction ``1 - S`` (conv layers reuse the absolute
  threshold of the round's first batch, linear layers recompute it every
  call); pruned weights still get dense gradients and can come back;
- the input saved for backward is Top-K-pruned at the fixed keep fraction
  ``1 - S`` (no floor, not derived from the weights).

The first layer stays a plain dense layer. After local training one global
magnitude prune over all conv/linear weights (the first layer included) at
amount ``S - mask_ratio`` makes the upload. Server: plain FedAvg. No
Powerprop (``beta`` must be 1).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from torch import Tensor, nn

from sparsyfed.core.training import LocalTraining, train_sgd
from sparsyfed.methods.base import Method
from sparsyfed.nn.layers import (
    prunable_layers,
    reset_activation_state,
    sparse_layers,
    wrap_layers,
)


class ZeroFL(Method):
    """ZeroFL: in-place weight Top-K + fixed activation Top-K, pruned upload, FedAvg.

    Options read from ``cfg["method"]``: ``mask_ratio`` (default 0.0, in
    ``[0, sparsity]``; the upload keeps ``1 - sparsity + mask_ratio`` of the
    prunable weights) and ``act_threshold`` (``first_batch`` or ``per_batch``
    for the activation threshold of conv layers).
    """

    uses_sparsity = True

    def __init__(self, cfg: Mapping[str, Any]) -> None:
        super().__init__(cfg)
        if self.beta != 1.0:
            raise ValueError(
                f"beta={self.beta!r} is not allowed with method=zerofl; ZeroFL trains "
                "without Powerprop, use beta=1.0"
            )
        raw = self.options.get("mask_ratio", 0.0)
        try:
            self.mask_ratio = float(raw)
        except (TypeError, ValueError):
            self.mask_ratio = float("nan")
        if not 0.0 <= self.mask_ratio <= self.sparsity:
            raise ValueError(
                f"method.mask_ratio={raw!r} is not allowed; it must be a number in "
                f"[0, sparsity={self.sparsity}] (the upload keeps 1 - sparsity + mask_ratio)"
            )
        self.act_threshold = str(self.options.get("act_threshold", "first_batch"))

    def upload_sparsity(self, hp: LocalTraining) -> float:
        """The fraction of prunable weights zeroed in the upload, ``S - mask_ratio``."""
        return max(0.0, self.sparsity - self.mask_ratio)

    def prepare_model(self, model: nn.Module) -> nn.Module:
        """Wrap every conv/linear layer but the first with weight and activation Top-K."""
        first = next((name for name, _ in prunable_layers(model)), None)
        keep = 1.0 - self.sparsity
        return wrap_layers(
            model,
            beta=1.0,
            act_pruning=True,
            act_threshold=self.act_threshold,
            skip=() if first is None else (first,),
            act_keep=keep,
            weight_keep=keep,
        )

    def train(self, model: nn.Module, x: Tensor, y: Tensor, hp: LocalTraining) -> dict[str, float]:
        """Local SGD; also reports per-layer activation and forward weight densities.

        For every wrapped layer: ``act_keep/<layer>`` (the keep fraction used,
        ``1 - S``), ``act_density/<layer>`` (realised input density of the last
        batch) and ``weight_density/<layer>`` (mean density of the forward
        weights over the round's training batches).
        """
        reset_activation_state(model)
        metrics = train_sgd(model, x, y, hp)
        for name, layer in sparse_layers(model):
            metrics[f"act_keep/{name}"] = layer.last_keep_fraction
            metrics[f"act_density/{name}"] = layer.last_act_density
            metrics[f"weight_density/{name}"] = layer.mean_forward_weight_density
        return metrics
