"""Flower ClientApp: thin glue from a Message to :mod:`sparsyfed.core.client`.

Everything the client needs travels in the message (the run config as JSON,
the round context, the encoded global model and the client's persistent
state), so the app never reads ``context.run_config`` and keeps nothing in
``context.state``: the server holds each client's state between rounds, so a
checkpoint covers it. The node's ``partition-id`` comes from
``context.node_config`` and must match the one the server addressed.

A handler that raises answers with an error reply naming the exception and
where it was raised; the server logs it once (Flower would otherwise log the
traceback in every worker, twice). Injected faults (config ``faults``) are
acted out here, in the real path (:mod:`sparsyfed.core.faults`).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from functools import lru_cache, wraps

import torch
from flwr.app import ConfigRecord, Context, Error, Message, RecordDict
from flwr.clientapp import ClientApp
from flwr.common.constant import ErrorCode

from sparsyfed.config.schema import RunConfig
from sparsyfed.core.client import handle_evaluate, handle_train
from sparsyfed.core.executor import failure_reason
from sparsyfed.core.faults import train_with_fault
from sparsyfed.core.task import Task, get_task
from sparsyfed.flower.records import (
    evaluate_reply_content,
    read_evaluate,
    read_train,
    train_reply_content,
)

app = ClientApp()


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


def replies_with_errors(
    handler: Callable[[Message, Context], Message],
) -> Callable[[Message, Context], Message]:
    """Turn an exception of ``handler`` into an error reply (``CLIENT_APP_RAISED_EXCEPTION``)."""

    @wraps(handler)
    def wrapped(msg: Message, context: Context) -> Message:
        try:
            return handler(msg, context)
        except Exception as err:  # the client's failure, reported to the server
            error = Error(code=ErrorCode.CLIENT_APP_RAISED_EXCEPTION, reason=failure_reason(err))
            return Message(error, reply_to=msg)

    return wrapped


@app.train()
@replies_with_errors
def train(msg: Message, context: Context) -> Message:
    """Train on this node's partition and reply with the encoded sparse update."""
    instruction, run_config = read_train(msg.content)
    task = _task(run_config, context, instruction.partition_id)
    late_after = task.cfg.simulation.round_timeout
    reply = train_with_fault(lambda i: handle_train(task, i), instruction, late_after)
    return Message(train_reply_content(reply), reply_to=msg)


@app.evaluate()
@replies_with_errors
def evaluate(msg: Message, context: Context) -> Message:
    """Evaluate the received global model on this node's test split."""
    instruction, run_config = read_evaluate(msg.content)
    task = _task(run_config, context, instruction.partition_id)
    return Message(evaluate_reply_content(handle_evaluate(task, instruction)), reply_to=msg)


@app.query()
def query(msg: Message, context: Context) -> Message:
    """Tell the server which data partition this node holds."""
    info = ConfigRecord(
        {
            "partition-id": int(context.node_config["partition-id"]),
            "num-partitions": int(context.node_config["num-partitions"]),
        }
    )
    return Message(RecordDict({"node": info}), reply_to=msg)
