"""Bad inputs are one line and exit code 2, before any worker starts (sparsyfed/run/preflight.py)."""

from __future__ import annotations

import dataclasses
import os
import subprocess
import sys

import pytest
import torch
from helpers import TINY, make_cfg, run_main

from sparsyfed.config import ConfigError, check_override_keys
from sparsyfed.core.task import Task
from sparsyfed.run.preflight import check_device, check_output_dir, check_task


def _cli(*args: str, cwd) -> subprocess.CompletedProcess:
    env = dict(os.environ, FLWR_DISABLE_RUNTIME_DEPENDENCY_INSTALLATION="1")
    return subprocess.run(
        [sys.executable, "-m", "sparsyfed", *args],
        cwd=cwd, env=env, capture_output=True, text=True, timeout=120,
    )  # fmt: skip


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["+foo=1"], "error: foo is not a known key; known keys: aggregation, "),
        (
            ["simulation.round_timout=5"],
            "error: simulation.round_timout is not a known key; did you mean simulation.round_timeout?",
        ),
        (["output_dir=/dev/null/run"], "/dev/null is a file, not a directory"),
        (["output_dir=/proc/forbidden/run"], "/proc is not writable"),
        (["sparsity=1.5"], "error: sparsity=1.5 is not allowed: it must lie in [0, 1)"),
        (["num_clients=100000"], "error: num_clients=100000 is not allowed: at most the 1200"),
        (["method=nope"], "error: method='nope' is not known; allowed: fedavg, "),
        pytest.param(
            ["device=cuda"],
            "error: device='cuda' is not allowed: this machine has no CUDA",
            marks=pytest.mark.skipif(torch.cuda.is_available(), reason="needs no CUDA"),
        ),
        (["model=resnet18_cifar"], "error: model=resnet18_cifar cannot take dataset=mnist1d"),
    ],
)
def test_bad_input_is_one_line_and_exit_code_2_with_nothing_written(
    tmp_path, data_dir, monkeypatch, capsys, args, message
):
    cwd = tmp_path / "cwd"
    cwd.mkdir()
    small = ["rounds=1", "dataset.num_samples=1500", f"data_dir={data_dir}"]
    code, err = run_main([*args, *small], cwd, monkeypatch, capsys)
    lines = err.strip().splitlines()
    assert code == 2
    assert len(lines) == 1 and message in lines[0], lines
    assert list(cwd.iterdir()) == []  # nothing written (no outputs/ directory)


def test_the_real_command_exits_2_with_one_line(tmp_path):
    result = _cli("sparsty=0.9", "rounds=1", cwd=tmp_path)
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        "error: sparsty is not a known key; did you mean sparsity?"
    ]
    assert list(tmp_path.iterdir()) == []


def test_output_dir_below_a_file_is_refused(tmp_path, data_dir):
    (tmp_path / "file").write_text("x")
    cfg = make_cfg(tmp_path, data_dir)
    below_file = dataclasses.replace(cfg, output_dir=str(tmp_path / "file" / "run"))
    with pytest.raises(ConfigError, match=r"output_dir=.*is a file, not a directory"):
        check_output_dir(below_file)
    check_output_dir(dataclasses.replace(cfg, output_dir=str(tmp_path / "new" / "run")))
    assert not (tmp_path / "new").exists()  # the check creates nothing


@pytest.mark.skipif(torch.cuda.is_available(), reason="needs a machine without CUDA")
def test_cuda_where_there_is_none_is_refused(tmp_path, data_dir):
    with pytest.raises(ConfigError, match="device='cuda' is not allowed: this machine has no CUDA"):
        check_device(make_cfg(tmp_path, data_dir, "device=cuda"))
    check_device(make_cfg(tmp_path, data_dir, "device=cpu"))


