"""Top-K: dense local training, global magnitude Top-K of the upload, FedAvg (docs/methods.md section 7).

The "ResNet-18" column of the SparsyFed paper. Plain layers (beta = 1), so a
weight pruned by the upload regrows as soon as it gets a gradient.
"""

from __future__ import annotations

from sparsyfed.methods.base import Method


class TopK(Method):
    """Plain dense training; the shared upload step prunes the upload to ``sparsity``."""

    uses_sparsity = True
