"""Flower ClientApp: thin glue from a Message to :func:`sparsyfed.core.client.run_client_round`.

Everything the client needs travels in the message (``run-config`` as JSON and
``server-round`` in the ConfigRecord, the encoded global model in the
ArrayRecord), so the app never reads ``context.run_config``. The node's
``partition-id`` comes from ``context.node_config``. The only state a node keeps
between rounds is its quantisation residual (error feedback, ``context.state``).
"""

from __future__ import annotations

import json

import numpy as np
import torch
from flwr.app import ConfigRecord, Context, Message, MetricRecord, RecordDict
from flwr.clientapp import ClientApp

from sparsyfed.core.client import evaluate_client, run_client_round
from sparsyfed.core.task import derive_seed, get_task
from sparsyfed.flower.records import blobs_to_record, record_to_blobs
from sparsyfed.upload.transport import WireOptions, encode_uplink
from sparsyfed.wire.payload import decode_state, encode_state

RESIDUAL_KEY = "error-feedback"
"""Key of this node's quantisation residual in ``context.state`` (kept across rounds)."""
QUANT_STREAM = 7  # seed stream of the stochastic rounding, apart from training's

app = ClientApp()


def _run_config(msg: Message) -> dict:
    """The run config carried by the message; sets this worker's torch threads from it."""
    cfg = json.loads(str(msg.content["config"]["run-config"]))
    threads = cfg.get("simulation", {}).get("client_threads")
    if threads:
        torch.set_num_threads(int(threads))
    return cfg


@app.train()
def train(msg: Message, context: Context) -> Message:
    """Train on this node's partition and reply with the encoded sparse update."""
    config = msg.content["config"]
    cfg = _run_config(msg)
    partition_id = int(context.node_config["partition-id"])
    server_round = int(config["server-round"])
    received = decode_state(record_to_blobs(msg.content["arrays"]))
    upload, metrics = run_client_round(get_task(cfg), partition_id, server_round, received)
    wire = WireOptions.from_config(cfg)
    residual = None
    if wire.quantized and wire.error_feedback and RESIDUAL_KEY in context.state:
        residual = decode_state(record_to_blobs(context.state[RESIDUAL_KEY]))
    rng = np.random.default_rng(
        derive_seed(int(cfg["seed"]), server_round, partition_id, QUANT_STREAM)
    )
    blobs, residual = encode_uplink(upload, received, wire, residual=residual, rng=rng)
    if residual:
        # Sparse (it lives on the upload's support), so it is stored encoded.
        context.state[RESIDUAL_KEY] = blobs_to_record(encode_state(residual))
    metric_record = MetricRecord(
        {k: float(v) for k, v in metrics.items() if k != "num_examples"}
        | {"num-examples": int(metrics["num_examples"]), "partition-id": partition_id}
    )
    return Message(
        RecordDict({"arrays": blobs_to_record(blobs), "metrics": metric_record}), reply_to=msg
    )


@app.evaluate()
def evaluate(msg: Message, context: Context) -> Message:
    """Evaluate the received global model on this node's test split."""
    cfg = _run_config(msg)
    partition_id = int(context.node_config["partition-id"])
    received = decode_state(record_to_blobs(msg.content["arrays"]))
    result = evaluate_client(get_task(cfg), partition_id, received)
    metrics = MetricRecord(
        {
            "loss": float(result["loss"]),
            "accuracy": float(result["accuracy"]),
            "num-examples": int(result["num_examples"]),
            "partition-id": partition_id,
        }
    )
    return Message(RecordDict({"metrics": metrics}), reply_to=msg)


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
