"""The command line of ``python -m sparsyfed [hydra overrides]``: compose, validate, decide, simulate.

Also ``-m`` sweeps. :mod:`sparsyfed.__main__` calls :func:`main` (after starting the client
workers' imports, before this module's own).
"""

from __future__ import annotations

import sys
import traceback
from pathlib import Path

import hydra
from hydra.core.hydra_config import HydraConfig
from hydra.types import RunMode
from omegaconf import DictConfig

from sparsyfed.config import (
    ConfigError,
    conf_dir,
    load_config,
    to_plain,
)
from sparsyfed.config.schema import RunConfig
from sparsyfed.core.run import RoundIncomplete
from sparsyfed.data import DatasetNotFoundError
from sparsyfed.flower.ray_cluster import RayResourcesError
from sparsyfed.run.directory import Status
from sparsyfed.run.entry import prepare_one
from sparsyfed.run.files import ERROR_FILE
from sparsyfed.run.launcher import register as register_launcher
from sparsyfed.run.preflight import check_overrides

EXIT_INCOMPLETE = 3
"""Exit code of a run stopped by too few usable client updates (``simulation.min_completion``)."""


@hydra.main(config_path=str(conf_dir()), config_name="config", version_base=None)
def _run(cfg: DictConfig) -> float:
    hydra_dir = Path(HydraConfig.get().runtime.output_dir)
    try:
        return _run_job(cfg)
    finally:
        # Hydra creates its run directory before the job starts; a run that was refused,
        # or that wrote to another output_dir, leaves no empty directory behind.
        if HydraConfig.get().mode == RunMode.RUN:
            _remove_empty_dirs(hydra_dir, stop=Path.cwd())


def _remove_empty_dirs(path: Path, stop: Path) -> None:
    """Remove ``path`` and its parents below ``stop`` while they are empty directories."""
    path, stop = path.absolute(), stop.absolute()
    while path != stop and stop in path.parents and path.is_dir() and not any(path.iterdir()):
        path.rmdir()
        path = path.parent


def _run_job(cfg: DictConfig) -> float:
    plain = to_plain(cfg)
    if not plain.get("output_dir"):
        plain["output_dir"] = HydraConfig.get().runtime.output_dir
    try:
        run_cfg = load_config(plain)
        decision = prepare_one(run_cfg)
    except (ConfigError, DatasetNotFoundError) as err:
        print(f"error: {err}", file=sys.stderr)
        sys.exit(2)
    except ValueError as err:
        print(f"error: dataset {plain['dataset']['name']!r}: {err}", file=sys.stderr)
        sys.exit(2)
    if decision.status is Status.COMPLETE:
        return float((decision.summary or {}).get("final_accuracy", float("nan")))
    from sparsyfed.flower.simulation import simulate

    try:
        summary = simulate(run_cfg, decision)
    except RoundIncomplete as err:
        if HydraConfig.get().mode != RunMode.MULTIRUN:
            print(f"error: {err}", file=sys.stderr)
            sys.exit(EXIT_INCOMPLETE)
        _record_failed_job(run_cfg)
        return float("nan")
    except RayResourcesError as err:
        print(f"error: {err}", file=sys.stderr)
        sys.exit(2)
    except Exception:
        if HydraConfig.get().mode != RunMode.MULTIRUN:
            raise
        _record_failed_job(run_cfg)
        return float("nan")
    return float(summary["final_accuracy"])


def _record_failed_job(run_cfg: RunConfig) -> None:
    """One failed job must not end a long sweep: record it and go on.

    The same sweep command again resumes it from its last checkpoint.
    """
    trace = traceback.format_exc()
    out = Path(str(run_cfg.output_dir))
    out.mkdir(parents=True, exist_ok=True)
    (out / ERROR_FILE).write_text(trace)
    print(f"error: job failed, sweep continues; see {out / ERROR_FILE}", file=sys.stderr)


def main() -> None:
    """Parse the command line and run (Hydra ends the process with ``SystemExit``)."""
    try:
        # Before Hydra creates its own run directory.
        check_overrides([a for a in sys.argv[1:] if not a.startswith("-")])
    except ConfigError as err:
        print(f"error: {err}", file=sys.stderr)
        sys.exit(2)
    register_launcher()  # hydra/launcher=parallel
    _run()
