"""FedSparsify-Global and -Local: schedule, Majority Voting, and end-to-end sparsity properties."""

from __future__ import annotations

import itertools

import pytest
import torch
from helpers import make_cfg, read_rows
from inprocess_grid import run_inprocess

from baselines.fedsparsify import (
    FedSparsifyLocal,
    majority_vote_merge,
    sparsity_schedule,
    vote_threshold,
)
from sparsyfed.config import ConfigError
from sparsyfed.core import client as client_module
from sparsyfed.core.client import run_client_round
from sparsyfed.core.server import FederatedServer
from sparsyfed.core.task import get_task
from sparsyfed.methods import ClientUpdate


def tiny_cfg(tmp_path, data_dir, *extra: str):
    return make_cfg(tmp_path, data_dir, "rounds=5", "sparsity=0.9", *extra)


# --------------------------------------------------------------------- schedule
def test_schedule_matches_hand_computed_values_every_round():
    # T = 10, S_T = 0.9, n = 3, t0 = 1: s_t = 0.9 (1 - ((10 - t') / 9)^3).
    expected = {1: 0.0, 2: 0.9 * (1 - 512 / 729), 5: 0.9 * (1 - 125 / 729), 9: 0.9 * (1 - 1 / 729)}
    for t, value in expected.items():
        assert sparsity_schedule(t, 0.9, 10) == pytest.approx(value, abs=1e-12)
    assert sparsity_schedule(10, 0.9, 10) == 0.9
    # F = 2: t' = 2 floor(t / 2), so rounds 2-3, 4-5, ... share a value.
    f2 = [sparsity_schedule(t, 0.9, 10, frequency=2) for t in range(1, 11)]
    assert f2[0] == 0.0
    assert f2[1] == f2[2] == pytest.approx(0.9 * (1 - 512 / 729))
    assert f2[3] == f2[4] == pytest.approx(0.9 * (1 - 216 / 729))
    assert f2[7] == f2[8] == pytest.approx(0.9 * (1 - 8 / 729))
    assert f2[9] == 0.9


@pytest.mark.parametrize(
    "kwargs",
    [
        {},
        {"frequency": 2},
        {"frequency": 3, "start_round": 4},  # F does not divide T: s_T is still S_T
        {"n": 1, "initial": 0.3},
        {"frequency": 4, "start_round": 5},  # t' < t0 for t = 6, 7: clamped to S_0
    ],
)
def test_schedule_is_monotone_within_bounds_and_reaches_target(kwargs):
    t0 = kwargs.get("start_round", 1)
    s0 = kwargs.get("initial", 0.0)
    values = [sparsity_schedule(t, 0.95, 20, **kwargs) for t in range(0, 26)]
    assert all(b >= a for a, b in itertools.pairwise(values))
    assert all(s0 <= v <= 0.95 for v in values)
    assert all(v == s0 for v in values[: t0 + 1])
    assert values[20:] == [0.95] * 6
    assert values[t0 + 1] >= s0


def test_schedule_rejects_bad_arguments():
    with pytest.raises(ValueError):
        sparsity_schedule(3, 0.5, 10, initial=0.6)
    with pytest.raises(ValueError):
        sparsity_schedule(3, 0.5, 10, frequency=0)


# --------------------------------------------------------------- majority vote
def _clients(rows: list[list[float]]) -> list[dict[str, torch.Tensor]]:
    return [
        {
            "w": torch.tensor(r, dtype=torch.float32).view(2, 3),
            "b": torch.tensor([float(i), 0.0]),
            "count": torch.tensor(10 * (i + 1)),
        }
        for i, r in enumerate(rows)
    ]


