"""Seeded fault injection: which sampled clients fault in a round, and what they do.

Off by default (``faults.kind=none``). The server draws each round's faulty
clients from a named seed stream (exactly ``round(fraction * sampled)`` of
them, so a run with faults is reproducible) and names the fault in the
client's :class:`~sparsyfed.core.messages.TrainInstruction`; the client then
really misbehaves in the real path: it raises, answers only after the round
time-out, or returns non-finite values or a payload that cannot be decoded.
The server must meet each one as it would meet a broken client
(docs/faults.md).
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Sequence

import numpy as np

from sparsyfed.config.schema import FaultConfig
from sparsyfed.core.messages import TrainInstruction, TrainReply
from sparsyfed.core.seeds import SeedStreams
from sparsyfed.wire.format import payload_buffer
from sparsyfed.wire.message import EncodedMessage, decode_state, encode_state

CLIENT_FAULTS = ("raise", "timeout", "nonfinite", "malformed")
"""What one faulty client does; ``faults.kind=mix`` draws one of them per faulty client."""

LATE_MARGIN_SECONDS = 1.0
"""A ``timeout`` client answers this long after the round time-out (a late reply)."""


class InjectedFault(RuntimeError):
    """The exception a client with the ``raise`` fault raises."""


def fault_plan(
    faults: FaultConfig, streams: SeedStreams, server_round: int, clients: Sequence[int]
) -> dict[int, str]:
    """The faulty clients of one round and the fault of each.

    Parameters
    ----------
    faults : FaultConfig
        The ``faults`` block.
    streams : SeedStreams
        The run's seed streams.
    server_round : int
        The round.
    clients : sequence of int
        The round's sampled partitions.

    Returns
    -------
    dict of int to str
        Partition id -> one of :data:`CLIENT_FAULTS`; empty when faults are off.

    """
    if not faults.active or not clients or server_round < faults.from_round:
        return {}
    count = min(len(clients), math.floor(faults.fraction * len(clients) + 0.5))
    rng = np.random.default_rng(streams.faults(server_round, faults.seed))
    chosen = sorted(int(i) for i in rng.choice(len(clients), size=count, replace=False))
    kinds = CLIENT_FAULTS if faults.kind == "mix" else (faults.kind,)
    return {int(clients[i]): kinds[int(rng.integers(len(kinds)))] for i in chosen}


def train_with_fault(
    handle: Callable[[TrainInstruction], TrainReply],
    instruction: TrainInstruction,
    late_after: float,
) -> TrainReply:
    """Answer ``instruction`` with ``handle``, misbehaving as its ``fault`` says.

    Parameters
    ----------
    handle : callable
        The client's honest train handler.
    instruction : TrainInstruction
        The instruction; ``instruction.fault`` is ``None`` for a healthy client.
    late_after : float
        The round time-out: a ``timeout`` client answers
        :data:`LATE_MARGIN_SECONDS` after it.

    """
    fault = instruction.fault
    if fault is None:
        return handle(instruction)
    if fault == "raise":
        raise InjectedFault(f"injected fault 'raise' (round {instruction.ctx.round})")
    reply = handle(instruction)
    if fault == "timeout":
        _wait(late_after + LATE_MARGIN_SECONDS)
        return reply
    if fault == "nonfinite":
        return _replace_update(reply, _nonfinite(reply.update, instruction.model))
    if fault == "malformed":
        return _replace_update(reply, _truncated(reply.update))
    raise ValueError(f"unknown fault {fault!r}; known: {', '.join(CLIENT_FAULTS)}")


def _wait(seconds: float) -> None:
    """Sleep (one name to replace in tests, whose grids advance a fake clock instead)."""
    time.sleep(seconds)


def _replace_update(reply: TrainReply, update: EncodedMessage) -> TrainReply:
    return TrainReply(
        reply.partition_id, reply.num_examples, update, reply.metrics, reply.client_state
    )


def _nonfinite(update: EncodedMessage, model: EncodedMessage) -> EncodedMessage:
    """The same upload, well formed, with NaN and infinity in its first float tensor."""
    state = decode_state(update, references=decode_state(model))
    key = next(k for k, v in state.items() if v.dtype.kind == "f" and v.size >= 2)
    value = np.array(state[key], copy=True)
    value.reshape(-1)[:2] = (np.nan, np.inf)
    state[key] = value
    return encode_state(state)


def _truncated(update: EncodedMessage) -> EncodedMessage:
    """The same upload with its first tensor's payload cut in half (cannot be decoded)."""
    tensors = dict(update.tensors)
    key = next(iter(tensors))
    payload = payload_buffer(tensors[key]).tobytes()
    tensors[key] = payload[: len(payload) // 2]
    return EncodedMessage(tensors, update.joint)
