"""Config composition and validation: every bad value gives one clear error."""

from __future__ import annotations

import subprocess
import sys

import pytest

from sparsyfed.config import ConfigError, compose_config, validate


def test_default_config_is_the_calibration_setting():
    cfg = compose_config([])
    validate(cfg)
    assert cfg["method"]["name"] == "sparsyfed"
    assert cfg["beta"] == 1.25 and cfg["sparsity"] == 0.95
    assert cfg["dataset"]["name"] == "mnist1d" and cfg["dataset"]["num_samples"] == 12000
    assert (cfg["num_clients"], cfg["clients_per_round"], cfg["rounds"]) == (100, 10, 40)
    assert cfg["partition"] == {"scheme": "lda", "alpha": 0.1}
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
        (["partition.scheme=shards"], "partition.scheme='shards'", "lda, dirichlet, iid"),
        (["lr.schedule=cosine"], "lr.schedule='cosine'", "exponential, constant"),
        (["wire.codec=zip"], "wire.codec='zip'", "auto, dense"),
        (["wire.codec=support"], "wire.codec='support'", "golomb"),
        (["wire.values=int4"], "wire.values='int4'", "raw, fp16, int8"),
        (["wire.conditional=maybe"], "wire.conditional='maybe'", "true or false"),
        (["wire.joint=2"], "wire.joint=2", "true or false"),
        (["wire.codec=joint"], "wire.codec='joint'", "golomb"),
        (["method.act_threshold=sometimes"], "method.act_threshold='sometimes'", "first_batch"),
        (["batch_size=2.5"], "batch_size=2.5", "integer"),
        (["seed=abc"], "seed='abc'", "finite number"),
        (["upload=gradients"], "upload='gradients'", "weights, delta_topk"),
        (["server_momentum=1.5"], "server_momentum=1.5", "[0, 1)"),
        (["method=zerofl", "method.mask_ratio=0.99"], "method.mask_ratio=0.99", "mask_ratio"),
        (["method=flash", "method.warmup_epochs=-1"], "method.warmup_epochs=-1", "warmup_epochs"),
        (["method=zerofl", "beta=1.25"], "beta", "zerofl"),
    ],
)
def test_bad_values_name_key_value_and_allowed(overrides, key, fragment):
    cfg = compose_config(overrides)
    with pytest.raises(ConfigError) as err:
        validate(cfg)
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


def test_cli_reports_bad_value_before_any_work():
    for args, expected in ((["sparsity=1.5"], "sparsity=1.5"), (["method=nope"], "method='nope'")):
        proc = subprocess.run(
            [sys.executable, "-m", "sparsyfed", *args], capture_output=True, text=True, timeout=120
        )
        assert proc.returncode == 2
        assert expected in proc.stderr
        assert "Traceback" not in proc.stderr
