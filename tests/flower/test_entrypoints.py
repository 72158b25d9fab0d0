"""Both entry points run real Flower simulations (Ray) and give the same result."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "scripts"))
from compare_entrypoints import compare

TINY = [
    "dataset.num_samples=1500",
    "num_clients=6",
    "clients_per_round=3",
    "rounds=2",
    "model.width=16",
    "model.depth=4",
]


@pytest.mark.slow
def test_python_m_and_flwr_run_give_identical_rounds(tmp_path):
    overrides = [*TINY, f"data_dir={tmp_path / 'data'}"]
    a, b = compare(overrides, tmp_path)
    assert [r["round"] for r in a] == [0, 1, 2]
    assert [(r["accuracy"], r["loss"]) for r in a] == [(r["accuracy"], r["loss"]) for r in b]
    assert [r.get("uplink_bytes") for r in a] == [r.get("uplink_bytes") for r in b]
    summary = json.loads((tmp_path / "python-m" / "summary.json").read_text())
    assert summary["rounds"] == 2 and summary["method"] == "sparsyfed"
    for name in ("config.yaml", "metrics.jsonl", "summary.json", "partitions.json"):
        assert (tmp_path / "flwr-run" / name).is_file()
