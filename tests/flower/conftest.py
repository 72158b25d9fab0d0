"""Fixtures of the real-run tests."""

from __future__ import annotations

from pathlib import Path

import pytest
from real_runs import make_reference


@pytest.fixture(scope="module")
def reference(tmp_path_factory) -> tuple[Path, Path]:
    """One uninterrupted in-process run (and the data directory it generated)."""
    return make_reference(tmp_path_factory)
