"""The report's tables, computed from the result store's frames.

Each table is a :class:`Table` (a title, a frame of display strings, a note)
written as Markdown and CSV by :func:`write_tables`. Cells are mean ± std over
the seeds of runs that differ only in ``seed`` (sample standard deviation;
one seed shows the value alone).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from sparsyfed.results.paper import paper_value

TABLE1_METHODS = ("fedavg", "topk", "zerofl", "flash", "sparsyfed")
"""Table 1's columns in the paper's order (``fedavg`` fills the dense rows)."""
ABLATION_LABELS = ("sparsyfed", "sparsyfed_na", "sparsyfed (β=1)", "sparsyfed_spectral")
"""SparsyFed and its ablations (no activation pruning, no Powerprop, spectral β)."""
PRUNING_METHODS = (
    "fedsparsify_global", "fedsparsify_local", "fedsparsify_random", "snip", "grasp", "prunefl",
)  # fmt: skip
"""The methods that mark a dataset as part of FedSparsify's comparison."""
SEED_GROUP = ["dataset", "label", "sparsity", "alpha", "rounds"]
"""Runs that agree on these differ only in seed and form one cell."""


@dataclass(frozen=True)
class Table:
    """A titled table of display strings and what its cells mean."""

    name: str
    title: str
    frame: pd.DataFrame
    note: str = ""


def mean_std(values: Sequence[float], digits: int = 2) -> str:
    """``"82.13 ± 1.53"`` (sample std over the values); one value alone; ``"-"`` for none."""
    clean = [float(v) for v in values if v is not None and not math.isnan(float(v))]
    if not clean:
        return "-"
    mean = sum(clean) / len(clean)
    if len(clean) == 1:
        return f"{mean:.{digits}f}"
    std = math.sqrt(sum((v - mean) ** 2 for v in clean) / (len(clean) - 1))
    return f"{mean:.{digits}f} ± {std:.{digits}f}"


def _alpha_text(alpha: object) -> str:
    return (
        "-" if alpha is None or (isinstance(alpha, float) and math.isnan(alpha)) else f"{alpha:g}"
    )


def accuracy_table(summaries: pd.DataFrame) -> Table:
    """Table 1's layout: rows dataset × sparsity, columns method × α, final accuracy %.

    A cell is ``ours`` and, where the paper reports the same dataset, method,
    sparsity and α, ``(paper: mean ± std)`` beside it. The dense row holds FedAvg.
    Only runs on a Dirichlet-type partition (one with an α) enter, as in the paper.
    """
    runs = summaries[summaries["label"].isin(TABLE1_METHODS) & summaries["alpha"].notna()]
    alphas = sorted(set(runs["alpha"]), reverse=True)
    pairs = [
        (m, a)
        for a in alphas
        for m in TABLE1_METHODS
        if ((runs["label"] == m) & (runs["alpha"] == a)).any()
    ]
    columns = [f"{m} α={a:g}" for m, a in pairs]
    rows = []
    for (dataset, sparsity), cell_runs in runs.groupby(["dataset", "sparsity"], sort=True):
        row = {"dataset": dataset, "S": "dense" if sparsity == 0 else f"{sparsity:g}"}
        for column, (method, alpha) in zip(columns, pairs, strict=True):
            chosen = cell_runs[(cell_runs["label"] == method) & (cell_runs["alpha"] == alpha)]
            text = mean_std(chosen["final_accuracy"].astype(float) * 100) if len(chosen) else "-"
            reported = paper_value(dataset, method, sparsity, float(alpha))
            if reported is not None:
                text += f" (paper: {reported[0]:.2f} ± {reported[1]:.2f})"
            row[column] = text
        rows.append(row)
    frame = pd.DataFrame(rows, columns=["dataset", "S", *columns])
    note = "Final test accuracy %, mean ± std over seeds; `fedavg` is the dense row."
    return Table("table1_accuracy", "Table 1: accuracy", frame, note)


def _per_run_sums(rounds: pd.DataFrame, columns: Sequence[str]) -> pd.DataFrame:
    present = [c for c in columns if c in rounds.columns]
    sums = rounds.groupby("run")[present].sum(min_count=1) if present else pd.DataFrame()
    return sums.reindex(columns=list(columns))


