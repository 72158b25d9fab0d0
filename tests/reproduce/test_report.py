"""The report of a directory of runs: mean ± std over seeds, incomplete runs left out."""

from __future__ import annotations

import pandas as pd
from result_files import make_run

from sparsyfed.reproduce.report import write_report


def test_report_shows_mean_and_sample_std_over_seeds_and_counts_incomplete_runs(tmp_path):
    for seed, acc in enumerate([0.70, 0.80, 0.90]):
        make_run(tmp_path, f"a/sparsyfed_seed{seed}", "sparsyfed", 0.95, seed, acc)
    make_run(tmp_path, "b/topk_seed0", "topk", 0.95, 0, 0.25)
    make_run(tmp_path, "b/topk_seed1", "topk", 0.95, 1, 0.99, complete=False)
    report = write_report(tmp_path, "T")
    text = report.index.read_text()
    assert "| mnist1d | sparsyfed | 0.95 | 0.1 | 2 | 3 | 80.00 ± 10.00 |" in text
    assert "| mnist1d | topk | 0.95 | 0.1 | 2 | 1 | 25.00 |" in text
    assert report.runs == 4 and report.incomplete == 1 and "1 incomplete" in text
    runs = pd.read_csv(tmp_path / "tables" / "runs.csv")
    assert sorted(runs["final_accuracy"]) == [0.25, 0.70, 0.80, 0.90]
    assert "layer" not in runs.columns  # non-scalar summary values stay out of the CSV
    assert "output_dir" not in runs.columns  # a path of this machine: the run column says it
