"""Which settings of a run depart from the original code's behaviour (docs/methods.md section 18.1).

The run-wide switches are listed here with their official value; a method's
own options carry theirs (:attr:`sparsyfed.methods.base.Option.official`).
The run header reports every departure, so the console says it before the run
starts and ``summary.json`` keeps it (``departures``).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sparsyfed.config.schema import RunConfig
from sparsyfed.methods.base import Method

OFFICIAL_RUN_SETTINGS: Mapping[str, Any] = {
    "partition.scheme": "lda",
    "upload": "weights",
    "aggregation": "fedavg",
    "prune_scope": "global",
    "prune_layers": "all",
}
"""The official value of every run-wide switch that changes what a method computes."""

OFFICIAL_MOMENTUM_SCOPE = "all"
"""Flower's FedAvgM moves every array; checked only when ``server_momentum > 0``."""


def departures(
    cfg: RunConfig,
    cls: type[Method],
    options: Mapping[str, Any],
    ignored: Mapping[str, Any],
) -> dict[str, dict[str, Any]]:
    """The settings of a run that differ from the official behaviour.

    Parameters
    ----------
    cfg : RunConfig
        The validated run config.
    cls : type of Method
        The run's method class (its options declare their official values).
    options : mapping
        The method's checked options.
    ignored : mapping
        Keys the method does not use (never reported as departures).

    Returns
    -------
    dict
        ``key -> {"value": ..., "official": ...}``, run-wide keys first, then
        ``method.<option>`` in declaration order; empty for an official run.

    """
    values: dict[str, Any] = {
        "partition.scheme": cfg.partition.scheme,
        "upload": cfg.upload,
        "aggregation": cfg.aggregation,
        "prune_scope": cfg.prune_scope,
        "prune_layers": cfg.prune_layers,
    }
    official: dict[str, Any] = dict(OFFICIAL_RUN_SETTINGS)
    if cfg.server_momentum > 0:
        values["server_momentum_scope"] = cfg.server_momentum_scope
        official["server_momentum_scope"] = OFFICIAL_MOMENTUM_SCOPE
    out = {
        key: {"value": value, "official": official[key]}
        for key, value in values.items()
        if key not in ignored and value != official[key]
    }
    for key, spec in cls.option_specs.items():
        if spec.has_official and options[key] != spec.official:
            out[f"method.{key}"] = {"value": options[key], "official": spec.official}
    return out
