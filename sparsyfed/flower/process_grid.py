"""A Flower Grid whose nodes are served by a few long-lived local worker processes (no Ray).

The simulation's ``processes`` backend (``simulation.backend``): the real
ClientApp answers real Flower messages, as under Ray, but in
``workers`` processes forked from a fork server that imported the ClientApp
once. A worker takes the next message whenever it is free, so a round costs
the clients' own work divided among the workers, with no polling: replies
wake the server as they arrive.

Node ``i`` holds partition ``i`` (its ``node_config``). Every worker can
serve every node: the ClientApp keeps nothing in ``context.state`` (the
server carries each client's state), so which process serves a message
does not change its reply. A worker that dies (killed, out of memory) turns
the message it held into an error reply and is replaced; a reply that comes
after its round gave up on it is dropped.
"""

from __future__ import annotations

import collections
import importlib
import itertools
import multiprocessing
import signal
import threading
import time
from collections.abc import Iterable, Iterator, Sequence
from multiprocessing.connection import Connection, wait
from typing import Any

from flwr.app import Context, Error, Message, RecordDict
from flwr.common.constant import ErrorCode
from flwr.serverapp import Grid
from flwr.supercore.task_identity import TaskIdentity

from sparsyfed.flower.fork_server import start_fork_server

NODE_ID_OFFSET = 1_000_000
"""Node ``NODE_ID_OFFSET + i`` holds partition ``i`` (ids differ from partition ids on purpose)."""
RUN_ID = 1
STOP_SECONDS = 5.0
"""How long :meth:`ProcessGrid.close` waits for a worker to stop before it is terminated."""


