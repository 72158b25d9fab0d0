"""A ClientApp for the ProcessGrid tests: echoes, sleeps or dies as its message asks."""

from __future__ import annotations

import os
import time

from flwr.app import ConfigRecord, Context, Message, RecordDict
from flwr.clientapp import ClientApp

app = ClientApp()


@app.train()
def train(msg: Message, context: Context) -> Message:
    """Reply with the node's partition id and this process id; ``sleep`` or ``exit`` first."""
    config = msg.content["config"]
    time.sleep(float(config.get("sleep", 0.0)))
    if int(config.get("exit", -1)) == int(context.node_config["partition-id"]):
        os._exit(7)
    reply = {"partition-id": int(context.node_config["partition-id"]), "pid": os.getpid()}
    return Message(RecordDict({"reply": ConfigRecord(reply)}), reply_to=msg)
