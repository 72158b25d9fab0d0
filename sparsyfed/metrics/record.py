"""The parts of a round's record that come from the wire, and the run summary.

Per client, the server turns the size report of each reply into
:class:`~sparsyfed.metrics.values.Metrics`, so the uplink columns are reduced
by the same generic reducer as every client metric (in partition order).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from sparsyfed.metrics.values import Metrics
from sparsyfed.wire.report import PayloadReport

#: Uplink sums a round always has, also when no reply could be used.
_UPLINK_SUMS = ("uplink_bytes", "uplink_dense_bytes", "uplink_bound_bytes")


def uplink_metrics(report: PayloadReport) -> Metrics:
    """One client's uplink accounting as metrics (sums, per-client values, codec counts)."""
    metrics = Metrics()
    metrics.sum("uplink_bytes", report.bytes)
    metrics.per_client("uplink_bytes_per_client", report.bytes)
    metrics.sum("uplink_dense_bytes", report.dense_bytes)
    metrics.sum("uplink_bound_bytes", report.bound_bytes)
    cond = report.conditional
    if cond is not None:
        metrics.sum("uplink_cond_bound_bytes", cond.cond_bound_bytes)
        metrics.sum("uplink_best_unconditional_bytes", cond.best_unconditional_bytes)
        metrics.per_client(
            "uplink_best_unconditional_bytes_per_client", cond.best_unconditional_bytes
        )
    metrics.sum("uplink_position_bits", report.position_bits)
    if cond is not None:
        metrics.sum("uplink_support_position_bits", cond.support_position_bits)
        metrics.sum("uplink_support_position_code_bits", cond.support_position_code_bits)
        metrics.sum("uplink_support_position_bound_bits", cond.support_position_bound_bits)
        metrics.sum(
            "uplink_support_unconditional_position_bits",
            cond.support_unconditional_position_bits,
        )
    metrics.per_client("uplink_nnz_per_client", report.nnz)
    metrics.counts("uplink_codecs", report.codecs)
    return metrics.tally("uplink_codec_per_tensor", report.codec_per_tensor)


def ratio(numerator: float | None, denominator: float | None) -> float | None:
    """``numerator / denominator``, ``None`` when the denominator is 0 or missing."""
    return numerator / denominator if numerator is not None and denominator else None


def uplink_columns(reduced: Mapping[str, Any]) -> dict[str, Any]:
    """The uplink part of a round record, with the ratios derived from the sums."""
    row = dict.fromkeys(_UPLINK_SUMS, 0) | {
        k: v for k, v in reduced.items() if k.startswith("uplink_")
    }
    sent = row["uplink_bytes"]
    row["uplink_dense_ratio"] = ratio(row["uplink_dense_bytes"], sent)
    row["uplink_bound_ratio"] = ratio(sent, row["uplink_bound_bytes"])
    if "uplink_cond_bound_bytes" in row:
        row["uplink_cond_bound_ratio"] = ratio(sent, row["uplink_cond_bound_bytes"])
    return row


def downlink_columns(report: PayloadReport, clients: int) -> dict[str, Any]:
    """The downlink part of a round record: the same model sent to ``clients`` clients."""
    return {
        "downlink_bytes_per_client": report.bytes,
        "downlink_bytes": report.bytes * clients,
        "downlink_bound_bytes": report.bound_bytes * clients,
        "downlink_dense_bytes": report.dense_bytes * clients,
        "downlink_dense_ratio": ratio(report.dense_bytes, report.bytes),
        "downlink_bound_ratio": ratio(report.bytes, report.bound_bytes),
        "downlink_codecs": report.codecs,
        "downlink_codec_per_tensor": report.codec_per_tensor,
    }


def summarize(history: Sequence[Mapping[str, Any]], header: Mapping[str, Any]) -> dict[str, Any]:
    """The run summary from its per-round records (round 0 first).

    ``header`` holds what identifies the run (method, effective beta and
    sparsity, seed, dataset, ignored keys, output directory). The downlink
    totals count every model sent to a client: ``downlink_bytes_total`` (and
    its dense size) is the training downlink (``downlink_train_*``) plus the
    federated-evaluation downlink (``fed_eval_downlink_*``, 0 without it).
    """
    rounds = [r for r in history if r["round"] > 0]
    last = history[-1]
    tail = [r["accuracy"] for r in rounds[-3:]] or [last["accuracy"]]

    def total(key: str) -> Any:
        return sum(r.get(key, 0) for r in rounds)

    return dict(header) | {
        "rounds": len(rounds),
        "final_accuracy": last["accuracy"],
        "final_loss": last["loss"],
        "mean_accuracy_last3": sum(tail) / len(tail),
        "best_accuracy": max(r["accuracy"] for r in history),
        "final_sparsity_prunable": last.get("sparsity_prunable"),
        "final_sparsity_params": last.get("sparsity_params"),
        "uplink_bytes_total": total("uplink_bytes"),
        "downlink_bytes_total": total("downlink_bytes") + total("fed_eval_downlink_bytes"),
        "downlink_train_bytes_total": total("downlink_bytes"),
        "fed_eval_downlink_bytes_total": total("fed_eval_downlink_bytes"),
        "uplink_dense_bytes_total": total("uplink_dense_bytes"),
        "downlink_dense_bytes_total": (
            total("downlink_dense_bytes") + total("fed_eval_downlink_dense_bytes")
        ),
        "downlink_train_dense_bytes_total": total("downlink_dense_bytes"),
        "fed_eval_downlink_dense_bytes_total": total("fed_eval_downlink_dense_bytes"),
        "uplink_bound_bytes_total": total("uplink_bound_bytes"),
        "uplink_cond_bound_bytes_total": total("uplink_cond_bound_bytes"),
        "uplink_best_unconditional_bytes_total": total("uplink_best_unconditional_bytes"),
    }
