"""A Hydra launcher that runs the jobs of a sweep side by side: ``hydra/launcher=parallel``.

Usage::

    python -m sparsyfed -m seed=0,1,2 sparsity=0.9,0.95 hydra/launcher=parallel
    python -m sparsyfed -m ... hydra/launcher=parallel hydra.launcher.jobs=3

Each job is its own ``python -m sparsyfed`` process with the job's
overrides, writing to the directory a serial sweep would give it
(``hydra.sweep.dir/hydra.sweep.subdir``), so a job computes exactly what it
computes in a serial sweep, and the same command skips finished jobs and
resumes interrupted ones. ``jobs`` run at once (default: one per two CPUs,
at least two); each job's client workers share the CPUs that
``jobs`` leaves it (``SPARSYFED_JOB_CPUS``), which changes no result. A
job's console output goes to ``console.log`` in its directory; this
process prints one line when a job starts and one when it ends. A failed
job is reported (its ``error.txt`` holds the end of its output) and the
sweep goes on.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from hydra.core.config_store import ConfigStore
from hydra.core.utils import JobReturn, JobStatus, filter_overrides
from hydra.plugins.launcher import Launcher
from omegaconf import DictConfig, open_dict

from sparsyfed.run.files import CONSOLE_FILE, ERROR_FILE, SUMMARY_FILE

JOB_CPUS_ENV = "SPARSYFED_JOB_CPUS"
"""CPUs one job of a parallel sweep may use for its client workers (set by the launcher)."""
POLL_SECONDS = 0.2


PLUGIN_NAME = "hydra_plugins.sparsyfed.ParallelLauncher"
"""The name Hydra knows the launcher by (Hydra accepts plugins only under ``hydra_plugins``)."""


@dataclass
class ParallelLauncherConf:
    """``hydra/launcher=parallel``: ``jobs`` at once (null: CPUs // 2, at least 2)."""

    _target_: str = PLUGIN_NAME
    jobs: int | None = None


def register() -> None:
    """Make ``hydra/launcher=parallel`` known to Hydra (called before Hydra starts).

    Hydra finds launchers by scanning the installed ``hydra_plugins``
    packages; this one is registered under :data:`PLUGIN_NAME` instead, so the
    project installs no second top-level package.
    """
    from hydra.core.plugins import Plugins

    Plugins.instance().class_name_to_class.setdefault(PLUGIN_NAME, ParallelLauncher)
    ConfigStore.instance().store(group="hydra/launcher", name="parallel", node=ParallelLauncherConf)


def default_jobs(cpus: int | None = None) -> int:
    """Jobs at once: one per two CPUs, at least two (a job's server and clients take turns)."""
    return max(2, (cpus or os.cpu_count() or 1) // 2)


@dataclass
class _Job:
    idx: int
    overrides: list[str]
    out: Path
    process: subprocess.Popen | None = None
    started: float = 0.0


class ParallelLauncher(Launcher):
    """Run a sweep's jobs as parallel ``python -m sparsyfed`` processes (see the module doc)."""

    def __init__(self, jobs: int | None = None) -> None:
        self.jobs = jobs
        self.config: DictConfig | None = None
        self.hydra_context: Any = None

    def setup(self, *, hydra_context: Any, task_function: Any, config: DictConfig) -> None:
        """Keep what :meth:`launch` needs (the task function runs in the job processes)."""
        self.config, self.hydra_context = config, hydra_context

    def launch(
        self, job_overrides: Sequence[Sequence[str]], initial_job_idx: int
    ) -> Sequence[JobReturn]:
        """Run every job, ``jobs`` at a time; return their results in job order."""
        assert self.config is not None and self.hydra_context is not None
        jobs = [self._job(initial_job_idx + i, list(o)) for i, o in enumerate(job_overrides)]
        slots = max(1, self.jobs or default_jobs())
        cpus = max(1, (os.cpu_count() or 1) // min(slots, len(jobs) or 1))
        env = os.environ | {JOB_CPUS_ENV: str(cpus)}
        print(f"sweep: {len(jobs)} jobs, {slots} at a time, {cpus} CPU(s) each", flush=True)
        waiting, running, results = list(jobs), [], {}
        try:
            while waiting or running:
                while waiting and len(running) < slots:
                    job = waiting.pop(0)
                    self._start(job, env)
                    running.append(job)
                time.sleep(POLL_SECONDS)
                for job in [j for j in running if j.process and j.process.poll() is not None]:
                    running.remove(job)
                    results[job.idx] = self._finish(job)
        finally:  # Ctrl-C reached the jobs too: each stops at its last checkpoint
            for job in running:
                if job.process is not None:
                    try:
                        job.process.wait(30)
                    except subprocess.TimeoutExpired:
                        job.process.kill()
        return [results[j.idx] for j in jobs]

    def _job(self, idx: int, overrides: list[str]) -> _Job:
        config = self.hydra_context.config_loader.load_sweep_config(self.config, overrides)
        with open_dict(config):
            config.hydra.job.id = config.hydra.job.num = idx
        out = Path(str(config.hydra.sweep.dir)) / str(config.hydra.sweep.subdir)
        return _Job(idx, overrides, out)

    def _start(self, job: _Job, env: dict[str, str]) -> None:
        job.out.mkdir(parents=True, exist_ok=True)
        cmd = [sys.executable, "-m", "sparsyfed", *job.overrides, f"hydra.run.dir={job.out}"]
        with (job.out / CONSOLE_FILE).open("ab") as log:
            job.process = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, env=env)
        job.started = time.monotonic()
        print(f"  #{job.idx} started: {' '.join(filter_overrides(job.overrides))}", flush=True)

    def _finish(self, job: _Job) -> JobReturn:
        assert job.process is not None
        code, seconds = job.process.returncode, time.monotonic() - job.started
        ret = JobReturn(overrides=job.overrides, working_dir=str(job.out))
        summary = job.out / SUMMARY_FILE
        if code == 0 and summary.is_file():
            accuracy = json.loads(summary.read_text()).get("final_accuracy")
            ret.return_value, ret.status = accuracy, JobStatus.COMPLETED
            print(f"  #{job.idx} done in {seconds:.0f} s: final acc {accuracy:.4f} -> {job.out}")
        else:
            tail = (job.out / CONSOLE_FILE).read_text(errors="replace").splitlines()[-40:]
            (job.out / ERROR_FILE).write_text("\n".join(tail) + "\n")
            ret.return_value, ret.status = float("nan"), JobStatus.COMPLETED
            print(
                f"  #{job.idx} failed (exit code {code}) after {seconds:.0f} s, sweep continues; "
                f"see {job.out / ERROR_FILE}",
                file=sys.stderr,
            )
        sys.stdout.flush()
        return ret
