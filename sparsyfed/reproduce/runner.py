"""Run a preset's jobs that are not complete, side by side, each as ``python -m sparsyfed``.

Before anything starts, every job's config is composed and checked against
its directory with the run's own rules (:func:`sparsyfed.run.directory.prepare_run_dir`):
a complete run is skipped without starting a process, an interrupted one is
started again and resumes from its checkpoint, and a directory holding a run
of another config is reported as a failed job. A job that fails (non-zero
exit code) is reported with the end of its output (``error.txt``) and the
sweep goes on. Each job's console output goes to ``console.log`` in its
directory; the job's directory also holds what the run writes itself
(``config.yaml``, ``environment.json`` with the package versions and git
commit, ``metrics.jsonl``, ...).
"""

from __future__ import annotations

import contextlib
import logging
import os
import subprocess
import sys
import time
import traceback
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from sparsyfed.reproduce.presets import Job
from sparsyfed.run.files import CONSOLE_FILE, ERROR_FILE, read_summary
from sparsyfed.run.launcher import JOB_CPUS_ENV
from sparsyfed.validation import ConfigError

POLL_SECONDS = 0.2
ERROR_TAIL_LINES = 40


@dataclass(frozen=True)
class JobPlan:
    """A job, its output directory and what to do with it: ``run``, ``resume``, ``skip``, ``refuse``."""

    job: Job
    out: Path
    action: str
    reason: str = ""


@dataclass
class SweepReport:
    """What a sweep did: job names by outcome, and its wall time."""

    skipped: list[str] = field(default_factory=list)
    completed: list[str] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)
    seconds: float = 0.0


def plan_jobs(jobs: Sequence[Job], out_dir: Path) -> list[JobPlan]:
    """Decide for every job whether it runs, resumes, is skipped or is refused.

    Raises
    ------
    ConfigError
        When a job's overrides do not compose into a valid config (a preset or
        an extra override is wrong): nothing has started then.

    """
    from sparsyfed.config import compose_config, load_config
    from sparsyfed.run.directory import Status, prepare_run_dir

    plans = []
    for job in jobs:
        out = (out_dir / job.name).absolute()
        try:
            cfg = load_config(compose_config([*job.overrides, f"output_dir={out}"]))
        except ConfigError as err:
            raise ConfigError(f"job {job.name}: {err}") from err
        except Exception as err:  # Hydra's composition errors, as one line
            reason = "; ".join(str(err).strip().splitlines())
            raise ConfigError(f"job {job.name}: {reason}") from err
        try:
            decision = prepare_run_dir(cfg)
        except ConfigError as err:
            plans.append(JobPlan(job, out, "refuse", str(err)))
            continue
        action = {Status.COMPLETE: "skip", Status.RESUME: "resume", Status.FRESH: "run"}
        plans.append(JobPlan(job, out, action[decision.status]))
    return plans


@dataclass
class _Running:
    plan: JobPlan
    process: subprocess.Popen
    started: float


