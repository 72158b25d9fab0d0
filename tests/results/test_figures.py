"""Every report figure is drawn from a small result set, from the numbers it was given."""

from __future__ import annotations

import pandas as pd
import pytest
from result_files import make_run

from sparsyfed.results.figures import (
    FIGURES,
    colors_of,
    mask_iou_over_rounds_figure,
    sparsity_over_rounds_figure,
    write_figures,
)
from sparsyfed.results.store import load_rounds, load_summaries


@pytest.fixture
def result_set(tmp_path):
    for alpha in (1.0, 0.1):
        make_run(tmp_path, f"d/fedavg_a{alpha}", "fedavg", 0.0, 0, 0.9, alpha=alpha, beta=1.0)
        for method in ("topk", "sparsyfed"):
            for level in (0.9, 0.99):
                for seed in (0, 1):
                    make_run(tmp_path, f"t/{method}_s{level}_a{alpha}_{seed}", method, level,
                             seed, 0.5 + 0.1 * seed, alpha=alpha, rounds=3)  # fmt: skip
    return load_summaries(tmp_path), load_rounds(tmp_path, complete_only=True), tmp_path


def test_every_figure_is_written_as_a_png(result_set):
    summaries, rounds, tmp_path = result_set
    paths = write_figures(summaries, rounds, tmp_path / "figures")
    assert [p.stem for p in paths] == list(FIGURES)
    for path in paths:
        head = path.read_bytes()[:8]
        assert head == b"\x89PNG\r\n\x1a\n" and path.stat().st_size > 5000


def test_over_round_figures_have_a_panel_per_alpha_and_sparsity_and_plot_seed_means(result_set):
    _, rounds, _ = result_set
    figure = sparsity_over_rounds_figure(rounds)
    titles = [ax.get_title() for ax in figure.axes]
    assert titles == ["S = 0.9, α = 1", "S = 0.99, α = 1", "S = 0.9, α = 0.1", "S = 0.99, α = 0.1"]
    lines = {line.get_label(): line for line in figure.axes[1].lines}
    assert set(lines) == {"topk", "sparsyfed", "target"}
    assert list(lines["sparsyfed"].get_xdata()) == [0, 1, 2, 3]
    assert list(lines["sparsyfed"].get_ydata()) == [0.0, 0.99, 0.99, 0.99]
    assert list(lines["target"].get_ydata()) == [0.99, 0.99]


def test_a_figure_whose_metric_no_run_has_is_not_drawn(result_set):
    summaries, rounds, tmp_path = result_set
    assert mask_iou_over_rounds_figure(rounds.drop(columns=["client_mask_iou"])) is None
    paths = write_figures(summaries, rounds.drop(columns=["client_mask_iou"]), tmp_path / "f2")
    assert "mask_iou_over_rounds" not in [p.stem for p in paths] and len(paths) == 5


def test_a_method_has_the_same_colour_in_every_figure():
    one = colors_of(pd.DataFrame({"label": ["sparsyfed", "mine", "topk"]}))
    other = colors_of(pd.DataFrame({"label": ["topk", "theirs", "sparsyfed", "mine"]}))
    assert one["topk"] == other["topk"] and one["sparsyfed"] == other["sparsyfed"]
    assert one["topk"] != one["sparsyfed"]
    for colors in (one, other):  # labels of no fixed colour get colours no known label has
        known = {colors[k] for k in ("fedavg", "topk", "zerofl", "flash", "sparsyfed")}
        extra = [colors[k] for k in colors if k in ("mine", "theirs")]
        assert len(set(extra)) == len(extra) and not set(extra) & known
