"""A run's life: checkpoint, bitwise resume, finished runs untouched, refusals, the model file."""

from __future__ import annotations

import json
import os

import pytest
import torch
from helpers import TINY, make_cfg, make_plain, read_rows
from inprocess_grid import run_inprocess

from sparsyfed import load_model
from sparsyfed.config import ConfigError, load_config
from sparsyfed.core.task import Task
from sparsyfed.core.training import evaluate
from sparsyfed.flower import executor as flower_executor
from sparsyfed.run.directory import Status, prepare_run_dir
from sparsyfed.run.files import CHECKPOINT_FILE, MODEL_FILE

TIMING = ("round_seconds", "wall_seconds")


def records(run_dir) -> list[bytes]:
    """The run's metrics.jsonl lines without timing fields, as bytes."""
    out = []
    for line in (run_dir / "metrics.jsonl").read_text().splitlines():
        row = {k: v for k, v in json.loads(line).items() if k not in TIMING}
        out.append(json.dumps(row).encode())
    return out


class Crash(Exception):
    pass


def crash_in_round(monkeypatch, crash_round: int) -> None:
    """Make the executor die in the middle of ``crash_round`` (after the clients trained)."""
    original = flower_executor.GridExecutor.train

    def train(self, instructions):
        replies = original(self, instructions)
        if instructions and instructions[0].ctx.round == crash_round:
            raise Crash(f"killed in round {crash_round}")
        return replies

    monkeypatch.setattr(flower_executor.GridExecutor, "train", train)


CASES = {
    "sparsyfed": [],
    "int8-error-feedback": ["wire.values=int8"],
    "fedavgm": ["method=fedavgm"],
    "flash-fed-eval": ["method=flash", "fed_eval_clients=2"],
    "every-2": ["checkpoint.every=2"],
}


@pytest.mark.parametrize("case", list(CASES))
def test_resume_after_a_crash_equals_the_uninterrupted_run(tmp_path, data_dir, monkeypatch, case):
    extra = ["rounds=5", *CASES[case]]
    whole = make_cfg(tmp_path / "whole", data_dir, *extra)
    run_inprocess(whole)
    cut = make_cfg(tmp_path / "cut", data_dir, *extra)
    with monkeypatch.context() as patch:
        crash_in_round(patch, 4)
        with pytest.raises(Crash):
            run_inprocess(cut)
    out = tmp_path / "cut" / "run"
    assert (out / CHECKPOINT_FILE).is_file() and not (out / "summary.json").exists()
    assert prepare_run_dir(cut).status is Status.RESUME
    run_inprocess(cut)  # the same command again
    assert records(out) == records(tmp_path / "whole" / "run")
    assert (out / MODEL_FILE).read_bytes() == (tmp_path / "whole" / "run" / MODEL_FILE).read_bytes()
    assert not (
        out / CHECKPOINT_FILE
    ).exists()  # a finished run keeps the model, not the checkpoint


def test_the_same_command_into_a_finished_run_changes_nothing(tmp_path, data_dir):
    cfg = make_cfg(tmp_path, data_dir, "rounds=2")
    first = run_inprocess(cfg)
    out = tmp_path / "run"
    before = {p.name: (p.read_bytes(), p.stat().st_mtime_ns) for p in out.iterdir()}
    assert prepare_run_dir(cfg).status is Status.COMPLETE
    again = run_inprocess(cfg)
    assert again == first
    assert {p.name: (p.read_bytes(), p.stat().st_mtime_ns) for p in out.iterdir()} == before


def test_another_config_is_refused_unless_overwrite(tmp_path, data_dir):
    run_inprocess(make_cfg(tmp_path, data_dir, "rounds=2"))
    before = (tmp_path / "run" / "metrics.jsonl").read_bytes()
    other = make_cfg(tmp_path, data_dir, "rounds=3", "sparsity=0.9")
    with pytest.raises(ConfigError) as err:
        prepare_run_dir(other)
    message = str(err.value)
    assert "rounds: 2 -> 3" in message and "sparsity: 0.95 -> 0.9" in message
    assert "overwrite=true" in message and "\n" not in message
    assert (tmp_path / "run" / "metrics.jsonl").read_bytes() == before
    # Operational keys (where and how a run is shown) are not a different config.
    same = make_cfg(tmp_path, data_dir, "rounds=2", "simulation.verbose=true", "checkpoint.every=3")
    assert prepare_run_dir(same).status is Status.COMPLETE
    replaced = make_cfg(tmp_path, data_dir, "rounds=3", "sparsity=0.9", "overwrite=true")
    summary = run_inprocess(replaced)
    assert summary["rounds"] == 3 and len(read_rows(replaced)) == 4