def test_more_clients_than_samples_and_a_mismatched_model_are_refused(tmp_path, data_dir):
    task = Task(make_cfg(tmp_path, data_dir, "num_clients=100000"))
    with pytest.raises(ConfigError, match="num_clients=100000 is not allowed: at most the"):
        check_task(task)
    base = [item for item in TINY if not item.startswith("model.")]
    task = Task(make_cfg(tmp_path, data_dir, "model=resnet18_cifar", base=base))
    with pytest.raises(ConfigError, match="model=resnet18_cifar cannot take dataset="):
        check_task(task)
    check_task(Task(make_cfg(tmp_path, data_dir)))  # the default fits


def test_override_keys_suggest_the_closest_known_key():
    with pytest.raises(ConfigError, match="did you mean sparsity"):
        check_override_keys(["sparsty=0.9"])
    with pytest.raises(ConfigError, match="did you mean sparsity"):
        check_override_keys(["+sparsty=0.9"])
    with pytest.raises(
        ConfigError, match=r"^lr\.inital is not a known key; did you mean lr\.initial\?"
    ):
        check_override_keys(["lr.inital=0.1"])
    with pytest.raises(ConfigError, match=r"^method\.round1_mask is not a known key"):
        check_override_keys(["method.round1_mask=false"])  # a FLASH option, not SparsyFed's
    check_override_keys(["method=flash", "method.round1_mask=false"])
    check_override_keys(["method=sparsyfed,flash", "method.round1_mask=false", "seed=0,1"])
    check_override_keys(["sparsity=0.9", "+experiment=cifar10_alpha0.1", "lr.initial=0.1"])
    check_override_keys(
        ["+experiment=speech_alpha0.1", "dataset.features=mfcc", "hydra.verbose=true"]
    )
    with pytest.raises(ConfigError, match=r"^Could not override 'experiment'.*use \+experiment="):
        check_override_keys(["experiment=speech_alpha0.1", "rounds=2"])


@pytest.mark.parametrize(
    "name", ["mnist1d", "digits", "cifar10", "cifar100", "speech_commands", "synthetic"]
)
def test_every_dataset_runs_with_its_default_model(tmp_path, data_dir, name):
    from paper_data_fixtures import write_cifar10, write_cifar100, write_speech_commands

    root = data_dir
    if name == "cifar10":
        root = tmp_path / "data"
        write_cifar10(root, train_sizes=(20,) * 5, test_size=60)
    elif name == "cifar100":
        root = tmp_path / "data"
        write_cifar100(root, train_size=600, test_size=400)
    elif name == "speech_commands":
        root = tmp_path / "data"
        write_speech_commands(root / "speech_commands_v0.02")
    small = ["num_clients=2", "clients_per_round=1", "partition.scheme=iid", f"data_dir={root}"]
    if name == "mnist1d":
        small.append("dataset.num_samples=1500")  # the session's cached data
    cfg = make_cfg(tmp_path, root, f"dataset={name}", *small, base=[])
    assert cfg.model.name == "uniform_cnn"
    task = Task(cfg)
    x = torch.as_tensor(task.dataset.x_train[:2])
    with torch.no_grad():
        out = task.new_model().eval()(x)
    assert out.shape == (2, task.dataset.num_classes) and torch.isfinite(out).all()


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ("sparsty=0.9", "sparsty is not a known key; did you mean sparsity?"),
        ("num_clients=100000", "num_clients=100000 is not allowed: at most the"),
        ("model=resnet18_cifar", "model=resnet18_cifar cannot take dataset=mnist1d"),
    ],
)
def test_the_flwr_run_entry_point_makes_the_same_checks(tmp_path, data_dir, overrides, message):
    from sparsyfed.flower.server_app import config_from_run_config

    run_config = {
        "overrides": f"{overrides} dataset.num_samples=1500 data_dir={data_dir}",
        "output-dir": str(tmp_path / "run"),
    }
    with pytest.raises(ConfigError, match=message):
        config_from_run_config(run_config)
    assert not (tmp_path / "run").exists()
