"""``environment.json``: package versions, git commit, one entry per session of a run."""

from __future__ import annotations

import json
import subprocess
from importlib import metadata
from pathlib import Path

import sparsyfed
from sparsyfed.run.environment import git_state, package_versions, record_session


def test_package_versions_are_the_installed_ones_and_none_for_absent():
    versions = package_versions(("torch", "numpy", "surely-not-installed-xyz"))
    assert versions["torch"] == metadata.version("torch")
    assert versions["numpy"] == metadata.version("numpy")
    assert versions["surely-not-installed-xyz"] is None


def test_git_state_names_the_checkouts_head(tmp_path):
    state = git_state()
    if state is None:  # an installed copy, not a checkout
        return
    checkout = Path(sparsyfed.__file__).resolve().parents[1]
    head = subprocess.run(
        ["git", "rev-parse", "HEAD"], capture_output=True, text=True, check=True, cwd=checkout
    ).stdout.strip()
    assert state["commit"] == head and isinstance(state["dirty"], bool)
    assert git_state(tmp_path) is None  # not a repository


def test_a_fresh_start_replaces_the_record_and_a_resume_appends(tmp_path):
    path = tmp_path / "environment.json"
    path.write_text(json.dumps({"sessions": [{"stale": True}]}))
    first = record_session(path, None)
    assert len(first["sessions"]) == 1 and first["sessions"][0]["resumed_after_round"] is None
    second = record_session(path, 3)
    assert [s["resumed_after_round"] for s in second["sessions"]] == [None, 3]
    assert json.loads(path.read_text()) == second
    assert second["sessions"][1]["packages"]["torch"] == metadata.version("torch")
