"""The report's figures (PNG), drawn from the result store's frames.

Each ``*_figure`` function returns a :class:`matplotlib.figure.Figure`, or
None when the runs hold nothing it could show; :func:`write_figures` saves
every one that has data. Figures are built on ``Figure`` and the Agg canvas
directly (no pyplot state, no display needed). Curves are means over seeds.
Over-round figures show one panel per (α, sparsity) and one line per method.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from pathlib import Path

import pandas as pd
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

METHOD_ORDER = ("fedavg", "topk", "zerofl", "flash", "sparsefedpp", "sparsyfed")


def _labels(frame: pd.DataFrame) -> list[str]:
    present = list(dict.fromkeys(frame["label"]))
    known = [m for m in METHOD_ORDER if m in present]
    return known + sorted(m for m in present if m not in known)


LABEL_COLORS = {
    "fedavg": "black", "topk": "C1", "zerofl": "C2", "flash": "C3", "sparsyfed": "C4",
    "sparsyfed (β=1)": "C5", "sparsyfed_na": "C6", "sparsyfed_spectral": "C7",
    "sparsefedpp": "C8",
}  # fmt: skip
"""The colour of each known label, the same in every figure."""


def colors_of(frame: pd.DataFrame) -> dict[str, str]:
    """One colour per method label: the known ones fixed, the others from the free colours."""
    free = [c for c in (f"C{i}" for i in range(10)) if c not in LABEL_COLORS.values()]
    others = [label for label in _labels(frame) if label not in LABEL_COLORS]
    return LABEL_COLORS | {label: free[i % len(free)] for i, label in enumerate(others)}


def _legend(figure: Figure) -> None:
    """One legend for the whole figure: every label drawn in any panel, once."""
    seen: dict[str, object] = {}
    for ax in figure.axes:
        for handle, label in zip(*ax.get_legend_handles_labels(), strict=True):
            seen.setdefault(label, handle)
    figure.legend(list(seen.values()), list(seen), loc="outside right upper", fontsize="small")


def _main_dataset(frame: pd.DataFrame) -> pd.DataFrame:
    """The runs of the dataset with the most runs (one figure shows one task)."""
    if frame.empty:
        return frame
    dataset = frame.groupby("dataset")["run"].nunique().sort_values(ascending=False).index[0]
    return frame[frame["dataset"] == dataset]


def _panels(frame: pd.DataFrame, title: str) -> tuple[Figure, dict[tuple, object]]:
    alphas = sorted(frame["alpha"].dropna().unique(), reverse=True) or [None]
    levels = sorted(frame["sparsity"].unique())
    figure = Figure(figsize=(3.6 * len(levels), 3.0 * len(alphas) + 0.6), layout="constrained")
    axes = figure.subplots(len(alphas), len(levels), squeeze=False, sharex=True)
    panels = {}
    for i, alpha in enumerate(alphas):
        for j, level in enumerate(levels):
            ax = axes[i][j]
            ax.set_title(f"S = {level:g}" + (f", α = {alpha:g}" if alpha is not None else ""))
            panels[(alpha, level)] = ax
    figure.suptitle(f"{title} ({frame['dataset'].iloc[0]})")
    return figure, panels


def _over_rounds(
    rounds: pd.DataFrame, metric: str, title: str, ylabel: str, log: bool = False
) -> Figure | None:
    if metric not in rounds.columns:
        return None
    data = _main_dataset(rounds[(rounds["sparsity"] > 0) & rounds[metric].notna()])
    if data.empty:
        return None
    figure, panels = _panels(data, title)
    colors = colors_of(data)
    for (alpha, level), ax in panels.items():
        cell = data[(data["sparsity"] == level) & ((data["alpha"] == alpha) | (alpha is None))]
        never: list[str] = []  # labels with nothing above zero: no line on a log axis
        for label in _labels(cell):
            curve = cell[cell["label"] == label].groupby("round")[metric].mean()
            if log:
                never += [label] if not (curve > 0).any() else []
                curve = curve[curve > 0]
            ax.plot(curve.index, curve.values, label=label, marker=".", markersize=3,
                    color=colors[label])  # fmt: skip
        if metric == "sparsity_prunable":
            ax.axhline(level, color="grey", linestyle="--", linewidth=1, label="target")
        if log:
            ax.set_yscale("log")
            if never:
                note = ax.text(0.02, 0.02, "0 in every round:\n" + "\n".join(never),
                               fontsize="x-small", transform=ax.transAxes)  # fmt: skip
                note.set_in_layout(False)
        ax.set_xlabel("round")
        ax.set_ylabel(ylabel)
        ax.grid(alpha=0.3)
    _legend(figure)
    return figure


def sparsity_over_rounds_figure(rounds: pd.DataFrame) -> Figure | None:
    """Global model sparsity (prunable weights) per round against the target."""
    return _over_rounds(rounds, "sparsity_prunable", "Global sparsity per round", "sparsity")


def mask_iou_over_rounds_figure(rounds: pd.DataFrame) -> Figure | None:
    """Mean pairwise IoU of the clients' upload masks per round (consensus)."""
    return _over_rounds(rounds, "client_mask_iou", "Client-mask IoU per round", "IoU")


