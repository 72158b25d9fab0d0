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

Only Flower is imported with this module: torch and the task come with the
first train or evaluate message (:mod:`sparsyfed.flower.client_handlers`), so
answering the partition query is cheap (the deployment engine starts a new
process for every message).
"""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps

from flwr.app import ConfigRecord, Context, Error, Message, RecordDict
from flwr.clientapp import ClientApp
from flwr.common.constant import ErrorCode

from sparsyfed.core.errors import failure_reason

app = ClientApp()


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
    from sparsyfed.flower.client_handlers import train_content_reply

    return Message(train_content_reply(msg.content, context), reply_to=msg)


@app.evaluate()
@replies_with_errors
def evaluate(msg: Message, context: Context) -> Message:
    """Evaluate the received global model on this node's test split."""
    from sparsyfed.flower.client_handlers import evaluate_content_reply

    return Message(evaluate_content_reply(msg.content, context), reply_to=msg)


@app.query()
def query(msg: Message, context: Context) -> Message:
    """Tell the server which data partition this node holds (and prepare, if asked)."""
    config = msg.content.config_records.get("config")
    if config is not None and "prepare" in config:
        from sparsyfed.flower.client_handlers import prepare

        prepare(str(config["prepare"]), context)
    info = ConfigRecord(
        {
            "partition-id": int(context.node_config["partition-id"]),
            "num-partitions": int(context.node_config["num-partitions"]),
        }
    )
    return Message(RecordDict({"node": info}), reply_to=msg)
