"""The paper's communication cost and the final model's size on tiny real runs (methods.md 17.6)."""

from __future__ import annotations

import numpy as np
from helpers import make_cfg, read_rows

from baselines.fedavg import FedAvg
from sparsyfed.callbacks.base import Callback
from sparsyfed.core.executor import LocalExecutor
from sparsyfed.core.run import FederatedRun
from sparsyfed.metrics.efficiency import paper_round_cost
from sparsyfed.run.model import load_state
from sparsyfed.run.session import build_callbacks, run_header
from sparsyfed.upload.transport import encode_downlink
from sparsyfed.wire.codec import payload_buffer


class GlobalModels(Callback):
    """Keeps the non-zeros and entries of the global model after every round (round 0 first)."""

    def __init__(self) -> None:
        self.nnz: list[int] = []
        self.entries: list[int] = []

    def on_round_end(self, row, run) -> None:
        state = run.server.global_arrays()
        self.nnz.append(sum(int(np.count_nonzero(v)) for v in state.values()))
        self.entries.append(sum(v.size for v in state.values()))


def _run(tmp_path, data_dir, *overrides):
    cfg = make_cfg(tmp_path, data_dir, "rounds=2", *overrides)
    models = GlobalModels()
    callbacks = [*build_callbacks(cfg), models]
    summary = FederatedRun(cfg, LocalExecutor(cfg), callbacks, run_header(cfg)).run()
    return cfg, summary, read_rows(cfg), models


def _check_rows(rows, models, mask: int) -> None:
    """Every round's cost is the hand-computed sum from the global models and the uploads."""
    total = 0
    for row in rows[1:]:
        r, clients = row["round"], len(row["clients"])
        entries = models.entries[r - 1]
        uploads = list(row["uplink_nnz_per_client"].values())
        assert row["paper_params_downlink"] == clients * (models.nnz[r - 1] + mask * entries)
        assert row["paper_params_uplink"] == sum(uploads) + len(uploads) * mask * entries
        assert row["paper_params_masks"] == 2 * clients * mask * entries
        total += row["paper_params_downlink"] + row["paper_params_uplink"]
        assert row["paper_params_exchanged_cum"] == total
        assert row["paper_params_dense"] == 2 * clients * entries


def test_dense_fedavg_exchanges_every_entry_both_ways(tmp_path, data_dir):
    _, summary, rows, models = _run(tmp_path, data_dir, "method=fedavg")
    _check_rows(rows, models, mask=0)
    entries = models.entries[0]
    # Trained dense uploads and the dense global model after round 1: every entry non-zero.
    last = rows[-1]
    assert last["paper_params_exchanged"] == len(last["clients"]) * 2 * entries
    assert last["paper_params_dense_ratio"] == 1.0
    assert summary["paper_params_exchanged_total"] == sum(
        r["paper_params_exchanged"] for r in rows[1:]
    )
    assert summary["paper_params_masks_total"] == 0
    # A dense final model costs its raw arrays plus the payload headers (a tiny model: ~3%).
    assert 0.95 < summary["final_model_dense_ratio"] <= 1.0


def test_a_method_that_exchanges_masks_adds_one_model_sized_mask_per_client_and_way(
    tmp_path, data_dir, monkeypatch
):
    monkeypatch.setattr(FedAvg, "exchanges_masks", True)
    _, summary, rows, models = _run(tmp_path, data_dir, "method=fedavg")
    _check_rows(rows, models, mask=1)
    assert summary["paper_params_dense_ratio"] < 1.0  # dense weights plus masks


def test_sparse_run_exchanges_fewer_parameters_and_its_final_model_is_smaller(tmp_path, data_dir):
    cfg, summary, rows, models = _run(tmp_path, data_dir, "method=sparsyfed", "sparsity=0.9")
    _check_rows(rows, models, mask=0)
    for row in rows[1:]:
        assert row["paper_params_exchanged"] < row["paper_params_dense"]
    assert summary["paper_params_dense_ratio"] > 1.5
    # The final model's size is its downlink encoding, byte for byte.
    state = {k: v.numpy() for k, v in load_state(cfg.output_dir).items()}
    message = encode_downlink(state, cfg.wire)
    encoded = sum(len(payload_buffer(p).tobytes()) for p in message.tensors.values())
    assert message.joint is None
    assert summary["final_model_bytes"] == encoded
    assert summary["final_model_nnz"] == models.nnz[-1]
    assert summary["final_model_numel"] == models.entries[-1]
    assert summary["final_model_dense_bytes"] == sum(v.nbytes for v in state.values())
    assert summary["final_model_dense_ratio"] > 3


def test_paper_round_cost_counts_failed_uploads_only_on_the_downlink():
    cost = paper_round_cost(100, [40, 60], clients=3, model_entries=200, exchanges_masks=True)
    assert cost.downlink == 3 * (100 + 200)
    assert cost.uplink == 40 + 60 + 2 * 200
    assert cost.masks == 5 * 200
    assert cost.dense == 5 * 200
    assert cost.exchanged == cost.downlink + cost.uplink
