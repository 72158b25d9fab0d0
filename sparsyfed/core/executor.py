"""How instructions reach clients: the executor interface and the in-process executor.

The round loop (:mod:`sparsyfed.core.run`) hands a round's instructions to an
executor and gets one reply (or failure) per instruction back, in any order.
:class:`LocalExecutor` runs the clients one after another in this process
(the bare loop: no Flower, no Ray); :mod:`sparsyfed.flower.executor` sends
them as Flower messages over a ``Grid``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from typing import Any, Protocol

from sparsyfed.config.schema import RunConfig
from sparsyfed.core.client import handle_evaluate, handle_train
from sparsyfed.core.errors import failure_reason
from sparsyfed.core.faults import train_with_fault
from sparsyfed.core.messages import (
    ClientFailure,
    EvaluateInstruction,
    EvaluateReply,
    TrainInstruction,
    TrainReply,
)
from sparsyfed.core.task import Task, get_task


class PendingReplies(Protocol):
    """Train replies that were asked for and are collected later."""

    def result(self) -> Iterable[TrainReply | ClientFailure]:
        """The replies (or failures), one per instruction, in any order (possibly as they come)."""
        ...


class Deferred:
    """Replies computed when they are asked for: ``train(instructions)`` at :meth:`result`."""

    def __init__(
        self,
        train: Callable[[Sequence[TrainInstruction]], list[TrainReply | ClientFailure]],
        instructions: Sequence[TrainInstruction],
    ) -> None:
        self._train, self._instructions = train, list(instructions)

    def result(self) -> list[TrainReply | ClientFailure]:
        """Run the instructions now."""
        return self._train(self._instructions)


def submit_train(executor: Any, instructions: Sequence[TrainInstruction]) -> PendingReplies:
    """Send ``instructions`` now if ``executor`` can (``submit_train``), else defer them."""
    submit = getattr(executor, "submit_train", None)
    return submit(instructions) if submit is not None else Deferred(executor.train, instructions)


class Executor(Protocol):
    """Delivers instructions to clients and returns their replies.

    An executor may also offer ``submit_train(instructions) -> PendingReplies``,
    which sends the instructions at once and returns their replies later, so
    that the server's own work overlaps the clients' (:func:`submit_train`).
    """

    def train(self, instructions: Sequence[TrainInstruction]) -> list[TrainReply | ClientFailure]:
        """Run every train instruction; one reply or failure each, in any order."""
        ...

    def evaluate(
        self, instructions: Sequence[EvaluateInstruction]
    ) -> list[EvaluateReply | ClientFailure]:
        """Run every evaluate instruction; one reply or failure each, in any order."""
        ...


class LocalExecutor:
    """Run every client in this process, one after another (the bare loop).

    A client that raises becomes a :class:`ClientFailure`, as a failing
    ClientApp becomes an error reply in Flower. An injected ``timeout`` fault
    gives no reply at all (there is no clock to miss in one process).
    """

    def __init__(self, cfg: RunConfig) -> None:
        self.cfg = cfg

    def train(self, instructions: Sequence[TrainInstruction]) -> list[TrainReply | ClientFailure]:
        """Train every instruction's client."""
        answered = [i for i in instructions if i.fault != "timeout"]
        return self._each(_train_acting_faults, answered)

    def evaluate(
        self, instructions: Sequence[EvaluateInstruction]
    ) -> list[EvaluateReply | ClientFailure]:
        """Evaluate every instruction's client."""
        return self._each(handle_evaluate, instructions)

    def _each(self, handle: Callable[[Task, Any], Any], instructions: Sequence[Any]) -> list[Any]:
        task = get_task(self.cfg)
        replies: list[Any] = []
        for instruction in instructions:
            try:
                replies.append(handle(task, instruction))
            except Exception as err:  # a client failure, not the server's
                replies.append(ClientFailure(instruction.partition_id, failure_reason(err)))
        return replies


def _train_acting_faults(task: Task, instruction: TrainInstruction) -> TrainReply:
    return train_with_fault(lambda i: handle_train(task, i), instruction, late_after=0.0)
