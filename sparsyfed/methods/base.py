"""The Method interface: the one extension point of the framework (docs/architecture.md).

A method is a small object with client-side hooks (``prepare_model``,
``train``, ``upload_sparsity``) and server-side hooks (``aggregate``,
``after_aggregate``, ``state``/``load_state``). Every hook that depends on the
round gets the frozen :class:`~sparsyfed.core.context.RoundContext`. A method
works on plain torch objects and never sees Flower types. The base class is
dense FedAvg: subclasses override only what differs.

A method also *declares* what it takes (class attributes), so the framework
validates a config once, before any work, and a method that ignores a key
says so instead of recording it as applied:

- ``uses_sparsity`` / ``uses_beta``: whether ``sparsity`` / ``beta`` change
  what it does (if not, they are set to 0 / 1 and reported as ignored);
- ``upload_modes``: the ``upload`` values it supports;
- ``aggregations``: the ``aggregation`` values it supports;
- ``server_optimizer``: whether ``server_lr != 1`` and server momentum apply;
- ``option_specs``: its own options under ``method.*`` (the YAML holds their
  defaults);
- ``initial_client_data``: whether the round-0 model is adapted with one
  client's data (:meth:`Method.initialize_from_client`);
- ``exchanges_masks``: whether the method's protocol sends a binary mask of
  the model besides the weights (counted by the FedSparsify communication cost).

Side tensors: a method may send per-tensor information besides the model in
either direction (:mod:`sparsyfed.core.side`): :meth:`Method.downlink_side`
(server -> every client of the next round, e.g. a mask), and
:meth:`Method.client_round` / :meth:`Method.upload_side_keys` (client ->
server, e.g. gradients), read on the server as :attr:`ClientUpdate.side`.
They travel in the same encoded message as the model, so their bytes count
in ``downlink_bytes`` / ``uplink_bytes``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar

import torch
from torch import Tensor, nn

from sparsyfed.core.training import LocalTraining, train_sgd
from sparsyfed.methods.aggregate import AGGREGATIONS, fedavg_pseudo_gradients
from sparsyfed.metrics.values import Metrics
from sparsyfed.nn.init import init_weights
from sparsyfed.sparse.scope import PruneScope
from sparsyfed.validation import as_bool, as_choice, as_int, as_number, as_str

if TYPE_CHECKING:
    from sparsyfed.core.context import RoundContext

State = dict[str, Tensor]
UPLOAD_MODES = ("weights", "delta_topk")
# State-dict entries that are running statistics, not parameters.
STATISTICS_SUFFIXES = ("running_mean", "running_var", "num_batches_tracked")
NO_OFFICIAL: Any = object()
"""Marks an :class:`Option` without an official value."""


@dataclass(frozen=True)
class Option:
    """The type and allowed values of one method option (``method.<name>``).

    Attributes
    ----------
    kind : type
        ``bool``, ``int``, ``float`` or ``str``.
    check : callable, optional
        Extra condition on the converted value.
    allowed : str
        What is allowed, for the error message.
    choices : tuple, optional
        The allowed values (for ``str`` options).
    nullable : bool
        Whether ``null`` is allowed.
    official : object
        The value that runs the original code's behaviour, when the option has
        one (:data:`NO_OFFICIAL` otherwise); another value is reported as a
        departure from it (docs/methods.md section 18.1).

    """

    kind: type
    check: Callable[[Any], bool] | None = None
    allowed: str = ""
    choices: tuple[Any, ...] | None = None
    nullable: bool = False
    official: Any = field(default=NO_OFFICIAL, kw_only=True)

    @property
    def has_official(self) -> bool:
        """Whether the option has an official value."""
        return self.official is not NO_OFFICIAL

    def read(self, key: str, value: Any) -> Any:
        """Convert and check ``value`` (``ConfigError`` naming ``key`` if it is not allowed)."""
        if value is None and self.nullable:
            return None
        if self.choices is not None:
            return as_choice(key, value, self.choices)
        if self.kind is bool:
            return as_bool(key, value)
        if self.kind is int:
            result: Any = as_int(key, value)
        elif self.kind is float:
            result = as_number(key, value, allowed=self.allowed or "it must be a finite number")
        else:
            result = as_str(key, value)
        if self.check is not None and not self.check(result):
            from sparsyfed.validation import fail

            fail(key, value, self.allowed)
        return result


@dataclass(frozen=True)
class MethodSettings:
    """What a method is built from: its effective shared values and its own options.

    ``beta`` is 1.0 and ``sparsity`` 0.0 for methods that do not use them.
    ``aggregation`` is the run's ``aggregation`` and ``prune`` its prune scope
    (``prune_scope``, ``prune_layers``), for the method's server-side purges.
    """

    name: str
    beta: float = 1.0
    sparsity: float = 0.0
    server_lr: float = 1.0
    server_momentum: float = 0.0
    server_momentum_scope: str = "parameters"
    options: Mapping[str, Any] = field(default_factory=dict)
    aggregation: str = "fedavg"
    prune: PruneScope = field(default_factory=PruneScope)


@dataclass(frozen=True)
class ModelSpec:
    """The structure of the run's model, told to the method once (:meth:`Method.setup`).

    Attributes
    ----------
    prunable_keys : tuple of str
        ``state_dict`` keys of the conv/linear weights, in model order.
    parameter_keys : tuple of str
        ``state_dict`` keys of the trainable parameters (buffers excluded).
    new_model : callable
        Builds a fresh, prepared, uninitialised model.
    layer_flops : callable, optional
        Returns the dense forward FLOPs per sample of every conv/linear layer
        (module name -> FLOPs, in module order; computed on first use).

    """

    prunable_keys: tuple[str, ...]
    parameter_keys: tuple[str, ...]
    new_model: Callable[[], nn.Module]
    layer_flops: Callable[[], Mapping[str, int]] | None = None


@dataclass(frozen=True)
class InitialClient:
    """One client's training data, for a method that initialises from data.

    Given to :meth:`Method.initialize_from_client` when the method sets
    ``initial_client_data`` (SNIP, GraSP, PruneFL: a mask computed on one
    randomly chosen client's data before round 1).

    Attributes
    ----------
    partition_id : int
        The chosen client (seed stream ``SeedStreams.initial_client``).
    x, y : Tensor
        Its training inputs and labels (on the CPU, like the round-0 model).
    hp : LocalTraining
        Its local hyper-parameters of round 1, with the seed of its round-0
        stream (``client_training(0, partition_id)``, which no round uses).

    """

    partition_id: int
    x: Tensor
    y: Tensor
    hp: LocalTraining


@dataclass
class ClientUpdate:
    """What one client returned in one round, decoded.

    Attributes
    ----------
    partition_id : int
        The client's data partition.
    state : dict of str to Tensor
        The uploaded model state (weights; pseudo-gradients are added back
        to the global model before aggregation).
    num_examples : int
        Local training samples (the FedAvg weight).
    metrics : Metrics
        The client's metrics.
    side : dict of str to Tensor
        The side tensors it uploaded (:meth:`Method.upload_side_keys`), keyed
        by the model key they belong to; empty for most methods.

    """

    partition_id: int
    state: State
    num_examples: int
    metrics: Metrics = field(default_factory=Metrics)
    side: State = field(default_factory=dict)


class Method:
    """Dense FedAvg; the base class of every method.

    Parameters
    ----------
    settings : MethodSettings
        Effective ``beta`` and ``sparsity``, server step and the method's options.

    """

    uses_sparsity: ClassVar[bool] = False
    uses_beta: ClassVar[bool] = False
    upload_modes: ClassVar[tuple[str, ...]] = UPLOAD_MODES
    aggregations: ClassVar[tuple[str, ...]] = AGGREGATIONS
    server_optimizer: ClassVar[bool] = True
    option_specs: ClassVar[Mapping[str, Option]] = {}
    initial_client_data: ClassVar[bool] = False
    exchanges_masks: ClassVar[bool] = False
    """Whether the method sends a binary mask besides the weights (FedSparsify's cost model)."""

    def __init__(self, settings: MethodSettings) -> None:
        self.settings = settings
        self.name = settings.name
        self.beta = settings.beta
        self.sparsity = settings.sparsity
        self.server_lr = settings.server_lr
        self.server_momentum = settings.server_momentum
        self.server_momentum_scope = settings.server_momentum_scope
        self.options = settings.options
        self.spec: ModelSpec | None = None
        self._velocity: State = {}

    @classmethod
    def check_settings(cls, settings: MethodSettings) -> None:
        """Check relations between options and shared values (raise ``ConfigError``)."""

    def setup(self, spec: ModelSpec) -> None:
        """Learn the model's structure (called once per process, before any hook)."""
        self.spec = spec

    @property
    def model_spec(self) -> ModelSpec:
        """The model structure given to :meth:`setup`."""
        if self.spec is None:
            raise RuntimeError(f"method {self.name}: setup(ModelSpec) was not called")
        return self.spec

    # ------------------------------------------------------------------ model
    def prepare_model(self, model: nn.Module) -> nn.Module:
        """Adapt a freshly built model (e.g. swap in Powerprop layers)."""
        return model

    def initialize(self, model: nn.Module, generator: torch.Generator) -> nn.Module:
        """Initialise the global model of round 0 (docs/methods.md section 2.3)."""
        return init_weights(model, generator)

    def initialize_from_client(
        self, model: nn.Module, client: InitialClient, generator: torch.Generator
    ) -> nn.Module:
        """Adapt the initialised round-0 model with one client's data (e.g. prune it).

        Called after :meth:`initialize` only when ``initial_client_data`` is
        true. The result is the round-0 global model every client receives.
        Default: the model unchanged.
        """
        return model

    # ----------------------------------------------------------------- client
    def train(
        self, model: nn.Module, x: Tensor, y: Tensor, hp: LocalTraining, ctx: RoundContext
    ) -> Metrics:
        """Run local training on one client's data; return its metrics."""
        return train_sgd(model, x, y, hp)

    def client_round(
        self,
        model: nn.Module,
        x: Tensor,
        y: Tensor,
        hp: LocalTraining,
        ctx: RoundContext,
        side: Mapping[str, Tensor],
    ) -> tuple[Metrics, State]:
        """One client's work on the received model: train it, return metrics and side tensors.

        ``side`` holds the downlink side tensors (:meth:`downlink_side`) the
        client received with the model. The returned side tensors are
        uploaded with the client's update; their keys must be exactly
        :meth:`upload_side_keys` of the round, each with the shape of that
        model tensor. Default: :meth:`train`, no side tensors.
        """
        return self.train(model, x, y, hp, ctx), {}

    def upload_side_keys(self, ctx: RoundContext) -> tuple[str, ...]:
        """The model keys whose side tensors every client uploads in this round (default none)."""
        return ()

    def upload_sparsity(self, ctx: RoundContext) -> float:
        """Fraction of the prunable weights (or of the delta) the upload zeroes.

        The upload step (:mod:`sparsyfed.upload.steps`) asks this once per
        client and round; 0 means no client-side prune. Default: ``sparsity``.
        """
        return self.sparsity

    # ----------------------------------------------------------------- server
    def aggregate(
        self,
        global_state: Mapping[str, Tensor],
        updates: Sequence[ClientUpdate],
        ctx: RoundContext,
    ) -> State:
        """Combine the client updates (sorted by partition id) into the next global state.

        Default: sample-weighted FedAvg of the pseudo-gradients
        ``theta_k - theta_t`` with server learning rate ``server_lr``, and
        server momentum when ``server_momentum > 0`` (FedAvgM). With
        ``aggregation=nz_mean`` the conv/linear weights are averaged over the
        clients that hold each entry (docs/methods.md section 6.5) and the
        pseudo-gradient is that mean minus ``theta_t``. A sparse method's
        result is then restricted to the uploads' union
        (:meth:`keep_uploaded_support`) when the server step is not plain
        weight averaging.
        """
        momentum = self.server_momentum > 0
        nz_keys = self.model_spec.prunable_keys if self.settings.aggregation == "nz_mean" else ()
        base = global_state
        if momentum and self.server_momentum_scope == "all":
            # Integer buffers take the momentum step on their unrounded float64 average.
            base = {k: v if v.is_floating_point() else v.double() for k, v in base.items()}
        new_state = fedavg_pseudo_gradients(
            base,
            [u.state for u in updates],
            [u.num_examples for u in updates],
            1.0 if momentum else self.server_lr,
            nz_mean_keys=nz_keys,
        )
        if momentum:
            new_state = self._apply_server_momentum(global_state, new_state)
        if self.uses_sparsity and (momentum or self.server_lr != 1.0):
            # Plain FedAvg of weights already lies in the uploads' union (exact +0.0).
            self.keep_uploaded_support(new_state, updates)
        return new_state

    def _momentum_applies(self, key: str, tensor: Tensor) -> bool:
        """Whether the FedAvgM step moves ``key`` (``server_momentum_scope``)."""
        if self.server_momentum_scope == "all":
            return True
        # Normalisation statistics are averaged, not extrapolated: momentum
        # would drive a running variance negative (NaN loss).
        return tensor.is_floating_point() and not key.endswith(STATISTICS_SUFFIXES)

    def _apply_server_momentum(self, global_state: Mapping[str, Tensor], averaged: State) -> State:
        """FedAvgM: ``v <- mu v + mean_delta``, ``theta <- theta + server_lr v``.

        Scope ``parameters``: the float tensors except normalisation running
        statistics, which keep the plain weighted average. Scope ``all``
        (Flower's FedAvgM): every tensor; an integer buffer steps in float64
        (its velocity is float64) and is rounded back to its dtype.
        """
        out: State = {}
        for key, current in global_state.items():
            if not self._momentum_applies(key, current):
                out[key] = averaged[key].to(current.dtype)
                continue
            step = averaged[key] - current.to(averaged[key].dtype)
            velocity = self._velocity.get(key)
            velocity = step if velocity is None else velocity.mul_(self.server_momentum).add_(step)
            self._velocity[key] = velocity
            moved = current.to(step.dtype) + self.server_lr * velocity
            out[key] = moved if current.is_floating_point() else moved.round().to(current.dtype)
        return out

    def server_mask_keys(self) -> tuple[str, ...]:
        """The keys whose zeros the server step may not fill: the prunable weights."""
        return self.model_spec.prunable_keys

    def keep_uploaded_support(self, new_state: State, updates: Sequence[ClientUpdate]) -> None:
        """Zero, in place, every entry of :meth:`server_mask_keys` that no upload holds.

        The mask is the union of the uploads' supports (under ``delta_topk``
        the uploads are the rebuilt weights ``theta_t + delta``). With
        ``server_lr = 1`` and no momentum the FedAvg of weights already lies
        in it; otherwise ``(1 - server_lr) theta_t`` and the momentum would
        refill entries every client pruned. The velocity is zeroed there too,
        so a pruned entry keeps no step for when a client revives it.
        """
        for key in self.server_mask_keys():
            target = new_state[key]
            held = torch.zeros(target.shape, dtype=torch.bool, device=target.device)
            for update in updates:
                held |= update.state[key].to(target.device) != 0
            target.masked_fill_(~held, 0.0)
            velocity = self._velocity.get(key)
            if velocity is not None:
                velocity.masked_fill_(~held.to(velocity.device), 0.0)

    def downlink_side(self) -> State:
        """Side tensors sent with the current global model, keyed by model key (default none).

        Asked when the model is encoded for the next round (after
        :meth:`after_aggregate`); each tensor has the shape of its model key.
        """
        return {}

    def after_aggregate(self, global_state: State, ctx: RoundContext) -> State:
        """Post-process the aggregated global state (e.g. a server-side purge)."""
        return global_state

    # ------------------------------------------------------------ checkpoint
    def state(self) -> State:
        """The server-side state that survives rounds (checkpointed): the momentum buffer."""
        return {f"velocity/{k}": v for k, v in self._velocity.items()}

    def load_state(self, state: Mapping[str, Tensor]) -> None:
        """Restore :meth:`state` (on resume)."""
        self._velocity = {
            k.removeprefix("velocity/"): v.clone()
            for k, v in state.items()
            if k.startswith("velocity/")
        }
