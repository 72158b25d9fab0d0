"""PruneFL: importance per time, the mask rule, the schedule, initial pruning, side tensors."""

from __future__ import annotations

import pytest
import torch
from helpers import client_updates, make_cfg, read_rows, round_ctx
from inprocess_grid import run_inprocess

from baselines.prunefl import PruneFL, full_gradient, readjust_ratio
from sparsyfed.core.server import FederatedServer
from sparsyfed.core.task import get_task
from sparsyfed.methods.base import MethodSettings, ModelSpec
from sparsyfed.sparse.importance import importance, keep_count, layer_times, top_mask

OPTIONS = {
    "initial_reconfigurations": 5,
    "initial_epochs": 10,
    "initial_weights": "fresh",
    "readjust_interval": 50,
    "ratio_halflife": None,
    "importance": "squared_sum",
    "time_model": "uniform",
}


def _method(keys=("a.weight", "b.weight"), sparsity=0.3, **options) -> PruneFL:
    method = PruneFL(MethodSettings("prunefl", sparsity=sparsity, options=OPTIONS | options))
    method.setup(ModelSpec(tuple(keys), tuple(keys), new_model=None))
    return method


def _numel(task) -> int:
    model = task.new_model()
    return sum(model.get_parameter(k).numel() for k in task.prunable_keys)


# ------------------------------------------------------------- score and rule
def test_importance_is_squared_gradient_over_layer_time():
    scores = {"a": torch.tensor([4.0, 1.0]), "b": torch.tensor([[9.0]])}
    imp = importance(scores, {"a": 2.0, "b": 3.0})
    assert imp["a"].tolist() == [2.0, 0.5] and imp["b"].tolist() == [[3.0]]


def test_layer_times_hand_computed():
    flops, numels = {"c1": 100, "c2": 300, "fc": 50}, {"c1": 10, "c2": 30, "fc": 25}
    # layer_alone: full forward 450 + input gradients of later layers + own weight gradient.
    assert layer_times(flops, numels, "layer_alone") == {
        "c1": 450 + 350 + 100,
        "c2": 450 + 50 + 300,
        "fc": 450 + 0 + 50,
    }
    # per_weight: own training FLOPs (no input gradient for the first layer) per weight.
    assert layer_times(flops, numels, "per_weight") == {"c1": 20.0, "c2": 30.0, "fc": 6.0}
    assert set(layer_times(flops, numels, "uniform").values()) == {1.0}


def test_top_mask_keeps_the_budget_by_ratio_with_ties_in_model_order():
    # g^2 = [16, 1, 9] in a (time 4), [9, 9, 0.5] in b (time 1): ratios [4, .25, 2.25], [9, 9, .5].
    imp = importance(
        {"a": torch.tensor([16.0, 1.0, 9.0]), "b": torch.tensor([9.0, 9.0, 0.5])},
        {"a": 4.0, "b": 1.0},
    )
    masks = top_mask(imp, 3, ["a", "b"])
    assert masks["a"].tolist() == [True, False, False]  # 4 beats 2.25; 9 > 4 twice in b
    assert masks["b"].tolist() == [True, True, False]
    # The same squared gradients without time: a's 16 and 9 win, the 9-tie is broken in order.
    plain = top_mask(
        {"a": torch.tensor([16.0, 1.0, 9.0]), "b": torch.tensor([9.0, 9.0, 0.5])}, 3, "ab"
    )
    assert plain["a"].tolist() == [True, False, True] and plain["b"].tolist() == [
        True,
        False,
        False,
    ]
    assert sum(int(m.sum()) for m in top_mask(imp, 0, "ab").values()) == 0
    with pytest.raises(ValueError, match="keep=7"):
        top_mask(imp, 7, "ab")


def test_readjust_schedule_rounds_and_ratio():
    method = _method(readjust_interval=50)
    rounds = [t for t in range(1, 201) if method.readjusts_in(round_ctx(t, total_rounds=200))]
    assert rounds == [50, 100, 150]  # round 200 is the last: nobody would train its mask
    assert readjust_ratio(0, 0.3, 200) == 0.3
    assert readjust_ratio(100, 0.3, 200) == pytest.approx(0.3 / 2**0.5)
    assert readjust_ratio(1000, 0.3, 1000) == pytest.approx(0.15)
    assert method.halflife(round_ctx(5, total_rounds=200)) == 200.0  # null: the run's rounds
    assert _method(ratio_halflife=1000.0).halflife(round_ctx(5, total_rounds=200)) == 1000.0
    assert method.upload_side_keys(round_ctx(50, total_rounds=200)) == ("a.weight", "b.weight")
    assert method.upload_side_keys(round_ctx(49, total_rounds=200)) == ()


