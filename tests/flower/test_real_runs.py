"""Real runs in subprocesses: SIGKILL after a random round, the same command resumes bit for bit.

Both entry points: ``python -m sparsyfed`` (Ray through ``run_simulation``) and
``flwr run .`` (a local SuperLink, its ``flwr-simulation`` process killed).
The reference is one uninterrupted run through the real ClientApp in this process
(no Ray; the server's torch threads are pinned to 1 so that every path computes
with the same kernels), so the tests also show that all three paths give the
same run, bit for bit.
"""

from __future__ import annotations

import os
import random
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "scripts"))
from compare_entrypoints import REPO, flwr_command, flwr_env, stop_superlinks
from compare_runs import compare

from sparsyfed.flower.flwr_cli import free_port, managed_superlinks
from sparsyfed.flower.processes import find

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


def python_m(data_dir: Path, out: Path) -> list[str]:
    return [sys.executable, "-m", "sparsyfed", *overrides(data_dir), f"output_dir={out}"]


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


@pytest.fixture(scope="module")
def reference(tmp_path_factory) -> tuple[Path, Path]:
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


@pytest.mark.slow
def test_python_m_killed_by_sigkill_resumes_to_the_same_run(reference, tmp_path):
    data_dir, ref = reference
    out = tmp_path / "run"
    killed_after = random.randint(1, ROUNDS - 2)
    proc = subprocess.Popen(
        python_m(data_dir, out), cwd=REPO, start_new_session=True, stderr=subprocess.DEVNULL
    )
    try:
        wait_for_round(proc, out, killed_after)
    finally:
        os.killpg(proc.pid, signal.SIGKILL)  # the driver and its Ray workers
        proc.wait()
    assert not (out / "summary.json").exists()
    subprocess.run(python_m(data_dir, out), cwd=REPO, check=True, timeout=600)
    assert_same_run(out, ref, killed_after)


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


@pytest.mark.slow
def test_flwr_run_killed_by_sigkill_resumes_to_the_same_run(reference, tmp_path):
    data_dir, ref = reference
    out, home = tmp_path / "run", tmp_path / "flwr-home"
    env = flwr_env(home)
    cmd = flwr_command(overrides(data_dir), out, NUM_CLIENTS)
    killed_after = random.randint(1, ROUNDS - 2)
    try:
        proc = subprocess.Popen(cmd, cwd=REPO, env=env, stdout=subprocess.DEVNULL)
        try:
            wait_for_round(proc, out, killed_after)
        finally:
            for sim in _simulation_processes(env["FLWR_LOCAL_SUPERLINK_HTTP_API_PORT"]):
                for pid in _descendants(sim):  # the run and its Ray workers
                    try:
                        os.kill(pid, signal.SIGKILL)
                    except ProcessLookupError:
                        pass
            proc.kill()  # the streaming client would wait for the dead run
            proc.wait()
        assert not (out / "summary.json").exists()
    finally:
        stop_superlinks(home)
    # The same run again, through the launcher (a SuperLink and Flower home of its own):
    # it resumes, exits 0 once the run completed with its summary, and leaves nothing.
    port = free_port()
    launched = subprocess.run(
        [sys.executable, "-m", "sparsyfed.flower.launch", "--port", str(port),
         *overrides(data_dir), f"output_dir={out}"],
        cwd=REPO, capture_output=True, text=True, timeout=900,
    )  # fmt: skip
    assert launched.returncode == 0, launched.stdout[-3000:] + launched.stderr[-3000:]
    assert_same_run(out, ref, killed_after)
    launcher_home = Path(re.search(r"FLWR_HOME=(\S+),", launched.stdout).group(1))
    assert not launcher_home.exists()  # a completed run's private Flower home is removed
    assert managed_superlinks(launcher_home) == [] and find(f"127.0.0.1:{port}") == []
