"""Metric values that carry their reduction, so a round's record is assembled generically.

A client (or the server, per client reply) reports a :class:`Metrics` mapping of
name -> :class:`Metric`; :func:`reduce_clients` turns the reports of one
round's clients into the record's values, always in partition order, so the
result does not depend on the order in which replies arrived. Nothing is
whitelisted and nothing is parsed back from key names: a metric a method
reports appears in ``metrics.jsonl`` under its own name.

Reductions
----------
``mean``
    ``float(numpy.mean(values))`` over the clients that reported the metric.
``weighted_mean``
    ``sum(w * v) / sum(w)`` over the clients that reported the metric, with
    each client's weight (its training samples, as Flower's weighted average).
``sum``
    The sum over the clients.
``per_client``
    ``{partition_id: value}`` (JSON keys are the partition ids as strings).
``layer_mean``
    The value is ``{layer: number}``; the result is the mean per layer over the
    clients that reported that layer.
``counts``
    The value is ``{name: count}``; the result sums the counts per name.
``tally``
    The value is ``{key: label}``; the result counts, per key, how many clients
    reported each label (``{key: {label: count}}``).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

import numpy as np


class Reduction(StrEnum):
    """How the values of one metric from several clients become one record value."""

    MEAN = "mean"
    WEIGHTED_MEAN = "weighted_mean"
    SUM = "sum"
    PER_CLIENT = "per_client"
    LAYER_MEAN = "layer_mean"
    COUNTS = "counts"
    TALLY = "tally"


_MAPPING_REDUCTIONS = (Reduction.LAYER_MEAN, Reduction.COUNTS, Reduction.TALLY)


@dataclass(frozen=True)
class Metric:
    """One reported value and its reduction over clients (``weight``: weighted means only)."""

    value: Any
    reduction: Reduction
    weight: float | None = None

    def __post_init__(self) -> None:
        """Check that the value has the shape the reduction needs."""
        mapping = isinstance(self.value, Mapping)
        if (self.reduction in _MAPPING_REDUCTIONS) != mapping:
            kind = "a mapping" if self.reduction in _MAPPING_REDUCTIONS else "a number"
            raise ValueError(f"a {self.reduction.value} metric needs {kind}, got {self.value!r}")
        weighted = self.reduction is Reduction.WEIGHTED_MEAN
        if weighted != (self.weight is not None):
            raise ValueError(f"only a weighted_mean metric has a weight, got {self!r}")
        if weighted and not float(self.weight) > 0:
            raise ValueError(f"a weighted_mean metric needs a positive weight, got {self.weight!r}")


class Metrics(dict[str, Metric]):
    """A client's (or a reply's) metrics: name -> :class:`Metric`, with builder methods."""

    def mean(self, name: str, value: float) -> Metrics:
        """Add a value reduced by its mean over the round's clients."""
        self[name] = Metric(float(value), Reduction.MEAN)
        return self

    def weighted_mean(self, name: str, value: float, weight: float) -> Metrics:
        """Add a value reduced by its ``weight``-weighted mean over the round's clients."""
        self[name] = Metric(float(value), Reduction.WEIGHTED_MEAN, float(weight))
        return self

    def sum(self, name: str, value: float) -> Metrics:
        """Add a value summed over the round's clients."""
        self[name] = Metric(value, Reduction.SUM)
        return self

    def per_client(self, name: str, value: Any) -> Metrics:
        """Add a value recorded per client (keyed by partition id)."""
        self[name] = Metric(value, Reduction.PER_CLIENT)
        return self

    def layer_mean(self, name: str, values: Mapping[str, float]) -> Metrics:
        """Add a per-layer value, averaged per layer over the round's clients."""
        self[name] = Metric({k: float(v) for k, v in values.items()}, Reduction.LAYER_MEAN)
        return self

    def counts(self, name: str, values: Mapping[str, int]) -> Metrics:
        """Add counts per name, summed over the round's clients."""
        self[name] = Metric(dict(values), Reduction.COUNTS)
        return self

    def tally(self, name: str, values: Mapping[str, str]) -> Metrics:
        """Add one label per key, counted per key over the round's clients."""
        self[name] = Metric(dict(values), Reduction.TALLY)
        return self

    def value(self, name: str, default: Any = None) -> Any:
        """The raw value of ``name`` (``default`` when it was not reported)."""
        metric = self.get(name)
        return default if metric is None else metric.value

    # ----------------------------------------------------------------- JSON
    def to_json(self) -> str:
        """Serialise to JSON (floats round-trip exactly)."""
        return json.dumps({k: _json_item(m) for k, m in self.items()})

    @classmethod
    def from_json(cls, text: str) -> Metrics:
        """Parse :meth:`to_json` output; ``ValueError`` for anything else."""
        raw = json.loads(text)
        if not isinstance(raw, dict):
            raise ValueError("metrics must be a JSON object")
        out = cls()
        for name, item in raw.items():
            if not (isinstance(item, list) and len(item) in (2, 3)):
                raise ValueError(f"metric {name!r} must be [reduction, value(, weight)]")
            out[name] = Metric(item[1], Reduction(item[0]), *item[2:])
        return out


def _json_item(metric: Metric) -> list[Any]:
    item = [metric.reduction.value, metric.value]
    return item if metric.weight is None else [*item, metric.weight]


def _mean(values: list[float]) -> float:
    return float(np.mean(values))


def reduce_clients(reports: Iterable[tuple[int, Metrics]]) -> dict[str, Any]:
    """Reduce the metrics of one round's clients into record values.

    Parameters
    ----------
    reports : iterable of (partition id, Metrics)
        One entry per client; sorted by partition id here, so the arrival
        order of replies does not matter.

    Returns
    -------
    dict
        One value per metric name, in the order names first appear.

    Raises
    ------
    ValueError
        If two clients report the same name with different reductions.

    """
    ordered = sorted(reports, key=lambda item: item[0])
    collected: dict[str, tuple[Reduction, list[tuple[int, Any]], list[float]]] = {}
    for pid, metrics in ordered:
        for name, metric in metrics.items():
            reduction, values, weights = collected.setdefault(name, (metric.reduction, [], []))
            if reduction != metric.reduction:
                raise ValueError(
                    f"metric {name!r} reported as {reduction.value} and {metric.reduction.value}"
                )
            values.append((pid, metric.value))
            if metric.weight is not None:
                weights.append(metric.weight)
    return {name: _reduce(red, values, w) for name, (red, values, w) in collected.items()}


def _reduce(reduction: Reduction, values: list[tuple[int, Any]], weights: list[float]) -> Any:
    if reduction is Reduction.MEAN:
        return _mean([v for _, v in values])
    if reduction is Reduction.WEIGHTED_MEAN:
        return float(np.average([v for _, v in values], weights=weights))
    if reduction is Reduction.SUM:
        return sum(v for _, v in values)
    if reduction is Reduction.PER_CLIENT:
        return {str(pid): v for pid, v in values}
    if reduction is Reduction.LAYER_MEAN:
        layers = sorted({k for _, v in values for k in v})
        return {k: _mean([v[k] for _, v in values if k in v]) for k in layers}
    if reduction is Reduction.COUNTS:
        merged: dict[str, int] = {}
        for _, counts in values:
            for k, n in counts.items():
                merged[k] = merged.get(k, 0) + n
        return merged
    tally: dict[str, dict[str, int]] = {}
    for _, labels in values:
        for key, label in labels.items():
            counts = tally.setdefault(key, {})
            counts[label] = counts.get(label, 0) + 1
    return tally
