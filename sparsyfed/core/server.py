"""The server side of a run, free of Flower: global model, sampling, aggregation, evaluation."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import torch

from sparsyfed.core.sampling import ClientSampler
from sparsyfed.core.task import Task, derive_seed
from sparsyfed.core.training import evaluate
from sparsyfed.methods import ClientUpdate
from sparsyfed.metrics.masks import (
    PackedMasks,
    deactivated,
    global_regrowth,
    iou,
    mean_pairwise_iou,
    pack_masks,
    readmission,
    support,
    unpack_masks,
)
from sparsyfed.nn.layers import reset_activation_state
from sparsyfed.sparse.topk import sparsity_report
from sparsyfed.upload.steps import apply_delta, is_delta


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
        fed_eval = int(cfg.get("fed_eval_clients", 0) or 0)
        self.eval_sampler = (
            ClientSampler(int(cfg["num_clients"]), fed_eval, derive_seed(int(cfg["seed"]), 2))
            if fed_eval > 0
            else None
        )
        self._last_masks: dict[int, PackedMasks] = {}
        self.delta_uploads = is_delta(str(cfg.get("upload", "weights")))
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
            ``global_regrowth`` (prunable entries zero before the round and
            non-zero after, METHOD.md 13.4 (b)), ``global_deactivated``,
            ``global_mask_iou`` (IoU of the prunable masks before and after),
            ``client_mask_iou`` (mean pairwise IoU of the round's uploads) and
            ``readmission`` (13.4 (c): entries a client uploads that were not in
            its upload of its previous participation; mean over the clients
            seen before, None in their first round).

        """
        ordered = sorted(updates, key=lambda u: u.partition_id)
        previous = self.state
        if self.delta_uploads:
            for update in ordered:
                update.state = apply_delta(update.state, previous)
        new_state = self.method.aggregate(previous, ordered)
        self.state = self.method.after_aggregate(new_state, server_round)
        return self._mask_metrics(previous, ordered)

    def _mask_metrics(
        self, previous: Mapping[str, torch.Tensor], updates: Sequence[ClientUpdate]
    ) -> dict[str, Any]:
        """Consensus and regrowth of the prunable masks (METHOD.md 13.3-13.4)."""
        keys = self.task.prunable_keys
        client_masks = [support(u.state, keys) for u in updates]
        readmitted = []
        for update, mask in zip(updates, client_masks, strict=True):
            last = self._last_masks.get(update.partition_id)
            if last is not None:
                readmitted.append(readmission(unpack_masks(last), update.state, keys))
            self._last_masks[update.partition_id] = pack_masks(mask)
        client_iou = mean_pairwise_iou(client_masks)
        return {
            "global_regrowth": global_regrowth(previous, self.state, keys),
            "global_deactivated": deactivated(previous, self.state, keys),
            "global_mask_iou": iou(support(previous, keys), support(self.state, keys)),
            "client_mask_iou": None if math.isnan(client_iou) else client_iou,
            "readmission": float(np.mean(readmitted)) if readmitted else None,
        }

    @torch.no_grad()
    def evaluate(self) -> dict[str, float]:
        """Central evaluation of the global model (eval mode, no activation pruning)."""
        self._eval_model.load_state_dict(self.state)
        reset_activation_state(self._eval_model)  # e.g. the spectral exponents of new weights
        x, y = self._test
        return evaluate(self._eval_model, x, y, int(self.cfg["eval_batch_size"]))

    def sparsity(self) -> dict[str, Any]:
        """Sparsity of the global model over all parameters, prunable weights and per layer."""
        return sparsity_report(self.state, self.task.prunable_keys, self.task.parameter_keys)
