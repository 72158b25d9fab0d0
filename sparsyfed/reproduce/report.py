"""Turn a preset's output directory into tables and figures, and an index of them.

Reads every run below the directory (:mod:`sparsyfed.results.store`), writes
the tables (Markdown and CSV) into ``tables/`` and the figures (PNG) into
``figures/``, and ``REPORT.md`` linking them. Nothing is re-run, so drawing
again after a sweep that skipped every job takes seconds.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

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


def write_report(out_dir: str | Path, title: str = "Results") -> Report:
    """Write the tables, the figures and ``REPORT.md`` of the runs below ``out_dir``.

    Parameters
    ----------
    out_dir : str or Path
        A preset's output directory (or any directory of runs).
    title : str
        The heading of ``REPORT.md``.

    Returns
    -------
    Report
        The files written; complete runs feed the tables and figures, the
        rounds of incomplete ones are left out.

    """
    from sparsyfed.results.figures import write_figures
    from sparsyfed.results.store import load_rounds, load_summaries
    from sparsyfed.results.tables import write_tables

    out_dir = Path(out_dir)
    summaries = load_summaries(out_dir)
    every_round = load_rounds(out_dir)
    rounds = every_round[every_round["complete"].astype(bool)] if len(every_round) else every_round
    incomplete = every_round.loc[~every_round["complete"].astype(bool), "run"].nunique()
    tables = write_tables(summaries, rounds, out_dir / TABLES_DIR) if len(summaries) else []
    figures = write_figures(summaries, rounds, out_dir / FIGURES_DIR) if len(summaries) else []
    index = out_dir / REPORT_FILE
    lines = [f"# {title}", "", f"{len(summaries)} complete runs read from `{out_dir}`"]
    if incomplete:
        lines[-1] += f" ({incomplete} incomplete runs left out)"
    lines += [""]
    for path in tables:
        if path.suffix == ".md":
            lines += [f"## {path.stem.replace('_', ' ')}", "", path.read_text().rstrip(), ""]
    for path in figures:
        lines += [f"![{path.stem}]({path.relative_to(out_dir).as_posix()})", ""]
    index.write_text("\n".join(lines))
    return Report(len(summaries), int(incomplete), tables, figures, index)
