"""The report of a directory of runs: mean ± std over seeds, incomplete runs left out."""

from __future__ import annotations

import json

import pandas as pd
import yaml

from sparsyfed.reproduce.report import write_report


def _run(root, name, method, sparsity, seed, accuracy, complete=True):
    run = root / name
    run.mkdir(parents=True)
    cfg = {"seed": seed, "rounds": 2, "sparsity": sparsity, "beta": 1.25, "prox_mu": 0.0,
           "partition": {"scheme": "lda", "alpha": 0.1}, "dataset": {"name": "mnist1d"},
           "model": {"name": "uniform_cnn"}, "method": {"name": method}}  # fmt: skip
    (run / "config.yaml").write_text(yaml.safe_dump(cfg))
    rows = [{"round": r, "accuracy": accuracy} for r in range(3)]
    (run / "metrics.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    if complete:
        summary = {"method": method, "beta": 1.25, "sparsity_target": sparsity,
                   "final_accuracy": accuracy, "layer": {"a": 1}}  # fmt: skip
        (run / "summary.json").write_text(json.dumps(summary))


def test_report_shows_mean_and_sample_std_over_seeds_and_counts_incomplete_runs(tmp_path):
    for seed, acc in enumerate([0.70, 0.80, 0.90]):
        _run(tmp_path, f"a/sparsyfed_seed{seed}", "sparsyfed", 0.95, seed, acc)
    _run(tmp_path, "b/topk_seed0", "topk", 0.95, 0, 0.25)
    _run(tmp_path, "b/topk_seed1", "topk", 0.95, 1, 0.99, complete=False)
    report = write_report(tmp_path, "T")
    text = report.index.read_text()
    assert "| mnist1d | sparsyfed | 0.95 | 0.1 | 2 | 3 | 80.00 ± 10.00 |" in text
    assert "| mnist1d | topk | 0.95 | 0.1 | 2 | 1 | 25.00 |" in text
    assert report.runs == 4 and report.incomplete == 1 and "1 incomplete" in text
    runs = pd.read_csv(tmp_path / "tables" / "runs.csv")
    assert sorted(runs["final_accuracy"]) == [0.25, 0.70, 0.80, 0.90]
    assert "layer" not in runs.columns  # non-scalar summary values stay out of the CSV
