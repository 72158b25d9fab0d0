"""``python -m sparsyfed`` killed by SIGKILL after a random round: the same command resumes it.

The killed run computes on Ray, the resumed one on local worker processes
(the default ``simulation.backend=auto`` on one machine; the key is
operational, like the output directory). The
reference is one uninterrupted run through the real ClientApp in this process
(``tests/real_runs.py``); the resumed run must equal it bit for bit, so both
backends give the same run.
"""

from __future__ import annotations

import os
import random
import signal
import subprocess

import pytest
from real_runs import (
    REPO,
    ROUNDS,
    assert_same_run,
    python_m,
    wait_for_round,
)


@pytest.mark.slow
def test_python_m_killed_by_sigkill_resumes_to_the_same_run(reference, tmp_path):
    data_dir, ref = reference
    out = tmp_path / "run"
    killed_after = random.randint(1, ROUNDS - 2)
    proc = subprocess.Popen(
        python_m(data_dir, out, "simulation.backend=ray"),
        cwd=REPO,
        start_new_session=True,
        stderr=subprocess.DEVNULL,
    )
    try:
        wait_for_round(proc, out, killed_after)
    finally:
        os.killpg(proc.pid, signal.SIGKILL)  # the driver and its Ray workers
        proc.wait()
    assert not (out / "summary.json").exists()
    subprocess.run(python_m(data_dir, out), cwd=REPO, check=True, timeout=600)
    assert_same_run(out, ref, killed_after)
