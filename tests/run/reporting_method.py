"""A user-defined method for the tests: it reports a metric no list in the framework names."""

from __future__ import annotations

from sparsyfed.methods import Method


class ReportingMethod(Method):
    """Dense FedAvg that also reports ``probe_metric`` (its partition's label sum, per client)."""

    def train(self, model, x, y, hp, ctx):
        metrics = super().train(model, x, y, hp, ctx)
        metrics.mean("probe_metric", float(y.sum()))
        return metrics.per_client("probe_per_client", int(y.sum()))
