"""A reproduction sweep: a killed job resumes, a failing job is reported, a relaunch skips.

Real ``python -m sparsyfed`` processes on a tiny task (``tests/real_runs.py``);
the reference is one uninterrupted in-process run of the same config.
"""

from __future__ import annotations

import os
import signal
import subprocess

import pytest
from real_runs import REPO, assert_same_run, make_reference, overrides, python_m, wait_for_round

from sparsyfed.reproduce.presets import Job
from sparsyfed.reproduce.report import write_report
from sparsyfed.reproduce.runner import plan_jobs, run_jobs
from sparsyfed.validation import ConfigError


def _on_missing_cifar(task: tuple[str, ...]) -> tuple[str, ...]:
    """The task's overrides on CIFAR-10 with ResNet-18 (whose files are not there)."""
    kept = [o for o in task if not o.startswith(("dataset.", "model.", "data_dir="))]
    return (*kept, "dataset=cifar10", "model=resnet18_cifar")


@pytest.mark.slow
def test_sweep_resumes_a_killed_job_reports_a_failure_and_skips_on_relaunch(
    tmp_path_factory, tmp_path
):
    data_dir, reference = make_reference(tmp_path_factory)
    task = tuple(overrides(data_dir))
    missing = tmp_path / "no_cifar"
    missing.mkdir()
    jobs = [
        Job("fresh/run", task),
        Job("killed/run", task),
        Job("broken/run", (*_on_missing_cifar(task), f"data_dir={missing}")),
    ]
    out = tmp_path / "sweep"
    killed = out / "killed" / "run"
    proc = subprocess.Popen(python_m(data_dir, killed), cwd=REPO, start_new_session=True,
                            stderr=subprocess.DEVNULL)  # fmt: skip
    try:
        wait_for_round(proc, killed, 2)
    finally:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()

    plans = plan_jobs(jobs, out)
    assert [p.action for p in plans] == ["run", "resume", "run"]
    lines: list[str] = []
    report = run_jobs(plans, slots=1, echo=lines.append)  # in this process, one by one

    assert sorted(report.completed) == ["fresh/run", "killed/run"]
    assert report.failed == ["broken/run"]
    assert_same_run(out / "fresh" / "run", reference, killed_after=0)
    assert_same_run(killed, reference, killed_after=2)
    error = (out / "broken" / "run" / "error.txt").read_text()
    assert "cifar" in error.lower()
    assert any("broken/run: FAILED (DatasetNotFoundError" in line for line in lines)
    env = (out / "fresh" / "run" / "environment.json").read_text()
    assert '"torch"' in env and '"commit"' in env

    before = {
        p: (p.stat().st_mtime_ns, p.read_bytes())
        for p in out.rglob("*")
        if p.is_file() and "broken" not in p.parts
    }
    again = plan_jobs(jobs, out)
    assert [p.action for p in again] == ["skip", "skip", "run"]
    relaunch = run_jobs([p for p in again if p.action == "skip"], echo=lines.append)
    assert relaunch.skipped == ["fresh/run", "killed/run"] and not relaunch.completed
    after = {p: (p.stat().st_mtime_ns, p.read_bytes()) for p in before}
    assert after == before  # nothing started, nothing touched

    drawn = write_report(out)  # the report of the two complete real runs
    assert drawn.runs == 2 and drawn.incomplete == 0
    assert {"table1_accuracy.md", "communication.csv", "compute.md"} <= {
        p.name for p in drawn.tables
    }
    assert len(drawn.figures) >= 4 and all(p.stat().st_size > 0 for p in drawn.figures)


def test_a_job_whose_overrides_do_not_compose_stops_the_plan(tmp_path):
    jobs = [Job("ok", ("rounds=2",)), Job("bad", ("rounds=2", "method=nonexistent"))]
    with pytest.raises(ConfigError, match="job bad: method='nonexistent' is not known"):
        plan_jobs(jobs, tmp_path)
    assert list(tmp_path.iterdir()) == []


def test_a_directory_holding_another_config_is_refused_not_overwritten(tmp_path):
    out = tmp_path / "sweep"
    run_dir = out / "job"
    run_dir.mkdir(parents=True)
    (run_dir / "config.yaml").write_text("rounds: 7\nseed: 0\n")
    [plan] = plan_jobs([Job("job", ("rounds=2",))], out)
    assert plan.action == "refuse" and "another config" in plan.reason
    report = run_jobs([plan], echo=lambda line: None)
    assert report.failed == ["job"]
    assert (run_dir / "config.yaml").read_text() == "rounds: 7\nseed: 0\n"


@pytest.mark.slow
def test_jobs_in_parallel_processes_write_their_console_and_report_failures(data_dir, tmp_path):
    task = (*overrides(data_dir), "rounds=1")
    jobs = [Job("ok", task), Job("broken", (*_on_missing_cifar(task), f"data_dir={tmp_path}"))]
    lines: list[str] = []
    report = run_jobs(plan_jobs(jobs, tmp_path / "sweep"), slots=2, echo=lines.append)
    assert report.completed == ["ok"] and report.failed == ["broken"]
    assert "2 at a time, 1 CPU(s) each" in lines[0]
    assert "round   1/1" in (tmp_path / "sweep" / "ok" / "console.log").read_text()
    assert "error:" in (tmp_path / "sweep" / "broken" / "error.txt").read_text()
    assert any("broken: FAILED (exit code 2)" in line for line in lines)
