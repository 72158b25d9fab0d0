"""Processes by PID: find a process tree in ``/proc``, stop it, and nothing else.

Flower's own processes detach (new sessions) and start children of their own
(SuperExec, ``flwr-serverapp``, ``flwr-clientapp``, ``flwr-simulation`` and its
Ray workers), so neither a process group nor a name pattern tells which of them
a command started. :func:`stop_tree` stops exactly the given processes and
their descendants, identified by PID *and* start time (a reused PID is never
signalled).
"""

from __future__ import annotations

import os
import signal
import time
from collections.abc import Iterable
from pathlib import Path

PROC = Path("/proc")

#: A process identity: PID and its start time (clock ticks since boot).
Identity = tuple[int, int]


def _stat_fields(pid: int) -> list[str] | None:
    """The fields of ``/proc/<pid>/stat`` after the command name (``None`` if gone)."""
    try:
        return (PROC / str(pid) / "stat").read_text().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return None


def identity(pid: int) -> Identity | None:
    """``(pid, start time)`` of a running process, ``None`` when it is gone."""
    fields = _stat_fields(pid)
    return None if fields is None else (pid, int(fields[19]))


def is_alive(pid: int) -> bool:
    """Whether ``pid`` runs (a zombie, which only waits to be reaped, does not)."""
    fields = _stat_fields(pid)
    return fields is not None and fields[0] not in ("Z", "X")


def command_line(pid: int) -> str:
    """The command line of ``pid`` with spaces between the arguments (``""`` if gone)."""
    try:
        return (PROC / str(pid) / "cmdline").read_bytes().replace(b"\0", b" ").decode().strip()
    except OSError:
        return ""


def _children() -> dict[int, list[int]]:
    children: dict[int, list[int]] = {}
    for entry in PROC.iterdir():
        if entry.name.isdigit():
            fields = _stat_fields(int(entry.name))
            if fields is not None:
                children.setdefault(int(fields[1]), []).append(int(entry.name))
    return children


def descendants(pids: Iterable[int]) -> list[int]:
    """``pids`` and every process below them in the process tree, parents first."""
    children = _children()
    out: list[int] = []
    todo = list(pids)
    while todo:
        pid = todo.pop(0)
        if pid not in out:
            out.append(pid)
            todo.extend(children.get(pid, []))
    return out


def find(*needles: str) -> list[int]:
    """Running processes whose command line contains every one of ``needles``."""
    own = os.getpid()
    return [
        int(e.name)
        for e in PROC.iterdir()
        if e.name.isdigit()
        and int(e.name) != own
        and is_alive(int(e.name))
        and all(n in command_line(int(e.name)) for n in needles)
    ]


def _signal(ident: Identity, sig: int) -> None:
    if identity(ident[0]) == ident:
        try:
            os.kill(ident[0], sig)
        except ProcessLookupError:
            pass


def stop_tree(pids: Iterable[int], grace: float = 10.0) -> list[int]:
    """Stop ``pids`` and their descendants: SIGTERM, then SIGKILL after ``grace`` seconds.

    The tree is taken before the first signal (an orphan is re-parented and
    would no longer be found below its parent) and again before SIGKILL, for
    children started meanwhile. A zombie counts as stopped: its parent (for a
    child of this process, its ``Popen``) reaps it.

    Returns
    -------
    list of int
        Every PID that was signalled.

    """
    tree = [i for pid in descendants(pids) if (i := identity(pid)) is not None]
    for ident in tree:
        _signal(ident, signal.SIGTERM)
    deadline = time.monotonic() + grace
    while time.monotonic() < deadline:
        if not any(is_alive(pid) and identity(pid) == (pid, t) for pid, t in tree):
            break
        time.sleep(0.1)
    alive = [pid for pid, t in tree if is_alive(pid) and identity(pid) == (pid, t)]
    late = [i for pid in descendants(alive) if (i := identity(pid)) is not None]
    for ident in {*tree, *late}:
        if is_alive(ident[0]):
            _signal(ident, signal.SIGKILL)
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline and any(is_alive(pid) for pid, _ in late):
        time.sleep(0.05)
    return sorted({pid for pid, _ in (*tree, *late)})
