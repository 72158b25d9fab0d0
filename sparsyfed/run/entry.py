"""One validated run config, checked and run: what ``python -m sparsyfed`` does for each job.

Shared by the Hydra entry point (one job, or each job of a serial sweep)
and the reproduction runner's in-process mode
(:mod:`sparsyfed.reproduce.runner`), so that both check, decide and run a
config the same way.
"""

from __future__ import annotations

from typing import Any

from sparsyfed.config.schema import RunConfig
from sparsyfed.run.directory import Decision, Status


def prepare_one(cfg: RunConfig) -> Decision:
    """Check ``cfg`` and decide about its directory, before any work starts.

    Unless the run is complete, the client workers start importing and the
    dataset is loaded (and cached) here, so that a missing or corrupt dataset,
    too many clients or a model that cannot take the data is one clear message,
    not a trace from inside a worker.

    Raises
    ------
    ConfigError, DatasetNotFoundError, ValueError
        A bad config, a directory holding another run, a missing or unusable
        dataset.

    """
    from sparsyfed.core.task import Task
    from sparsyfed.flower.ray_cluster import check_cluster
    from sparsyfed.flower.simulation import prepare_workers
    from sparsyfed.run.preflight import check_device, check_output_dir, check_task
    from sparsyfed.run.session import plan

    check_output_dir(cfg)
    check_device(cfg)
    check_cluster(cfg)
    decision = plan(cfg)
    if decision.status is not Status.COMPLETE:
        prepare_workers(cfg)  # their imports overlap the checks and the set-up below
        check_task(Task(cfg))
    return decision


def run_one(cfg: RunConfig) -> dict[str, Any]:
    """:func:`prepare_one`, then run (or resume) ``cfg``; return its summary.

    A run that is already complete is not run again: its summary is returned.
    """
    decision = prepare_one(cfg)
    if decision.status is Status.COMPLETE:
        return dict(decision.summary or {})
    from sparsyfed.flower.simulation import simulate

    return simulate(cfg, decision)
