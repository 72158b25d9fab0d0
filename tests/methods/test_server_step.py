"""The server step: re-masking to the uploads' union after server lr / momentum, FedAvgM scope."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from helpers import client_updates, make_cfg, read_rows, round_ctx
from inprocess_grid import run_inprocess

from sparsyfed.config import compose_config, load_config
from sparsyfed.core.server import FederatedServer
from sparsyfed.methods import ClientUpdate, build_method
from sparsyfed.validation import ConfigError

SERVER_STEP = ["server_lr=0.1", "server_momentum=0.9"]


def union_support(updates, keys) -> dict[str, torch.Tensor]:
    """Entries that at least one update holds non-zero."""
    return {k: torch.stack([u.state[k] != 0 for u in updates]).any(0) for k in keys}


@pytest.mark.parametrize("method", ["sparsyfed", "topk"])
def test_server_lr_and_momentum_never_revive_an_entry_every_client_pruned(
    tmp_path, data_dir, method
):
    cfg = make_cfg(tmp_path, data_dir, f"method={method}", "sparsity=0.95", *SERVER_STEP)
    server = FederatedServer(cfg)
    keys = server.task.prunable_keys
    for server_round in (1, 2, 3, 4):
        updates = client_updates(server, [0, 3, 5], server_round)
        server.apply_updates(server.task.round_context(server_round), updates)
        union = union_support(updates, keys)
        revived = sum(int(((server.state[k] != 0) & ~union[k]).sum()) for k in keys)
        assert revived == 0, f"round {server_round}: {revived} entries outside every upload"
        # The step itself still happens: the global model is not just the average of weights.
        assert any(not torch.equal(server.state[k], updates[0].state[k]) for k in keys)


def test_one_client_per_round_keeps_the_target_sparsity_under_momentum(tmp_path, data_dir):
    cfg = make_cfg(
        tmp_path, data_dir, "method=topk", "clients_per_round=1", "rounds=4", *SERVER_STEP
    )
    run_inprocess(cfg)
    rows = read_rows(cfg)[1:]
    assert [r["sparsity_prunable"] >= 0.95 - 1e-9 for r in rows] == [True] * 4, rows


def test_delta_uploads_keep_the_support_of_the_rebuilt_weights_and_zero_the_velocity(
    tmp_path, data_dir
):
    """Under ``delta_topk`` a client's mask is the support of theta_t + delta, not of delta."""
    cfg = make_cfg(
        tmp_path, data_dir, "method=topk", "upload=delta_topk", "server_lr=0.5",
        "server_momentum=0.9",
    )  # fmt: skip
    server = FederatedServer(cfg)
    key = server.task.prunable_keys[0]

    def deltas(value: float) -> list[ClientUpdate]:
        return [
            ClientUpdate(pid, {k: torch.full_like(v, value) for k, v in server.state.items()}, 1)
            for pid in (0, 1)
        ]

    server.apply_updates(round_ctx(1), deltas(1.0))  # velocity 1 everywhere
    server.state[key][0].zero_()  # a server-side prune of one output row
    kept = server.state[key][1:].clone()
    server.apply_updates(round_ctx(2), deltas(0.0))  # empty deltas: nobody holds row 0
    assert not server.state[key][0].any()  # not revived by the velocity 0.9
    # Rows the clients still hold (their delta is empty, their weights are not) take the step.
    torch.testing.assert_close(server.state[key][1:], kept + 0.5 * 0.9)
    # The pruned row has no velocity left: a client reviving it moves it by its own step only.
    revive = deltas(0.0)
    revive[0].state[key][0] = 0.2
    server.apply_updates(round_ctx(3), revive)
    torch.testing.assert_close(server.state[key][0], torch.full_like(kept[0], 0.5 * 0.1))


def fedavgm(*overrides: str):
    return build_method(load_config(compose_config(["method=fedavgm", *overrides])))


def test_momentum_scope_all_moves_running_statistics_parameters_averages_them():
    g0 = {"bn.running_var": torch.tensor([1.0, 2.0]), "bn.num_batches_tracked": torch.tensor(10)}
    ups = [ClientUpdate(0, {"bn.running_var": torch.tensor([0.5, 1.0]),
                            "bn.num_batches_tracked": torch.tensor(21)}, 1)]  # fmt: skip
    out = {}
    for scope in ("parameters", "all"):
        method = fedavgm("server_lr=0.5", "server_momentum=0.9", f"server_momentum_scope={scope}")
        g1 = method.aggregate(g0, ups, round_ctx(1))
        out[scope] = method.aggregate(g1, ups, round_ctx(2))
        assert out[scope]["bn.num_batches_tracked"].dtype == torch.int64
    # parameters: the plain weighted average, whatever the server step.
    torch.testing.assert_close(out["parameters"]["bn.running_var"], torch.tensor([0.5, 1.0]))
    assert int(out["parameters"]["bn.num_batches_tracked"]) == 21
    # all: v1 = -0.5 -> 0.75; v2 = 0.9 v1 + (0.5 - 0.75) = -0.7 -> 0.4 (first entry).
    torch.testing.assert_close(out["all"]["bn.running_var"], torch.tensor([0.4, 0.8]))
    # The counter takes the step in float (v1 = 11 -> 15.5, v2 = 9.9 + 5.5 -> 23.2), rounded.
    assert int(out["all"]["bn.num_batches_tracked"]) == 23


