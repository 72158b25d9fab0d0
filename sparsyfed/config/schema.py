"""The typed, frozen run config, built from the composed Hydra config in one pass.

:meth:`RunConfig.from_dict` reads every key with the helpers of
:mod:`sparsyfed.validation`, so the first bad value stops the run with one
line naming the key, the value and what is allowed, and an unknown key is
rejected with the closest known one. Defaults live only in the YAML files of
``conf/``: every key must be present in the composed config.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, fields, is_dataclass
from types import MappingProxyType
from typing import TYPE_CHECKING, Any

from sparsyfed.validation import (
    as_bool,
    as_choice,
    as_int,
    as_mapping,
    as_number,
    as_str,
    check_keys,
    fail,
    require,
)

if TYPE_CHECKING:
    from sparsyfed.sparse.scope import PruneScope

SPECTRAL_BETA = -1.0
"""``beta`` of the hyper-parameter-free variant (a per-layer exponent, docs/methods.md section 13)."""
UPLOAD_MODES = ("weights", "delta_topk")
MOMENTUM_SCOPES = ("parameters", "all")
"""``server_momentum_scope``: momentum on the float parameters only, or on every array (Flower)."""
WANDB_MODES = ("disabled", "offline", "online")
OPERATIONAL_KEYS = (
    "output_dir",
    "overwrite",
    "data_dir",
    "simulation.verbose",
    "simulation.round_timeout",
    "simulation.min_completion",
    "faults",
    "simulation.ray_address",
    "simulation.backend",
    "wandb",
    "checkpoint",
)
"""Keys that change where and how a run is written or shown, or how it meets failing clients.

