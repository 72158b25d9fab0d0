"""SparsyFed (Guastella, Sani et al., ICLR 2025) with the official semantics.

Client: Powerpropagation on every conv/linear weight (``w = sign(v)|v|^beta``),
SWAT-style activation Top-K in the backward pass with keep fraction
``max(1 - s_l, act_keep_floor)``, local SGD, then one global magnitude Top-K
over all conv/linear weights to exactly ``round(S * N)`` zeros (the shared
upload step); the pruned weights are uploaded. Server: sample-weighted FedAvg
of pseudo-gradients (server lr 1.0 equals weight averaging). See
docs/methods.md sections 1-6.
"""

from __future__ import annotations

from typing import ClassVar

from torch import nn

from sparsyfed.methods.base import Method, Option
from sparsyfed.nn.layers import ACT_THRESHOLD_MODES, downsample_layer_names, wrap_layers


class SparsyFed(Method):
    """SparsyFed: Powerprop + activation Top-K + global Top-K of the upload.

    Options (``method.*``): ``act_pruning`` (False gives the SparsyFed-NA
    ablation), ``act_keep_floor``, ``act_threshold`` (``first_batch`` or
    ``per_batch``) and ``wrap_downsample`` (False, the default, leaves ResNet
    ``downsample`` convs plain, as the official code does by accident: they
    train dense with beta = 1 and no activation pruning but stay in the global
    upload Top-K; True wraps them like every other layer).
    """

    uses_sparsity = True
    uses_beta = True
    option_specs: ClassVar[dict[str, Option]] = {
        "act_pruning": Option(bool),
        "act_keep_floor": Option(float, lambda v: 0.0 < v <= 1.0, "it must lie in (0, 1]"),
        "act_threshold": Option(str, choices=ACT_THRESHOLD_MODES, official="first_batch"),
        "wrap_downsample": Option(bool, official=False),
    }

    def prepare_model(self, model: nn.Module) -> nn.Module:
        """Wrap every conv/linear layer (downsample convs only if asked) with Powerprop."""
        skip = () if self.options["wrap_downsample"] else downsample_layer_names(model)
        return wrap_layers(
            model,
            beta=self.beta,
            act_pruning=self.options["act_pruning"],
            act_keep_floor=self.options["act_keep_floor"],
            act_threshold=self.options["act_threshold"],
            skip=skip,
        )
