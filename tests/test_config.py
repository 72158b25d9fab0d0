"""Config composition and validation: every bad value gives one clear error."""

from __future__ import annotations

import pytest

from sparsyfed.config import ConfigError, compose_config, load_config


def test_default_config_is_the_calibration_setting():
    cfg = compose_config([])
    load_config(cfg)
    assert cfg["method"]["name"] == "sparsyfed"
    assert cfg["beta"] == 1.25 and cfg["sparsity"] == 0.95
    assert cfg["dataset"]["name"] == "mnist1d" and cfg["dataset"]["num_samples"] == 12000
    assert (cfg["num_clients"], cfg["clients_per_round"], cfg["rounds"]) == (100, 10, 40)
    assert cfg["partition"] == {"scheme": "lda", "alpha": 0.1, "classes_per_client": 2}
    assert cfg["lr"]["initial"] == 0.5 and cfg["lr"]["final"] == 0.05
    assert "hydra" not in cfg


def test_method_group_sets_its_own_beta_and_command_line_wins():
    assert compose_config(["method=fedavg"])["beta"] == 1.0
    assert compose_config(["method=sparsyfed", "beta=1.5"])["beta"] == 1.5


@pytest.mark.parametrize(
    "overrides, key, fragment",
    [
        (["sparsity=1.0"], "sparsity=1.0", "[0, 1)"),
        (["sparsity=-0.1"], "sparsity=-0.1", "[0, 1)"),
        (["beta=0.5"], "beta=0.5", "beta >= 1"),
        (["clients_per_round=200"], "clients_per_round=200", "num_clients=100"),
        (["rounds=0"], "rounds=0", ">= 1"),
        (["partition.alpha=0"], "partition.alpha=0", "> 0"),
        (["partition.classes_per_client=0"], "partition.classes_per_client=0", ">= 1"),
        (["partition.classes_per_client=1.5"], "partition.classes_per_client=1.5", "integer"),
        (
            ["partition.scheme=pathological"],
            "partition.scheme='pathological'",
            "lda, inner_dirichlet, dirichlet, iid, shards",
        ),
        (["lr.schedule=cosine"], "lr.schedule='cosine'", "exponential, constant"),
        (["wire.codec=zip"], "wire.codec='zip'", "auto, dense"),
        (["wire.codec=support"], "wire.codec='support'", "golomb"),
        (["wire.values=int4"], "wire.values='int4'", "raw, fp16, int8"),
        (["wire.conditional=maybe"], "wire.conditional='maybe'", "true or false"),
        (["wire.joint=2"], "wire.joint=2", "true or false"),
        (["wire.codec=joint"], "wire.codec='joint'", "golomb"),
        (["method.act_threshold=sometimes"], "method.act_threshold='sometimes'", "first_batch"),
        (["batch_size=2.5"], "batch_size=2.5", "integer"),
        (["seed=abc"], "seed='abc'", "integer"),
        (["upload=gradients"], "upload='gradients'", "weights, delta_topk"),
        (["server_momentum=1.5"], "server_momentum=1.5", "[0, 1)"),
        (["method=zerofl", "method.mask_ratio=0.99"], "method.mask_ratio=0.99", "mask_ratio"),
        (["method=flash", "method.warmup_epochs=-1"], "method.warmup_epochs=-1", "warmup_epochs"),
        (["method=flash", "upload=delta_topk"], "upload='delta_topk'", "supports weights"),
        (["method=fedsparsify_local", "server_lr=0.5"], "server_lr=1.0", "fedsparsify_local"),
        (["checkpoint.every=-1"], "checkpoint.every=-1", ">= 0"),
        (["aggregation=median"], "aggregation='median'", "fedavg, nz_mean"),
        (["aggregation=nz_mean", "upload=delta_topk"], "aggregation='nz_mean'", "upload=weights"),
        (
            ["method=fedsparsify_local", "aggregation=nz_mean"],
            "aggregation='nz_mean'",
            "method=fedsparsify_local supports fedavg",
        ),
        (["prune_scope=per_layer"], "prune_scope='per_layer'", "global, layerwise"),
        (["prune_layers=first"], "prune_layers='first'", "all, skip_first_last"),
        (
            ["method=fedsparsify_local", "method.vote_quorum=majority"],
            "method.vote_quorum='majority'",
            "floor_half, half",
        ),
        (["overwrite=maybe"], "overwrite='maybe'", "true or false"),
        (["+sparsty=0.9"], "sparsty is not a known key", "did you mean sparsity"),
        (
            ["+method.act_keep_flor=0.1"],
            "method.act_keep_flor",
            "did you mean method.act_keep_floor",
        ),
        (["+wire.joins=true"], "wire.joins", "did you mean wire.joint"),
    ],
)
def test_bad_values_name_key_value_and_allowed(overrides, key, fragment):
    cfg = compose_config(overrides)
    with pytest.raises(ConfigError) as err:
        load_config(cfg)
    assert key in str(err.value)
    assert fragment in str(err.value)


@pytest.mark.parametrize(
    "override, group", [("method=nope", "method"), ("dataset=imagenet", "dataset")]
)
def test_unknown_group_choice_is_a_clear_error(override, group):
    with pytest.raises(ConfigError) as err:
        compose_config([override])
    message = str(err.value)
    assert message.startswith(f"{group}='")
    assert "allowed:" in message


def test_typed_config_round_trips_through_plain_containers():
    from sparsyfed.config import RunConfig

    cfg = load_config(compose_config(["method=zerofl", "sparsity=0.9"]))
    assert cfg.sparsity == 0.9 and cfg.method.options["mask_ratio"] == 0.0
    assert RunConfig.from_dict(cfg.to_dict()) == cfg
    with pytest.raises(AttributeError):
        cfg.sparsity = 0.5  # frozen


def test_a_method_that_ignores_a_key_says_so():
    from sparsyfed.run.session import run_header

    header = run_header(load_config(compose_config(["method=fedavg", "sparsity=0.9"])))
    assert header["sparsity_target"] is None and header["ignored"] == {"sparsity": 0.9}
    header = run_header(load_config(compose_config(["method=topk", "beta=1.25"])))
    assert header["beta"] == 1.0 and header["ignored"] == {"beta": 1.25}
    assert run_header(load_config(compose_config([])))["ignored"] == {}
    dense = compose_config(["method=fedavg", "prune_scope=layerwise", "prune_layers=all"])
    assert run_header(load_config(dense))["ignored"] == {"prune_scope": "layerwise"}
    sparse = compose_config(["method=topk", "prune_scope=layerwise"])
    assert run_header(load_config(sparse))["ignored"] == {}
