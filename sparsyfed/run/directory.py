"""What running into an output directory means: start, resume, skip, or refuse.

The same command after a kill continues from the last checkpoint; the same
command after the run completed reports that and changes nothing (so a
re-launched sweep skips finished jobs); another config into a directory that
holds a run is refused with one line naming the differing keys, unless
``overwrite=true`` is given. Nothing a user ran is ever lost silently.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import Enum
from pathlib import Path
from typing import Any

import yaml

from sparsyfed.config.schema import OPERATIONAL_KEYS, RunConfig
from sparsyfed.core.run import ResumePoint
from sparsyfed.run.archive import ArchiveError
from sparsyfed.run.checkpoint import load_checkpoint
from sparsyfed.run.files import (
    CHECKPOINT_FILE,
    CONFIG_FILE,
    RUN_FILES,
    read_rows,
    read_summary,
)
from sparsyfed.validation import ConfigError


class Status(Enum):
    """What to do with a run directory."""

    FRESH = "fresh"
    RESUME = "resume"
    COMPLETE = "complete"


@dataclass(frozen=True)
class Decision:
    """The outcome of :func:`prepare_run_dir`."""

    status: Status
    resume: ResumePoint | None = None
    summary: dict[str, Any] | None = None


def _flatten(tree: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    flat: dict[str, Any] = {}
    for key, value in tree.items():
        if isinstance(value, Mapping) and value:
            flat |= _flatten(value, f"{prefix}{key}.")
        else:
            flat[f"{prefix}{key}"] = value
    return flat


def _operational(key: str) -> bool:
    return any(key == k or key.startswith(f"{k}.") for k in OPERATIONAL_KEYS)


def config_differences(stored: Mapping[str, Any], new: Mapping[str, Any]) -> list[str]:
    """``key: old -> new`` for every key that changes what a run computes."""
    a, b = _flatten(stored), _flatten(new)
    missing = object()
    diffs = []
    for key in sorted(set(a) | set(b)):
        if _operational(key):
            continue
        old, value = a.get(key, missing), b.get(key, missing)
        if old != value:
            show = ["(none)" if v is missing else repr(v) for v in (old, value)]
            diffs.append(f"{key}: {show[0]} -> {show[1]}")
    return diffs


def prepare_run_dir(cfg: RunConfig) -> Decision:
    """Decide how to run ``cfg`` into ``cfg.output_dir`` (before any work starts).

    Raises
    ------
    ConfigError
        When the directory holds a run of another config (and ``overwrite``
        is false), or its checkpoint cannot be read.

    """
    path = Path(str(cfg.output_dir))
    stored_path = path / CONFIG_FILE
    if not stored_path.is_file():
        return Decision(Status.FRESH)
    if cfg.overwrite:
        for name in RUN_FILES:
            (path / name).unlink(missing_ok=True)
        return Decision(Status.FRESH)
    stored = yaml.safe_load(stored_path.read_text()) or {}
    diffs = config_differences(stored, cfg.to_dict())
    if diffs:
        shown = "; ".join(diffs[:6]) + ("; ..." if len(diffs) > 6 else "")
        raise ConfigError(
            f"output_dir={str(path)!r} holds a run with another config ({shown}); "
            "pass overwrite=true to replace it, or choose another output_dir"
        )
    summary = read_summary(path)
    if summary is not None:
        return Decision(Status.COMPLETE, summary=summary)
    checkpoint = path / CHECKPOINT_FILE
    if not checkpoint.is_file():
        return Decision(Status.FRESH)  # a run killed before its first checkpoint: start over
    try:
        state = load_checkpoint(checkpoint)
    except ArchiveError as err:
        raise ConfigError(f"{err}; remove {checkpoint} to restart the run from round 0") from err
    history = read_rows(path, limit=state.round + 1)
    if len(history) != state.round + 1:
        raise ConfigError(
            f"{path / 'metrics.jsonl'} has {len(history)} records but the checkpoint is "
            f"after round {state.round}; remove {checkpoint} to restart the run"
        )
    return Decision(Status.RESUME, resume=ResumePoint(state, history))