A checkpoint resumes under other values of these keys: a run stopped by failing
clients (or by injected faults) continues once the cause is gone.
"""
SIMULATION_BACKENDS = ("auto", "processes", "ray")
"""``simulation.backend``: local worker processes, Ray, or ``auto`` (Ray on a cluster or
with GPU shares, else processes)."""
FAULT_KINDS = ("none", "raise", "timeout", "nonfinite", "malformed", "mix")
"""``faults.kind``: what an injected faulty client does (docs/faults.md)."""


def _frozen(mapping: Mapping[str, Any]) -> Mapping[str, Any]:
    return MappingProxyType(dict(mapping))


class _Reader:
    """Reads the keys of one block; remembers them so leftovers are unknown keys."""

    def __init__(self, block: Mapping[str, Any], where: str = "") -> None:
        self.block, self.where = block, where
        self.seen: set[str] = set()

    def __call__(self, key: str) -> Any:
        self.seen.add(key)
        return require(self.block, key, self.where)

    def key(self, key: str) -> str:
        return self.where + key

    def int(self, key: str, minimum: int | None = None) -> int:
        return as_int(self.key(key), self(key), minimum)

    def number(self, key: str, check=None, allowed: str = "it must be a finite number") -> float:
        return as_number(self.key(key), self(key), check, allowed)

    def done(self, optional: tuple[str, ...] = ()) -> None:
        check_keys(self.where, self.block, self.seen | set(optional))


@dataclass(frozen=True)
class LrConfig:
    """The client learning-rate schedule (``lr`` block)."""

    initial: float
    final: float
    schedule: str
    warmup_rounds: int


@dataclass(frozen=True)
class PartitionConfig:
    """How the training set is split over clients (``partition`` block)."""

    scheme: str
    alpha: float
    classes_per_client: int


@dataclass(frozen=True)
class WireOptions:
    """The ``wire`` block: how both directions are coded.

    Attributes
    ----------
    codec : str
        ``auto`` (cheapest per tensor) or a codec forced on every tensor, both ways.
    conditional : bool
        Let the uplink code positions relative to the received model's support.
    joint : bool
        With ``conditional``, code the positions of tensors with few coded
        positions together in one joint block per message (``joint`` codec);
        ``False`` codes every tensor on its own (``support`` codec, Rice).
    values : str
        Uplink value format for weight tensors: ``raw``, ``fp16`` or ``int8``.
    error_feedback : bool
        With quantised values, carry each client's quantisation error to its
        next upload.

    """

    codec: str = "auto"
    conditional: bool = True
    joint: bool = True
    values: str = "raw"
    error_feedback: bool = True

    @property
    def quantized(self) -> bool:
        """Whether uplink values are quantised."""
        return self.values != "raw"


@dataclass(frozen=True)
class SimulationConfig:
    """Workers and threads of the simulation engine (``simulation`` block)."""

    backend: str
    client_cpus: float
    client_gpus: float
    client_threads: int
    server_threads: int | None
    ray_cpus: int | None
    ray_address: str | None
    round_timeout: float
    min_completion: float
    verbose: bool


@dataclass(frozen=True)
class FaultConfig:
    """Seeded fault injection into the ClientApp (``faults`` block; off by default).

    Attributes
    ----------
    kind : str
        One of :data:`FAULT_KINDS`; ``none`` injects nothing.
    fraction : float
        Share of each round's sampled clients that fault (rounded to the
        nearest count).
    seed : int
        Picks the faulty clients (and kinds, with ``mix``) with the run seed.
    from_round : int
        The first round with faults.

    """

    kind: str
    fraction: float
    seed: int
    from_round: int

    @property
    def active(self) -> bool:
        """Whether any fault is injected."""
        return self.kind != "none" and self.fraction > 0


@dataclass(frozen=True)
class WandbConfig:
    """Weights & Biases logging (``wandb`` block)."""

    mode: str
    project: str


@dataclass(frozen=True)
class CheckpointConfig:
    """Checkpointing (``checkpoint`` block): every ``every`` rounds, 0 = never."""

    every: int


@dataclass(frozen=True)
class Component:
    """A named component and its own options (``dataset`` and ``model`` blocks)."""

    name: str
    options: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class MethodConfig:
    """The ``method`` block: its name, its class and its own options."""

    name: str
    impl: str
    options: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class RunConfig:
    """Everything one run needs, validated; see ``conf/config.yaml`` for every key."""

    seed: int
    num_clients: int
    clients_per_round: int
    rounds: int
    local_epochs: int
    batch_size: int
    eval_batch_size: int
    fed_eval_clients: int
    weight_decay: float
    momentum: float
    server_lr: float
    server_momentum: float
    server_momentum_scope: str
    prox_mu: float
    upload: str
    aggregation: str
    prune_scope: str
    prune_layers: str
    beta: float
    sparsity: float
    powerprop_beta: float
    lr: LrConfig
    partition: PartitionConfig
    wire: WireOptions
    dataset: Component
    model: Component
    method: MethodConfig
    device: str
    data_dir: str | None
    output_dir: str | None
    overwrite: bool
    simulation: SimulationConfig
    wandb: WandbConfig
    checkpoint: CheckpointConfig
    faults: FaultConfig

    @classmethod
    def from_dict(cls, cfg: Mapping[str, Any]) -> RunConfig:
        """Validate a composed config (plain containers) and build the typed config."""
        read = _Reader(cfg)
        num_clients = read.int("num_clients", 1)
        per_round = read.int("clients_per_round", 1)
        if per_round > num_clients:
            fail("clients_per_round", per_round, f"it must be <= num_clients={num_clients}")
        fed_eval = read.int("fed_eval_clients", 0)
        if fed_eval > num_clients:
            fail("fed_eval_clients", fed_eval, f"it must be <= num_clients={num_clients}")
        sparsity = read.number("sparsity", lambda v: 0.0 <= v < 1.0, "it must lie in [0, 1)")
        beta = read.number(
            "beta",
            lambda v: v >= 1.0 or v == SPECTRAL_BETA,
            f"use beta >= 1 (1 = no Powerprop), or {SPECTRAL_BETA} for the spectral variant",
        )
        upload = as_choice("upload", read("upload"), UPLOAD_MODES)
        config = cls(
            seed=read.int("seed", 0),
            num_clients=num_clients,
            clients_per_round=per_round,
            rounds=read.int("rounds", 1),
            local_epochs=read.int("local_epochs", 1),
            batch_size=read.int("batch_size", 1),
            eval_batch_size=read.int("eval_batch_size", 1),
            fed_eval_clients=fed_eval,
            weight_decay=read.number("weight_decay", lambda v: v >= 0, "it must be >= 0"),
            momentum=read.number("momentum", lambda v: v >= 0, "it must be >= 0"),
            server_lr=read.number("server_lr", lambda v: v > 0, "it must be > 0"),
            server_momentum=read.number(
                "server_momentum", lambda v: 0 <= v < 1, "it must lie in [0, 1)"
            ),
            server_momentum_scope=as_choice(
                "server_momentum_scope", read("server_momentum_scope"), MOMENTUM_SCOPES
            ),
            prox_mu=read.number("prox_mu", lambda v: v >= 0, "it must be >= 0"),
            upload=upload,
            aggregation=_aggregation(read("aggregation"), upload),
            prune_scope=_prune_choice("prune_scope", read("prune_scope")),
            prune_layers=_prune_choice("prune_layers", read("prune_layers")),
            beta=beta,
            sparsity=sparsity,
            powerprop_beta=read.number("powerprop_beta"),
            lr=_lr(as_mapping("lr", read("lr"))),
            partition=_partition(as_mapping("partition", read("partition"))),
            wire=_wire(read("wire")),
            dataset=_component("dataset", read("dataset")),
            model=_component("model", read("model")),
            method=_method(read("method")),
            device=as_str("device", read("device")),
            data_dir=_optional_str("data_dir", read("data_dir")),
            output_dir=_optional_str("output_dir", read("output_dir")),
            overwrite=as_bool("overwrite", read("overwrite")),
            simulation=_simulation(as_mapping("simulation", read("simulation"))),
            wandb=_wandb(as_mapping("wandb", read("wandb"))),
            checkpoint=_checkpoint(as_mapping("checkpoint", read("checkpoint"))),
            faults=_faults(as_mapping("faults", read("faults"))),
        )
        read.done()
        return config

    @property
    def prune(self) -> PruneScope:
        """The prune scope of the upload step and the purges (``prune_scope``, ``prune_layers``)."""
        from sparsyfed.sparse.scope import PruneScope

        return PruneScope(self.prune_scope, self.prune_layers)

    def to_dict(self) -> dict[str, Any]:
        """The config as plain containers, in the layout of the YAML files."""
        return _plain(self)


def _plain(obj: Any) -> Any:
    """Dataclasses and mappings as plain dicts; components' options merged into their block."""
    if is_dataclass(obj):
        out = {f.name: _plain(getattr(obj, f.name)) for f in fields(obj)}
        options = out.pop("options", None)
        return out | (options or {}) if isinstance(obj, Component | MethodConfig) else out
    if isinstance(obj, Mapping):
        return {k: _plain(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [_plain(v) for v in obj]
    return obj


def _optional_str(key: str, value: Any) -> str | None:
    return None if value is None else str(as_str(key, value))


def _aggregation(value: Any, upload: str) -> str:
    from sparsyfed.methods.aggregate import AGGREGATIONS

    aggregation = as_choice("aggregation", value, AGGREGATIONS)
    if aggregation == "nz_mean" and upload != "weights":
        fail(
            "aggregation",
            aggregation,
            f"nz_mean averages the uploaded weights over the clients that kept them; "
            f"it needs upload=weights, got upload={upload}",
        )
    return aggregation


def _prune_choice(key: str, value: Any) -> str:
    from sparsyfed.sparse.scope import PRUNE_LAYERS, PRUNE_SCOPES

    return as_choice(key, value, PRUNE_SCOPES if key == "prune_scope" else PRUNE_LAYERS)


def _lr(block: Mapping[str, Any]) -> LrConfig:
    from sparsyfed.core.training import LR_SCHEDULES

    read = _Reader(block, "lr.")
    schedule = as_choice("lr.schedule", read("schedule"), LR_SCHEDULES)
    initial = read.number("initial", lambda v: v > 0, "it must be > 0")
    if schedule == "exponential":
        final = read.number("final", lambda v: v > 0, "it must be > 0 for an exponential schedule")
    else:
        final = read.number("final")
    result = LrConfig(initial, final, schedule, read.int("warmup_rounds", 0))
    read.done()
    return result


def _partition(block: Mapping[str, Any]) -> PartitionConfig:
    from sparsyfed.data.partition import PARTITION_SCHEMES

    read = _Reader(block, "partition.")
    scheme = as_choice("partition.scheme", read("scheme"), PARTITION_SCHEMES)
    alpha = read.number("alpha", lambda v: v > 0, "the Dirichlet concentration must be > 0")
    # Read (and checked) for every scheme, used by ``shards`` only; its upper bound, the
    # dataset's number of classes, is checked when the data is partitioned.
    classes_per_client = read.int("classes_per_client", 1)
    read.done()
    return PartitionConfig(scheme, alpha, classes_per_client)


def wire_codecs() -> tuple[str, ...]:
    """Choices of ``wire.codec``; ``wire.conditional`` picks ``support``/``joint`` per tensor."""
    from sparsyfed.wire.codec import STANDALONE_CODECS

    return ("auto", *(c for c in STANDALONE_CODECS if c != "support"))


def _wire(value: Any) -> WireOptions:
    from sparsyfed.wire.codec import VALUE_FORMATS

    read = _Reader(as_mapping("wire", value), "wire.")
    wire = WireOptions(
        codec=as_choice("wire.codec", read("codec"), wire_codecs()),
        conditional=as_bool("wire.conditional", read("conditional")),
        joint=as_bool("wire.joint", read("joint")),
        values=as_choice("wire.values", read("values"), VALUE_FORMATS),
        error_feedback=as_bool("wire.error_feedback", read("error_feedback")),
    )
    read.done()
    return wire


def _component(key: str, value: Any) -> Component:
    block = as_mapping(key, value)
    name = as_str(f"{key}.name", require(block, "name", f"{key}."))
    return Component(name, _frozen({k: v for k, v in block.items() if k != "name"}))


def _method(value: Any) -> MethodConfig:
    block = as_mapping("method", value)
    name = as_str("method.name", require(block, "name", "method."))
    impl = as_str("method.impl", require(block, "impl", "method."))
    options = {k: v for k, v in block.items() if k not in ("name", "impl")}
    return MethodConfig(name, impl, _frozen(options))


def _optional_int(key: str, value: Any, minimum: int) -> int | None:
    return None if value is None else as_int(key, value, minimum)


def _optional_address(value: Any) -> str | None:
    """``simulation.ray_address``: null, or a word without blanks (its form is checked at start)."""
    if value is None:
        return None
    if not isinstance(value, str) or not value or value != value.strip() or " " in value:
        fail("simulation.ray_address", value, "null, local, auto or host:port")
    return value


def _simulation(block: Mapping[str, Any]) -> SimulationConfig:
    read = _Reader(block, "simulation.")
    sim = SimulationConfig(
        backend=as_choice("simulation.backend", read("backend"), SIMULATION_BACKENDS),
        client_cpus=read.number("client_cpus", lambda v: v > 0, "it must be > 0"),
        client_gpus=read.number(
            "client_gpus",
            lambda v: 0 <= v <= 1 or float(v).is_integer(),
            "it must be a GPU share in [0, 1] or a whole number of GPUs",
        ),
        client_threads=read.int("client_threads", 1),
        server_threads=_optional_int(
            "simulation.server_threads", read("server_threads"), minimum=1
        ),
        ray_cpus=_optional_int("simulation.ray_cpus", read("ray_cpus"), minimum=1),
        ray_address=_optional_address(read("ray_address")),
        round_timeout=read.number("round_timeout", lambda v: v > 0, "it must be > 0 seconds"),
        min_completion=read.number(
            "min_completion", lambda v: 0 <= v <= 1, "it must lie in [0, 1] (a share of clients)"
        ),
        verbose=as_bool("simulation.verbose", read("verbose")),
    )
    read.done()
    if sim.backend == "processes" and sim.client_gpus > 0:
        fail(
            "simulation.client_gpus", sim.client_gpus,
            "GPU shares are Ray's; use simulation.backend=ray (or auto) or client_gpus=0",
        )  # fmt: skip
    if sim.backend == "processes" and sim.ray_address not in (None, "local"):
        fail(
            "simulation.backend", sim.backend,
            f"simulation.ray_address={sim.ray_address} needs the ray backend (or auto)",
        )  # fmt: skip
    return sim


def _wandb(block: Mapping[str, Any]) -> WandbConfig:
    read = _Reader(block, "wandb.")
    result = WandbConfig(
        mode=as_choice("wandb.mode", read("mode"), WANDB_MODES),
        project=as_str("wandb.project", read("project")),
    )
    read.done()
    return result


def _faults(block: Mapping[str, Any]) -> FaultConfig:
    read = _Reader(block, "faults.")
    result = FaultConfig(
        kind=as_choice("faults.kind", read("kind"), FAULT_KINDS),
        fraction=read.number("fraction", lambda v: 0 <= v <= 1, "it must lie in [0, 1]"),
        seed=read.int("seed", 0),
        from_round=read.int("from_round", 1),
    )
    read.done()
    return result


def _checkpoint(block: Mapping[str, Any]) -> CheckpointConfig:
    read = _Reader(block, "checkpoint.")
    result = CheckpointConfig(every=read.int("every", 0))
    read.done()
    return result
