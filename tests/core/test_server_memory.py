"""The server's memory: per-client state only for sampled clients, compact, nothing per client."""

from __future__ import annotations

import gc
import json
import tracemalloc

import numpy as np
import torch
from helpers import make_cfg

from sparsyfed.core.executor import LocalExecutor
from sparsyfed.core.run import FederatedRun
from sparsyfed.core.server import FederatedServer
from sparsyfed.methods import ClientUpdate
from sparsyfed.metrics.masks import unpack_masks
from sparsyfed.run.archive import write_atomic_chunks
from sparsyfed.wire.message import decode_state, is_quantizable

EF = ["wire.values=int8", "wire.error_feedback=true", "sparsity=0.95"]


def test_error_feedback_state_is_kept_only_for_sampled_clients_on_their_upload_support(
    tmp_path, data_dir
):
    cfg = make_cfg(tmp_path, data_dir, *EF, "rounds=2")
    run = FederatedRun(cfg, LocalExecutor(cfg))
    run.run()
    server = run.server
    sampled = {pid for row in run.history[1:] for pid in row["clients"]}
    assert len(sampled) < cfg.num_clients  # some clients were never sampled
    assert set(server.client_states) == sampled
    dense_bytes = sum(v.numel() * v.element_size() for v in server.state.values())
    for pid, message in server.client_states.items():
        residual = decode_state(message)
        assert residual and all(is_quantizable(v) for v in residual.values())
        mask = unpack_masks(server.snapshot().last_masks[pid])
        nnz = 0
        for key, value in residual.items():
            off_support = ~mask[key].numpy()
            assert not value[off_support].any(), f"client {pid} {key}: residual off its upload"
            nnz += int(mask[key].sum())
        # Kept encoded: about a value and a position per entry of the upload, not the dense model.
        assert message.nbytes <= 6 * nnz + 64 * len(residual), (pid, message.nbytes, nnz)
        assert message.nbytes < dense_bytes / 8


def _server_bytes(cfg) -> tuple[int, int]:
    """Traced bytes (held, peak) of building the server and applying two rounds of updates."""
    gc.collect()  # garbage of earlier calls is not counted, nor freed while tracing
    tracemalloc.start()
    try:
        server = FederatedServer(cfg)
        for rnd in (1, 2):
            pids = server.sample_clients()
            updates = [
                ClientUpdate(pid, {k: v * 0.5 for k, v in server.state.items()}, 10) for pid in pids
            ]
            server.apply_updates(server.task.round_context(rnd), updates)
        assert "_splits" not in vars(server.task)  # the server keeps no per-client partition
        assert len(server.snapshot().last_masks) <= 2 * cfg.clients_per_round
        gc.collect()  # held = what the server keeps, not cyclic garbage awaiting collection
        return tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()


def test_server_memory_does_not_grow_with_the_number_of_clients(tmp_path, data_dir):
    # 100 and not 10 clients: with 10, the two rounds' samples overlap and the server holds fewer
    # last-round masks (bounded by 2 x clients_per_round, checked in _server_bytes) than with 300.
    small = make_cfg(tmp_path / "a", data_dir, "num_clients=100")
    large = make_cfg(tmp_path / "b", data_dir, "num_clients=300")  # 1,500 samples: 300 test
    for _ in range(2):  # warm-up: lazy imports and caches
        _server_bytes(small)
    # Interleaved, the smallest of three each: the traced bytes vary by a few KB between calls
    # (caches of the standard library and numpy filling), which is noise, not per-client state.
    pairs = [(_server_bytes(small), _server_bytes(large)) for _ in range(3)]
    few = [min(p[0][i] for p in pairs) for i in range(2)]
    many = [min(p[1][i] for p in pairs) for i in range(2)]
    # 200 more clients: under 20 bytes each (a dict entry per client would be ~30, a
    # partition index array ~100).
    assert many[0] - few[0] < 4_096, (few, many)
    assert many[1] - few[1] < 4_096, (few, many)


def test_streamed_partition_file_is_the_json_text(tmp_path):
    report = {"sizes": [3, 4], "train": {"entropy": [0.1, 2.0 / 3.0], "ok": None}}
    path = tmp_path / "partitions.json"
    pieces = json.JSONEncoder(indent=1).iterencode(report)
    write_atomic_chunks(path, (piece.encode() for piece in pieces))
    assert path.read_text() == json.dumps(report, indent=1)
    assert not list(tmp_path.glob(".*tmp*"))


def test_client_state_restores_bit_for_bit(tmp_path, data_dir):
    """The residual survives a snapshot and restore unchanged (what a checkpoint keeps)."""
    cfg = make_cfg(tmp_path, data_dir, *EF, "rounds=1")
    run = FederatedRun(cfg, LocalExecutor(cfg))
    run.run()
    saved = run.server.snapshot()
    other = FederatedServer(cfg)
    other.restore(saved)
    for pid, message in saved.client_states.items():
        a, b = decode_state(message), decode_state(other.client_states[pid])
        assert all(np.array_equal(a[k], b[k]) for k in a)
    assert all(torch.equal(other.state[k], v) for k, v in saved.global_state.items())
