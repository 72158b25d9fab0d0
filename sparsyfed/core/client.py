"""One client's round, free of Flower: load the global state, train, make the upload."""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import torch

from sparsyfed.core.task import Task, derive_seed
from sparsyfed.core.training import LocalTraining, evaluate, lr_at_round
from sparsyfed.metrics.flops import (
    activation_densities,
    dense_training_flops,
    training_flops,
    weight_densities,
)
from sparsyfed.metrics.masks import local_regrowth
from sparsyfed.upload.steps import delta_topk, is_delta


def local_training(task: Task, partition_id: int, server_round: int) -> LocalTraining:
    """The local hyper-parameters of one client in one round (seeded per client and round)."""
    cfg = task.cfg
    return LocalTraining(
        lr=lr_at_round(server_round, cfg["lr"], int(cfg["rounds"])),
        epochs=int(cfg["local_epochs"]),
        batch_size=int(cfg["batch_size"]),
        weight_decay=float(cfg["weight_decay"]),
        momentum=float(cfg["momentum"]),
        seed=derive_seed(int(cfg["seed"]), server_round, partition_id),
        server_round=server_round,
        total_rounds=int(cfg["rounds"]),
        prox_mu=float(cfg.get("prox_mu", 0.0)),
        augment=bool(task.dataset.augment),
    )


def run_client_round(
    task: Task, partition_id: int, server_round: int, received: Mapping[str, np.ndarray]
) -> tuple[dict[str, np.ndarray], dict[str, float]]:
    """Train one client on the received global state and return its upload.

    A fresh model is built every call, so no per-layer state survives from one
    round to the next (stateless clients, as the official code).

    Parameters
    ----------
    task : Task
        The run's dataset, partitions and method.
    partition_id : int
        The client's partition.
    server_round : int
        The 1-indexed server round (sets the learning rate and the seed).
    received : mapping of str to ndarray
        The decoded global model state.

    Returns
    -------
    upload : dict of str to ndarray
        The state to send to the server (already sparsified by the method).
    metrics : dict of str to float
        ``num_examples``, training loss/accuracy and method metrics.

    """
    if not 0 <= partition_id < len(task.partitions):
        raise ValueError(f"partition-id={partition_id} outside [0, {len(task.partitions)})")
    model = task.new_model()
    received_t = {k: torch.from_numpy(np.array(v, copy=True)) for k, v in received.items()}
    model.load_state_dict(received_t)
    model.to(task.device)
    x, y = task.client_data(partition_id)
    hp = local_training(task, partition_id, server_round)
    metrics = task.method.train(model, x, y, hp)
    metrics["lr"] = hp.lr
    trained = model.state_dict()
    metrics["local_regrowth"] = local_regrowth(received_t, trained, task.prunable_keys)
    metrics |= _flop_metrics(task, model, metrics, hp)
    if is_delta(str(task.cfg.get("upload", "weights"))):
        upload = delta_topk(
            model.state_dict(), received_t, task.method.sparsity, task.prunable_keys
        )
    else:
        upload = task.method.make_update(model, received_t, hp)
    metrics["local_regrowth_after_prune"] = local_regrowth(received_t, upload, task.prunable_keys)
    return {k: v.detach().cpu().numpy() for k, v in upload.items()}, metrics


def _flop_metrics(
    task: Task, model: torch.nn.Module, metrics: dict[str, float], hp: LocalTraining
) -> dict[str, float]:
    """Training FLOPs of this round (METHOD.md 13.6) and the dense equivalent.

    Weight densities are the ones a method reports (``weight_density/<layer>``,
    e.g. ZeroFL's forward Top-K), else the trained weights' densities;
    activation densities are the realised keep fractions of the last batch.
    """
    samples = metrics.get("samples_trained", metrics.get("num_examples", 0) * hp.epochs)
    w_density = weight_densities(model) | {
        k.removeprefix("weight_density/"): v
        for k, v in metrics.items()
        if k.startswith("weight_density/")
    }
    a_density = activation_densities(model)
    return {
        "train_flops": training_flops(task.layer_flops, w_density, a_density, samples),
        "train_flops_dense": dense_training_flops(task.layer_flops, samples),
    }


@torch.no_grad()
def evaluate_client(
    task: Task, partition_id: int, received: Mapping[str, np.ndarray]
) -> dict[str, float]:
    """Evaluate the received global model on one client's test split (federated evaluation).

    Returns
    -------
    dict
        ``loss``, ``accuracy`` and ``num_examples`` of the client's test split,
        which has the class mix of its training split.

    """
    if not 0 <= partition_id < len(task.test_partitions):
        raise ValueError(f"partition-id={partition_id} outside [0, {len(task.test_partitions)})")
    model = task.new_model()
    model.load_state_dict(
        {k: torch.from_numpy(np.array(v, copy=True)) for k, v in received.items()}
    )
    model.to(task.device)
    x, y = task.client_test_data(partition_id)
    return evaluate(model, x, y, int(task.cfg["eval_batch_size"])) | {"num_examples": len(y)}
