"""One client round and one server step of a method on a chosen device, for the device tests.

The device is what :func:`sparsyfed.core.task.resolve_device` returns; the
tests replace it (``monkeypatch``) with ``cuda`` or the stand-in device of
:mod:`fake_device`. Both functions build a fresh :class:`Task` (not the
per-process cache), so the device of one call does not leak into the next.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from sparsyfed.core.client import handle_train, run_client_round
from sparsyfed.core.messages import TrainInstruction
from sparsyfed.core.server import FederatedServer
from sparsyfed.core.task import Task
from sparsyfed.methods import ClientUpdate
from sparsyfed.upload.transport import encode_downlink
from sparsyfed.wire.message import decode_state

PARTITIONS = (0, 3)  # the clients of every round of the server step


@dataclass
class ServerResult:
    """The global model after the server step, its metrics and evaluation."""

    state: dict[str, np.ndarray]
    metrics: dict[str, Any]
    evaluation: dict[str, float]
    on_device: list[torch.Tensor]


def client_round(cfg: Any, partition_id: int = 0) -> tuple[dict[str, np.ndarray], dict]:
    """A client's round 1 through the wire: its decoded upload and its metrics."""
    task = Task(cfg)
    server = FederatedServer(cfg)
    ctx = task.round_context(1)
    received = server.global_arrays()
    model = encode_downlink(received, cfg.wire)
    reply = handle_train(task, TrainInstruction(ctx, partition_id, model, None, None))
    upload = decode_state(reply.update, references=received)
    return upload, {k: m.value for k, m in reply.metrics.items()}


def uploads(cfg: Any) -> list[tuple[int, dict[str, np.ndarray], int]]:
    """Real round-1 uploads of :data:`PARTITIONS` from the initial model, computed on the CPU."""
    task = Task(cfg)
    task.__dict__["device"] = torch.device("cpu")  # the cached property, fixed to the CPU
    received = {k: v.numpy() for k, v in task.initial_state().items()}
    out = []
    for pid in PARTITIONS:
        upload, n, _ = run_client_round(task, task.round_context(1), pid, received)
        out.append((pid, upload, n))
    return out


def server_step(
    cfg: Any, device: torch.device | str, sent: list[tuple[int, dict[str, np.ndarray], int]]
) -> ServerResult:
    """Two rounds of the server step with the global model and the updates on ``device``.

    Both rounds aggregate the uploads ``sent`` (:func:`uploads`), so the
    method's server hooks run on ``device`` with the same inputs for every
    device, the second round with clients seen before (readmission); then the
    server evaluates the new model on the task's device.
    """
    server = FederatedServer(cfg)
    server.state = {k: v.to(device) for k, v in server.state.items()}
    metrics: dict[str, Any] = {}
    for rnd in (1, 2):
        updates = [
            ClientUpdate(pid, {k: torch.from_numpy(v).to(device) for k, v in upload.items()}, n)
            for pid, upload, n in sent
        ]
        metrics = server.apply_updates(server.task.round_context(rnd), updates)
    state = {k: v.detach().cpu().numpy() for k, v in server.state.items()}
    return ServerResult(state, metrics, server.evaluate(), list(server.state.values()))


def all_finite(arrays: dict[str, np.ndarray]) -> bool:
    """Whether every float array is finite."""
    return all(np.isfinite(v).all() for v in arrays.values() if v.dtype.kind == "f")