def run_jobs(
    plans: Sequence[JobPlan],
    slots: int | None = None,
    python: str = sys.executable,
    echo: Callable[[str], None] = print,
) -> SweepReport:
    """Run the planned jobs ``slots`` at a time; report what happened.

    Parameters
    ----------
    plans : sequence of JobPlan
        From :func:`plan_jobs`; ``skip`` and ``refuse`` plans start nothing.
    slots : int, optional
        Jobs at once (default :func:`default_slots`). With one slot the jobs
        run one after another in this process (:func:`run_in_process`: the
        client workers' fork server and the imports are shared, as in a serial
        Hydra sweep); with more, each job is its own ``python -m sparsyfed``
        process and the CPUs are divided among the running jobs for their
        client workers (``SPARSYFED_JOB_CPUS``). Neither changes a result.
    python : str
        The interpreter that runs ``-m sparsyfed``.
    echo : callable
        Where the progress lines go.

    Returns
    -------
    SweepReport
        Skipped, completed and failed job names and the wall time.

    """
    report, start = SweepReport(), time.monotonic()
    for plan in plans:
        if plan.action == "skip":
            report.skipped.append(plan.job.name)
        elif plan.action == "refuse":
            report.failed.append(plan.job.name)
            echo(f"  {plan.job.name}: not run: {plan.reason}")
    todo = [p for p in plans if p.action in ("run", "resume")]
    slots = max(1, min(slots or default_slots(), len(todo) or 1))
    cpus = max(1, (os.cpu_count() or 1) // slots)
    env = os.environ | {
        JOB_CPUS_ENV: str(cpus),
        "FLWR_DISABLE_RUNTIME_DEPENDENCY_INSTALLATION": "1",
    }
    echo(
        f"{len(plans)} jobs: {len(report.skipped)} complete (skipped), "
        f"{sum(p.action == 'resume' for p in todo)} to resume, "
        f"{sum(p.action == 'run' for p in todo)} to run; {slots} at a time, {cpus} CPU(s) each"
    )
    if slots == 1:
        for done, plan in enumerate(todo, 1):
            ok = run_in_process(plan, report)
            elapsed = time.monotonic() - start
            eta = elapsed / done * (len(todo) - done)
            echo(f"  [{done}/{len(todo)}] {ok}  (elapsed {elapsed:.0f} s, ETA {eta:.0f} s)")
        report.seconds = time.monotonic() - start
        return report
    waiting, running, done = list(todo), [], 0
    try:
        while waiting or running:
            while waiting and len(running) < slots:
                running.append(_start(waiting.pop(0), python, env))
            time.sleep(POLL_SECONDS)
            for item in [r for r in running if r.process.poll() is not None]:
                running.remove(item)
                done += 1
                ok = _finish(item, report, echo)
                elapsed = time.monotonic() - start
                eta = elapsed / done * (len(todo) - done)
                echo(f"  [{done}/{len(todo)}] {ok}  (elapsed {elapsed:.0f} s, ETA {eta:.0f} s)")
    finally:  # Ctrl-C reached the jobs too (one process group): each stops at its checkpoint
        for item in running:
            try:
                item.process.wait(30)
            except subprocess.TimeoutExpired:
                item.process.kill()
    report.seconds = time.monotonic() - start
    return report


def default_slots(cpus: int | None = None) -> int:
    """Jobs at once: one per four CPUs, else one (a job's clients already use two workers).

    On 2 cores a sweep of the default task ran 0.68x as fast with two jobs at
    once as with one after another (``scripts/bench_sweep.py``): the jobs'
    servers and workers then compete for the same two cores.
    """
    return max(1, (cpus or os.cpu_count() or 1) // 4)


def run_in_process(plan: JobPlan, report: SweepReport) -> str:
    """Run one job in this process (its progress lines go to its ``console.log``)."""
    from sparsyfed.config import compose_config, load_config
    from sparsyfed.run.entry import run_one

    name, out = plan.job.name, plan.out
    out.mkdir(parents=True, exist_ok=True)
    started = time.monotonic()
    try:
        with _console_to(out / CONSOLE_FILE):
            cfg = load_config(compose_config([*plan.job.overrides, f"output_dir={out}"]))
            summary = run_one(cfg)
    except Exception as err:  # one failed job must not end the sweep
        (out / ERROR_FILE).write_text(traceback.format_exc())
        report.failed.append(name)
        reason = f"{type(err).__name__}: {err}".splitlines()[0][:200]
        return f"{name}: FAILED ({reason}); see {out / ERROR_FILE}"
    report.completed.append(name)
    seconds = time.monotonic() - started
    return f"{name}: final acc {summary.get('final_accuracy', float('nan')):.4f} in {seconds:.0f} s"


@contextlib.contextmanager
def _console_to(path: Path) -> Iterator[None]:
    """Send the project logger's lines to ``path`` (appended) instead of the console."""
    from sparsyfed.callbacks.console import get_logger

    logger = get_logger()
    saved = list(logger.handlers)
    with path.open("a") as fh:
        handler = logging.StreamHandler(fh)
        handler.setFormatter(logging.Formatter("%(message)s"))
        logger.handlers = [handler]
        try:
            yield
        finally:
            logger.handlers = saved


def _start(plan: JobPlan, python: str, env: dict[str, str]) -> _Running:
    plan.out.mkdir(parents=True, exist_ok=True)
    cmd = [python, "-m", "sparsyfed", *plan.job.overrides, f"output_dir={plan.out}"]
    with (plan.out / CONSOLE_FILE).open("ab") as log:
        process = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, env=env)
    return _Running(plan, process, time.monotonic())


def _finish(item: _Running, report: SweepReport, echo: Callable[[str], None]) -> str:
    name, out = item.plan.job.name, item.plan.out
    code, seconds = item.process.returncode, time.monotonic() - item.started
    summary = read_summary(out)
    if code == 0 and summary is not None:
        report.completed.append(name)
        return f"{name}: final acc {summary.get('final_accuracy', float('nan')):.4f} in {seconds:.0f} s"
    report.failed.append(name)
    console = out / CONSOLE_FILE
    tail = console.read_text(errors="replace").splitlines()[-ERROR_TAIL_LINES:]
    (out / ERROR_FILE).write_text("\n".join(tail) + "\n")
    return f"{name}: FAILED (exit code {code}) after {seconds:.0f} s; see {out / ERROR_FILE}"
