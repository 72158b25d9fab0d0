"""SparsyFed (Guastella, Sani et al., ICLR 2025) with the official semantics.

Client: Powerpropagation on every conv/linear weight (``w = sign(v)|v|^beta``),
SWAT-style activation Top-K in the backward pass with keep fraction
``max(1 - s_l, act_keep_floor)``, local SGD, then one global magnitude Top-K
over all conv/linear weights to exactly ``round(S * N)`` zeros; the pruned
weights are uploaded. Server: sample-weighted FedAvg of pseudo-gradients
(server lr 1.0 equals weight averaging). See METHOD.md sections 1-5.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from torch import Tensor, nn

from sparsyfed.core.training import LocalTraining, train_sgd
from sparsyfed.methods.base import Method
from sparsyfed.nn.layers import (
    reset_activation_state,
    sparse_layers,
    wrap_layers,
)


class SparsyFed(Method):
    """SparsyFed: Powerprop + activation Top-K + global Top-K of the upload.

    Options read from ``cfg["method"]``: ``act_pruning`` (bool, default True;
    False gives the SparsyFed-NA ablation), ``act_keep_floor`` (default 1e-7)
    ``act_threshold`` (``first_batch`` or ``per_batch``) and ``wrap_downsample``
    (bool, default True; False leaves ResNet ``downsample`` convs plain, as the
    official code does by accident, METHOD.md 2.2: they train dense with
    beta = 1 and no activation pruning but stay in the global upload Top-K).
    """

    uses_sparsity = True

    def __init__(self, cfg: Mapping[str, Any]) -> None:
        super().__init__(cfg)
        self.act_pruning = bool(self.options.get("act_pruning", True))
        self.act_keep_floor = float(self.options.get("act_keep_floor", 1e-7))
        self.act_threshold = str(self.options.get("act_threshold", "first_batch"))
        wrap_downsample = self.options.get("wrap_downsample", True)
        if not isinstance(wrap_downsample, bool):
            raise ValueError(f"method.wrap_downsample={wrap_downsample!r} must be true or false")
        self.wrap_downsample = wrap_downsample

    def prepare_model(self, model: nn.Module) -> nn.Module:
        """Wrap every conv/linear layer with Powerprop and activation Top-K."""
        skip = ()
        if not self.wrap_downsample:
            skip = tuple(
                name for name, _ in model.named_modules() if "downsample" in name.split(".")
            )
        return wrap_layers(
            model,
            beta=self.beta,
            act_pruning=self.act_pruning,
            act_keep_floor=self.act_keep_floor,
            act_threshold=self.act_threshold,
            skip=skip,
        )

    def train(self, model: nn.Module, x: Tensor, y: Tensor, hp: LocalTraining) -> dict[str, float]:
        """Local SGD; also reports the activation keep fraction used per layer."""
        reset_activation_state(model)
        metrics = train_sgd(model, x, y, hp)
        for name, layer in sparse_layers(model):
            metrics[f"act_keep/{name}"] = layer.last_keep_fraction
            metrics[f"act_density/{name}"] = layer.last_act_density
        return metrics