def communication_table(summaries: pd.DataFrame, rounds: pd.DataFrame) -> Table:
    """MB up and down per run (encoded bytes), ratio to dense, ratio to the entropy bound.

    ``dense ×`` is what dense float32 messages would have taken over what was
    sent; ``× bound`` is what was sent over the information-theoretic bound of
    the same messages (uplink and downlink bounds summed over rounds).
    """
    needed = ["uplink_bytes_total", "downlink_bytes_total", "uplink_dense_bytes_total",
              "downlink_dense_bytes_total", "uplink_bound_bytes_total"]  # fmt: skip
    if not set(needed) <= set(summaries.columns):
        return Table("communication", "Communication", pd.DataFrame())
    bounds = _per_run_sums(rounds, ["downlink_bound_bytes"])
    data = summaries.join(bounds, on="run")
    rows = []
    for key, group in data.groupby(SEED_GROUP, sort=True, dropna=False):
        up = group["uplink_bytes_total"].astype(float)
        down = group["downlink_bytes_total"].astype(float)
        dense = group["uplink_dense_bytes_total"].astype(float) + group[
            "downlink_dense_bytes_total"
        ].astype(float)
        bound = group["uplink_bound_bytes_total"].astype(float) + group[
            "downlink_bound_bytes"
        ].astype(float)
        rows.append(
            _key_cells(key)
            | {
                "MB up": mean_std(up / 1e6, 3),
                "MB down": mean_std(down / 1e6, 3),
                "dense ×": mean_std(dense / (up + down), 1),
                "× bound": mean_std((up + down) / bound, 2),
            }
        )
    note = "Encoded bytes on the wire over the whole run, mean ± std over seeds."
    return Table("communication", "Communication", pd.DataFrame(rows), note)


def compute_table(summaries: pd.DataFrame, rounds: pd.DataFrame) -> Table:
    """Training FLOPs over the run relative to dense training of the same model."""
    flops = _per_run_sums(rounds, ["train_flops", "train_flops_dense"])
    if flops.isna().all().all():
        return Table("compute", "Compute", pd.DataFrame())
    data = summaries.join(flops, on="run")
    rows = []
    for key, group in data.groupby(SEED_GROUP, sort=True, dropna=False):
        ratio = group["train_flops"].astype(float) / group["train_flops_dense"].astype(float)
        rows.append(_key_cells(key) | {"training FLOPs / dense": mean_std(ratio, 3)})
    note = "Counted training FLOPs (forward and backward) summed over clients and rounds."
    return Table("compute", "Compute", pd.DataFrame(rows), note)


