"""The report's tables on hand-made result files: mean ± std over seeds, paper values, ratios."""

from __future__ import annotations

import json

import pandas as pd
import pytest
from result_files import make_run

from sparsyfed.results.paper import ALPHAS, DATASETS, LEVELS, METHODS, paper_value, table1
from sparsyfed.results.store import load_rounds, load_summaries
from sparsyfed.results.tables import (
    ablation_table,
    accuracy_table,
    communication_table,
    compute_table,
    mask_dynamics_table,
    mean_std,
    pruning_table,
    report_tables,
    write_tables,
)


def test_mean_std_is_the_sample_standard_deviation():
    assert mean_std([1.0, 2.0, 3.0]) == "2.00 ± 1.00"
    assert mean_std([0.5]) == "0.50"
    assert mean_std([]) == "-"
    assert mean_std([1.0, float("nan"), 3.0], 1) == "2.0 ± 1.4"


def test_paper_table_has_every_cell_of_table1_and_its_dense_rows():
    cells = table1()
    for dataset in DATASETS:
        for alpha in ALPHAS:
            assert (dataset, "fedavg", 0.0, alpha) in cells
            for method in METHODS:
                for level in LEVELS:
                    assert (dataset, method, level, alpha) in cells
    assert len(cells) == len(DATASETS) * len(ALPHAS) * (len(METHODS) * len(LEVELS) + 1)
    assert paper_value("cifar10", "sparsyfed", 0.99, 0.1) == (63.69, 3.90)
    assert paper_value("speech_commands", "zerofl", 0.999, 1.0) == (10.10, 4.01)
    assert paper_value("mnist1d", "sparsyfed", 0.99, 0.1) is None


@pytest.fixture
def runs(tmp_path):
    for seed, acc in enumerate([0.6, 0.7, 0.8]):
        make_run(tmp_path, f"t/sf_c{seed}", "sparsyfed", 0.99, seed, acc, dataset="cifar10",
                 flops=40.0 + 10 * seed)  # fmt: skip
    make_run(tmp_path, "t/topk_c0", "topk", 0.99, 0, 0.25, dataset="cifar10", alpha=1.0)
    make_run(tmp_path, "t/dense_c0", "fedavg", 0.0, 0, 0.74, dataset="cifar10", beta=1.0,
             bytes_up=10000, bytes_down=10000, flops=100.0)  # fmt: skip
    make_run(tmp_path, "t/sf_m0", "sparsyfed", 0.9, 0, 0.5)
    make_run(tmp_path, "a/na_m0", "sparsyfed_na", 0.9, 0, 0.4)
    make_run(tmp_path, "a/b1_m0", "sparsyfed", 0.9, 0, 0.3, beta=1.0)
    make_run(tmp_path, "t/sf_m_unfinished", "sparsyfed", 0.9, 1, 0.99, complete=False)
    return load_summaries(tmp_path), load_rounds(tmp_path, complete_only=True), tmp_path


def _cell(table, column, **row):
    frame = table.frame
    for key, value in row.items():
        frame = frame[frame[key] == value]
    assert len(frame) == 1, (row, table.frame)
    return frame[column].iloc[0]


def test_accuracy_table_has_table1_layout_with_the_paper_value_beside_ours(runs):
    summaries, _, _ = runs
    table = accuracy_table(summaries)
    assert list(table.frame.columns) == [
        "dataset",
        "S",
        "topk α=1",
        "fedavg α=0.1",
        "sparsyfed α=0.1",
    ]  # fmt: skip (no dense run at α = 1, so no column for it)
    assert (
        _cell(table, "sparsyfed α=0.1", dataset="cifar10", S="0.99")
        == "70.00 ± 10.00 (paper: 63.69 ± 3.90)"
    )
    assert _cell(table, "topk α=1", dataset="cifar10", S="0.99") == "25.00 (paper: 66.27 ± 5.08)"
    assert _cell(table, "fedavg α=0.1", dataset="cifar10", S="dense").startswith(
        "74.00 (paper: 73.81"
    )
    assert _cell(table, "sparsyfed α=0.1", dataset="mnist1d", S="0.9") == "50.00"  # no paper cell
    assert _cell(table, "topk α=1", dataset="mnist1d", S="0.9") == "-"


def test_communication_and_compute_tables_are_ratios_of_counted_totals(runs):
    summaries, rounds, _ = runs
    comm = communication_table(summaries, rounds)
    # 2 rounds of 1000 B up and 4000 B down; dense 2 x 10000 B per round; bounds half of it
    sparse = {"dataset": "cifar10", "method": "sparsyfed", "S": "0.99"}
    assert _cell(comm, "MB up", **sparse) == "0.002 ± 0.000"
    assert _cell(comm, "MB down", **sparse) == "0.008 ± 0.000"
    assert _cell(comm, "dense ×", **sparse) == "4.0 ± 0.0"
    assert _cell(comm, "× bound", **sparse) == "2.00 ± 0.00"
    assert _cell(comm, "dense ×", dataset="cifar10", method="fedavg") == "1.0"
    compute = compute_table(summaries, rounds)
    assert _cell(compute, "training FLOPs / dense", **sparse) == "0.500 ± 0.100"
    assert _cell(compute, "training FLOPs / dense", method="fedavg") == "1.000"


