"""The server side of a run, free of Flower: global model, sampling, aggregation, evaluation."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import torch

from sparsyfed.methods import ClientUpdate
from sparsyfed.sampling import ClientSampler
from sparsyfed.sparse.topk import sparsity_report
from sparsyfed.task import Task, derive_seed
from sparsyfed.training import evaluate


class FederatedServer:
    """Holds the global model of one run and applies the method's server hooks.

    Parameters
    ----------
    cfg : mapping
        The resolved run config (plain containers). A fresh :class:`Task` is
        built, so no server state is shared between runs.

    """

    def __init__(self, cfg: Mapping[str, Any]) -> None:
        self.cfg = cfg
        self.task = Task(cfg)
        self.method = self.task.method
        self.state: dict[str, torch.Tensor] = self.task.initial_state()
        self.sampler = ClientSampler(
            int(cfg["num_clients"]),
            int(cfg["clients_per_round"]),
            derive_seed(int(cfg["seed"]), 1),
        )
        self._eval_model = self.task.new_model().to(self.task.device)
        self._test = self.task.test_data()

    def global_arrays(self) -> dict[str, np.ndarray]:
        """The global model state as numpy arrays (what the downlink encodes)."""
        return {k: v.detach().cpu().numpy() for k, v in self.state.items()}

    @property
    def shapes(self) -> dict[str, tuple[int, ...]]:
        """Shape of every tensor of the global model."""
        return {k: tuple(v.shape) for k, v in self.state.items()}

    def sample_clients(self) -> list[int]:
        """The partition ids that train in the next round."""
        return self.sampler.sample()

    def apply_updates(self, server_round: int, updates: Sequence[ClientUpdate]) -> dict[str, float]:
        """Aggregate the round's updates into the global model.

        Updates are sorted by partition id first, so the result does not depend
        on the order in which replies arrived.

        Returns
        -------
        dict
            ``global_regrowth``: prunable entries that were zero before and are
            non-zero after this round (METHOD.md 13.4 (b)).

        """
        ordered = sorted(updates, key=lambda u: u.partition_id)
        previous = self.state
        new_state = self.method.aggregate(previous, ordered)
        self.state = self.method.after_aggregate(new_state, server_round)
        regrowth = sum(
            int(((previous[k] == 0) & (self.state[k] != 0)).sum()) for k in self.task.prunable_keys
        )
        return {"global_regrowth": regrowth}

    @torch.no_grad()
    def evaluate(self) -> dict[str, float]:
        """Central evaluation of the global model (eval mode, no activation pruning)."""
        self._eval_model.load_state_dict(self.state)
        x, y = self._test
        return evaluate(self._eval_model, x, y, int(self.cfg["eval_batch_size"]))

    def sparsity(self) -> dict[str, Any]:
        """Sparsity of the global model over all parameters, prunable weights and per layer."""
        return sparsity_report(self.state, self.task.prunable_keys, self.task.parameter_keys)
