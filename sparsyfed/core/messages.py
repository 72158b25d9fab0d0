"""The typed records exchanged between the server loop and a client (Flower-free).

An executor carries them to the clients and back: in-process
(:class:`~sparsyfed.core.executor.LocalExecutor`) or as Flower messages
(:mod:`sparsyfed.flower.records`). Whatever carries them, a client sees the
same instruction and the server gets the same reply.
"""

from __future__ import annotations

from dataclasses import dataclass

from sparsyfed.core.context import RoundContext
from sparsyfed.metrics.values import Metrics
from sparsyfed.wire.message import EncodedMessage


@dataclass(frozen=True)
class TrainInstruction:
    """Train on one partition, starting from the encoded global model.

    Attributes
    ----------
    ctx : RoundContext
        The round.
    partition_id : int
        The client's data partition.
    model : EncodedMessage
        The global model (downlink).
    client_state : EncodedMessage or None
        What this client kept from its previous round (its quantisation
        residual with error feedback); the server holds it between rounds so
        that a checkpoint covers it.
    fault : str or None
        An injected fault the client must act out (config ``faults``,
        :mod:`sparsyfed.core.faults`); ``None`` for a healthy client.

    """

    ctx: RoundContext
    partition_id: int
    model: EncodedMessage
    client_state: EncodedMessage | None = None
    fault: str | None = None


@dataclass(frozen=True)
class TrainReply:
    """A client's answer to a :class:`TrainInstruction`.

    Attributes
    ----------
    partition_id : int
        The partition it trained on.
    num_examples : int
        Its training samples (the FedAvg weight).
    update : EncodedMessage
        Its upload (uplink).
    metrics : Metrics
        Its metrics, each with its reduction over clients.
    client_state : EncodedMessage or None
        What it keeps for its next round.

    """

    partition_id: int
    num_examples: int
    update: EncodedMessage
    metrics: Metrics
    client_state: EncodedMessage | None = None


@dataclass(frozen=True)
class EvaluateInstruction:
    """Evaluate the encoded global model on one partition's test split."""

    ctx: RoundContext
    partition_id: int
    model: EncodedMessage


@dataclass(frozen=True)
class EvaluateReply:
    """A client's answer to an :class:`EvaluateInstruction`."""

    partition_id: int
    num_examples: int
    loss: float
    accuracy: float


@dataclass(frozen=True)
class ClientFailure:
    """A reply that could not be used: the client failed, or its reply was malformed.

    Attributes
    ----------
    partition_id : int or None
        The partition, when known.
    reason : str
        What went wrong (one line).
    cause : str
        Its kind, one of :data:`FAILURE_CAUSES`.

    """

    partition_id: int | None
    reason: str
    cause: str = "error"


FAILURE_CAUSES = ("error", "timeout", "non-finite", "malformed", "invalid")
"""Why a client's reply was not used: it raised, did not answer in time, sent non-finite
values, sent a payload that cannot be decoded, or sent a reply that breaks the protocol."""