def test_ablation_table_compares_sparsyfed_with_its_variants_where_they_ran(runs):
    summaries, _, _ = runs
    table = ablation_table(summaries)
    assert list(table.frame.columns) == ["dataset", "S", "α", "sparsyfed", "sparsyfed_na",
                                         "sparsyfed (β=1)"]  # fmt: skip
    assert len(table.frame) == 1  # cifar10 at 0.99 has no ablation run
    row = table.frame.iloc[0]
    assert (row["sparsyfed"], row["sparsyfed_na"], row["sparsyfed (β=1)"]) == (
        "50.00", "40.00", "30.00",
    )  # fmt: skip


def test_written_tables_are_markdown_and_csv_of_the_same_cells(runs):
    summaries, rounds, tmp_path = runs
    tables = report_tables(summaries, rounds)
    assert [t.name for t in tables] == [
        "table1_accuracy", "communication", "compute", "mask_dynamics", "ablation",
    ]  # fmt: skip
    paths = write_tables(tables, tmp_path / "out")
    assert sorted(p.name for p in paths) == sorted(
        f"{t.name}.{ext}" for t in tables for ext in ("md", "csv")
    )
    for table in tables:
        back = pd.read_csv(tmp_path / "out" / f"{table.name}.csv", dtype=str, keep_default_na=False)
        assert back.equals(table.frame.astype(str))
        markdown = (tmp_path / "out" / f"{table.name}.md").read_text()
        assert all(f"| {v} |" in markdown or f" {v} |" in markdown for v in table.frame.iloc[0])


def test_tables_without_wire_or_flop_counts_are_left_out(tmp_path):
    run = make_run(tmp_path, "r", "topk", 0.9, 0, 0.5)
    (run / "summary.json").write_text('{"method": "topk", "final_accuracy": 0.5}')
    (run / "metrics.jsonl").write_text('{"round": 0, "accuracy": 0.5}\n')
    tables = report_tables(load_summaries(tmp_path), load_rounds(tmp_path))
    assert [t.name for t in tables] == ["table1_accuracy"]


def test_runs_on_partitions_without_alpha_leave_table1_for_the_pruning_table(tmp_path):
    # FedSparsify's digits runs: shards partition, whose α is ignored (config says 0.1)
    make_run(tmp_path, "t/topk", "topk", 0.9, 0, 0.6)
    make_run(tmp_path, "f/topk", "topk", 0.9, 0, 0.3, dataset="digits", scheme="shards")
    make_run(tmp_path, "f/topk1", "topk", 0.9, 1, 0.5, dataset="digits", scheme="shards")
    make_run(tmp_path, "f/fsg", "fedsparsify_global", 0.8, 0, 0.8, dataset="digits",
             scheme="shards")  # fmt: skip
    make_run(tmp_path, "f/dense", "fedavg", 0.0, 0, 0.9, dataset="digits", scheme="iid")
    summaries = load_summaries(tmp_path)
    assert summaries.set_index("run")["alpha"].isna().to_dict() == {
        "t/topk": False, "f/topk": True, "f/topk1": True, "f/fsg": True, "f/dense": True,
    }  # fmt: skip
    table1 = accuracy_table(summaries)
    assert list(table1.frame["dataset"]) == ["mnist1d"]
    assert list(table1.frame.columns) == ["dataset", "S", "topk α=0.1"]
    pruning = pruning_table(summaries)
    assert list(pruning.frame.columns) == ["dataset", "method", "dense", "S = 0.8", "S = 0.9"]
    assert set(pruning.frame["dataset"]) == {"digits"}  # mnist1d ran no pruning method
    assert _cell(pruning, "S = 0.9", method="topk") == "40.00 ± 14.14"
    assert _cell(pruning, "S = 0.8", method="fedsparsify_global") == "80.00"
    assert _cell(pruning, "dense", method="fedavg") == "90.00"
    assert _cell(pruning, "S = 0.8", method="topk") == "-"


def test_mask_dynamics_table_reads_only_the_rounds_after_the_first_third(tmp_path):
    for seed, late_iou in ((0, 0.8), (1, 0.6)):
        run = make_run(tmp_path, f"r{seed}", "topk", 0.9, seed, 0.5, rounds=6)
        rows = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
        for row in rows[1:]:  # rounds 1-2 are the first third: far off target, big regrowth
            early = row["round"] <= 2
            row["sparsity_prunable"] = 0.5 if early else 0.9 - 0.01 * (row["round"] - 2)
            row["global_regrowth"] = 1000 if early else row["round"] + seed
            row["client_mask_iou"] = 0.1 if early else late_iou
        (run / "metrics.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    make_run(tmp_path, "dense", "fedavg", 0.0, 0, 0.9, rounds=6)  # no pruning: no row
    table = mask_dynamics_table(load_summaries(tmp_path), load_rounds(tmp_path))
    assert list(table.frame["method"]) == ["topk"]
    row = table.frame.iloc[0]
    assert row["final sparsity"] == "0.8600 ± 0.0000"  # round 6: 0.9 - 0.04
    assert row["|sparsity − S|"] == "0.0400 ± 0.0000"  # rounds 3-6 only
    assert row["regrowth / round"] == "5 ± 1"  # means 4.5 and 5.5 over rounds 3-6
    assert row["client IoU"] == "0.700 ± 0.141"
