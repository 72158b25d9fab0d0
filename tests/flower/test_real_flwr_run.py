"""``flwr run .`` killed by SIGKILL after a random round; the launcher resumes it.

A local SuperLink's ``flwr-simulation`` process (the run and its Ray workers) is
killed; the same run through ``sparsyfed-flwr`` resumes, exits 0 with its
summary, equals the uninterrupted reference (``tests/real_runs.py``) bit for
bit, and leaves no Flower process.
"""

from __future__ import annotations

import os
import random
import re
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from real_runs import (
    NUM_CLIENTS,
    REPO,
    ROUNDS,
    _descendants,
    _simulation_processes,
    assert_same_run,
    overrides,
    wait_for_round,
)

from sparsyfed.flower.flwr_cli import (
    flwr_command,
    flwr_env,
    free_port,
    managed_superlinks,
    stop_superlinks,
)
from sparsyfed.flower.processes import find


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
