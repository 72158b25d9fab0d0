"""FedSparsify-Random: the schedule exactly, nested random masks, seeded per round."""

from __future__ import annotations

import torch
from helpers import client_updates, make_cfg, read_rows, round_ctx
from inprocess_grid import run_inprocess

from baselines.fedsparsify import sparsity_schedule
from baselines.fedsparsify_random import FedSparsifyRandom
from sparsyfed.core.server import FederatedServer
from sparsyfed.core.task import get_task


def test_purges_follow_the_schedule_exactly_and_only_remove_previous_non_zeros(tmp_path, data_dir):
    cfg = make_cfg(tmp_path, data_dir, "method=fedsparsify_random", "rounds=5", "sparsity=0.9")
    server = FederatedServer(cfg)
    assert isinstance(server.task.method, FedSparsifyRandom)
    keys = server.task.prunable_keys
    numel = sum(server.state[k].numel() for k in keys)
    previous = {k: server.state[k] != 0 for k in keys}
    for rnd in range(1, 6):
        updates = client_updates(server, [1, 4, 6], rnd)
        server.apply_updates(server.task.round_context(rnd), updates)
        alive = {k: server.state[k] != 0 for k in keys}
        s_t = sparsity_schedule(rnd, 0.9, 5)
        assert sum(int(v.sum()) for v in alive.values()) == numel - round(s_t * numel), rnd
        assert all(not (alive[k] & ~previous[k]).any() for k in keys), rnd  # nested
        previous = alive
    assert server.sparsity()["sparsity_prunable"] == round(0.9 * numel) / numel


def _purged(cfg, seed: int, server_round: int = 3) -> dict[str, torch.Tensor]:
    task = get_task(cfg)
    state = task.initial_state()
    out = task.method.after_aggregate(
        {k: v.clone() for k, v in state.items()}, round_ctx(server_round, 5, seed=seed)
    )
    return {k: out[k] == 0 for k in task.prunable_keys}


def test_the_mask_is_random_and_seeded(tmp_path, data_dir):
    cfg = make_cfg(tmp_path, data_dir, "method=fedsparsify_random", "rounds=5", "sparsity=0.9")
    first, again, other = _purged(cfg, 0), _purged(cfg, 0), _purged(cfg, 1)
    assert all(torch.equal(first[k], again[k]) for k in first)
    assert any(not torch.equal(first[k], other[k]) for k in first)
    # Not a magnitude purge: the same count, other entries than the smallest weights.
    task = get_task(cfg)
    state = {k: v.clone() for k, v in task.initial_state().items()}
    task.cfg.prune.prune_(state, task.prunable_keys, sparsity_schedule(3, 0.9, 5))
    magnitude = {k: state[k] == 0 for k in task.prunable_keys}
    assert sum(int(m.sum()) for m in magnitude.values()) == sum(
        int(m.sum()) for m in first.values()
    )
    assert any(not torch.equal(first[k], magnitude[k]) for k in first)


def test_layerwise_scope_purges_every_layer_to_s_t(tmp_path, data_dir):
    extra = ("rounds=5", "sparsity=0.9", "prune_scope=layerwise")
    cfg = make_cfg(tmp_path, data_dir, "method=fedsparsify_random", *extra)
    mask = _purged(cfg, 0, server_round=5)  # t = T: s_t = 0.9
    for key, dead in mask.items():
        assert int(dead.sum()) == round(0.9 * dead.numel()), key


def test_runs_end_to_end_with_the_schedule(tmp_path, data_dir):
    cfg = make_cfg(tmp_path, data_dir, "method=fedsparsify_random", "rounds=3", "sparsity=0.9")
    run_inprocess(cfg)
    rows = read_rows(cfg)
    task = get_task(cfg)
    numel = sum(task.new_model().get_parameter(k).numel() for k in task.prunable_keys)
    for row in rows[1:]:
        assert row["nnz_prunable"] == numel - round(sparsity_schedule(row["round"], 0.9, 3) * numel)
    assert [r["global_regrowth"] for r in rows[1:]] == [0, 0, 0]