def regrowth_over_rounds_figure(rounds: pd.DataFrame) -> Figure | None:
    """Weights of the global mask regrown per round (pruned before, kept now), log scale."""
    return _over_rounds(
        rounds, "global_regrowth", "Global regrowth per round", "regrowth", log=True
    )


def accuracy_vs_sparsity_figure(summaries: pd.DataFrame) -> Figure | None:
    """Final accuracy (mean ± std over seeds) against sparsity, a line per method."""
    data = _main_dataset(summaries)
    if data.empty:
        return None
    alphas = sorted(data["alpha"].dropna().unique(), reverse=True) or [None]
    figure = Figure(figsize=(5.0 * len(alphas) + 1.5, 4.0), layout="constrained")
    axes = figure.subplots(1, len(alphas), squeeze=False)[0]
    colors = colors_of(data)
    for ax, alpha in zip(axes, alphas, strict=True):
        cell = data if alpha is None else data[data["alpha"] == alpha]
        for label in _labels(cell):
            runs = cell[cell["label"] == label]
            stats = runs.groupby("sparsity")["final_accuracy"].agg(["mean", "std"]).fillna(0.0)
            if (stats.index == 0).all():
                ax.axhline(stats["mean"].iloc[0] * 100, color="black", linestyle="--", label=label)
                continue
            stats = stats[stats.index > 0]
            x = [-math.log10(1 - s) for s in stats.index]
            ax.errorbar(x, stats["mean"] * 100, yerr=stats["std"] * 100, marker="o", capsize=3,
                        label=label, color=colors[label])  # fmt: skip
        levels = sorted(s for s in cell["sparsity"].unique() if s > 0)
        ax.set_xticks([-math.log10(1 - s) for s in levels], [f"{s:g}" for s in levels])
        ax.set_xlabel("sparsity S")
        ax.set_ylabel("final accuracy %")
        ax.set_title("" if alpha is None else f"α = {alpha:g}")
        ax.grid(alpha=0.3)
    _legend(figure)
    figure.suptitle(f"Accuracy vs sparsity ({data['dataset'].iloc[0]})")
    return figure


