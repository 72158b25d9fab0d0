"""Helpers shared by the end-to-end tests."""

from __future__ import annotations

import json

from sparsyfed.config import compose_config, validate

# A run small enough for seconds: 1,500 MNIST-1D samples, 8 clients, a 4-layer CNN of width 16.
TINY = [
    "dataset.num_samples=1500",
    "num_clients=8",
    "clients_per_round=3",
    "model.width=16",
    "model.depth=4",
    "partition.alpha=0.5",
]


def make_cfg(tmp_path, data_dir, *overrides: str, base: list[str] = TINY) -> dict:
    """Compose and validate a run config writing to ``tmp_path / 'run'``."""
    cfg = compose_config([*base, f"data_dir={data_dir}", *overrides])
    cfg["output_dir"] = str(tmp_path / "run")
    validate(cfg)
    return cfg


def read_rows(cfg: dict) -> list[dict]:
    """The per-round metrics a run wrote (round 0 first)."""
    with open(f"{cfg['output_dir']}/metrics.jsonl") as fh:
        return [json.loads(line) for line in fh]
