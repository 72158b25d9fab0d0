"""A Flower Grid that delivers messages to a ClientApp in this process (no Ray).

It runs the real ClientApp handlers and the real strategy, only without the
simulation engine, so end-to-end properties can be tested in seconds.
"""

from __future__ import annotations

import itertools
import time
from collections.abc import Iterable

from flwr.app import Context, Message, RecordDict
from flwr.clientapp import ClientApp
from flwr.serverapp import Grid


class InProcessGrid(Grid):
    def __init__(
        self, client_app: ClientApp, num_nodes: int, corrupt: dict[int, callable] | None = None
    ):
        super().__init__()
        self.client_app = client_app
        self.contexts = {
            1000 + i: Context(
                run_id=1,
                node_id=1000 + i,
                node_config={"partition-id": i, "num-partitions": num_nodes},
                state=RecordDict(),
                run_config={},
            )
            for i in range(num_nodes)
        }
        self.corrupt = corrupt or {}
        self._ids = itertools.count()
        self._replies: dict[str, Message] = {}
        self.late: list[Message] = []  # replies that came after send_and_receive's timeout
        self.clock_offset = 0.0  # seconds a test's fake sleep has added to the clock

    def clock(self) -> float:
        return time.monotonic() + self.clock_offset

    def fake_sleep(self, seconds: float) -> None:
        """Stand-in for ``time.sleep`` that advances this grid's clock instantly."""
        self.clock_offset += seconds

    def set_run(self, run_id: int) -> None:
        self._run = run_id

    @property
    def run(self):
        return getattr(self, "_run", None)

    def get_node_ids(self) -> Iterable[int]:
        return list(self.contexts)

    def create_message(self, content, message_type, dst_node_id, group_id, ttl=None):
        return Message(
            content, dst_node_id=dst_node_id, message_type=message_type, group_id=group_id
        )

    def push_messages(self, messages: Iterable[Message]) -> Iterable[str]:
        ids = []
        for msg in messages:
            msg_id = f"m{next(self._ids)}"
            msg.metadata.__dict__["_message_id"] = msg_id
            context = self.contexts[msg.metadata.dst_node_id]
            reply = self.client_app(msg, context)
            pid = context.node_config["partition-id"]
            if pid in self.corrupt and msg.metadata.message_type == "train":
                reply = self.corrupt[pid](reply, msg)
            self._replies[msg_id] = reply
            ids.append(msg_id)
        return ids

    def pull_messages(self, message_ids: Iterable[str]) -> Iterable[Message]:
        return [self._replies.pop(i) for i in message_ids]

    def send_and_receive(
        self, messages: Iterable[Message], *, timeout: float | None = None
    ) -> Iterable[Message]:
        """Deliver in turn; a reply that took longer than ``timeout`` is kept out (late)."""
        replies = []
        for msg in messages:
            start = self.clock()
            [reply] = self.pull_messages(self.push_messages([msg]))
            if timeout is not None and self.clock() - start > timeout:
                self.late.append(reply)
            else:
                replies.append(reply)
        return replies


def run_inprocess(cfg, corrupt: dict | None = None, grid: InProcessGrid | None = None) -> dict:
    """Run :func:`sparsyfed.flower.server_app.run_server` on an :class:`InProcessGrid`.

    ``cfg`` is a :class:`~sparsyfed.config.RunConfig` (or a composed plain dict).
    """
    from flwr.supercore.task_identity import TaskIdentity

    from sparsyfed.config import RunConfig, load_config
    from sparsyfed.flower.client_app import app as client_app
    from sparsyfed.flower.server_app import run_server

    if not isinstance(cfg, RunConfig):
        cfg = load_config(cfg)
    saved = (TaskIdentity._task_id, TaskIdentity._run_id, TaskIdentity._node_id)
    TaskIdentity.task_id, TaskIdentity.run_id, TaskIdentity.node_id = 1, 1, 0
    try:
        grid = grid or InProcessGrid(client_app, cfg.num_clients, corrupt)
        return run_server(grid, cfg)
    finally:
        TaskIdentity._task_id, TaskIdentity._run_id, TaskIdentity._node_id = saved
