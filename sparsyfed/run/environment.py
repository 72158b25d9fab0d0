"""What a run was computed with: package versions, the git commit, the machine (``environment.json``).

Written when a run starts and extended when it resumes (one entry per
session), so a run resumed after an upgrade says so. Nothing here changes
what a run computes; it only records it.
"""

from __future__ import annotations

import datetime
import json
import os
import platform
import subprocess
import sys
from importlib import metadata
from pathlib import Path
from typing import Any

from sparsyfed.run.archive import write_atomic

PACKAGES = (
    "sparsyfed", "flwr", "torch", "torchvision", "torchaudio", "hydra-core", "numpy", "wandb",
    "ray",
)  # fmt: skip
"""Distributions whose versions every session records (``null`` when not installed)."""

GIT_TIMEOUT_SECONDS = 5.0


def package_versions(names: tuple[str, ...] = PACKAGES) -> dict[str, str | None]:
    """The installed version of each distribution in ``names`` (None if absent)."""
    versions: dict[str, str | None] = {}
    for name in names:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = None
    return versions


def git_state(source: Path | None = None) -> dict[str, Any] | None:
    """The commit of the checkout the code runs from and whether it has local changes.

    None when the code does not run from a git checkout (an installed wheel)
    or git is not available. ``dirty`` counts tracked files only.
    """
    source = source or Path(__file__).resolve().parents[2]

    def git(*args: str) -> str:
        return subprocess.run(
            ["git", "-C", str(source), *args],
            capture_output=True,
            text=True,
            check=True,
            timeout=GIT_TIMEOUT_SECONDS,
        ).stdout.strip()

    try:
        top = Path(git("rev-parse", "--show-toplevel")).resolve()
        if not (top / "sparsyfed").is_dir():  # inside some other repository
            return None
        return {
            "commit": git("rev-parse", "HEAD"),
            "dirty": bool(git("status", "--porcelain", "-uno")),
        }
    except (OSError, subprocess.SubprocessError):
        return None


def session_entry(resumed_after_round: int | None) -> dict[str, Any]:
    """One session of a run: when, on what, with which packages and code."""
    return {
        "started_utc": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
        "resumed_after_round": resumed_after_round,
        "python": platform.python_version(),
        "platform": platform.platform(),
        "machine": platform.machine(),
        "cpus": os.cpu_count(),
        "argv": sys.argv,
        "packages": package_versions(),
        "git": git_state(),
    }


def record_session(path: Path, resumed_after_round: int | None) -> dict[str, Any]:
    """Write a new ``environment.json`` at ``path`` or append this session to it.

    Parameters
    ----------
    path : Path
        The run's ``environment.json``.
    resumed_after_round : int or None
        The checkpoint's round when the run resumes; None for a fresh start
        (which replaces any earlier record).

    Returns
    -------
    dict
        The whole record, ``{"sessions": [...]}``.

    """
    sessions: list[dict[str, Any]] = []
    if resumed_after_round is not None and path.is_file():
        try:
            sessions = list(json.loads(path.read_text()).get("sessions", []))
        except (json.JSONDecodeError, AttributeError):
            sessions = []
    record = {"sessions": [*sessions, session_entry(resumed_after_round)]}
    write_atomic(path, (json.dumps(record, indent=1) + "\n").encode())
    return record
