"""The Method interface: the one extension point of the framework (DESIGN.md section 3).

A method is a small object with client-side hooks (``prepare_model``,
``train``, ``make_update``) and server-side hooks (``aggregate``,
``after_aggregate``). It works on plain torch objects and never sees Flower
types. The base class is dense FedAvg: subclasses override only what differs.

A method is selected by ``method.impl`` in its YAML (``"module.path:ClassName"``),
so adding one means one Python module and one file in ``conf/method/``.
"""

from __future__ import annotations

import importlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import Tensor, nn

from sparsyfed.core.training import LocalTraining, train_sgd
from sparsyfed.methods.aggregate import fedavg_pseudo_gradients
from sparsyfed.nn.init import init_weights
from sparsyfed.nn.layers import prunable_layers
from sparsyfed.sparse.topk import global_magnitude_prune_

State = dict[str, Tensor]
# State-dict entries that are running statistics, not parameters.
STATISTICS_SUFFIXES = ("running_mean", "running_var", "num_batches_tracked")


@dataclass
class ClientUpdate:
    """What one client returned in one round, decoded.

    Attributes
    ----------
    partition_id : int
        The client's data partition.
    state : dict of str to Tensor
        The uploaded model state (weights after the method's ``make_update``).
    num_examples : int
        Local training samples (the FedAvg weight).
    metrics : dict
        Scalar client metrics.

    """

    partition_id: int
    state: State
    num_examples: int
    metrics: dict[str, float] = field(default_factory=dict)


class Method:
    """Dense FedAvg; the base class of every method.

    Parameters
    ----------
    cfg : mapping
        The whole resolved run config (plain containers). Methods read their
        own options from ``cfg["method"]`` and the shared keys (``beta``,
        ``sparsity``, ``server_lr``) from the top level.

    """

    #: Whether ``sparsity`` changes what this method does.
    uses_sparsity: bool = False

    def __init__(self, cfg: Mapping[str, Any]) -> None:
        self.cfg = cfg
        self.options: Mapping[str, Any] = cfg.get("method", {})
        self.beta = float(cfg.get("beta", 1.0))
        self.sparsity = float(cfg.get("sparsity", 0.0)) if self.uses_sparsity else 0.0
        self.server_lr = float(cfg.get("server_lr", 1.0))
        self.server_momentum = float(cfg.get("server_momentum", 0.0))
        self._velocity: State = {}

    @property
    def name(self) -> str:
        """The method's config name."""
        return str(self.options.get("name", type(self).__name__.lower()))

    # ------------------------------------------------------------------ model
    def prepare_model(self, model: nn.Module) -> nn.Module:
        """Adapt a freshly built model (e.g. swap in Powerprop layers)."""
        return model

    def initialize(self, model: nn.Module, generator: torch.Generator) -> nn.Module:
        """Initialise the global model of round 0 (METHOD.md 2.3)."""
        return init_weights(model, generator)

    # ----------------------------------------------------------------- client
    def train(self, model: nn.Module, x: Tensor, y: Tensor, hp: LocalTraining) -> dict[str, float]:
        """Run local training on one client's data; return scalar metrics."""
        return train_sgd(model, x, y, hp)

    def upload_sparsity(self, hp: LocalTraining) -> float:
        """Fraction of the prunable weights the upload zeroes (0 = no client-side prune).

        Default: the method's ``sparsity`` (0 for methods that do not use it).
        """
        return self.sparsity

    def make_update(
        self, model: nn.Module, received: Mapping[str, Tensor], hp: LocalTraining
    ) -> State:
        """Return the weights to upload after local training.

        When :meth:`upload_sparsity` is positive, one global magnitude Top-K over
        all conv/linear weights first leaves exactly ``round(s * N)`` zeros
        (biases and normalisation layers are never pruned).
        """
        sparsity = self.upload_sparsity(hp)
        if sparsity > 0:
            global_magnitude_prune_([layer.weight for _, layer in prunable_layers(model)], sparsity)
        return {k: v.detach().clone() for k, v in model.state_dict().items()}

    # ----------------------------------------------------------------- server
    def aggregate(
        self, global_state: Mapping[str, Tensor], updates: Sequence[ClientUpdate]
    ) -> State:
        """Combine the client updates into the next global state.

        Default: sample-weighted FedAvg of the pseudo-gradients
        ``theta_k - theta_t`` with server learning rate ``server_lr``, and
        server momentum when ``server_momentum > 0`` (FedAvgM).
        """
        momentum = self.server_momentum > 0
        new_state = fedavg_pseudo_gradients(
            global_state,
            [u.state for u in updates],
            [u.num_examples for u in updates],
            1.0 if momentum else self.server_lr,
        )
        return self._apply_server_momentum(global_state, new_state) if momentum else new_state

    def _apply_server_momentum(self, global_state: Mapping[str, Tensor], averaged: State) -> State:
        """FedAvgM: ``v <- mu v + mean_delta``, ``theta <- theta + server_lr v``.

        Applied to the float tensors except normalisation running statistics,
        which keep the plain weighted average.
        """
        out: State = {}
        for key, current in global_state.items():
            if not current.is_floating_point() or key.endswith(STATISTICS_SUFFIXES):
                # Normalisation statistics are averaged, not extrapolated: momentum
                # would drive a running variance negative (NaN loss).
                out[key] = averaged[key]
                continue
            step = averaged[key] - current
            velocity = self._velocity.get(key)
            velocity = step if velocity is None else velocity.mul_(self.server_momentum).add_(step)
            self._velocity[key] = velocity
            out[key] = current + self.server_lr * velocity
        return out

    def after_aggregate(self, global_state: State, server_round: int) -> State:
        """Post-process the aggregated global state (e.g. a server-side purge)."""
        return global_state


def load_method(cfg: Mapping[str, Any]) -> Method:
    """Instantiate the method named by ``cfg["method"]["impl"]`` (``"module:Class"``)."""
    impl = str(cfg["method"].get("impl", ""))
    module_name, _, class_name = impl.partition(":")
    try:
        cls = getattr(importlib.import_module(module_name), class_name)
    except (ImportError, AttributeError, ValueError) as err:
        raise ValueError(
            f"method.impl={impl!r} cannot be loaded ({err}); it must name "
            "'package.module:ClassName' of a Method subclass"
        ) from err
    if not (isinstance(cls, type) and issubclass(cls, Method)):
        raise ValueError(f"method.impl={impl!r} is not a subclass of sparsyfed.methods.Method")
    return cls(cfg)
