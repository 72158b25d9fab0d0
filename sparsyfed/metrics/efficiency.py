"""FedSparsify's efficiency measures: the paper's communication cost and the final model's size.

The paper's cost model counts *parameters exchanged*, not bytes: per round,
the non-zeros of the global model sent to every participating client, plus
the non-zeros of every upload the server received, plus, for a method whose
protocol sends a binary mask besides the weights
(:attr:`~sparsyfed.methods.Method.exchanges_masks`), one mask with an entry per
model entry per client and direction (the original code's binary masks cover
every array of its Keras ``model.get_weights()``).
Non-zeros are counted on what was actually sent: the global model the server
encoded and the uploads it decoded (:attr:`PayloadReport.nnz`). The measured
bytes (``uplink_bytes``, ``downlink_bytes``) stay the project's own figure;
this is reported next to them, under ``paper_*`` names (docs/methods.md
section 17.6).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sparsyfed.wire.report import PayloadReport


@dataclass(frozen=True)
class PaperCost:
    """The paper's communication cost of one round, in parameters.

    Attributes
    ----------
    downlink : int
        ``clients * (nnz of the global model sent + mask entries)``.
    uplink : int
        ``sum over received uploads of (nnz uploaded + mask entries)``.
    masks : int
        The mask entries included in ``downlink`` and ``uplink`` (0 unless the
        method exchanges masks).
    dense : int
        What the same clients would exchange with every entry sent and no
        mask: ``(clients + uploads) * model entries``.

    """

    downlink: int
    uplink: int
    masks: int
    dense: int

    @property
    def exchanged(self) -> int:
        """Parameters exchanged both ways (``downlink + uplink``)."""
        return self.downlink + self.uplink


def paper_round_cost(
    downlink_nnz: int,
    uplink_nnz: Sequence[int],
    clients: int,
    model_entries: int,
    exchanges_masks: bool,
) -> PaperCost:
    """The paper's communication cost of one round.

    Parameters
    ----------
    downlink_nnz : int
        Non-zeros of the global model sent to each client.
    uplink_nnz : sequence of int
        Non-zeros of every upload the server received and decoded.
    clients : int
        Clients the global model was sent to (the round's sampled clients).
    model_entries : int
        Entries of the model (every tensor exchanged): the size of one mask.
    exchanges_masks : bool
        Whether the method sends a binary mask in each direction.

    """
    mask = model_entries if exchanges_masks else 0
    uploads = len(uplink_nnz)
    return PaperCost(
        downlink=clients * (downlink_nnz + mask),
        uplink=sum(uplink_nnz) + uploads * mask,
        masks=(clients + uploads) * mask,
        dense=(clients + uploads) * model_entries,
    )


def paper_cost_columns(cost: PaperCost, previous_total: int) -> dict[str, Any]:
    """The ``paper_*`` part of a round record (``previous_total``: the running total so far)."""
    return {
        "paper_params_downlink": cost.downlink,
        "paper_params_uplink": cost.uplink,
        "paper_params_masks": cost.masks,
        "paper_params_exchanged": cost.exchanged,
        "paper_params_exchanged_cum": previous_total + cost.exchanged,
        "paper_params_dense": cost.dense,
        "paper_params_dense_ratio": cost.dense / cost.exchanged if cost.exchanged else None,
    }


def paper_cost_summary(rounds: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """Run totals of the paper's cost over the training rounds (round 0 excluded)."""
    exchanged = sum(r.get("paper_params_exchanged", 0) for r in rounds)
    dense = sum(r.get("paper_params_dense", 0) for r in rounds)
    return {
        "paper_params_exchanged_total": exchanged,
        "paper_params_downlink_total": sum(r.get("paper_params_downlink", 0) for r in rounds),
        "paper_params_uplink_total": sum(r.get("paper_params_uplink", 0) for r in rounds),
        "paper_params_masks_total": sum(r.get("paper_params_masks", 0) for r in rounds),
        "paper_params_dense_total": dense,
        "paper_params_dense_ratio": dense / exchanged if exchanged else None,
    }


def final_model_columns(report: PayloadReport, model_entries: int) -> dict[str, Any]:
    """The final global model's size for the summary, from its downlink encoding.

    Parameters
    ----------
    report : PayloadReport
        The size report of the final model encoded as the downlink encodes it.
    model_entries : int
        Entries of the model (every tensor).

    """
    return {
        "final_model_numel": model_entries,
        "final_model_nnz": report.nnz,
        "final_model_bytes": report.bytes,
        "final_model_dense_bytes": report.dense_bytes,
        "final_model_dense_ratio": report.dense_bytes / report.bytes if report.bytes else None,
    }
