"""Everything a client or the server builds from the run config, cached per process.

Flower runs ClientApps in long-lived worker processes (Ray actors); building
the dataset, the partitions and the method once per process and per config
keeps rounds cheap. The cache is keyed by the config itself, so two runs with
different settings never share state.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, replace
from functools import cached_property
from typing import Any

import numpy as np
import torch
from torch import nn

from sparsyfed.config.schema import RunConfig
from sparsyfed.core.context import RoundContext
from sparsyfed.core.seeds import SeedStreams
from sparsyfed.core.training import LocalTraining, lr_at_round
from sparsyfed.data import ArrayDataset, load_dataset, partition_stats, partition_train_test
from sparsyfed.methods import InitialClient, Method, ModelSpec, build_method
from sparsyfed.metrics.flops import layer_forward_flops
from sparsyfed.models import build_model
from sparsyfed.nn.layers import prunable_weight_names

_CACHE: dict[str, Task] = {}
_CACHE_SIZE = 2


def resolve_device(name: str | None) -> torch.device:
    """Return the torch device for ``device`` = ``auto`` | ``cpu`` | ``cuda[:i]``."""
    if name in (None, "", "auto"):
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(name)


@dataclass
class Task:
    """The dataset, its partitions, the model and the method of one run config."""

    cfg: RunConfig

    @cached_property
    def seeds(self) -> SeedStreams:
        """The run's named random streams."""
        return SeedStreams(self.cfg.seed)

    @cached_property
    def dataset(self) -> ArrayDataset:
        """The dataset named by ``dataset.name``."""
        ds = self.cfg.dataset
        return load_dataset(ds.name, data_dir=self.cfg.data_dir or None, **dict(ds.options))

    @cached_property
    def _splits(self) -> tuple[list[np.ndarray], list[np.ndarray]]:
        return self._compute_splits()

    def _compute_splits(self) -> tuple[list[np.ndarray], list[np.ndarray]]:
        part = self.cfg.partition
        return partition_train_test(
            self.dataset.y_train,
            self.dataset.y_test,
            self.cfg.num_clients,
            scheme=part.scheme,
            alpha=part.alpha,
            seed=self.cfg.seed,
            classes_per_client=part.classes_per_client,
        )

    @property
    def partitions(self) -> list[np.ndarray]:
        """Index arrays into the training set, one per client (seeded by ``seed``)."""
        return self._splits[0]

    @property
    def test_partitions(self) -> list[np.ndarray]:
        """Index arrays into the test set with each client's training class mix."""
        return self._splits[1]

    def partition_report(self) -> dict[str, Any]:
        """Samples and classes per client, for the training and the client test splits."""
        ds = self.dataset
        return {
            "scheme": self.cfg.partition.scheme,
            "alpha": self.cfg.partition.alpha,
            "classes_per_client": self.cfg.partition.classes_per_client,
            "sizes": [len(p) for p in self.partitions],
            "train": partition_stats(ds.y_train, self.partitions, ds.num_classes),
            "test": partition_stats(ds.y_test, self.test_partitions, ds.num_classes),
        }

    @cached_property
    def method(self) -> Method:
        """The method named by ``method.impl``, told the model's structure."""
        method = build_method(self.cfg)
        model = self._build(method)
        method.setup(
            ModelSpec(
                prunable_keys=tuple(prunable_weight_names(model)),
                parameter_keys=tuple(name for name, _ in model.named_parameters()),
                new_model=self.new_model,
                layer_flops=lambda: self.layer_flops,
            )
        )
        self.cfg.prune.targets(method.model_spec.prunable_keys)  # refuse a model it cannot skip
        return method

    @cached_property
    def device(self) -> torch.device:
        """The device that training and evaluation run on."""
        return resolve_device(self.cfg.device)

    def _build(self, method: Method) -> nn.Module:
        ds = self.dataset
        model = self.cfg.model
        return method.prepare_model(
            build_model(model.name, model.options, ds.input_shape, ds.num_classes)
        )

    def new_model(self) -> nn.Module:
        """Build the model and let the method adapt it (not initialised)."""
        return self._build(self.method)

    @property
    def prunable_keys(self) -> tuple[str, ...]:
        """``state_dict`` keys of the prunable (conv/linear) weights."""
        return self.method.model_spec.prunable_keys

    @property
    def parameter_keys(self) -> tuple[str, ...]:
        """``state_dict`` keys of the trainable parameters (buffers excluded)."""
        return self.method.model_spec.parameter_keys

    @cached_property
    def layer_flops(self) -> dict[str, int]:
        """Dense forward FLOPs per sample of every conv/linear layer."""
        return layer_forward_flops(self.new_model(), self.dataset.input_shape)

    def initial_state(self) -> dict[str, torch.Tensor]:
        """The seeded round-0 global model state."""
        model = self.new_model()
        generator = torch.Generator().manual_seed(self.seeds.initial_model())
        self.method.initialize(model, generator)
        if self.method.initial_client_data:
            self.method.initialize_from_client(model, self.initial_client(), generator)
        return {k: v.detach().clone() for k, v in model.state_dict().items()}

    def initial_client(self) -> InitialClient:
        """One seeded, randomly chosen client's training data, for a data-dependent init.

        The partitions are computed for this call only and not kept, so the
        server holds no per-client partition afterwards.
        """
        cfg = self.cfg
        rng = np.random.default_rng(self.seeds.initial_client())
        pid = int(rng.integers(cfg.num_clients))
        splits = vars(self).get("_splits") or self._compute_splits()
        idx = splits[0][pid]
        hp = replace(
            self.local_training(self.round_context(1), pid),
            seed=self.seeds.client_training(0, pid),
        )
        x = torch.from_numpy(self.dataset.x_train[idx])
        y = torch.from_numpy(self.dataset.y_train[idx])
        return InitialClient(pid, x, y, hp)

    def round_context(self, server_round: int) -> RoundContext:
        """The context of a 1-indexed server round (its learning rate and seed streams)."""
        cfg = self.cfg
        lr = lr_at_round(server_round, cfg.lr, cfg.rounds)
        return RoundContext(server_round, cfg.rounds, lr, self.seeds)

    def local_training(self, ctx: RoundContext, partition_id: int) -> LocalTraining:
        """The local hyper-parameters of one client in one round (seeded per client and round)."""
        cfg = self.cfg
        return LocalTraining(
            lr=ctx.lr,
            epochs=cfg.local_epochs,
            batch_size=cfg.batch_size,
            weight_decay=cfg.weight_decay,
            momentum=cfg.momentum,
            seed=ctx.seeds.client_training(ctx.round, partition_id),
            prox_mu=cfg.prox_mu,
            augment=bool(self.dataset.augment),
        )

    def _tensors(self, x: np.ndarray, y: np.ndarray) -> tuple[torch.Tensor, torch.Tensor]:
        return torch.from_numpy(x).to(self.device), torch.from_numpy(y).to(self.device)

    def client_data(self, partition_id: int) -> tuple[torch.Tensor, torch.Tensor]:
        """The training tensors of one client, on the task's device."""
        idx = self.partitions[partition_id]
        return self._tensors(self.dataset.x_train[idx], self.dataset.y_train[idx])

    def client_test_data(self, partition_id: int) -> tuple[torch.Tensor, torch.Tensor]:
        """The test split of one client (its training class mix), on the task's device."""
        idx = self.test_partitions[partition_id]
        return self._tensors(self.dataset.x_test[idx], self.dataset.y_test[idx])

    def test_data(self) -> tuple[torch.Tensor, torch.Tensor]:
        """The central test set, on the task's device."""
        return self._tensors(self.dataset.x_test, self.dataset.y_test)


def config_key(cfg: RunConfig) -> str:
    """A stable string key of a config (used for caching)."""
    return json.dumps(cfg.to_dict(), sort_keys=True, default=str)


def get_task(cfg: RunConfig) -> Task:
    """Return the cached :class:`Task` of ``cfg`` for this process (built on first use)."""
    key = config_key(cfg)
    task = _CACHE.get(key)
    if task is None:
        while len(_CACHE) >= _CACHE_SIZE:
            _CACHE.pop(next(iter(_CACHE)))
        task = _CACHE[key] = Task(cfg)
    return task
