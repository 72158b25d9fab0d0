"""Top-K: dense local training, global magnitude Top-K of the upload, FedAvg (METHOD.md 7.2).

The "ResNet-18" column of the SparsyFed paper. Plain layers (beta = 1), so a
weight pruned by the upload regrows as soon as it gets a gradient.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sparsyfed.methods.sparsyfed import SparsyFed


class TopK(SparsyFed):
    """SparsyFed's upload pruning on plain dense training (no Powerprop, no activation Top-K)."""

    def __init__(self, cfg: Mapping[str, Any]) -> None:
        super().__init__(cfg)
        self.beta = 1.0
        self.act_pruning = False

    def prepare_model(self, model):  # noqa: D102
        return model
