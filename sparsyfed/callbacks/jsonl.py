"""The run's files: resolved config, partitions, one JSON line per round, the summary."""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml

from sparsyfed.callbacks.base import Callback, RunInfo
from sparsyfed.run.archive import write_atomic, write_atomic_chunks
from sparsyfed.run.environment import record_session
from sparsyfed.run.files import (
    CONFIG_FILE,
    ENVIRONMENT_FILE,
    ERROR_FILE,
    METRICS_FILE,
    PARTITION_FILE,
    SUMMARY_FILE,
    truncate_rows,
)

if TYPE_CHECKING:
    from sparsyfed.core.run import FederatedRun


class MetricsWriter(Callback):
    """Writes ``config.yaml``, ``partitions.json``, ``environment.json``, ``metrics.jsonl``, ``summary.json``.

    Every round's line is flushed and synced before the next callback runs,
    so a checkpoint never refers to a record that is not on disk. On resume
    the records after the checkpoint's round are cut off and written again.
    ``summary.json`` is written last: it marks the run as complete.
    """

    def __init__(self, output_dir: str | Path) -> None:
        self.output_dir = Path(output_dir)
        self._metrics: Any = None

    def on_run_start(self, info: RunInfo) -> None:
        """Start (or continue) the files of the run directory."""
        out = self.output_dir
        out.mkdir(parents=True, exist_ok=True)
        (out / ERROR_FILE).unlink(missing_ok=True)
        if info.resumed:
            truncate_rows(out, len(info.history))
        else:
            config = yaml.safe_dump(info.cfg.to_dict(), sort_keys=False)
            write_atomic(out / CONFIG_FILE, config.encode())
            # Streamed: with 10,000 clients the text is megabytes (and json.dumps
            # holds several times that while joining its pieces).
            report = json.JSONEncoder(indent=1).iterencode(info.task.partition_report())
            write_atomic_chunks(out / PARTITION_FILE, (piece.encode() for piece in report))
            (out / METRICS_FILE).write_bytes(b"")
        record_session(out / ENVIRONMENT_FILE, info.start_round if info.resumed else None)
        self._metrics = (out / METRICS_FILE).open("a")

    def on_round_end(self, row: Mapping[str, Any], run: FederatedRun) -> None:
        """Append the round's record and make it durable."""
        self._metrics.write(json.dumps(row) + "\n")
        self._metrics.flush()
        os.fsync(self._metrics.fileno())

    def on_run_end(self, summary: Mapping[str, Any], run: FederatedRun) -> None:
        """Write ``summary.json`` (the completion marker)."""
        self._metrics.close()
        write_atomic(self.output_dir / SUMMARY_FILE, json.dumps(dict(summary), indent=1).encode())
