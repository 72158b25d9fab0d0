"""The server side of a run, free of Flower: global model, sampling, aggregation, evaluation."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch

from sparsyfed.config.schema import RunConfig
from sparsyfed.core.context import RoundContext
from sparsyfed.core.sampling import ClientSampler
from sparsyfed.core.task import Task
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
from sparsyfed.upload.steps import apply_delta
from sparsyfed.wire.message import EncodedMessage


@dataclass
class AppliedRound:
    """An aggregated round, for its mask metrics (:meth:`FederatedServer.mask_metrics`).

    Attributes
    ----------
    previous, current : dict of str to Tensor
        The global model before and after the round.
    updates : list of ClientUpdate
        The round's updates in partition order (full states).

    """

    previous: Mapping[str, torch.Tensor]
    current: Mapping[str, torch.Tensor]
    updates: list[ClientUpdate]


@dataclass
class ServerState:
    """Everything of the server that survives a round: what a checkpoint holds.

    Attributes
    ----------
    global_state : dict of str to Tensor
        The global model.
    method_state : dict of str to Tensor
        The method's server state (e.g. the server-momentum buffer).
    sampler, eval_sampler : list
        The positions of the client samplers (``eval_sampler`` is ``None``
        without federated evaluation).
    client_states : dict of int to EncodedMessage
        Each client's persistent state (its quantisation residual).
    last_masks : dict of int to PackedMasks
        The upload mask of each client's last participation (for readmission).

    """

    global_state: dict[str, torch.Tensor]
    method_state: dict[str, torch.Tensor]
    sampler: list[Any]
    eval_sampler: list[Any] | None
    client_states: dict[int, EncodedMessage] = field(default_factory=dict)
    last_masks: dict[int, PackedMasks] = field(default_factory=dict)


class FederatedServer:
    """Holds the global model of one run and applies the method's server hooks.

    Parameters
    ----------
    cfg : RunConfig
        The run config. A fresh :class:`Task` is built, so no server state is
        shared between runs.

    """

    def __init__(self, cfg: RunConfig) -> None:
        self.cfg = cfg
        self.task = Task(cfg)
        self.method = self.task.method
        self.state: dict[str, torch.Tensor] = self.task.initial_state()
        seeds = self.task.seeds
        self.sampler = ClientSampler(cfg.num_clients, cfg.clients_per_round, seeds.client_sampler())
        self.eval_sampler = (
            ClientSampler(cfg.num_clients, cfg.fed_eval_clients, seeds.eval_sampler())
            if cfg.fed_eval_clients > 0
            else None
        )
        self.client_states: dict[int, EncodedMessage] = {}
        self._last_masks: dict[int, PackedMasks] = {}
        self.delta_uploads = cfg.upload == "delta_topk"
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

    def apply_updates(self, ctx: RoundContext, updates: Sequence[ClientUpdate]) -> dict[str, Any]:
        """Aggregate the round's updates into the global model; return its mask metrics.

        The same as :meth:`aggregate` followed at once by :meth:`mask_metrics`.
        """
        return self.mask_metrics(self.aggregate(ctx, updates))

    def aggregate(self, ctx: RoundContext, updates: Sequence[ClientUpdate]) -> AppliedRound:
        """Aggregate the round's updates into the global model.

        Updates are sorted by partition id first, so the result does not depend
        on the order in which replies arrived. The round's mask metrics are
        left to :meth:`mask_metrics`, which the run loop calls once the next
        round's clients have their instructions (nothing they are sent depends
        on those metrics).
        """
        ordered = sorted(updates, key=lambda u: u.partition_id)
        previous = self.state
        if self.delta_uploads:
            for update in ordered:
                update.state = apply_delta(update.state, previous)
        new_state = self.method.aggregate(previous, ordered, ctx)
        self.state = self.method.after_aggregate(new_state, ctx)
        return AppliedRound(previous, self.state, ordered)

    def mask_metrics(self, applied: AppliedRound) -> dict[str, Any]:
        """Consensus and regrowth of the prunable masks of an aggregated round.

        Call it once per :meth:`aggregate`, in round order (it keeps each
        client's last upload mask, for ``readmission``).

        Returns
        -------
        dict
            ``global_regrowth`` (prunable entries zero before the round and
            non-zero after), ``global_deactivated``, ``global_mask_iou`` (IoU
            of the prunable masks before and after), ``client_mask_iou`` (mean
            pairwise IoU of the round's uploads), ``global_client_mask_iou``
            (IoU of each upload's mask with the new global mask: mean over
            the clients, and ``global_client_mask_iou_per_client`` keyed by
            partition id) and ``readmission`` (entries a
            client uploads that were not in its upload of its previous
            participation; mean over the clients seen before, None in their
            first round). docs/methods.md section 17.3 defines them.

        """
        previous, current, updates = applied.previous, applied.current, applied.updates
        keys = self.task.prunable_keys
        client_masks = [support(u.state, keys) for u in updates]
        readmitted = []
        for update, mask in zip(updates, client_masks, strict=True):
            last = self._last_masks.get(update.partition_id)
            if last is not None:
                readmitted.append(readmission(unpack_masks(last), update.state, keys))
            self._last_masks[update.partition_id] = pack_masks(mask)
        client_iou = mean_pairwise_iou(client_masks)
        new_mask = support(current, keys)
        vs_global = {
            u.partition_id: iou(mask, new_mask)
            for u, mask in zip(updates, client_masks, strict=True)
        }
        return {
            "global_regrowth": global_regrowth(previous, current, keys),
            "global_deactivated": deactivated(previous, current, keys),
            "global_mask_iou": iou(support(previous, keys), new_mask),
            "client_mask_iou": None if math.isnan(client_iou) else client_iou,
            "global_client_mask_iou": float(np.mean(list(vs_global.values()))),
            "global_client_mask_iou_per_client": {str(k): v for k, v in vs_global.items()},
            "readmission": float(np.mean(readmitted)) if readmitted else None,
        }

    @torch.no_grad()
    def evaluate(self) -> dict[str, float]:
        """Central evaluation of the global model (eval mode, no activation pruning)."""
        self._eval_model.load_state_dict(self.state)
        reset_activation_state(self._eval_model)  # e.g. the spectral exponents of new weights
        x, y = self._test
        return evaluate(self._eval_model, x, y, self.cfg.eval_batch_size)

    def sparsity(self) -> dict[str, Any]:
        """Sparsity of the global model over all parameters, prunable weights and per layer.

        With ``prune_layers=skip_first_last`` also ``sparsity_pruned``: the
        zeros over the conv/linear weights the prune covers (the first and last
        layer left out), the set the target sparsity refers to.
        """
        keys, params = self.task.prunable_keys, self.task.parameter_keys
        report = sparsity_report(self.state, keys, params)
        out = {
            key: report[key]
            for key in ("sparsity_prunable", "sparsity_params", "nnz_prunable", "layer_sparsity")
        }
        targets = self.cfg.prune.targets(keys)
        if targets != keys:
            out["sparsity_pruned"] = sparsity_report(self.state, targets, params)[
                "sparsity_prunable"
            ]
        return out

    # ------------------------------------------------------------ checkpoint
    def snapshot(self) -> ServerState:
        """Everything needed to continue the run after the current round."""
        return ServerState(
            global_state=self.state,
            method_state=self.method.state(),
            sampler=self.sampler.state(),
            eval_sampler=None if self.eval_sampler is None else self.eval_sampler.state(),
            client_states=dict(self.client_states),
            last_masks=dict(self._last_masks),
        )

    def restore(self, saved: ServerState) -> None:
        """Continue from a :meth:`snapshot` (on resume)."""
        if set(saved.global_state) != set(self.state):
            raise ValueError("the checkpoint's model has other tensors than this run's model")
        self.state = {k: saved.global_state[k].clone() for k in self.state}
        self.method.load_state(saved.method_state)
        self.sampler.load_state(saved.sampler)
        if self.eval_sampler is not None and saved.eval_sampler is not None:
            self.eval_sampler.load_state(saved.eval_sampler)
        self.client_states = dict(saved.client_states)
        self._last_masks = dict(saved.last_masks)