def mask_dynamics_table(summaries: pd.DataFrame, rounds: pd.DataFrame) -> Table:
    """Per pruning run, over the rounds after the first third: how the mask behaves.

    ``final sparsity`` is the global model's sparsity (prunable weights) after
    the last round; ``|sparsity − S|`` is its largest distance from the target,
    ``regrowth`` the mean number of weights
    per round that are non-zero in the global model and were zero in the round
    before, ``client IoU`` the mean IoU of the clients' upload masks.
    """
    needed = {"sparsity_prunable", "global_regrowth", "client_mask_iou"}
    if not needed <= set(rounds.columns):
        return Table("mask_dynamics", "Sparsity, regrowth and mask consensus", pd.DataFrame())
    late = rounds[(rounds["sparsity"] > 0) & (rounds["round"] > rounds["rounds"] // 3)]
    late = late.assign(off=(late["sparsity_prunable"].astype(float) - late["sparsity"]).abs())
    per_run = (
        late.sort_values("round")
        .groupby("run")
        .agg(
            final=("sparsity_prunable", "last"),
            off=("off", "max"),
            regrowth=("global_regrowth", "mean"),
            iou=("client_mask_iou", "mean"),
        )
    )
    data = summaries.join(per_run, on="run", how="inner")
    rows = [
        _key_cells(key)
        | {
            "final sparsity": mean_std(group["final"].astype(float), 4),
            "|sparsity − S|": mean_std(group["off"].astype(float), 4),
            "regrowth / round": mean_std(group["regrowth"].astype(float), 0),
            "client IoU": mean_std(group["iou"].astype(float), 3),
        }
        for key, group in data.groupby(SEED_GROUP, sort=True, dropna=False)
    ]
    note = (
        "Rounds after the first third, mean ± std over seeds: largest |global sparsity − target|,"
        " weights regrown per round, clients' upload-mask IoU. A progressive schedule"
        " (FedSparsify) reaches S only at the end, so its |sparsity − S| is large by design."
    )
    return Table("mask_dynamics", "Sparsity, regrowth and mask consensus", pd.DataFrame(rows), note)


def ablation_table(summaries: pd.DataFrame) -> Table:
    """SparsyFed against its ablations where any ablation ran (final accuracy %)."""
    runs = summaries[summaries["label"].isin(ABLATION_LABELS)]
    variants = runs[runs["label"] != "sparsyfed"]
    cells = set(zip(variants["dataset"], variants["sparsity"], variants["alpha"], strict=True))
    labels = [label for label in ABLATION_LABELS if label in set(runs["label"])]
    rows = []
    for (dataset, sparsity, alpha), group in runs.groupby(["dataset", "sparsity", "alpha"]):
        if (dataset, sparsity, alpha) not in cells:
            continue
        row = {"dataset": dataset, "S": f"{sparsity:g}", "α": _alpha_text(alpha)}
        for label in labels:
            chosen = group.loc[group["label"] == label, "final_accuracy"].astype(float) * 100
            row[label] = mean_std(chosen)
        rows.append(row)
    frame = pd.DataFrame(rows, columns=["dataset", "S", "α", *labels])
    note = "NA: no activation pruning; β=1: no Powerprop; spectral: β from the layer spectrum."
    return Table("ablation", "SparsyFed ablations", frame, note)


def pruning_table(summaries: pd.DataFrame) -> Table:
    """FedSparsify's layout: rows dataset × method, columns S, final accuracy %.

    Only datasets on which a pruning method of FedSparsify's comparison ran
    (:data:`PRUNING_METHODS`) enter, with every method that ran on them.
    """
    datasets = set(summaries.loc[summaries["label"].isin(PRUNING_METHODS), "dataset"])
    runs = summaries[summaries["dataset"].isin(datasets)]
    levels = sorted(set(runs["sparsity"]))
    columns = ["dense" if s == 0 else f"S = {s:g}" for s in levels]
    rows = []
    for (dataset, label), group in runs.groupby(["dataset", "label"], sort=True):
        row = {"dataset": dataset, "method": label}
        for column, level in zip(columns, levels, strict=True):
            chosen = group.loc[group["sparsity"] == level, "final_accuracy"].astype(float)
            row[column] = mean_std(chosen * 100) if len(chosen) else "-"
        rows.append(row)
    frame = pd.DataFrame(rows, columns=["dataset", "method", *columns])
    note = "Final test accuracy %, mean ± std over seeds, on the datasets of FedSparsify's runs."
    return Table("pruning_comparison", "FedSparsify's comparison: accuracy", frame, note)


def _key_cells(key: tuple) -> dict[str, str]:
    dataset, label, sparsity, alpha, rounds = key
    return {
        "dataset": dataset,
        "method": label,
        "S": "dense" if sparsity == 0 else f"{sparsity:g}",
        "α": _alpha_text(alpha),
        "rounds": str(rounds),
    }


def to_markdown(frame: pd.DataFrame) -> list[str]:
    """A GitHub Markdown table of a frame's string cells (no extra package)."""
    header = [str(c) for c in frame.columns]
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for row in frame.itertuples(index=False):
        lines.append("| " + " | ".join(str(v).replace("|", "/") for v in row) + " |")
    return lines


def report_tables(summaries: pd.DataFrame, rounds: pd.DataFrame) -> list[Table]:
    """Every table with at least one row for these runs."""
    tables = [
        accuracy_table(summaries),
        communication_table(summaries, rounds),
        compute_table(summaries, rounds),
        mask_dynamics_table(summaries, rounds),
        ablation_table(summaries),
        pruning_table(summaries),
    ]
    return [t for t in tables if len(t.frame)]


def write_tables(tables: Sequence[Table], out_dir: str | Path) -> list[Path]:
    """Write each table as ``<name>.md`` and ``<name>.csv`` in ``out_dir``; return the paths."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = []
    for table in tables:
        markdown = out_dir / f"{table.name}.md"
        body = [f"# {table.title}", "", *to_markdown(table.frame), "", table.note]
        markdown.write_text("\n".join(body) + "\n")
        csv = out_dir / f"{table.name}.csv"
        table.frame.to_csv(csv, index=False)
        paths += [markdown, csv]
    return paths
