"""What the ClientApp's train and evaluate handlers do, from message content to reply content.

Imported on a node's first train or evaluate message (it brings torch and
the task); :mod:`sparsyfed.flower.client_app` stays light.
"""

from __future__ import annotations

import json
from functools import lru_cache

import torch
from flwr.app import Context, RecordDict

from sparsyfed.config.schema import RunConfig
from sparsyfed.core.client import handle_evaluate, handle_train
from sparsyfed.core.faults import train_with_fault
from sparsyfed.core.task import Task, config_key, get_task
from sparsyfed.flower.records import (
    evaluate_reply_content,
    read_evaluate,
    read_train,
    train_reply_content,
)


@lru_cache(maxsize=2)
def _config(run_config: str) -> RunConfig:
    return RunConfig.from_dict(json.loads(run_config))


def _task(run_config: str, context: Context, addressed: int) -> Task:
    """The task of the message's run config; sets this worker's torch threads from it."""
    node = int(context.node_config["partition-id"])
    if node != addressed:
        raise ValueError(f"message for partition {addressed} reached the node of partition {node}")
    cfg = _config(run_config)
    torch.set_num_threads(cfg.simulation.client_threads)
    return get_task(cfg)


def train_content_reply(content: RecordDict, context: Context) -> RecordDict:
    """Train on this node's partition (acting out an injected fault); the reply's content."""
    instruction, run_config = read_train(content)
    task = _task(run_config, context, instruction.partition_id)
    late_after = task.cfg.simulation.round_timeout
    reply = train_with_fault(lambda i: handle_train(task, i), instruction, late_after)
    return train_reply_content(reply)


def evaluate_content_reply(content: RecordDict, context: Context) -> RecordDict:
    """Evaluate the received global model on this node's test split; the reply's content."""
    instruction, run_config = read_evaluate(content)
    task = _task(run_config, context, instruction.partition_id)
    return evaluate_reply_content(handle_evaluate(task, instruction))


def prepare(run_config: str, context: Context) -> None:
    """Build this worker's task ahead of its first round (dataset, partitions, a model).

    A failure here is left to the first train message to report.
    """
    try:
        task = _task(run_config, context, int(context.node_config["partition-id"]))
        task.client_data(int(context.node_config["partition-id"]))
        _warm_model(task)
    except Exception:  # reported, with its partition, by the first train message
        return


_WARMED: set[str] = set()
"""Config keys whose model this worker has built once (a worker may serve many nodes)."""


def _warm_model(task: Task) -> None:
    """Build one model of ``task``, the first time only."""
    key = config_key(task.cfg)
    if key not in _WARMED:
        task.new_model()
        _WARMED.add(key)
