"""``python -m sparsyfed [hydra overrides]``: compose, validate, simulate (also ``-m`` sweeps)."""

from __future__ import annotations

import sys

import hydra
from hydra.core.hydra_config import HydraConfig
from omegaconf import DictConfig

from sparsyfed.config import ConfigError, check_group_choices, conf_dir, to_plain, validate
from sparsyfed.simulation import simulate


@hydra.main(config_path=str(conf_dir()), config_name="config", version_base=None)
def _run(cfg: DictConfig) -> float:
    plain = to_plain(cfg)
    if not plain.get("output_dir"):
        plain["output_dir"] = HydraConfig.get().runtime.output_dir
    try:
        validate(plain)
    except ConfigError as err:
        print(f"error: {err}", file=sys.stderr)
        sys.exit(2)
    summary = simulate(plain)
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
