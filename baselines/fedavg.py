"""Dense FedAvg: the reference method, with no sparsity anywhere.

The base :class:`~sparsyfed.methods.base.Method` already is dense FedAvg
(plain layers, fan-in initialisation, local SGD, full-weight upload,
sample-weighted FedAvg of pseudo-gradients, FedAvgM with ``server_momentum``);
this module only names it. It declares that it uses neither ``beta`` nor
``sparsity``, so a value given for either is reported as ignored.
"""

from __future__ import annotations

from sparsyfed.methods.base import Method


class FedAvg(Method):
    """Dense FedAvg (``beta`` and ``sparsity`` do not apply)."""
