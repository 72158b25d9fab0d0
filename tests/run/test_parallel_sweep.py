"""``hydra/launcher=parallel``: a sweep's jobs side by side, each as a serial sweep would run it."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from helpers import TINY, make_cfg

from sparsyfed.run.launcher import default_jobs

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "scripts"))
from compare_runs import compare  # noqa: E402


def sweep(data_dir: Path, sweep_dir: Path) -> subprocess.CompletedProcess:
    args = [
        *TINY, f"data_dir={data_dir}", "rounds=2", "simulation.server_threads=1",
        "faults.kind=raise", "faults.fraction=0.0,1.0", f"hydra.sweep.dir={sweep_dir}",
        "hydra/launcher=parallel", "hydra.launcher.jobs=2",
    ]  # fmt: skip
    cmd = [sys.executable, "-m", "sparsyfed", "-m", *args]
    return subprocess.run(cmd, cwd=REPO, capture_output=True, text=True, timeout=600)


@pytest.mark.slow
def test_parallel_jobs_equal_the_serial_runs_and_a_failed_job_does_not_stop_the_sweep(
    tmp_path, data_dir
):
    first = sweep(data_dir, tmp_path / "sweep")
    assert first.returncode == 0, first.stderr[-2000:]
    good, bad = (tmp_path / "sweep" / f"{i}-sparsyfed-s0.95-seed0" for i in (0, 1))
    assert "sweep: 2 jobs, 2 at a time, 1 CPU(s) each" in first.stdout
    assert "#0 done in" in first.stdout and f"-> {good}" in first.stdout
    assert "#1 failed (exit code 3)" in first.stderr and str(bad / "error.txt") in first.stderr
    assert "simulation.min_completion=0.5" in (bad / "error.txt").read_text()
    assert "1 client worker process" in (good / "console.log").read_text()
    # The finished job is what the bare loop computes in this process, bit for bit.
    from sparsyfed.core.executor import LocalExecutor
    from sparsyfed.run.session import execute, plan

    cfg = make_cfg(tmp_path / "bare", data_dir, "rounds=2", "simulation.server_threads=1")
    threads = torch.get_num_threads()
    try:
        execute(cfg, LocalExecutor(cfg), plan(cfg))
    finally:
        torch.set_num_threads(threads)
    assert compare(good, Path(cfg.output_dir)) == []
    # The same command again: the finished job is skipped, the failed one is run again.
    again = sweep(data_dir, tmp_path / "sweep")
    assert "run complete" in (good / "console.log").read_text()
    assert "#1 failed (exit code 3)" in again.stderr
    rows = [json.loads(line) for line in (good / "metrics.jsonl").read_text().splitlines()]
    assert [r["round"] for r in rows] == [0, 1, 2]


def test_default_jobs_is_one_per_two_cpus_and_at_least_two():
    assert [default_jobs(c) for c in (1, 2, 4, 8)] == [2, 2, 2, 4]
