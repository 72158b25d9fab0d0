"""ZeroFL (Qiu et al., ICLR 2022) as re-implemented by the SparsyFed authors (docs/methods.md section 8).

Client: every conv/linear layer except the first one (in module order) and,
by default (``method.wrap_downsample=false``, as the official code), the ResNet
``downsample`` convs runs SWAT-style sparse training at sparsity ``S``:

- in the training forward the stored weight is overwritten in place with its
  magnitude Top-K keeping ``ceil((1 - S) * numel)`` entries (conv layers
  reuse the absolute threshold of the round's first batch, linear layers
  recompute it every call); pruned weights still get dense gradients and can
  come back;
- the input saved for backward is Top-K-pruned at the fixed keep fraction
  ``1 - S`` (``ceil`` count, no floor, not derived from the weights).

The unwrapped layers stay plain dense layers. After local training one global
magnitude prune over all conv/linear weights (the plain ones included) at
amount ``S - mask_ratio`` makes the upload (the shared upload step asks
:meth:`ZeroFL.upload_sparsity`, so ``upload=delta_topk`` prunes the delta to
the same amount). Server: plain FedAvg. No
Powerprop (``beta`` does not apply).
"""

from __future__ import annotations

from typing import ClassVar

from torch import nn

from sparsyfed.methods.base import Method, MethodSettings, Option
from sparsyfed.nn.layers import (
    ACT_THRESHOLD_MODES,
    downsample_layer_names,
    prunable_layers,
    wrap_layers,
)
from sparsyfed.validation import fail


class ZeroFL(Method):
    """ZeroFL: in-place weight Top-K + fixed activation Top-K, pruned upload, FedAvg.

    Options (``method.*``): ``mask_ratio`` (in ``[0, sparsity]``; the upload
    keeps ``1 - sparsity + mask_ratio`` of the prunable weights),
    ``act_threshold`` (``first_batch`` or ``per_batch`` for the activation
    threshold of conv layers) and ``wrap_downsample`` (False, the default,
    leaves ResNet ``downsample`` convs plain and dense, as the official code).
    """

    uses_sparsity = True
    option_specs: ClassVar[dict[str, Option]] = {
        "mask_ratio": Option(float, allowed="it must be a number in [0, sparsity]", official=0.0),
        "act_threshold": Option(str, choices=ACT_THRESHOLD_MODES, official="first_batch"),
        "wrap_downsample": Option(bool, official=False),
    }

    @classmethod
    def check_settings(cls, settings: MethodSettings) -> None:
        """``mask_ratio`` must lie in ``[0, sparsity]``."""
        ratio = settings.options["mask_ratio"]
        if not 0.0 <= ratio <= settings.sparsity:
            fail(
                "method.mask_ratio",
                ratio,
                f"it must be a number in [0, sparsity={settings.sparsity}] "
                "(the upload keeps 1 - sparsity + mask_ratio)",
            )

    def upload_sparsity(self, ctx) -> float:
        """The fraction of prunable weights zeroed in the upload, ``S - mask_ratio``."""
        return max(0.0, self.sparsity - self.options["mask_ratio"])

    def prepare_model(self, model: nn.Module) -> nn.Module:
        """Wrap every conv/linear layer but the first (and downsample convs) with Top-Ks."""
        first = next((name for name, _ in prunable_layers(model)), None)
        skip = () if first is None else (first,)
        if not self.options["wrap_downsample"]:
            skip += downsample_layer_names(model)
        keep = 1.0 - self.sparsity
        return wrap_layers(
            model,
            beta=1.0,
            act_pruning=True,
            act_threshold=self.options["act_threshold"],
            skip=skip,
            act_keep=keep,
            weight_keep=keep,
        )
