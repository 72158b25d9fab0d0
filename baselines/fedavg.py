"""Dense FedAvg: the reference method, with no sparsity anywhere.

The base :class:`~sparsyfed.methods.base.Method` already is dense FedAvg
(plain layers, fan-in initialisation, local SGD, full-weight upload,
sample-weighted FedAvg of pseudo-gradients); this module only names it.
"""

from __future__ import annotations

from sparsyfed.methods.base import Method


class FedAvg(Method):
    """Dense FedAvg (``beta`` and ``sparsity`` are ignored)."""

    uses_sparsity = False

    def __init__(self, cfg):
        super().__init__(cfg)
        self.beta = 1.0
