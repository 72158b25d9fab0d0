"""The typed core records as Flower ``RecordDict`` content, and back.

Each wire payload travels as one ``Array`` whose ``data`` is the payload
itself (``stype`` marks it), so what is counted is exactly what is shipped: no
``.npy`` header and no extra copy. The joint position block of a message
travels in its own ``ConfigRecord`` (``<name>.joint``), never as a tensor.
"""

from __future__ import annotations

from flwr.app import Array, ArrayRecord, ConfigRecord, RecordDict

from sparsyfed.core.context import RoundContext
from sparsyfed.core.messages import (
    EvaluateInstruction,
    EvaluateReply,
    TrainInstruction,
    TrainReply,
)
from sparsyfed.core.seeds import SeedStreams
from sparsyfed.metrics.values import Metrics
from sparsyfed.wire.message import EncodedMessage

PAYLOAD_STYPE = "sparsyfed.payload/v1"
CONFIG = "config"


def put_message(content: RecordDict, name: str, message: EncodedMessage | None) -> None:
    """Store an encoded message under ``name`` (and ``name.joint``) in ``content``."""
    if message is None:
        return
    record = ArrayRecord()
    for key, blob in message.tensors.items():
        record[key] = Array(
            dtype="uint8", shape=(len(blob),), stype=PAYLOAD_STYPE, data=bytes(blob)
        )
    content[name] = record
    if message.joint is not None:
        content[f"{name}.joint"] = ConfigRecord({"block": bytes(message.joint)})


def get_message(content: RecordDict, name: str) -> EncodedMessage | None:
    """The encoded message under ``name`` (``None`` if absent); ``ValueError`` if malformed."""
    if name not in content:
        return None
    tensors = {}
    for key, array in content.array_records[name].items():
        if array.stype != PAYLOAD_STYPE:
            raise ValueError(f"array {key!r} has stype {array.stype!r}, expected {PAYLOAD_STYPE!r}")
        tensors[key] = bytes(array.data)
    joint = None
    if f"{name}.joint" in content:
        joint = bytes(content.config_records[f"{name}.joint"]["block"])
    return EncodedMessage(tensors, joint)


def _context_record(ctx: RoundContext, run_config: str, partition_id: int) -> ConfigRecord:
    return ConfigRecord(
        {
            "run-config": run_config,
            "server-round": ctx.round,
            "total-rounds": ctx.total_rounds,
            "lr": float(ctx.lr),
            "seed": ctx.seeds.seed,
            "partition-id": partition_id,
        }
    )


def read_context(content: RecordDict) -> tuple[RoundContext, str, int]:
    """The round context, the run config (JSON) and the partition an instruction is for."""
    cfg = content.config_records[CONFIG]
    ctx = RoundContext(
        round=int(cfg["server-round"]),
        total_rounds=int(cfg["total-rounds"]),
        lr=float(cfg["lr"]),
        seeds=SeedStreams(int(cfg["seed"])),
    )
    return ctx, str(cfg["run-config"]), int(cfg["partition-id"])


def train_content(instruction: TrainInstruction, run_config: str) -> RecordDict:
    """A train instruction as message content."""
    content = RecordDict(
        {CONFIG: _context_record(instruction.ctx, run_config, instruction.partition_id)}
    )
    put_message(content, "model", instruction.model)
    put_message(content, "client-state", instruction.client_state)
    if instruction.fault is not None:
        content[CONFIG]["fault"] = instruction.fault
    return content


def read_train(content: RecordDict) -> tuple[TrainInstruction, str]:
    """The train instruction and run config (JSON) of message content."""
    ctx, run_config, pid = read_context(content)
    model = get_message(content, "model")
    if model is None:
        raise ValueError("train message without a model")
    fault = content.config_records[CONFIG].get("fault")
    state = get_message(content, "client-state")
    instruction = TrainInstruction(ctx, pid, model, state, None if fault is None else str(fault))
    return instruction, run_config


def evaluate_content(instruction: EvaluateInstruction, run_config: str) -> RecordDict:
    """An evaluate instruction as message content."""
    content = RecordDict(
        {CONFIG: _context_record(instruction.ctx, run_config, instruction.partition_id)}
    )
    put_message(content, "model", instruction.model)
    return content


def read_evaluate(content: RecordDict) -> tuple[EvaluateInstruction, str]:
    """The evaluate instruction and run config (JSON) of message content."""
    ctx, run_config, pid = read_context(content)
    model = get_message(content, "model")
    if model is None:
        raise ValueError("evaluate message without a model")
    return EvaluateInstruction(ctx, pid, model), run_config


def train_reply_content(reply: TrainReply) -> RecordDict:
    """A train reply as message content."""
    content = RecordDict(
        {
            "reply": ConfigRecord(
                {
                    "partition-id": reply.partition_id,
                    "num-examples": reply.num_examples,
                    "metrics": reply.metrics.to_json(),
                }
            )
        }
    )
    put_message(content, "update", reply.update)
    put_message(content, "client-state", reply.client_state)
    return content


def read_train_reply(content: RecordDict) -> TrainReply:
    """The train reply of message content (``ValueError``/``KeyError`` if malformed)."""
    head = content.config_records["reply"]
    update = get_message(content, "update")
    if update is None:
        raise ValueError("train reply without an update")
    return TrainReply(
        partition_id=int(head["partition-id"]),
        num_examples=int(head["num-examples"]),
        update=update,
        metrics=Metrics.from_json(str(head["metrics"])),
        client_state=get_message(content, "client-state"),
    )


def evaluate_reply_content(reply: EvaluateReply) -> RecordDict:
    """An evaluate reply as message content."""
    return RecordDict(
        {
            "reply": ConfigRecord(
                {
                    "partition-id": reply.partition_id,
                    "num-examples": reply.num_examples,
                    "loss": float(reply.loss),
                    "accuracy": float(reply.accuracy),
                }
            )
        }
    )


def read_evaluate_reply(content: RecordDict) -> EvaluateReply:
    """The evaluate reply of message content."""
    head = content.config_records["reply"]
    return EvaluateReply(
        int(head["partition-id"]),
        int(head["num-examples"]),
        float(head["loss"]),
        float(head["accuracy"]),
    )