def test_saved_model_loads_and_evaluates_to_the_recorded_final_accuracy(tmp_path, data_dir):
    cfg = make_cfg(tmp_path, data_dir, "rounds=3", "sparsity=0.9")
    summary = run_inprocess(cfg)
    model = load_model(tmp_path / "run")
    assert not model.training
    task = Task(cfg)
    x, y = task.test_data()
    result = evaluate(model, x, y, cfg.eval_batch_size)
    assert result["accuracy"] == summary["final_accuracy"]
    assert result["loss"] == summary["final_loss"]
    # Sparse weights intact: the model's prunable sparsity is the recorded one.
    state = model.state_dict()
    zeros = sum(int((state[k] == 0).sum()) for k in task.prunable_keys)
    numel = sum(state[k].numel() for k in task.prunable_keys)
    assert zeros / numel == summary["final_sparsity_prunable"]
    assert isinstance(next(iter(state.values())), torch.Tensor)


def test_every_per_client_value_lines_up_with_the_clients(tmp_path, data_dir):
    cfg = make_cfg(tmp_path, data_dir, "rounds=3")
    run_inprocess(cfg)
    task = Task(cfg)
    for row in read_rows(cfg)[1:]:
        keys = [str(p) for p in row["clients"]]
        # (downlink_bytes_per_client is one number: every client receives the same model)
        per_client = {
            k: v for k, v in row.items() if k.endswith("_per_client") and isinstance(v, dict)
        }
        assert len(per_client) >= 3
        for name, values in per_client.items():
            assert list(values) == keys, name  # keyed by partition id, in partition order
        # Attribution: each client's count of sent values is its own upload's.
        assert row["uplink_nnz_per_client"].keys() == set(keys)
        assert sum(row["uplink_bytes_per_client"].values()) == row["uplink_bytes"]
    assert task.partitions  # the partitions behind the ids exist


def test_a_metric_a_method_reports_appears_without_touching_any_list(tmp_path, data_dir):
    plain = make_plain(tmp_path, data_dir, "rounds=2", "method=fedavg")
    plain["method"] = {"name": "reporting", "impl": "reporting_method:ReportingMethod"}
    cfg = load_config(plain)
    run_inprocess(cfg)
    task = Task(cfg)
    for row in read_rows(cfg)[1:]:
        sums = {p: int(task.dataset.y_train[task.partitions[p]].sum()) for p in row["clients"]}
        assert row["probe_per_client"] == {str(p): s for p, s in sums.items()}
        assert row["probe_metric"] == pytest.approx(sum(sums.values()) / len(sums), rel=1e-12)


def test_two_runs_with_the_same_seed_write_byte_identical_records(tmp_path, data_dir):
    a = make_cfg(tmp_path / "a", data_dir, "rounds=3", "fed_eval_clients=2")
    b = make_cfg(tmp_path / "b", data_dir, "rounds=3", "fed_eval_clients=2")
    run_inprocess(a)
    run_inprocess(b)
    assert records(tmp_path / "a" / "run") == records(tmp_path / "b" / "run")
    assert (tmp_path / "a" / "run" / MODEL_FILE).read_bytes() == (
        tmp_path / "b" / "run" / MODEL_FILE
    ).read_bytes()
    assert TINY  # the tiny setting of the other end-to-end tests


def test_a_corrupt_checkpoint_is_one_clear_error(tmp_path, data_dir, monkeypatch):
    cfg = make_cfg(tmp_path, data_dir, "rounds=3")
    with monkeypatch.context() as patch:
        crash_in_round(patch, 3)
        with pytest.raises(Crash):
            run_inprocess(cfg)
    checkpoint = tmp_path / "run" / CHECKPOINT_FILE
    data = bytearray(checkpoint.read_bytes())
    data[len(data) // 2] ^= 0xFF
    checkpoint.write_bytes(bytes(data))
    with pytest.raises(ConfigError, match=r"corrupt.*remove"):
        prepare_run_dir(cfg)
    os.remove(checkpoint)  # as the message says: the run then starts over
    assert prepare_run_dir(cfg).status is Status.FRESH


def test_a_model_file_from_before_newer_config_keys_still_loads(tmp_path, data_dir):
    from sparsyfed.run.archive import Archive

    cfg = make_cfg(tmp_path, data_dir, "rounds=1")
    run_inprocess(cfg)
    path = tmp_path / "run" / "model.sfa"
    expected = load_model(tmp_path / "run").state_dict()
    archive = Archive.read(path)
    del archive.meta["config"]["faults"]  # written before these keys existed
    del archive.meta["config"]["simulation"]["min_completion"]
    archive.write(path)
    state = load_model(tmp_path / "run").state_dict()
    assert all(torch.equal(state[k], expected[k]) for k in expected)