def test_majority_vote_k4_needs_two_votes_and_averages_with_zeros():
    states = _clients(
        [
            [1, 2, 0, 0, 4, 0],
            [3, 0, 0, 5, 4, 0],
            [0, 0, 0, 7, 4, 1],
            [0, 0, 0, 0, 4, 0],
        ]
    )  # votes: 2 1 0 2 4 1
    merged = majority_vote_merge(states, [1, 2, 3, 4], ["w"])
    expected = torch.tensor([0.7, 0.0, 0.0, 3.1, 4.0, 0.0]).view(2, 3)
    torch.testing.assert_close(merged["w"], expected)
    assert not torch.signbit(merged["w"][merged["w"] == 0]).any()  # +0.0
    # Tensors outside ``keys``: the plain weighted average (zeros included), dtypes kept.
    torch.testing.assert_close(merged["b"], torch.tensor([(2 + 6 + 12) / 10, 0.0]))
    assert merged["count"].dtype == torch.int64
    assert merged["count"].item() == round((10 + 40 + 90 + 160) / 10)


def test_majority_vote_k5_floor_half_is_two_votes():
    states = _clients(
        [
            [1, 2, 0, 0, 4, 0],
            [3, 0, 0, 5, 4, 0],
            [0, 0, 0, 7, 4, 1],
            [0, 0, 0, 0, 4, 0],
            [0, 6, 9, 0, 0, 0],
        ]
    )  # votes: 2 2 1 2 4 1
    merged = majority_vote_merge(states, [1, 2, 3, 4, 5], ["w"])
    expected = torch.tensor([7 / 15, 32 / 15, 0.0, 31 / 15, 40 / 15, 0.0]).view(2, 3)
    torch.testing.assert_close(merged["w"], expected)


