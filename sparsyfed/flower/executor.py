"""The executor that reaches clients as Flower messages over a ``Grid``.

Node ids are random per run; the executor asks every node once for its
``partition-id`` (a query message) and then addresses partitions. On a
:class:`~sparsyfed.flower.process_grid.ProcessGrid`, whose nodes are known
by construction, it asks with the first round, so that the server builds
its state while the workers start. Replies are
matched to partitions by the node they come from; an error reply, a reply
naming another partition, or a reply that cannot be parsed becomes a
:class:`~sparsyfed.core.messages.ClientFailure`.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import Any

from flwr.app import ConfigRecord, Message, MessageType, RecordDict
from flwr.serverapp import Grid

from sparsyfed.core.executor import Deferred
from sparsyfed.core.messages import (
    ClientFailure,
    EvaluateInstruction,
    EvaluateReply,
    TrainInstruction,
    TrainReply,
)
from sparsyfed.flower.records import (
    evaluate_content,
    read_evaluate_reply,
    read_train_reply,
    train_content,
)

NODE_WAIT_SECONDS = 60.0
"""How long the federation may take to register its nodes."""
DISCOVERY_TIMEOUT_SECONDS = 300.0
"""How long the nodes may take to answer the partition query (workers start and import
torch on their first message), whatever the round time-out."""


class GridExecutor:
    """Send instructions as messages over ``grid`` and parse the replies.

    Parameters
    ----------
    grid : Grid
        The Flower grid of the running ServerApp.
    num_clients : int
        Partitions the federation must hold (ids ``0 .. num_clients - 1``).
    run_config : str
        The run config as JSON, carried by every instruction.
    timeout : float
        Seconds to wait for the replies of one round (``simulation.round_timeout``);
        later replies are ignored.

    """

    def __init__(self, grid: Grid, num_clients: int, run_config: str, timeout: float) -> None:
        self.grid = grid
        self.num_clients = num_clients
        self.run_config = run_config
        self.timeout = timeout
        self._partition_to_node: dict[int, int] | None = None
        self._node_to_partition: dict[int, int] = {}
        if not _local_processes(grid):
            self.partition_to_node  # noqa: B018 (a missing node fails before the run starts)

    @property
    def partition_to_node(self) -> dict[int, int]:
        """Partition id -> node id, asked of the nodes on first use."""
        if self._partition_to_node is None:
            prepare = self.run_config if _long_lived(self.grid) else None
            self._partition_to_node = discover_partitions(
                self.grid, self.num_clients, DISCOVERY_TIMEOUT_SECONDS, prepare
            )
            self._node_to_partition = {n: p for p, n in self._partition_to_node.items()}
        return self._partition_to_node

    def train(self, instructions: Sequence[TrainInstruction]) -> list[TrainReply | ClientFailure]:
        """Send one train message per instruction; return the parsed replies."""
        return self._exchange(instructions, MessageType.TRAIN, train_content, read_train_reply)

    def evaluate(
        self, instructions: Sequence[EvaluateInstruction]
    ) -> list[EvaluateReply | ClientFailure]:
        """Send one evaluate message per instruction; return the parsed replies."""
        return self._exchange(
            instructions, MessageType.EVALUATE, evaluate_content, read_evaluate_reply
        )

    def submit_train(self, instructions: Sequence[TrainInstruction]) -> Any:
        """Send the train messages now on a local process grid (else when asked for).

        The round time-out counts from the sending.
        """
        if not instructions or not _local_processes(self.grid):
            return Deferred(self.train, instructions)
        messages = self._messages(instructions, MessageType.TRAIN, train_content)
        ids = list(self.grid.push_messages(messages))
        deadline = time.monotonic() + self.timeout
        return _Pushed(self, ids, deadline)

    def _messages(
        self,
        instructions: Sequence[Any],
        message_type: str,
        to_content: Callable[[Any, str], RecordDict],
    ) -> list[Message]:
        partition_to_node = self.partition_to_node
        return [
            Message(
                to_content(instruction, self.run_config),
                dst_node_id=partition_to_node[instruction.partition_id],
                message_type=message_type,
                group_id=str(instruction.ctx.round),
            )
            for instruction in instructions
        ]

    def _exchange(
        self,
        instructions: Sequence[Any],
        message_type: str,
        to_content: Callable[[Any, str], RecordDict],
        from_content: Callable[[RecordDict], Any],
    ) -> list[Any]:
        if not instructions:
            return []
        messages = self._messages(instructions, message_type, to_content)
        return self.parse(self.grid.send_and_receive(messages, timeout=self.timeout), from_content)

    def parse(
        self, replies: Iterable[Message], from_content: Callable[[RecordDict], Any]
    ) -> list[Any]:
        """The replies as parsed records, or failures naming their partition."""
        out: list[Any] = []
        for reply in replies:
            pid = self._node_to_partition.get(reply.metadata.src_node_id)
            if reply.has_error():
                out.append(ClientFailure(pid, reply.error.reason[-300:], "error"))
                continue
            try:
                parsed = from_content(reply.content)
            except (ValueError, KeyError, TypeError) as err:
                out.append(ClientFailure(pid, f"unreadable reply: {err!r}", "malformed"))
                continue
            if parsed.partition_id != pid:
                reason = "reply names another partition than its node holds"
                out.append(ClientFailure(pid, reason, "invalid"))
                continue
            out.append(parsed)
        return out


class _Pushed:
    """Train messages already on a process grid; their replies when asked for."""

    def __init__(self, executor: GridExecutor, ids: list[str], deadline: float) -> None:
        self.executor, self.ids, self.deadline = executor, ids, deadline

    def result(self) -> Iterator[TrainReply | ClientFailure]:
        """The parsed replies, one by one as they arrive (until the round's deadline)."""
        left = max(0.0, self.deadline - time.monotonic())
        for reply in self.executor.grid.replies_as_they_come(self.ids, timeout=left):
            yield from self.executor.parse([reply], read_train_reply)


def _local_processes(grid: Grid) -> bool:
    from sparsyfed.flower.process_grid import ProcessGrid

    return isinstance(grid, ProcessGrid)


def _long_lived(grid: Grid) -> bool:
    """Whether the clients are long-lived workers (Ray actors or local worker processes).

    Under the deployment engine every message starts a new ClientApp process,
    so preparing one during discovery would be wasted.
    """
    if _local_processes(grid):
        return True
    inmemory = sys.modules.get("flwr.superlink.grid.inmemory_grid")  # not imported: not one
    return inmemory is not None and isinstance(grid, inmemory.InMemoryGrid)


def discover_partitions(
    grid: Grid, num_clients: int, timeout: float, prepare: str | None = None
) -> dict[int, int]:
    """Ask every node for its partition id; return partition id -> node id.

    With ``prepare`` (the run config as JSON) each node also builds its task
    (imports, dataset, partitions) while it answers, so that the round
    time-out measures rounds, not the workers' start-up.
    """
    deadline = time.monotonic() + NODE_WAIT_SECONDS
    node_ids = list(grid.get_node_ids())
    while len(node_ids) < num_clients and time.monotonic() < deadline:
        time.sleep(0.5)
        node_ids = list(grid.get_node_ids())
    if len(node_ids) < num_clients:
        raise RuntimeError(
            f"num_clients={num_clients} but the federation has {len(node_ids)} nodes; "
            f"start it with at least {num_clients} (flwr run: --federation-config "
            f'"num-supernodes={num_clients}")'
        )
    query = {} if prepare is None else {"prepare": prepare}
    queries = [
        Message(RecordDict({"config": ConfigRecord(query)}), dst_node_id=nid, message_type=MessageType.QUERY)
        for nid in node_ids
    ]  # fmt: skip
    mapping: dict[int, int] = {}
    for reply in grid.send_and_receive(queries, timeout=timeout):
        if reply.has_error():
            continue
        pid = int(reply.content["node"]["partition-id"])
        if pid < num_clients:
            mapping[pid] = reply.metadata.src_node_id
    missing = sorted(set(range(num_clients)) - set(mapping))
    if missing:
        raise RuntimeError(f"no node answered for partition ids {missing[:10]}")
    return mapping
