"""Shared by the real-run tests: SIGKILL after a random round, the same command resumes bit for bit.

Both entry points: ``python -m sparsyfed`` (killed on Ray through ``run_simulation``,
resumed on local worker processes) and
``flwr run .`` (a local SuperLink, its ``flwr-simulation`` process killed).
The reference is one uninterrupted run through the real ClientApp in this process
(no Ray; the server's torch threads are pinned to 1 so that every path computes
with the same kernels), so the tests also show that all three paths give the
same run, bit for bit.
"""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "scripts"))
from compare_runs import compare  # noqa: E402

ROUNDS = 5
NUM_CLIENTS = 6


def overrides(data_dir: Path) -> list[str]:
    return [
        "dataset.num_samples=1500",
        f"num_clients={NUM_CLIENTS}",
        "clients_per_round=3",
        f"rounds={ROUNDS}",
        "model.width=16",
        "model.depth=4",
        "wire.values=int8",  # client state (error feedback) must survive the kill too
        "simulation.server_threads=1",
        f"data_dir={data_dir}",
    ]


def python_m(data_dir: Path, out: Path, *extra: str) -> list[str]:
    return [sys.executable, "-m", "sparsyfed", *overrides(data_dir), f"output_dir={out}", *extra]


def records_written(out: Path) -> int:
    path = out / "metrics.jsonl"
    return path.read_bytes().count(b"\n") if path.is_file() else 0


def wait_for_round(proc: subprocess.Popen, out: Path, rnd: int, timeout: float = 300) -> None:
    """Wait until round ``rnd``'s record is written (the kill then lands at any moment)."""
    deadline = time.monotonic() + timeout
    while records_written(out) < rnd + 1:
        assert proc.poll() is None, f"the run ended before round {rnd} (exit {proc.returncode})"
        assert time.monotonic() < deadline, f"round {rnd} not reached in {timeout} s"
        time.sleep(0.05)


def assert_same_run(out: Path, reference: Path, killed_after: int) -> None:
    diffs = compare(out, reference)
    assert not diffs, f"killed after round {killed_after}: {diffs[:5]}"
    assert (out / "model.sfa").read_bytes() == (reference / "model.sfa").read_bytes()
    assert (out / "summary.json").is_file() and not (out / "checkpoint.sfa").exists()


def make_reference(tmp_path_factory) -> tuple[Path, Path]:
    """One uninterrupted in-process run (and the data directory it generated)."""
    import torch
    from inprocess_grid import run_inprocess

    from sparsyfed.config import compose_config, load_config

    root = tmp_path_factory.mktemp("reference")
    data_dir, out = root / "data", root / "run"
    threads = torch.get_num_threads()
    try:
        run_inprocess(load_config(compose_config([*overrides(data_dir), f"output_dir={out}"])))
    finally:
        torch.set_num_threads(threads)
    return data_dir, out


def _descendants(pid: int) -> list[int]:
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                ppid = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
            children.setdefault(ppid, []).append(int(entry.name))
    out, todo = [], [pid]
    while todo:
        current = todo.pop()
        out.append(current)
        todo.extend(children.get(current, []))
    return out


def _simulation_processes(port: str) -> list[int]:
    """The ``flwr-simulation`` processes of the SuperLink on ``port`` (the runs themselves)."""
    pids = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                cmd = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode()
            except OSError:
                continue
            if "flwr-simulation" in cmd and port in cmd:
                pids.append(int(entry.name))
    return pids


def default_sigint() -> None:
    """``preexec_fn``: Ctrl-C handled as in a terminal, also under a test runner started in
    the background by a shell (whose children inherit SIGINT ignored)."""
    import signal

    signal.signal(signal.SIGINT, signal.SIG_DFL)