def test_momentum_scope_all_is_flowers_fedavgm(tmp_path):
    """Three rounds of our ``all`` scope next to flwr's FedAvgM on the same numpy arrays."""
    from flwr.common import Code, FitRes, Status, ndarrays_to_parameters, parameters_to_ndarrays
    from flwr.server.strategy import FedAvgM

    rng = np.random.default_rng(0)
    shapes = {"w": (3, 4), "bn.running_mean": (4,), "bn.running_var": (4,)}
    g0 = {k: torch.from_numpy(rng.normal(size=s).astype(np.float32)) for k, s in shapes.items()}
    g0["bn.num_batches_tracked"] = torch.tensor(7)
    keys = list(g0)
    official = load_config(compose_config(["method=fedavgm_official"]))
    method = build_method(official)
    flower = FedAvgM(
        server_learning_rate=official.server_lr,
        server_momentum=official.server_momentum,
        initial_parameters=ndarrays_to_parameters([g0[k].numpy() for k in keys]),
    )
    ours = g0
    for server_round in (1, 2, 3):
        clients = [
            ({k: torch.from_numpy(rng.normal(size=s).astype(np.float32)) for k, s in shapes.items()}
             | {"bn.num_batches_tracked": torch.tensor(int(rng.integers(0, 50)))}, n)
            for n in (3, 5)
        ]  # fmt: skip
        results = [
            (None, FitRes(Status(Code.OK, ""), ndarrays_to_parameters([s[k].numpy() for k in keys]),
                          n, {}))
            for s, n in clients
        ]  # fmt: skip
        params, _ = flower.aggregate_fit(server_round, results, [])
        theirs = dict(zip(keys, parameters_to_ndarrays(params), strict=True))
        ours = method.aggregate(ours, [ClientUpdate(i, s, n) for i, (s, n) in enumerate(clients)],
                                round_ctx(server_round))  # fmt: skip
        for k in shapes:
            np.testing.assert_allclose(ours[k].numpy(), theirs[k], rtol=1e-5, atol=1e-6)
        # Flower keeps the counter as an unrounded float on the server; ours is rounded.
        assert (
            abs(int(ours["bn.num_batches_tracked"]) - float(theirs["bn.num_batches_tracked"])) < 1
        )


def test_official_fedavgm_config_composes_and_a_bad_scope_is_refused():
    cfg = load_config(compose_config(["method=fedavgm_official"]))
    assert (cfg.server_lr, cfg.server_momentum, cfg.server_momentum_scope) == (0.51622, 0.9, "all")
    assert load_config(compose_config(["method=fedavgm"])).server_momentum_scope == "parameters"
    with pytest.raises(ConfigError, match=r"server_momentum_scope='?everything'?.*parameters"):
        load_config(compose_config(["server_momentum_scope=everything"]))


@pytest.mark.parametrize(
    "method", ["flash", "flash_spdst", "fedsparsify_global", "fedsparsify_random", "snip"]
)
def test_server_pruning_methods_never_regrow_their_mask_under_momentum(tmp_path, data_dir, method):
    """FLASH's and SNIP's fixed masks and FedSparsify's purges survive server lr + momentum."""
    extra = ["method.stage1_epochs=1"] if method == "flash_spdst" else []
    cfg = make_cfg(tmp_path, data_dir, f"method={method}", "rounds=4", *SERVER_STEP, *extra)
    run_inprocess(cfg)
    rows = read_rows(cfg)[1:]
    assert [r["global_regrowth"] for r in rows[1:]] == [0, 0, 0]
    if method.startswith(("flash", "snip")):  # the mask of round 1 (snip: round 0), unchanged
        assert len({r["nnz_prunable"] for r in rows}) == 1
        if method == "flash":  # flash_spdst's classifier stays dense (conv-only mask)
            assert rows[-1]["sparsity_prunable"] >= 0.95 - 1e-3
    else:  # purged to s_t = S in the last round
        assert rows[-1]["sparsity_prunable"] == pytest.approx(0.95, abs=1e-3)