def _serve(conn: Connection, app_ref: str, num_nodes: int) -> None:
    """A worker's loop: answer ``(message id, message)`` pairs until ``None`` arrives."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the server's to handle
    module, _, name = app_ref.partition(":")
    app = getattr(importlib.import_module(module), name)
    contexts: dict[int, Context] = {}
    TaskIdentity.task_id, TaskIdentity.run_id = 2, RUN_ID
    while True:
        try:
            item = conn.recv()
        except (EOFError, OSError):  # the server is gone
            return
        if item is None:
            return
        msg_id, message = item
        node = message.metadata.dst_node_id
        if node not in contexts:
            config = {"partition-id": node - NODE_ID_OFFSET, "num-partitions": num_nodes}
            contexts[node] = Context(RUN_ID, node, config, RecordDict(), {})
        TaskIdentity.node_id = node
        conn.send((msg_id, app(message, contexts[node])))


class _Worker:
    def __init__(self, ctx: Any, app_ref: str, num_nodes: int) -> None:
        self.conn, child = ctx.Pipe()
        self.process = ctx.Process(
            target=_serve, args=(child, app_ref, num_nodes), daemon=True, name="sparsyfed-client"
        )
        self.process.start()
        child.close()
        self.held: tuple[str, Message] | None = None
        self.served = 0


class ProcessGrid(Grid):
    """Serve ``num_nodes`` Flower nodes from ``workers`` local processes.

    Parameters
    ----------
    app_ref : str
        The ClientApp as ``module:attribute`` (imported by the fork server).
    num_nodes : int
        Nodes of the federation; node ``NODE_ID_OFFSET + i`` holds partition ``i``.
    workers : int
        Worker processes (each runs one message at a time).
    preload : sequence of str
        Modules the fork server imports once for every worker, besides the app's
        (the handlers' heavy imports, e.g. torch).

    Notes
    -----
    The workers start in the background as soon as the grid is made, so the
    server builds its state while they import; the first message waits for
    them. A thread of this process (the *pump*) owns the workers' pipes: it
    hands a queued message to a worker the moment the worker replies, so a
    worker never waits for the server's own work (decoding, evaluation) to get
    its next message. Use the grid as a context manager (or call :meth:`close`).

    """

    def __init__(
        self, app_ref: str, num_nodes: int, workers: int, preload: Sequence[str] = ()
    ) -> None:
        super().__init__()
        if workers < 1:
            raise ValueError(f"workers={workers}: at least one worker is needed")
        self.app_ref, self.num_nodes, self.size = app_ref, num_nodes, workers
        self._ctx = start_fork_server(app_ref, preload)
        self._workers: list[_Worker] = []
        self._queue: collections.deque[tuple[str, Message]] = collections.deque()
        self._replies: dict[str, Message] = {}
        self._awaited: set[str] = set()
        self._ids = itertools.count()
        self._run: Any = None
        self._error: BaseException | None = None  # raised to the server by the next call
        self._closing = False
        self._lock = threading.Condition()  # guards everything above; notified on each reply
        self._started = threading.Event()
        self._wake, self._waker = multiprocessing.Pipe(duplex=False)
        self._pump = threading.Thread(target=self._serve_workers, daemon=True, name="grid-pump")
        self._pump.start()

    # ------------------------------------------------------------ Grid API
    def set_run(self, run_id: int) -> None:
        """Record the run (unused: one run per grid)."""
        self._run = run_id

    @property
    def run(self) -> Any:
        """The run set by :meth:`set_run`."""
        return self._run

    def get_node_ids(self) -> Iterable[int]:
        """The node ids, ``NODE_ID_OFFSET + partition id``."""
        return [NODE_ID_OFFSET + i for i in range(self.num_nodes)]

    def create_message(
        self,
        content: RecordDict,
        message_type: str,
        dst_node_id: int,
        group_id: str,
        ttl: float | None = None,
    ) -> Message:
        """A new instruction message."""
        return Message(
            content, dst_node_id=dst_node_id, message_type=message_type, group_id=group_id
        )

    def push_messages(self, messages: Iterable[Message]) -> Iterable[str]:
        """Queue the messages for the next free workers; return their ids.

        The first call waits until the workers are started (not until they
        have imported anything).
        """
        self._started.wait()
        ids = []
        with self._lock:
            self._raise_error()
            for message in messages:
                msg_id = f"p{next(self._ids)}"
                message.metadata.__dict__["_message_id"] = msg_id
                self._queue.append((msg_id, message))
                self._awaited.add(msg_id)
                ids.append(msg_id)
        self._waker.send_bytes(b"")
        return ids

    def pull_messages(self, message_ids: Iterable[str]) -> Iterable[Message]:
        """The replies that have arrived among ``message_ids`` (waits for none)."""
        with self._lock:
            self._raise_error()
            return [self._replies.pop(i) for i in message_ids if i in self._replies]

    def send_and_receive(
        self, messages: Iterable[Message], *, timeout: float | None = None
    ) -> Iterable[Message]:
        """Push the messages, then return their replies as they come, until ``timeout`` s."""
        return self.receive(self.push_messages(messages), timeout=timeout)

    def receive(self, message_ids: Iterable[str], *, timeout: float | None = None) -> list[Message]:
        """The replies to pushed messages, until ``timeout`` s; later ones are dropped."""
        return list(self.replies_as_they_come(message_ids, timeout=timeout))

    def replies_as_they_come(
        self, message_ids: Iterable[str], *, timeout: float | None = None
    ) -> Iterator[Message]:
        """Yield the replies to pushed messages as they arrive, until ``timeout`` s.

        Replies that come later are dropped, and their messages, if no worker
        has taken them yet, are not served at all.
        """
        pending = set(message_ids)
        deadline = None if timeout is None else time.monotonic() + timeout
        try:
            while pending:
                arrived = self._wait_for(pending, deadline)
                if not arrived:
                    break  # the time is up
                for msg_id, reply in arrived:
                    pending.discard(msg_id)
                    yield reply
        finally:
            with self._lock:
                self._awaited -= pending  # their replies, if they still come, are dropped
                for msg_id in pending:
                    self._replies.pop(msg_id, None)

    def _wait_for(self, pending: set[str], deadline: float | None) -> list[tuple[str, Message]]:
        """The replies among ``pending`` once at least one is here (none: ``deadline`` passed)."""
        with self._lock:
            while True:
                self._raise_error()
                arrived = sorted(i for i in pending if i in self._replies)
                if arrived:
                    return [(i, self._replies.pop(i)) for i in arrived]
                left = None if deadline is None else deadline - time.monotonic()
                if left is not None and left <= 0:
                    return []
                self._lock.wait(left)

    def _raise_error(self) -> None:
        if self._error is not None:
            raise self._error

    # ------------------------------------------------------------ the pump thread
    def _serve_workers(self) -> None:
        """Start the workers, then hand out messages and take replies until closed."""
        try:
            workers = [self._new_worker() for _ in range(self.size)]
        except BaseException as err:  # raised again by the first message
            self._fail(RuntimeError(f"client workers did not start: {err}"))
            return
        finally:
            self._started.set()
        with self._lock:
            self._workers = workers
        try:
            while True:
                with self._lock:
                    if self._closing:
                        return
                    self._dispatch()
                    busy = {}
                    for worker in self._workers:
                        if worker.held is not None:
                            busy[worker.conn] = busy[worker.process.sentinel] = worker
                ready = wait([self._wake, *busy])
                with self._lock:
                    if self._wake in ready:
                        while self._wake.poll():
                            self._wake.recv_bytes()
                    self._take([busy[h] for h in ready if h in busy])
                    self._lock.notify_all()
        except BaseException as err:  # e.g. a worker that died before its first reply
            self._fail(err)

    def _fail(self, err: BaseException) -> None:
        with self._lock:
            self._error = err
            self._lock.notify_all()

    def _dispatch(self) -> None:
        for index, worker in enumerate(self._workers):
            while self._queue and self._queue[0][0] not in self._awaited:
                self._queue.popleft()  # its round gave up on it: no one wants the reply
            if not self._queue:
                return
            if worker.held is None:
                if not worker.process.is_alive():  # it died after its last reply
                    worker.conn.close()
                    worker = self._workers[index] = self._new_worker()
                worker.held = self._queue.popleft()
                worker.conn.send(worker.held)

    def _new_worker(self) -> _Worker:
        return _Worker(self._ctx, self.app_ref, self.num_nodes)

    def _take(self, workers: list[_Worker]) -> None:
        """Take the replies of ``workers`` (whose pipe or sentinel is ready)."""
        for worker in workers:
            if worker.held is None:
                continue  # its pipe and its sentinel were both ready
            try:
                if not worker.conn.poll():
                    raise EOFError  # only its sentinel: it died without a word
                msg_id, reply = worker.conn.recv()
                worker.served += 1
            except (EOFError, OSError):
                msg_id, reply = self._replace(worker)
            worker.held = None
            if msg_id in self._awaited:
                self._awaited.discard(msg_id)
                self._replies[msg_id] = reply

    def _replace(self, worker: _Worker) -> tuple[str, Message]:
        """An error reply for the message a dead worker held; a new worker in its place."""
        assert worker.held is not None
        msg_id, message = worker.held
        worker.process.join(STOP_SECONDS)
        code = worker.process.exitcode
        if worker.served == 0:  # it never got as far as one reply: its successor would not either
            raise RuntimeError(
                f"a client worker process died (exit code {code}) before it answered any "
                "message (its output, if any, is above; a script that starts a simulation "
                "must do so under `if __name__ == '__main__':`, as with any multiprocessing)"
            )
        reason = f"client worker process died (exit code {code}) serving this message"
        worker.conn.close()
        self._workers[self._workers.index(worker)] = self._new_worker()
        return msg_id, Message(
            Error(code=ErrorCode.CLIENT_APP_RAISED_EXCEPTION, reason=reason), reply_to=message
        )

    def close(self) -> None:
        """Stop the workers (those still busy are terminated); a second call does nothing."""
        with self._lock:
            if self._closing:
                return
            self._closing = True
        self._waker.send_bytes(b"")
        self._pump.join()
        for worker in self._workers:
            try:
                worker.conn.send(None)
            except (BrokenPipeError, OSError):
                pass
        deadline = time.monotonic() + STOP_SECONDS
        for worker in self._workers:
            if worker.held is not None:
                worker.process.terminate()
            worker.process.join(max(0.0, deadline - time.monotonic()))
            if worker.process.is_alive():
                worker.process.kill()
                worker.process.join()
            worker.conn.close()
        self._workers = []
        self._wake.close()
        self._waker.close()

    def __enter__(self) -> ProcessGrid:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