def accuracy_vs_bytes_figure(rounds: pd.DataFrame) -> Figure | None:
    """Accuracy per round against cumulative uplink + downlink bytes (log x)."""
    needed = {"uplink_bytes", "downlink_bytes", "accuracy"}
    if not needed <= set(rounds.columns):
        return None
    data = _main_dataset(rounds[rounds["round"] > 0].copy())
    if data.empty:
        return None
    data["sent"] = data["uplink_bytes"].fillna(0) + data["downlink_bytes"].fillna(0)
    data["cumulative"] = data.groupby("run")["sent"].cumsum() / 1e6
    figure, panels = _panels(data[data["sparsity"] > 0], "Accuracy vs bytes on the wire")
    dense = data[data["sparsity"] == 0]
    colors = colors_of(data)
    for (alpha, level), ax in panels.items():
        cell = data[(data["sparsity"] == level) & ((data["alpha"] == alpha) | (alpha is None))]
        ref = dense[(dense["alpha"] == alpha) | (alpha is None)]
        for label, runs in [("fedavg", ref)] + [
            (m, cell[cell["label"] == m]) for m in _labels(cell)
        ]:
            if runs.empty:
                continue
            curve = runs.groupby("round")[["cumulative", "accuracy"]].mean()
            style = {"color": "black", "linestyle": "--"} if label == "fedavg" else {}
            style.setdefault("color", colors[label])
            ax.plot(curve["cumulative"], curve["accuracy"] * 100, label=label, **style)
        ax.set_xscale("log")
        ax.set_xlabel("cumulative MB (up + down)")
        ax.set_ylabel("accuracy %")
        ax.grid(alpha=0.3)
    _legend(figure)
    return figure


def layer_density_figure(rounds: pd.DataFrame) -> Figure | None:
    """Final density of each prunable layer, a bar per method, a panel per sparsity."""
    if "layer_sparsity" not in rounds.columns:
        return None
    data = _main_dataset(rounds[(rounds["sparsity"] > 0) & rounds["layer_sparsity"].notna()])
    if data.empty:
        return None
    last = data.sort_values("round").groupby("run").tail(1)
    levels = sorted(last["sparsity"].unique())
    layers = list(last["layer_sparsity"].iloc[0])
    figure = Figure(figsize=(max(6.0, 0.9 * len(layers)) , 2.8 * len(levels) + 0.6),
                    layout="constrained")  # fmt: skip
    axes = figure.subplots(len(levels), 1, squeeze=False)[:, 0]
    colors = colors_of(last)
    for ax, level in zip(axes, levels, strict=True):
        cell = last[last["sparsity"] == level]
        labels = _labels(cell)
        width = 0.8 / max(1, len(labels))
        drawn: set[float] = set()
        for k, label in enumerate(labels):
            maps = cell.loc[cell["label"] == label, "layer_sparsity"]
            density = [1 - sum(m.get(name, 0.0) for m in maps) / len(maps) for name in layers]
            ax.bar([i + k * width for i in range(len(layers))], density, width, label=label,
                   color=colors[label])  # fmt: skip
            drawn.update(d for d in density if d > 0)
        ax.set_xticks([i + 0.4 - width / 2 for i in range(len(layers))], layers,
                      rotation=30, ha="right", fontsize="small")  # fmt: skip
        if len(drawn) > 1:  # a log axis needs a range
            ax.set_yscale("log")
        ax.set_ylabel("density")
        ax.set_title(f"S = {level:g}")
    _legend(figure)
    figure.suptitle(f"Final per-layer density ({last['dataset'].iloc[0]})")
    return figure


FIGURES: dict[str, Callable[[pd.DataFrame, pd.DataFrame], Figure | None]] = {
    "accuracy_vs_sparsity": lambda summaries, rounds: accuracy_vs_sparsity_figure(summaries),
    "sparsity_over_rounds": lambda summaries, rounds: sparsity_over_rounds_figure(rounds),
    "mask_iou_over_rounds": lambda summaries, rounds: mask_iou_over_rounds_figure(rounds),
    "regrowth_over_rounds": lambda summaries, rounds: regrowth_over_rounds_figure(rounds),
    "accuracy_vs_bytes": lambda summaries, rounds: accuracy_vs_bytes_figure(rounds),
    "layer_density": lambda summaries, rounds: layer_density_figure(rounds),
}
"""Each figure's file name (without ``.png``) and how it is drawn from (summaries, rounds)."""


def write_figures(summaries: pd.DataFrame, rounds: pd.DataFrame, out_dir: str | Path) -> list[Path]:
    """Draw every figure that has data and save it as ``<name>.png``; return the paths."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = []
    for name, draw in FIGURES.items():
        figure = draw(summaries, rounds)
        if figure is None:
            continue
        FigureCanvasAgg(figure)
        path = out_dir / f"{name}.png"
        figure.savefig(path, dpi=110)
        paths.append(path)
    return paths
