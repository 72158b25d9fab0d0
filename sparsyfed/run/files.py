"""The files of a run directory, and reading back the per-round records."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

CONFIG_FILE = "config.yaml"
METRICS_FILE = "metrics.jsonl"
SUMMARY_FILE = "summary.json"
PARTITION_FILE = "partitions.json"
CHECKPOINT_FILE = "checkpoint.sfa"
MODEL_FILE = "model.sfa"
ERROR_FILE = "error.txt"
ENVIRONMENT_FILE = "environment.json"
"""Package versions, git commit and machine of every session of the run."""
CONSOLE_FILE = "console.log"
"""A parallel sweep job's console output (:mod:`sparsyfed.run.launcher`; not a run file)."""

RUN_FILES = (
    CONFIG_FILE,
    METRICS_FILE,
    SUMMARY_FILE,
    PARTITION_FILE,
    CHECKPOINT_FILE,
    MODEL_FILE,
    ERROR_FILE,
    ENVIRONMENT_FILE,
)
"""Every file a run writes (``overwrite=true`` removes exactly these)."""


def read_rows(run_dir: str | Path, limit: int | None = None) -> list[dict[str, Any]]:
    """The per-round records of a run (round 0 first), at most ``limit`` of them."""
    rows = []
    path = Path(run_dir) / METRICS_FILE
    if not path.is_file():
        return rows
    with path.open() as fh:
        for line in fh:
            if limit is not None and len(rows) >= limit:
                break
            if line.endswith("\n"):  # a torn last line (killed mid-write) is not a record
                rows.append(json.loads(line))
    return rows


def truncate_rows(run_dir: str | Path, keep: int) -> None:
    """Keep the first ``keep`` complete lines of ``metrics.jsonl`` (the rest is redone)."""
    path = Path(run_dir) / METRICS_FILE
    data = path.read_bytes() if path.is_file() else b""
    end = 0
    for _ in range(keep):
        nl = data.find(b"\n", end)
        if nl < 0:
            raise ValueError(f"{path} has fewer than {keep} records")
        end = nl + 1
    if end != len(data):
        with path.open("r+b") as fh:
            fh.truncate(end)


def read_summary(run_dir: str | Path) -> dict[str, Any] | None:
    """The run's summary, or None if the run has not completed."""
    path = Path(run_dir) / SUMMARY_FILE
    if not path.is_file():
        return None
    return json.loads(path.read_text())