@pytest.mark.parametrize("rule", ["squared_sum", "sum_squared"])
def test_server_readjustment_scores_and_mask(rule):
    from sparsyfed.methods import ClientUpdate

    method = _method(keys=("w",), sparsity=0.9, importance=rule, readjust_interval=1)
    glob = {"w": torch.tensor([1.0, 2.0, 0.0, 3.0])}
    # Client gradients +-: the sum cancels on entry 0; squares do not.
    sides = [torch.tensor([3.0, 1.0, 2.0, 0.0]), torch.tensor([-3.0, 1.0, 2.0, 0.0])]
    if rule == "sum_squared":
        sides = [s.square() for s in sides]
    updates = [
        ClientUpdate(i, {"w": glob["w"].clone()}, 10, side={"w": s}) for i, s in enumerate(sides)
    ]
    ctx = round_ctx(1, total_rounds=4)
    assert keep_count(4, readjust_ratio(1, 0.9, 4)) == 1  # s_1 = 0.9 * 0.5^(1/4) = 0.757
    new = method.aggregate(glob, updates, ctx)
    winner = 2 if rule == "squared_sum" else 0  # (4)^2 = 16 vs 0; 18 vs 8
    assert method.downlink_side()["w"].tolist() == [i == winner for i in range(4)]
    assert new["w"].tolist() == [1.0 * (winner == 0), 0.0, 0.0, 0.0]  # regrown entry 2 starts at 0
    # The mask not yet sent survives a checkpoint; the next aggregation clears it.
    other = _method(keys=("w",), sparsity=0.9, importance=rule, readjust_interval=1)
    other.load_state(method.state())
    assert other.downlink_side()["w"].tolist() == method.downlink_side()["w"].tolist()
    method.aggregate(glob, updates, round_ctx(4, total_rounds=4))  # last round: no readjustment
    assert method.downlink_side() == {}


def test_full_gradient_equals_one_batch_gradient():
    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Linear(5, 4), torch.nn.ReLU(), torch.nn.Linear(4, 3))
    x, y = torch.randn(11, 5), torch.randint(0, 3, (11,))
    chunked = full_gradient(model, x, y, batch_size=4)
    torch.nn.functional.cross_entropy(model(x), y).backward()
    for key in ("0.weight", "2.weight"):
        torch.testing.assert_close(chunked[key], model.get_parameter(key).grad)


# -------------------------------------------------------------------- real runs
def _cfg(tmp_path, data_dir, *extra):
    return make_cfg(tmp_path, data_dir, "method=prunefl", "method.initial_epochs=1", *extra)


def test_initial_pruning_reconfigures_n_times_and_hits_the_target(tmp_path, data_dir, monkeypatch):
    cfg = _cfg(tmp_path, data_dir, "method.initial_reconfigurations=3")
    calls = []
    original = full_gradient
    monkeypatch.setattr(
        "baselines.prunefl.full_gradient", lambda *a: calls.append(1) or original(*a)
    )
    task = get_task(cfg)
    state = task.initial_state()
    assert len(calls) == 3
    numel = _numel(task)
    zeros = sum(int((state[k] == 0).sum()) for k in task.prunable_keys)
    assert zeros == round(0.3 * numel)
    # fresh: the kept weights are the initialised model's own values.
    init = task.new_model()
    task.method.initialize(init, torch.Generator().manual_seed(task.seeds.initial_model()))
    for key, value in init.state_dict().items():
        kept = state[key] != 0
        torch.testing.assert_close(state[key][kept], value[kept])


def test_clients_train_under_the_mask_and_upload_no_side_outside_readjustments(tmp_path, data_dir):
    cfg = _cfg(tmp_path, data_dir, "rounds=5")
    server = FederatedServer(cfg)
    keys = server.task.prunable_keys
    before = {k: server.state[k] != 0 for k in keys}
    updates = client_updates(server, server.sample_clients(), 1)
    for update in updates:
        assert update.side == {}
        for key in keys:
            assert not ((update.state[key] != 0) & ~before[key]).any()  # pruned stay zero
        assert (update.state[keys[0]] != server.state[keys[0]])[before[keys[0]]].any()  # trained


def test_two_rounds_end_to_end(tmp_path, data_dir):
    cfg = _cfg(tmp_path, data_dir, "rounds=2")
    run_inprocess(cfg)
    rows = read_rows(cfg)
    numel = _numel(get_task(cfg))
    assert [r["round"] for r in rows] == [0, 1, 2]
    assert all(r["nnz_prunable"] == numel - round(0.3 * numel) for r in rows)
    assert all(r["global_regrowth"] == 0 for r in rows[1:])


def test_readjusting_every_round_changes_the_mask_and_sends_it(tmp_path, data_dir):
    cfg = _cfg(tmp_path, data_dir, "rounds=3", "method.readjust_interval=1")
    run_inprocess(cfg)
    rows = read_rows(cfg)
    numel = _numel(get_task(cfg))
    # Rounds 1, 2 readjust (round 3 is the last): the kept count follows s_t = 0.3 * 0.5^(t/3).
    for t in (1, 2):
        kept = numel - round(readjust_ratio(t, 0.3, 3) * numel)
        assert rows[t]["nnz_prunable"] <= kept
        assert rows[t]["global_mask_iou"] < 1.0
    # Round 2 trains under the mask sent after round 1; regrown weights become non-zero.
    assert rows[2]["readjust_mask_received"] == 1.0 and rows[1]["readjust_mask_received"] == 0.0
    assert rows[2]["global_regrowth"] > 0
    # Side tensors are counted: round 1's clients sent dense gradients with their update.

    assert rows[1]["uplink_bytes"] > 4 * numel * 3 > rows[3]["uplink_bytes"]
