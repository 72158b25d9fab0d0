"""Injected client faults through the real ClientApp: rounds complete on the survivors.

The ClientApp runs in this process over :class:`InProcessGrid`, which keeps a
reply that took longer than the round time-out out of the round, as Flower's
grid does; the ``timeout`` fault's sleep advances the grid's clock instead of
waiting. The same faults under Ray, with real time-outs, are in
``test_ray_cluster.py`` (one real run serves both).
"""

from __future__ import annotations

import contextlib
import json
import logging
import re

import numpy as np
import pytest
from fault_runs import CAUSE, assert_every_fault_met, command_line, every_fault_args
from helpers import make_cfg, read_rows
from inprocess_grid import InProcessGrid, run_inprocess

from sparsyfed.callbacks.base import Callback
from sparsyfed.config.schema import FaultConfig
from sparsyfed.core.client import run_client_round
from sparsyfed.core.faults import CLIENT_FAULTS, fault_plan
from sparsyfed.core.run import RoundIncomplete
from sparsyfed.core.seeds import SeedStreams
from sparsyfed.core.task import get_task
from sparsyfed.flower.client_app import app as client_app
from sparsyfed.run import session

FAULTY = ["num_clients=10", "clients_per_round=5", "faults.fraction=0.2", "rounds=2"]


def test_fault_plan_picks_the_exact_share_from_its_own_seed_stream():
    clients = list(range(20, 30))
    streams = SeedStreams(7)
    plan = fault_plan(FaultConfig("mix", 0.2, 0, 1), streams, 3, clients)
    assert len(plan) == 2 and set(plan) <= set(clients)
    assert set(plan.values()) <= set(CLIENT_FAULTS)
    assert plan == fault_plan(FaultConfig("mix", 0.2, 0, 1), streams, 3, clients)
    plans = [fault_plan(FaultConfig("raise", 0.2, s, 1), streams, 3, clients) for s in range(8)]
    assert len({tuple(p) for p in plans}) > 1  # faults.seed moves the choice
    assert all(set(p.values()) == {"raise"} for p in plans)
    rounds = [
        tuple(fault_plan(FaultConfig("raise", 0.3, 0, 1), streams, r, clients)) for r in range(1, 9)
    ]
    assert len(set(rounds)) > 1 and all(len(r) == 3 for r in rounds)
    assert fault_plan(FaultConfig("none", 0.2, 0, 1), streams, 3, clients) == {}
    assert fault_plan(FaultConfig("raise", 0.2, 0, 4), streams, 3, clients) == {}
    assert len(fault_plan(FaultConfig("raise", 1.0, 0, 1), streams, 3, clients)) == 10


@contextlib.contextmanager
def captured_log():
    """The messages of the ``sparsyfed`` logger while the block runs (a handler of its own)."""
    lines: list[str] = []
    handler = logging.Handler()
    handler.emit = lambda record: lines.append(record.getMessage())
    logger = logging.getLogger("sparsyfed")
    logger.addHandler(handler)
    try:
        yield lines
    finally:
        logger.removeHandler(handler)


class _GlobalStates(Callback):
    """Keeps the global model after every round."""

    def __init__(self) -> None:
        self.states: dict[int, dict[str, np.ndarray]] = {}

    def on_round_end(self, row, run) -> None:
        self.states[row["round"]] = {k: v.copy() for k, v in run.server.global_arrays().items()}


def _run_with_states(cfg, monkeypatch):
    states = _GlobalStates()
    build = session.build_callbacks
    monkeypatch.setattr(session, "build_callbacks", lambda c: [*build(c), states])
    grid = InProcessGrid(client_app, cfg.num_clients)
    monkeypatch.setattr("sparsyfed.core.faults._wait", grid.fake_sleep)
    run_inprocess(cfg, grid=grid)
    return states.states, grid


@pytest.mark.parametrize("kind", [*CLIENT_FAULTS, "mix"])
def test_faulty_clients_are_dropped_and_the_model_is_the_mean_of_the_survivors(
    tmp_path, data_dir, monkeypatch, kind
):
    cfg = make_cfg(
        tmp_path, data_dir, "method=fedavg", *FAULTY, f"faults.kind={kind}",
        "simulation.round_timeout=30",
    )  # fmt: skip
    with captured_log() as lines:
        states, grid = _run_with_states(cfg, monkeypatch)
    rows = read_rows(cfg)
    task = get_task(cfg)
    logged = [line for line in lines if " failed (" in line]
    assert len(rows) == cfg.rounds + 1
    for row in rows[1:]:
        rnd = row["round"]
        plan = fault_plan(cfg.faults, SeedStreams(cfg.seed), rnd, row["clients"])
        assert len(plan) == 1  # 20% of 5
        failures = row["client_failures"]
        assert [f["partition"] for f in failures] == sorted(plan)
        assert [f["cause"] for f in failures] == [CAUSE[plan[p]] for p in sorted(plan)]
        for pid in plan:  # logged once, with round, partition and cause
            pattern = rf"^round {rnd}: train of partition {pid} failed \({CAUSE[plan[pid]]}\): "
            assert sum(bool(re.match(pattern, m)) for m in logged) == 1
        survivors = [p for p in row["clients"] if p not in plan]
        assert row["num_updates"] == len(survivors)
        assert sorted(row["uplink_bytes_per_client"]) == sorted(str(p) for p in survivors)
        # The new global model is the sample-weighted mean of the survivors' uploads.
        ctx = task.round_context(rnd)
        uploads = [run_client_round(task, ctx, p, states[rnd - 1]) for p in survivors]
        total = sum(n for _, n, _ in uploads)
        for key, value in states[rnd].items():
            if value.dtype.kind != "f":
                continue
            mean = sum(n * up[key].astype(np.float64) for up, n, _ in uploads) / total
            np.testing.assert_allclose(value, mean, rtol=1e-5, atol=1e-6, err_msg=key)
    assert len(logged) == cfg.rounds
    timeouts = sum(f["cause"] == "timeout" for r in rows[1:] for f in r["client_failures"])
    assert len(grid.late) == timeouts  # the late replies came, and were not used


