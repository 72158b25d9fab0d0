"""``python -m sparsyfed [hydra overrides]``: compose, validate, simulate (also ``-m`` sweeps)."""

from __future__ import annotations

import sys
import traceback
from pathlib import Path

import hydra
from hydra.core.hydra_config import HydraConfig
from hydra.types import RunMode
from omegaconf import DictConfig

from sparsyfed.config import ConfigError, check_group_choices, conf_dir, to_plain, validate
from sparsyfed.core.task import Task
from sparsyfed.data import DatasetNotFoundError
from sparsyfed.flower.simulation import simulate


@hydra.main(config_path=str(conf_dir()), config_name="config", version_base=None)
def _run(cfg: DictConfig) -> float:
    plain = to_plain(cfg)
    if not plain.get("output_dir"):
        plain["output_dir"] = HydraConfig.get().runtime.output_dir
    try:
        validate(plain)
        # Load (and cache) the dataset once here, before any worker starts: a missing
        # or corrupt dataset is one clear message, not a trace from inside a worker.
        Task(plain).dataset  # noqa: B018
    except (ConfigError, DatasetNotFoundError) as err:
        print(f"error: {err}", file=sys.stderr)
        sys.exit(2)
    except ValueError as err:
        print(f"error: dataset {plain['dataset']['name']!r}: {err}", file=sys.stderr)
        sys.exit(2)
    try:
        summary = simulate(plain)
    except Exception:
        if HydraConfig.get().mode != RunMode.MULTIRUN:
            raise
        # One failed job must not end a long sweep: record it and go on.
        trace = traceback.format_exc()
        Path(plain["output_dir"]).mkdir(parents=True, exist_ok=True)
        (Path(plain["output_dir"]) / "error.txt").write_text(trace)
        print(
            f"error: job failed, sweep continues; see {plain['output_dir']}/error.txt",
            file=sys.stderr,
        )
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
