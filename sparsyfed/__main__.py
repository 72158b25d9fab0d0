"""``python -m sparsyfed [hydra overrides]``: compose, validate, decide, simulate (also ``-m`` sweeps)."""

from __future__ import annotations

import sys
import traceback
from pathlib import Path

import hydra
from hydra.core.hydra_config import HydraConfig
from hydra.types import RunMode
from omegaconf import DictConfig

from sparsyfed.config import ConfigError, check_group_choices, conf_dir, load_config, to_plain
from sparsyfed.core.task import Task
from sparsyfed.data import DatasetNotFoundError
from sparsyfed.run.directory import Status
from sparsyfed.run.files import ERROR_FILE
from sparsyfed.run.session import plan


@hydra.main(config_path=str(conf_dir()), config_name="config", version_base=None)
def _run(cfg: DictConfig) -> float:
    plain = to_plain(cfg)
    if not plain.get("output_dir"):
        plain["output_dir"] = HydraConfig.get().runtime.output_dir
    try:
        run_cfg = load_config(plain)
        decision = plan(run_cfg)
        if decision.status is Status.COMPLETE:
            return float((decision.summary or {}).get("final_accuracy", float("nan")))
        # Load (and cache) the dataset once here, before any worker starts: a missing
        # or corrupt dataset is one clear message, not a trace from inside a worker.
        Task(run_cfg).dataset  # noqa: B018
    except (ConfigError, DatasetNotFoundError) as err:
        print(f"error: {err}", file=sys.stderr)
        sys.exit(2)
    except ValueError as err:
        print(f"error: dataset {plain['dataset']['name']!r}: {err}", file=sys.stderr)
        sys.exit(2)
    from sparsyfed.flower.simulation import simulate

    try:
        summary = simulate(run_cfg, decision)
    except Exception:
        if HydraConfig.get().mode != RunMode.MULTIRUN:
            raise
        # One failed job must not end a long sweep: record it and go on (the same
        # sweep command again resumes it from its last checkpoint).
        trace = traceback.format_exc()
        out = Path(str(run_cfg.output_dir))
        out.mkdir(parents=True, exist_ok=True)
        (out / ERROR_FILE).write_text(trace)
        print(f"error: job failed, sweep continues; see {out / ERROR_FILE}", file=sys.stderr)
        return float("nan")
    return float(summary["final_accuracy"])


def main() -> None:
    """Console entry point."""
    try:
        check_group_choices([a for a in sys.argv[1:] if not a.startswith("-")])
    except ConfigError as err:
        print(f"error: {err}", file=sys.stderr)
        sys.exit(2)
    _run()


if __name__ == "__main__":
    main()
