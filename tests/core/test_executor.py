"""The round loop is the same with any executor: in-process clients or Flower messages."""

from __future__ import annotations

from helpers import make_cfg, read_rows
from inprocess_grid import run_inprocess

from sparsyfed.core import client as client_module
from sparsyfed.core.executor import LocalExecutor
from sparsyfed.core.server import FederatedServer
from sparsyfed.run.session import execute, plan


def _records(cfg) -> list[dict]:
    return [{k: v for k, v in r.items() if k != "round_seconds"} for r in read_rows(cfg)]


def test_local_executor_gives_the_run_of_the_flower_client_app(tmp_path, data_dir):
    extra = ["rounds=3", "fed_eval_clients=2", "wire.values=int8", "simulation.server_threads=1"]
    flower = make_cfg(tmp_path / "flower", data_dir, *extra)
    local = make_cfg(tmp_path / "local", data_dir, *extra)
    run_inprocess(flower)
    execute(local, LocalExecutor(local), plan(local))
    assert _records(local) == _records(flower)


def test_a_failing_client_is_dropped_and_named(tmp_path, data_dir, monkeypatch):
    cfg = make_cfg(tmp_path, data_dir, "rounds=2")
    failing = min(FederatedServer(cfg).sample_clients())  # a client of round 1
    original = client_module.handle_train

    def flaky(task, instruction):
        if instruction.ctx.round == 1 and instruction.partition_id == failing:
            raise RuntimeError("disk on fire")
        return original(task, instruction)

    monkeypatch.setattr("sparsyfed.core.executor.handle_train", flaky)
    summary = execute(cfg, LocalExecutor(cfg), plan(cfg))
    rows = read_rows(cfg)
    assert rows[1]["num_updates"] == cfg.clients_per_round - 1
    [failure] = rows[1]["client_failures"]
    assert failure["partition"] == failing and failure["cause"] == "error"
    assert failure["reason"].startswith("RuntimeError: disk on fire at test_executor.py:")
    assert str(failing) not in rows[1]["uplink_bytes_per_client"]
    assert rows[2]["client_failures"] == [] and summary["rounds"] == 2