@pytest.mark.parametrize("k", [1, 2, 3, 4, 5, 10])
def test_majority_vote_support_is_exactly_the_quorum(k):
    gen = torch.Generator().manual_seed(k)
    states = []
    for _ in range(k):
        w = torch.randn(50, 20, generator=gen) + 5.0  # no accidental cancellation to 0
        w[torch.rand(50, 20, generator=gen) < 0.6] = 0.0
        states.append({"w": w, "v": torch.randn(7, generator=gen)})
    weights = torch.randint(1, 100, (k,), generator=gen).tolist()
    merged = majority_vote_merge(states, weights, ["w"])
    votes = sum((s["w"] != 0).int() for s in states)
    assert torch.equal(merged["w"] != 0, votes >= k // 2 if k > 1 else votes >= 1)
    avg = sum(n * s["w"].double() for n, s in zip(weights, states, strict=True)) / sum(weights)
    kept = votes >= k // 2
    torch.testing.assert_close(merged["w"][kept].double(), avg[kept], rtol=1e-6, atol=1e-6)
    avg_v = sum(n * s["v"].double() for n, s in zip(weights, states, strict=True)) / sum(weights)
    torch.testing.assert_close(merged["v"].double(), avg_v, rtol=1e-6, atol=1e-6)


# ------------------------------------------------------------------ end to end
def test_global_sparsity_follows_schedule_and_uploads_stay_in_the_mask(
    tmp_path, data_dir, monkeypatch
):
    cfg = tiny_cfg(tmp_path, data_dir, "method=fedsparsify_global")
    checked: list[tuple[float, int]] = []
    original = client_module.make_upload

    def spy(trained, received, sparsity, keys, mode, scope):
        upload = original(trained, received, sparsity, keys, mode, scope)
        outside = sum(int(((upload[k] != 0) & (received[k] == 0)).sum()) for k in keys)
        checked.append((sparsity, outside))
        return upload

    monkeypatch.setattr(client_module, "make_upload", spy)
    run_inprocess(cfg)
    rows = read_rows(cfg)
    assert [r["round"] for r in rows] == [0, 1, 2, 3, 4, 5]
    task = get_task(cfg)
    numel = sum(task.new_model().get_parameter(k).numel() for k in task.prunable_keys)
    for row in rows[1:]:
        s_t = sparsity_schedule(row["round"], 0.9, 5)
        assert abs(row["sparsity_prunable"] - s_t) <= 1 / numel
        assert row["nnz_prunable"] == numel - round(s_t * numel)
        assert row["global_regrowth"] == 0  # nested masks: s_t never decreases
    assert rows[1]["sparsity_prunable"] == 0.0  # t0 = 1: no purge in round 1
    assert rows[-1]["sparsity_prunable"] == pytest.approx(0.9, abs=1 / numel)
    assert len(checked) == 15
    assert all(sparsity == 0.0 and outside == 0 for sparsity, outside in checked)
    assert [r["schedule_sparsity"] for r in rows[1:]] == pytest.approx(
        [sparsity_schedule(t, 0.9, 5) for t in range(1, 6)], rel=1e-12
    )  # a method's own metric reaches metrics.jsonl (mean over the round's clients)


def test_local_uploads_have_exactly_schedule_zeros_and_server_votes(tmp_path, data_dir):
    cfg = tiny_cfg(tmp_path, data_dir, "method=fedsparsify_local")
    server = FederatedServer(cfg)
    task = get_task(cfg)
    keys = task.prunable_keys
    numel = sum(server.state[k].numel() for k in keys)
    for rnd in range(1, 6):
        received = server.global_arrays()
        s_t = sparsity_schedule(rnd, 0.9, 5)
        ctx = task.round_context(rnd)
        updates = []
        for pid in server.sample_clients():
            upload, num_examples, metrics = run_client_round(task, ctx, pid, received)
            zeros = sum(int((upload[k] == 0).sum()) for k in keys)
            assert zeros == round(s_t * numel), (rnd, pid)
            assert all(not ((upload[k] != 0) & (received[k] == 0)).any() for k in keys)
            assert metrics.value("schedule_sparsity") == s_t
            state = {k: torch.from_numpy(v) for k, v in upload.items()}
            updates.append(ClientUpdate(pid, state, num_examples))
        server.apply_updates(ctx, updates)
        ordered = sorted(updates, key=lambda u: u.partition_id)
        expected = majority_vote_merge(
            [u.state for u in ordered], [u.num_examples for u in ordered], keys
        )
        for key, value in server.state.items():
            torch.testing.assert_close(value, expected[key].to(value.dtype))
        # K = 3 needs one vote: the global support is the union of the uploads.
        union = sum(int((sum((u.state[k] != 0).int() for u in updates) > 0).sum()) for k in keys)
        assert server.sparsity()["nnz_prunable"] == union


def test_local_runs_end_to_end_through_the_client_app(tmp_path, data_dir):
    cfg = tiny_cfg(
        tmp_path, data_dir, "method=fedsparsify_local", "rounds=3", "clients_per_round=4"
    )
    run_inprocess(cfg)
    rows = read_rows(cfg)
    assert [r["round"] for r in rows] == [0, 1, 2, 3]
    assert rows[1]["sparsity_prunable"] == 0.0
    assert rows[3]["sparsity_prunable"] > 0.5
    assert all(r["num_updates"] == 4 for r in rows[1:])


def test_local_rejects_settings_that_break_the_weight_merge(tmp_path, data_dir):
    # The method declares them unsupported; config validation stops the run before it starts.
    for extra in ("server_lr=0.5", "server_momentum=0.9", "upload=delta_topk"):
        with pytest.raises(ConfigError, match="fedsparsify_local"):
            tiny_cfg(tmp_path, data_dir, "method=fedsparsify_local", extra)
    cfg = tiny_cfg(tmp_path, data_dir, "method=fedsparsify_local")
    assert FedSparsifyLocal.upload_modes == ("weights",) and not FedSparsifyLocal.server_optimizer
    assert cfg.method.name == "fedsparsify_local"


def test_global_with_delta_upload_sends_the_masked_delta_unpruned(tmp_path, data_dir):
    # One owner for the upload sparsity: the method says 0 (the server purges), so the
    # delta is not pruned to `sparsity` behind its back.
    cfg = tiny_cfg(tmp_path, data_dir, "method=fedsparsify_global", "upload=delta_topk")
    task = get_task(cfg)
    assert task.method.upload_sparsity(task.round_context(3)) == 0.0
    run_inprocess(cfg)
    rows = read_rows(cfg)
    for row in rows[1:]:
        s_t = sparsity_schedule(row["round"], 0.9, 5)
        numel = row["nnz_prunable"] / (1 - row["sparsity_prunable"]) if row["nnz_prunable"] else 0
        assert row["sparsity_prunable"] == pytest.approx(s_t, abs=2 / numel)


# ---------------------------------------------------------------- vote quorum
def test_vote_quorum_k5_rules_differ_exactly_on_entries_kept_by_two_clients():
    gen = torch.Generator().manual_seed(7)
    states = []
    for _ in range(5):
        w = torch.randn(1000, generator=gen) + 5.0  # no accidental cancellation to 0
        w[torch.rand(1000, generator=gen) < 0.55] = 0.0
        states.append({"w": w})
    weights = [3, 1, 4, 1, 5]
    votes = sum((s["w"] != 0).int() for s in states)
    code = majority_vote_merge(states, weights, ["w"])  # default: the original code's floor(K/2)
    paper = majority_vote_merge(states, weights, ["w"], quorum="half")
    assert torch.equal(code["w"], majority_vote_merge(states, weights, ["w"], "floor_half")["w"])
    assert torch.equal(code["w"] != 0, votes >= 2)
    assert torch.equal(paper["w"] != 0, votes >= 3)
    differ = (code["w"] != 0) != (paper["w"] != 0)
    assert differ.any() and torch.equal(differ, votes == 2)
    same = ~differ
    assert torch.equal(code["w"][same], paper["w"][same])


def test_vote_threshold_for_even_and_odd_k():
    assert [vote_threshold(k) for k in (1, 2, 3, 4, 5, 10)] == [0, 1, 1, 2, 2, 5]
    assert [vote_threshold(k, "half") for k in (1, 2, 3, 4, 5, 10)] == [1, 1, 2, 2, 3, 5]
    with pytest.raises(ValueError, match="quorum"):
        vote_threshold(5, "strict")


@pytest.mark.parametrize("quorum, kept_by_one", [("floor_half", True), ("half", False)])
def test_local_vote_quorum_option_reaches_the_merge(tmp_path, data_dir, quorum, kept_by_one):
    cfg = tiny_cfg(tmp_path, data_dir, "method=fedsparsify_local", f"method.vote_quorum={quorum}")
    task = get_task(cfg)
    assert task.method.options["vote_quorum"] == quorum
    theta_t = task.initial_state()
    first = task.prunable_keys[0]
    updates = []
    for pid, holds_second in enumerate([False, False, True]):  # K = 3 clients
        state = {k: v.clone() for k, v in theta_t.items()}
        flat = state[first].view(-1)
        flat.zero_()
        flat[0] = 1.0  # held by all 3
        flat[1] = 2.0 if holds_second else 0.0  # held by 1: floor(3/2) = 1 vote, 3/2 needs 2
        updates.append(ClientUpdate(pid, state, 10))
    merged = task.method.aggregate(theta_t, updates, task.round_context(2))[first].view(-1)
    assert merged[0] == 1.0
    assert bool(merged[1] != 0) is kept_by_one


# ------------------------------------------------------------------ prune scope
def test_global_purge_follows_prune_scope_and_layers(tmp_path, data_dir):
    cfg = tiny_cfg(
        tmp_path,
        data_dir,
        "method=fedsparsify_global",
        "prune_scope=layerwise",
        "prune_layers=skip_first_last",
    )
    task = get_task(cfg)
    state = task.initial_state()
    keys = task.prunable_keys
    ctx = task.round_context(5)  # t = T: s_t = S_T = 0.9
    out = task.method.after_aggregate({k: v.clone() for k, v in state.items()}, ctx)
    assert int((out[keys[0]] == 0).sum()) == 0 and int((out[keys[-1]] == 0).sum()) == 0
    for key in keys[1:-1]:
        assert int((out[key] == 0).sum()) == round(0.9 * out[key].numel())
