"""Turn a preset's output directory into a report of its runs.

Reads every run below the directory (:mod:`sparsyfed.results.store`) and
writes ``REPORT.md`` (final accuracy, mean ± std over seeds, per group of
runs that differ only in seed) and ``tables/runs.csv`` (one row per run:
identity and ``summary.json`` columns). Nothing is re-run, so a relaunch
that skips every job only rewrites these. The paper's Table 1 layout, the
communication, compute and ablation tables and the figures are not drawn yet.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pandas as pd

TABLES_DIR = "tables"
FIGURES_DIR = "figures"
REPORT_FILE = "REPORT.md"


@dataclass(frozen=True)
class Report:
    """The files a report wrote and how many runs it read."""

    runs: int
    incomplete: int
    tables: list[Path]
    figures: list[Path]
    index: Path


GROUP_KEYS = ["dataset", "label", "sparsity", "alpha", "rounds"]
"""Runs that differ only in ``seed`` form one row."""


def accuracy_rows(summaries: pd.DataFrame) -> list[str]:
    """A Markdown table: final accuracy (%) mean ± std over seeds per group of runs."""
    lines = [
        "| dataset | method | S | α | rounds | seeds | final accuracy % (mean ± std) |",
        "|---|---|---|---|---|---|---|",
    ]
    for key, group in summaries.groupby(GROUP_KEYS, sort=True, dropna=False):
        acc = group["final_accuracy"].astype(float) * 100
        cell = f"{acc.mean():.2f}" if len(acc) == 1 else f"{acc.mean():.2f} ± {acc.std(ddof=1):.2f}"
        dataset, label, sparsity, alpha, rounds = key
        lines.append(
            f"| {dataset} | {label} | {sparsity} | {alpha} | {rounds} | {len(acc)} | {cell} |"
        )
    return lines


def write_report(out_dir: str | Path, title: str = "Results") -> Report:
    """Write ``REPORT.md`` (and its tables as CSV) for the runs below ``out_dir``.

    Parameters
    ----------
    out_dir : str or Path
        A preset's output directory (or any directory of runs).
    title : str
        The heading of ``REPORT.md``.

    Returns
    -------
    Report
        The files written; complete runs feed the tables, incomplete ones are
        counted and left out.

    """
    from sparsyfed.results.store import load_rounds, load_summaries

    out_dir = Path(out_dir)
    summaries = load_summaries(out_dir)
    every_round = load_rounds(out_dir)
    incomplete = int(every_round.loc[~every_round["complete"].astype(bool), "run"].nunique())
    lines = [f"# {title}", "", f"{len(summaries)} complete runs read from `{out_dir}`"]
    if incomplete:
        lines[-1] += f" ({incomplete} incomplete runs left out)"
    tables: list[Path] = []
    if len(summaries):
        lines += ["", "## Final accuracy", "", *accuracy_rows(summaries)]
        (out_dir / TABLES_DIR).mkdir(parents=True, exist_ok=True)
        csv = out_dir / TABLES_DIR / "runs.csv"
        columns = [c for c in summaries.columns if not c.startswith("config.")]
        scalar = [c for c in columns if summaries[c].map(_is_scalar).all()]
        summaries[scalar].to_csv(csv, index=False)
        tables.append(csv)
    index = out_dir / REPORT_FILE
    index.write_text("\n".join(lines) + "\n")
    return Report(len(summaries), incomplete, tables, [], index)


def _is_scalar(value: object) -> bool:
    return value is None or isinstance(value, str | int | float | bool)
