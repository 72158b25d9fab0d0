"""Turn a preset's output directory into a report of its runs.

Reads every run below the directory (:mod:`sparsyfed.results.store`) and
writes ``REPORT.md`` (every table below, then the final accuracy of every
group of runs that differ only in seed, then the figures), ``tables/`` (Table
1's layout with the paper's values beside ours, communication, compute,
ablations, as Markdown and CSV, and ``runs.csv``: one row per run) and
``figures/`` (PNGs of :mod:`sparsyfed.results.figures`). Nothing is re-run,
so a relaunch that skips every job only redraws these.
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


def accuracy_rows(summaries: pd.DataFrame) -> list[str]:
    """A Markdown table: final accuracy (%) mean ± std over seeds per group of runs."""
    from sparsyfed.results.tables import SEED_GROUP, mean_std

    lines = [
        "| dataset | method | S | α | rounds | seeds | final accuracy % (mean ± std) |",
        "|---|---|---|---|---|---|---|",
    ]
    for key, group in summaries.groupby(SEED_GROUP, sort=True, dropna=False):
        cell = mean_std(group["final_accuracy"].astype(float) * 100)
        dataset, label, sparsity, alpha, rounds = key
        lines.append(
            f"| {dataset} | {label} | {sparsity} | {alpha} | {rounds} | {len(group)} | {cell} |"
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
    from sparsyfed.results.figures import write_figures
    from sparsyfed.results.store import load_rounds, load_summaries
    from sparsyfed.results.tables import report_tables, to_markdown, write_tables

    out_dir = Path(out_dir)
    summaries = load_summaries(out_dir)
    every_round = load_rounds(out_dir)
    complete = every_round["complete"].astype(bool)
    incomplete = int(every_round.loc[~complete, "run"].nunique())
    lines = [f"# {title}", "", f"{len(summaries)} complete runs read from `{out_dir}`"]
    if incomplete:
        lines[-1] += f" ({incomplete} incomplete runs left out)"
    tables: list[Path] = []
    figures: list[Path] = []
    if len(summaries):
        rounds = every_round[complete]
        drawn = report_tables(summaries, rounds)
        tables = write_tables(drawn, out_dir / TABLES_DIR)
        for table in drawn:
            lines += ["", f"## {table.title}", "", *to_markdown(table.frame), "", table.note]
        lines += ["", "## Final accuracy of every group", "", *accuracy_rows(summaries)]
        csv = out_dir / TABLES_DIR / "runs.csv"
        columns = [  # the run column names the run; its absolute path is the machine's
            c for c in summaries.columns if not c.startswith("config.") and c != "output_dir"
        ]
        scalar = [c for c in columns if summaries[c].map(_is_scalar).all()]
        summaries[scalar].to_csv(csv, index=False)
        tables.append(csv)
        figures = write_figures(summaries, rounds, out_dir / FIGURES_DIR)
        lines += ["", "## Figures", ""]
        lines += [f"![{p.stem}]({FIGURES_DIR}/{p.name})" for p in figures]
    index = out_dir / REPORT_FILE
    index.write_text("\n".join(lines) + "\n")
    return Report(len(summaries), incomplete, tables, figures, index)


def _is_scalar(value: object) -> bool:
    return value is None or isinstance(value, str | int | float | bool)
