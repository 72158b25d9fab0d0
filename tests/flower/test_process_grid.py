"""The ``processes`` backend: a Flower Grid served by local worker processes (no Ray)."""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path

import pytest
import torch
from flwr.app import ConfigRecord, Message, MessageType, RecordDict
from flwr.supercore.task_identity import TaskIdentity
from helpers import make_cfg

from sparsyfed.config import ConfigError, compose_config, load_config
from sparsyfed.flower.process_grid import NODE_ID_OFFSET, ProcessGrid

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "scripts"))
from compare_runs import compare

TOY_APP = "toy_client_app:app"


@pytest.fixture
def identity():
    saved = (TaskIdentity._task_id, TaskIdentity._run_id, TaskIdentity._node_id)
    TaskIdentity.task_id, TaskIdentity.run_id, TaskIdentity.node_id = 1, 1, 0
    yield
    TaskIdentity._task_id, TaskIdentity._run_id, TaskIdentity._node_id = saved


@pytest.fixture
def grid(identity, monkeypatch):
    monkeypatch.syspath_prepend(str(Path(__file__).parent))  # the fork server imports the app
    with ProcessGrid(TOY_APP, num_nodes=6, workers=2) as g:
        yield g


def messages(grid: ProcessGrid, partitions, **config) -> list[Message]:
    return [
        Message(
            RecordDict({"config": ConfigRecord(config)}),
            dst_node_id=NODE_ID_OFFSET + p,
            message_type=MessageType.TRAIN,
        )
        for p in partitions
    ]


def answers(replies) -> dict[int, int]:
    """Partition id -> the pid of the worker that answered (error replies left out)."""
    out = {}
    for reply in replies:
        if not reply.has_error():
            record = reply.content["reply"]
            assert reply.metadata.src_node_id == NODE_ID_OFFSET + record["partition-id"]
            out[int(record["partition-id"])] = int(record["pid"])
    return out


def test_every_node_answers_as_itself_and_both_workers_share_the_round(grid):
    replies = list(grid.send_and_receive(messages(grid, range(6), sleep=0.2), timeout=60))
    got = answers(replies)
    assert sorted(got) == list(range(6))
    assert len(set(got.values())) == 2  # a free worker takes the next message


def test_a_worker_that_dies_is_an_error_reply_and_is_replaced(grid):
    replies = list(grid.send_and_receive(messages(grid, range(6), exit=2), timeout=60))
    errors = [r for r in replies if r.has_error()]
    assert len(replies) == 6 and len(errors) == 1
    assert errors[0].metadata.src_node_id == NODE_ID_OFFSET + 2
    assert "client worker process died (exit code 7)" in errors[0].error.reason
    again = answers(grid.send_and_receive(messages(grid, range(6), sleep=0.1), timeout=60))
    assert sorted(again) == list(range(6)) and len(set(again.values())) == 2


def test_a_reply_after_the_time_out_is_dropped_and_the_other_worker_goes_on(grid):
    assert list(grid.send_and_receive(messages(grid, [0], sleep=1.0), timeout=0.2)) == []
    later = answers(grid.send_and_receive(messages(grid, [1, 2]), timeout=60))
    assert sorted(later) == [1, 2]
    time.sleep(1.0)  # the late reply has come by now
    final = list(grid.send_and_receive(messages(grid, [3, 4]), timeout=60))
    assert sorted(answers(final)) == [3, 4] and len(final) == 2


def test_a_worker_gets_its_next_message_while_the_server_is_busy(grid):
    ids = list(grid.push_messages(messages(grid, range(4), sleep=0.2)))
    time.sleep(2.0)  # the server's own work (decoding, evaluation): no call into the grid
    assert len(grid.pull_messages(ids)) == 4  # both workers went on to their second message


def test_messages_of_a_round_that_gave_up_are_not_served(grid):
    # 2 taken by the workers, 4 left in the queue when the round gives up on them
    assert list(grid.send_and_receive(messages(grid, range(6), sleep=1.0), timeout=0.1)) == []
    start = time.monotonic()
    later = answers(grid.send_and_receive(messages(grid, [0, 1]), timeout=60))
    assert sorted(later) == [0, 1]
    assert time.monotonic() - start < 1.9  # the two held ones (1 s), not the queued four (3 s)


