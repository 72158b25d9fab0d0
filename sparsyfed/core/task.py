"""Everything a client or the server builds from the run config, cached per process.

Flower runs ClientApps in long-lived worker processes (Ray actors); building
the dataset, the partitions and the method once per process and per config
keeps rounds cheap. The cache is keyed by the config itself, so two runs with
different settings never share state.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cached_property
from typing import Any

import numpy as np
import torch
from torch import nn

from sparsyfed.data import ArrayDataset, load_dataset, partition_labels, partition_stats
from sparsyfed.methods import Method, load_method
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


def derive_seed(*parts: int) -> int:
    """Return a 63-bit seed derived from integers (run seed, round, partition, ...)."""
    return int(np.random.SeedSequence([int(p) for p in parts]).generate_state(2, np.uint64)[0] >> 1)


@dataclass
class Task:
    """The dataset, its partitions and the method of one run config."""

    cfg: Mapping[str, Any]

    @cached_property
    def dataset(self) -> ArrayDataset:
        """The dataset named by ``dataset.name``."""
        options = {k: v for k, v in self.cfg["dataset"].items() if k != "name"}
        data_dir = self.cfg.get("data_dir") or None
        return load_dataset(self.cfg["dataset"]["name"], data_dir=data_dir, **options)

    @cached_property
    def partitions(self) -> list[np.ndarray]:
        """Index arrays into the training set, one per client (seeded by ``seed``)."""
        part = self.cfg["partition"]
        return partition_labels(
            self.dataset.y_train,
            int(self.cfg["num_clients"]),
            scheme=str(part["scheme"]),
            alpha=float(part["alpha"]),
            seed=int(self.cfg["seed"]),
        )

    @cached_property
    def test_partitions(self) -> list[np.ndarray]:
        """Index arrays into the test set with each client's training class mix.

        Same scheme and seed as :attr:`partitions`, so the partitioner draws the
        same Dirichlet matrix (see :func:`~sparsyfed.data.partition_train_test`).
        """
        part = self.cfg["partition"]
        return partition_labels(
            self.dataset.y_test,
            int(self.cfg["num_clients"]),
            scheme=str(part["scheme"]),
            alpha=float(part["alpha"]),
            seed=int(self.cfg["seed"]),
        )

    def partition_report(self) -> dict[str, Any]:
        """Samples and classes per client, for the training and the client test splits."""
        ds = self.dataset
        return {
            "scheme": self.cfg["partition"]["scheme"],
            "alpha": self.cfg["partition"]["alpha"],
            "sizes": [len(p) for p in self.partitions],
            "train": partition_stats(ds.y_train, self.partitions, ds.num_classes),
            "test": partition_stats(ds.y_test, self.test_partitions, ds.num_classes),
        }

    @cached_property
    def method(self) -> Method:
        """The method named by ``method.impl``."""
        return load_method(self.cfg)

    @cached_property
    def device(self) -> torch.device:
        """The device that training and evaluation run on."""
        return resolve_device(self.cfg.get("device"))

    def new_model(self) -> nn.Module:
        """Build the model and let the method adapt it (not initialised)."""
        ds = self.dataset
        model = build_model(self.cfg["model"], ds.input_shape, ds.num_classes)
        return self.method.prepare_model(model)

    @cached_property
    def prunable_keys(self) -> list[str]:
        """``state_dict`` keys of the prunable (conv/linear) weights."""
        return prunable_weight_names(self.new_model())

    @cached_property
    def layer_flops(self) -> dict[str, int]:
        """Dense forward FLOPs per sample of every conv/linear layer."""
        return layer_forward_flops(self.new_model(), self.dataset.input_shape)

    @cached_property
    def parameter_keys(self) -> list[str]:
        """``state_dict`` keys of the trainable parameters (buffers excluded)."""
        return [name for name, _ in self.new_model().named_parameters()]

    def initial_state(self) -> dict[str, torch.Tensor]:
        """The seeded round-0 global model state."""
        model = self.new_model()
        generator = torch.Generator().manual_seed(derive_seed(int(self.cfg["seed"]), 0))
        self.method.initialize(model, generator)
        return {k: v.detach().clone() for k, v in model.state_dict().items()}

    def client_data(self, partition_id: int) -> tuple[torch.Tensor, torch.Tensor]:
        """The training tensors of one client, on the task's device."""
        idx = self.partitions[partition_id]
        x = torch.from_numpy(self.dataset.x_train[idx]).to(self.device)
        y = torch.from_numpy(self.dataset.y_train[idx]).to(self.device)
        return x, y

    def client_test_data(self, partition_id: int) -> tuple[torch.Tensor, torch.Tensor]:
        """The test split of one client (its training class mix), on the task's device."""
        idx = self.test_partitions[partition_id]
        x = torch.from_numpy(self.dataset.x_test[idx]).to(self.device)
        y = torch.from_numpy(self.dataset.y_test[idx]).to(self.device)
        return x, y

    def test_data(self) -> tuple[torch.Tensor, torch.Tensor]:
        """The central test set, on the task's device."""
        ds = self.dataset
        return (
            torch.from_numpy(ds.x_test).to(self.device),
            torch.from_numpy(ds.y_test).to(self.device),
        )


def config_key(cfg: Mapping[str, Any]) -> str:
    """A stable string key of a config (used for caching)."""
    return json.dumps(cfg, sort_keys=True, default=str)


def get_task(cfg: Mapping[str, Any]) -> Task:
    """Return the cached :class:`Task` of ``cfg`` for this process (built on first use)."""
    key = config_key(cfg)
    task = _CACHE.get(key)
    if task is None:
        while len(_CACHE) >= _CACHE_SIZE:
            _CACHE.pop(next(iter(_CACHE)))
        task = _CACHE[key] = Task(cfg)
    return task
