"""Departures from the official behaviour are reported (sparsyfed/methods/official.py)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from sparsyfed.config import compose_config, load_config
from sparsyfed.methods import load_method_class
from sparsyfed.run.session import run_header

REPO = Path(__file__).resolve().parents[2]
METHODS = sorted(p.stem for p in (REPO / "conf" / "method").glob("*.yaml"))
# The SparsyFed paper's experiments; FedSparsify's cells partition IID or by shards on purpose
# (tests/test_fedsparsify_experiments.py checks that this is their only departure).
EXPERIMENTS = sorted(
    p.stem
    for p in (REPO / "conf" / "experiment").glob("*.yaml")
    if not p.stem.startswith("fedsparsify_")
)


def _departures(*overrides: str) -> dict:
    return run_header(load_config(compose_config(list(overrides))))["departures"]


def test_the_default_run_is_official():
    assert _departures() == {}


@pytest.mark.parametrize("experiment", EXPERIMENTS)
def test_every_experiment_config_runs_the_official_behaviour_of_every_method(experiment):
    for method in METHODS:
        found = _departures(f"+experiment={experiment}", f"method={method}")
        if method == "fedavgm":  # our FedAvgM keeps BatchNorm statistics out of the momentum
            assert found == {"server_momentum_scope": {"value": "parameters", "official": "all"}}
        else:
            assert found == {}, (experiment, method)


def test_each_departure_is_named_with_its_official_value():
    found = _departures(
        "method=flash_spdst",
        "partition.scheme=inner_dirichlet",
        "prune_scope=layerwise",
        "method.mask_layers=prunable",
        "method.dst_interval=5",
    )
    assert found == {
        "partition.scheme": {"value": "inner_dirichlet", "official": "lda"},
        "prune_scope": {"value": "layerwise", "official": "global"},
        "method.dst_interval": {"value": 5, "official": None},
        "method.mask_layers": {"value": "prunable", "official": "conv"},
    }


def test_keys_a_method_ignores_are_not_departures():
    # A dense method does not prune, so its prune scope is ignored, not a departure.
    assert _departures("method=fedavg", "prune_scope=layerwise") == {}
    assert _departures("method=zerofl", "method.wrap_downsample=true") == {
        "method.wrap_downsample": {"value": True, "official": False}
    }


def test_the_console_names_the_departure(tmp_path):
    import logging

    from sparsyfed.callbacks.base import RunInfo
    from sparsyfed.callbacks.console import ConsoleProgress, get_logger

    cfg = load_config(
        compose_config(["method=flash", "method.round1_mask=false", f"output_dir={tmp_path}"])
    )
    info = RunInfo(cfg=cfg, header=run_header(cfg), start_round=0, history=[], task=None)
    lines: list[str] = []
    handler = logging.Handler()
    handler.emit = lambda record: lines.append(record.getMessage())
    logger = get_logger()
    logger.addHandler(handler)
    try:
        ConsoleProgress().on_run_start(info)
    finally:
        logger.removeHandler(handler)
    assert any(
        "method.round1_mask=False is not the official behaviour (official: True" in line
        for line in lines
    )


def test_docs_list_every_official_option_value():
    """docs/methods.md section 18.1 names every option that declares an official value."""
    docs = (REPO / "docs" / "methods.md").read_text()
    table = docs.split("### 18.1", 1)[1]
    impls = {compose_config([f"method={m}"])["method"]["impl"] for m in METHODS}
    for impl in sorted(impls):
        for key, spec in load_method_class(impl).option_specs.items():
            if spec.has_official:
                assert re.search(rf"`method\.{key}`|`{key}`", table), (impl, key)
