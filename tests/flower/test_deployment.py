"""The deployment engine for real: a SuperLink and 3 SuperNodes on loopback.

A short seeded run (3 SuperNodes, 2 rounds) goes over Flower's wire (every message through the
SuperLink's HTTP API, every ClientApp call a ``flwr-clientapp`` process of
its SuperNode) and must give, round by round, exactly the records of the
same overrides run through the real ClientApp in this process (which the
real-run tests show to equal ``python -m sparsyfed`` under Ray, bit for bit). Every
process the deployment started, and each child those started, is gone
afterwards.
"""

from __future__ import annotations

import os
import socket
import sys
from pathlib import Path

import pytest

from sparsyfed.flower import deployment
from sparsyfed.flower.flwr_cli import free_port
from sparsyfed.flower.processes import command_line, descendants, find, identity, is_alive

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "scripts"))
from compare_runs import compare  # noqa: E402

OVERRIDES = [
    "rounds=2",
    "num_clients=3",
    "clients_per_round=2",
    "dataset.num_samples=1500",
    "model.width=16",
    "model.depth=4",
    "simulation.server_threads=1",
]
FLOWER = ("flower-superlink", "flower-supernode", "flower-superexec", "flwr-")


@pytest.mark.slow
def test_deployment_gives_the_simulations_rounds_and_leaves_no_process(
    tmp_path, data_dir, monkeypatch
):
    import torch
    from inprocess_grid import run_inprocess

    from sparsyfed.config import compose_config, load_config

    overrides = [*OVERRIDES, f"data_dir={data_dir}"]
    sim_out, dep_out, home, port = (
        tmp_path / "sim",
        tmp_path / "dep",
        tmp_path / "home",
        free_port(),
    )
    # The reference (it also generates the dataset the SuperNodes load).
    plain = compose_config(overrides) | {"output_dir": str(sim_out)}
    threads = torch.get_num_threads()
    try:
        run_inprocess(load_config(plain))
    finally:
        torch.set_num_threads(threads)
    pythonpath = os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")])
    monkeypatch.setenv("PYTHONPATH", pythonpath)  # this checkout's code in every process

    started: dict[tuple[int, int], str] = {}  # every Flower process alive when it stops
    stop = deployment.LocalDeployment.stop

    def recording_stop(self):
        for pid in descendants(self.pids):
            if (ident := identity(pid)) and _is_flower(pid):
                started[ident] = command_line(pid)
        return stop(self)

    monkeypatch.setattr(deployment.LocalDeployment, "stop", recording_stop)
    code = deployment.main(
        ["--flwr-home", str(home), "--port", str(port), *overrides, f"output_dir={dep_out}"]
    )
    assert code == 0, (home / "logs" / "superlink.log").read_text()[-3000:]

    assert not compare(sim_out, dep_out), compare(sim_out, dep_out)
    records = (dep_out / "metrics.jsonl").read_text().splitlines()
    assert len(records) == 3 and (dep_out / "summary.json").is_file()

    names = {name for cmd in started.values() for name in FLOWER if name in cmd}
    assert {"flower-superlink", "flower-supernode", "flower-superexec"} <= names, names
    assert [pid for pid, t in started if is_alive(pid) and identity(pid) == (pid, t)] == []
    assert [p for p in find(str(home)) + find(f"127.0.0.1:{port}") if _is_flower(p)] == []


@pytest.mark.slow
def test_deployment_on_a_busy_port_exits_1_and_leaves_nothing(tmp_path, data_dir, capsys):
    home = tmp_path / "home"
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        args = ["--flwr-home", str(home), "--port", str(port), *OVERRIDES]
        code = deployment.main([*args, f"data_dir={data_dir}", f"output_dir={tmp_path / 'run'}"])
    assert code == 1
    assert "the SuperLink did not start" in capsys.readouterr().err
    assert [p for p in find(str(home)) + find(f"127.0.0.1:{port}") if _is_flower(p)] == []


def _is_flower(pid: int) -> bool:
    return any(name in command_line(pid) for name in FLOWER)