def test_close_stops_busy_workers_at_once(identity, monkeypatch):
    monkeypatch.syspath_prepend(str(Path(__file__).parent))
    grid = ProcessGrid(TOY_APP, num_nodes=2, workers=2)
    list(grid.push_messages(messages(grid, [0, 1], sleep=60)))
    processes = [w.process for w in grid._workers]
    start = time.monotonic()
    grid.close()
    assert time.monotonic() - start < 30
    assert not any(p.is_alive() for p in processes)


def test_the_processes_backend_gives_the_bare_loop_bit_for_bit(tmp_path, data_dir):
    from sparsyfed.core.executor import LocalExecutor
    from sparsyfed.flower.simulation import backend, simulate
    from sparsyfed.run.session import execute, plan

    common = ["rounds=3", "fed_eval_clients=2", "wire.values=int8", "simulation.server_threads=1"]
    cfg = make_cfg(tmp_path / "processes", data_dir, *common)
    bare = make_cfg(tmp_path / "bare", data_dir, *common)
    assert backend(cfg) == "processes"
    threads = torch.get_num_threads()
    try:
        simulate(cfg, plan(cfg))
        execute(bare, LocalExecutor(bare), plan(bare))
    finally:
        torch.set_num_threads(threads)
    a, b = Path(cfg.output_dir), Path(bare.output_dir)
    assert compare(a, b) == []
    assert (a / "model.sfa").read_bytes() == (b / "model.sfa").read_bytes()
    rows = [json.loads(line) for line in (a / "metrics.jsonl").read_text().splitlines()]
    assert [r["num_updates"] for r in rows[1:]] == [3, 3, 3]


def test_auto_picks_ray_only_for_a_cluster_or_gpu_shares(tmp_path, data_dir, monkeypatch):
    from sparsyfed.flower.simulation import backend, process_workers

    monkeypatch.delenv("RAY_ADDRESS", raising=False)
    cfg = make_cfg(tmp_path, data_dir)
    assert backend(cfg) == "processes"
    assert process_workers(cfg) == min(3, os.cpu_count() or 1)  # 3 clients per round
    attached = make_cfg(tmp_path, data_dir, "simulation.ray_address=10.0.0.1:6379")
    assert backend(attached) == "ray"
    monkeypatch.setenv("RAY_ADDRESS", "10.0.0.1:6379")
    assert backend(cfg) == "ray"
    assert backend(make_cfg(tmp_path, data_dir, "simulation.backend=processes")) == "processes"


def test_processes_refuses_what_only_ray_does(tmp_path):
    for override, key in [
        ("simulation.client_gpus=0.5", "simulation.client_gpus"),
        ("simulation.ray_address=10.0.0.1:6379", "simulation.backend"),
    ]:
        plain = compose_config(["simulation.backend=processes", override])
        plain["output_dir"] = str(tmp_path)
        with pytest.raises(ConfigError, match=key):
            load_config(plain)


def test_the_next_round_trains_while_the_server_evaluates(tmp_path, data_dir, monkeypatch):
    from sparsyfed.core.server import FederatedServer
    from sparsyfed.flower.simulation import simulate
    from sparsyfed.run.session import plan

    events: list[str] = []
    push, evaluate = ProcessGrid.push_messages, FederatedServer.evaluate

    def recording_push(self, messages):
        messages = list(messages)
        events.append(f"push {messages[0].metadata.message_type}")
        return push(self, messages)

    def recording_evaluate(self):
        events.append("evaluate")
        return evaluate(self)

    monkeypatch.setattr(ProcessGrid, "push_messages", recording_push)
    monkeypatch.setattr(FederatedServer, "evaluate", recording_evaluate)
    cfg = make_cfg(tmp_path, data_dir, "rounds=3")
    threads = torch.get_num_threads()
    try:
        simulate(cfg, plan(cfg))
    finally:
        torch.set_num_threads(threads)
    # The partition query and round 1, then round 0's evaluation; then each round's
    # evaluation comes after the next round's clients were sent their instructions.
    assert events == [
        "push query", "push train", "evaluate",
        "push train", "evaluate", "push train", "evaluate", "evaluate",
    ]  # fmt: skip