def test_too_few_usable_updates_stop_the_run_and_the_same_command_resumes(
    tmp_path, data_dir, monkeypatch
):
    args = ["num_clients=10", "clients_per_round=5", "rounds=3"]
    faulty = make_cfg(
        tmp_path, data_dir, *args, "faults.kind=raise", "faults.fraction=0.6",
        "faults.from_round=2",
    )  # fmt: skip
    with pytest.raises(RoundIncomplete) as stopped:
        run_inprocess(faulty)
    assert str(stopped.value).startswith(
        "round 2: 2 of 5 sampled clients sent a usable update, simulation.min_completion=0.5 "
        "needs 3; the run stops before applying the round; the same command resumes after round 1"
    )
    assert [r["round"] for r in read_rows(faulty)] == [0, 1]
    assert not (tmp_path / "run" / "summary.json").exists()
    # Same output directory, the faults gone: resumes after round 1 and ends as a run
    # that never met them.
    healed = make_cfg(tmp_path, data_dir, *args)
    summary = run_inprocess(healed)
    reference = make_cfg(tmp_path / "reference", data_dir, *args)
    run_inprocess(reference)
    drop = ("round_seconds",)
    got = [{k: v for k, v in r.items() if k not in drop} for r in read_rows(healed)]
    want = [{k: v for k, v in r.items() if k not in drop} for r in read_rows(reference)]
    assert got == want and summary["rounds"] == 3


def test_min_completion_zero_keeps_going_without_any_update(tmp_path, data_dir):
    cfg = make_cfg(
        tmp_path, data_dir, "rounds=2", "faults.kind=raise", "faults.fraction=1.0",
        "simulation.min_completion=0",
    )  # fmt: skip
    run_inprocess(cfg)
    rows = read_rows(cfg)
    assert [r["num_updates"] for r in rows[1:]] == [0, 0]
    assert rows[2]["loss"] == rows[0]["loss"]  # model unchanged


def test_python_m_exits_3_with_one_line_when_a_round_is_incomplete(
    tmp_path, data_dir, monkeypatch, capsys
):
    from sparsyfed.core.executor import LocalExecutor
    from sparsyfed.run import cli as entry
    from sparsyfed.run.session import execute

    monkeypatch.setattr(
        "sparsyfed.flower.simulation.simulate",
        lambda cfg, decision: execute(cfg, LocalExecutor(cfg), decision),
    )
    out = tmp_path / "run"
    args = ["rounds=2", "faults.kind=raise", "faults.fraction=0.5", f"output_dir={out}"]
    argv = ["sparsyfed", *command_line(args, data_dir), f"hydra.run.dir={tmp_path / 'hydra'}"]
    monkeypatch.setattr("sys.argv", argv)
    with pytest.raises(SystemExit) as exited:
        entry.main()
    assert exited.value.code == entry.EXIT_INCOMPLETE == 3
    errors = [line for line in capsys.readouterr().err.splitlines() if line.startswith("error:")]
    assert errors == [
        "error: round 1: 1 of 3 sampled clients sent a usable update, simulation.min_completion=0.5 "
        "needs 2; the run stops before applying the round; the same command resumes after round 0"
    ]
    rows = [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]
    assert [r["round"] for r in rows] == [0] and not (out / "summary.json").exists()
    healed = [a for a in argv if not a.startswith("faults.")]
    monkeypatch.setattr("sys.argv", healed)
    entry.main()  # the same command, the faults gone: resumes and completes
    assert json.loads((out / "summary.json").read_text())["rounds"] == 2


def test_every_fault_kind_in_one_run_of_the_bare_loop(tmp_path, data_dir, capfd):
    """The run ``test_ray_cluster.py`` makes on a cluster, here in the bare loop."""
    from sparsyfed.core.executor import LocalExecutor
    from sparsyfed.run.session import execute, plan

    cfg = make_cfg(tmp_path, data_dir, *every_fault_args(tmp_path, data_dir, 6))
    with captured_log() as lines:
        execute(cfg, LocalExecutor(cfg), plan(cfg))
    assert_every_fault_met(cfg, "\n".join(lines))
