"""``python -m sparsyfed.flower.launch``: ``flwr run`` with a true exit code.

A bad input is one line and exit code 2 with nothing started (in process,
with every way of starting something replaced by a failure); a real run that
fails in the ServerApp exits 1 and Ctrl-C exits 130 (a completing run exits 0:
``test_real_runs.py``), and none leaves a Flower process of its private home or port behind.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from real_runs import default_sigint

from sparsyfed.flower import launch
from sparsyfed.flower.flwr_cli import free_port, managed_superlinks, toml_string
from sparsyfed.flower.processes import find

REPO = Path(__file__).resolve().parents[2]
SMALL = [
    "rounds=1",
    "num_clients=4",
    "clients_per_round=2",
    "dataset.num_samples=1500",
    "model.width=16",
    "model.depth=4",
]


class Launched:
    """A launcher subprocess and the paths it was given."""

    def __init__(self, args: list[str], out: Path, home: Path | None, port: int) -> None:
        self.out, self.home, self.port = out, home, port
        extra = ["--flwr-home", str(home)] if home else []
        env = os.environ | {
            "PYTHONPATH": os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")])
        }
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "sparsyfed.flower.launch", *extra, "--port", str(port), *args],
            cwd=REPO,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            start_new_session=True,  # its own process group, as a command in a terminal
            preexec_fn=default_sigint,
        )

    def result(self) -> tuple[int, str, str]:
        stdout, stderr = self.proc.communicate(timeout=600)
        return self.proc.returncode, stdout, stderr


@pytest.fixture(scope="module")
def real_runs(tmp_path_factory, data_dir):
    """Two launcher runs started together (each mostly waits for Ray): one to be
    interrupted (its test comes first), one failing. A completing run through the
    launcher is in ``test_real_runs.py`` (the resumed ``flwr run``)."""
    root = tmp_path_factory.mktemp("launcher")
    common = [*SMALL, f"data_dir={data_dir}"]
    launch.prepare([*common, f"output_dir={root / 'prep'}"])  # the dataset, generated once
    # Valid, but every client raises (injected faults): round 1 is incomplete, the
    # ServerApp raises, and `flwr run --stream` itself exits 0.
    failing = ["faults.kind=raise", "faults.fraction=1.0", f"output_dir={root / 'failed'}"]
    runs = {
        "failed": Launched([*common, *failing], root / "failed", root / "home", free_port()),
        "ctrl-c": Launched(
            [*common, "rounds=50", f"output_dir={root / 'ctrl-c'}"],
            root / "ctrl-c",
            root / "h2",
            free_port(),
        ),
    }
    yield runs
    for run in runs.values():
        if run.proc.poll() is None:
            run.proc.terminate()  # the launcher stops its SuperLink on SIGTERM
            run.proc.wait(timeout=60)


def assert_nothing_left(home: Path, port: int) -> None:
    assert managed_superlinks(home) == []
    assert find(str(home)) == []
    assert find(f"127.0.0.1:{port}") == []  # the SuperExec and flwr-simulation of the SuperLink


@pytest.mark.parametrize(
    ("override", "message"),
    [
        ("rounds=0x", "rounds='0x' is not allowed"),
        ("metod=fedavg", "did you mean method?"),
        ("simulation.client_cpus=0.5", "simulation.client_cpus=0.5 is not allowed"),
        ("num_clients=2000", "num_clients=2000 is not allowed"),
    ],
)
def test_bad_input_is_one_line_exit_2_and_starts_nothing(
    tmp_path, data_dir, capsys, monkeypatch, override, message
):
    def refuse(*args, **kwargs):
        raise AssertionError("the launcher started something for a bad input")

    monkeypatch.setattr(subprocess, "Popen", refuse)
    monkeypatch.setattr(launch.tempfile, "mkdtemp", refuse)
    out = tmp_path / "run"
    args = [*SMALL, f"data_dir={data_dir}", f"output_dir={out}", override]
    assert launch.main(args) == launch.BAD_INPUT
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("error: ") and message in err, err
    assert not out.exists()


def test_run_config_round_trips_through_flowers_parser():
    import shlex

    from flwr.common.config import parse_config_args

    from sparsyfed.flower.flwr_cli import run_config

    for overrides in (["rounds=2", "method=fedavg"], ["rounds=2", "data_dir=/tmp/x y"]):
        parsed = parse_config_args([run_config(overrides, "/tmp/o u t")])
        assert shlex.split(parsed["overrides"]) == overrides
        assert parsed["output-dir"] == "/tmp/o u t"
    with pytest.raises(ValueError, match="both"):
        toml_string('it\'s "quoted"')


@pytest.mark.slow
def test_ctrl_c_exits_130_and_stops_the_superlink_and_the_run(real_runs):
    import signal
    import time

    run = real_runs["ctrl-c"]
    deadline = time.monotonic() + 300
    while not find("flwr-simulation", f"127.0.0.1:{run.port}"):  # the run has started
        assert run.proc.poll() is None and time.monotonic() < deadline, run.result()
        time.sleep(0.2)
    os.killpg(run.proc.pid, signal.SIGINT)  # Ctrl-C: the launcher and its flwr client
    code, stdout, stderr = run.result()
    assert code == launch.INTERRUPTED, stdout[-3000:] + stderr[-3000:]
    assert "interrupted" in stderr and not (run.out / "summary.json").exists()
    assert_nothing_left(run.home, run.port)


@pytest.mark.slow
def test_failed_run_exits_1_and_stops_its_superlink(real_runs):
    run = real_runs["failed"]
    code, stdout, stderr = run.result()
    assert code == 1, stdout[-3000:] + stderr[-3000:]
    assert "finished:failed" in stderr.strip().splitlines()[-1]
    assert "sampled clients sent a usable update" in stdout  # the ServerApp's error, streamed
    assert not (run.out / "summary.json").exists()
    assert_nothing_left(run.home, run.port)


def test_federation_config_carries_gpus_and_ray_cpus_when_set(tmp_path, data_dir):
    from flwr.cli.run.run import _parse_federation_config_overrides
    from flwr.cli.typing import SuperLinkConnection

    from sparsyfed.flower.flwr_cli import flwr_command

    args = [*SMALL, f"data_dir={data_dir}", "simulation.client_gpus=0.5", "simulation.ray_cpus=2"]
    prepared = launch.prepare([*args, f"output_dir={tmp_path / 'run'}"])
    cmd = flwr_command(
        prepared.overrides,
        prepared.output_dir,
        4,
        federation=launch.federation_extras(prepared.cfg),
    )
    value = cmd[cmd.index("--federation-config") + 1]
    parsed = _parse_federation_config_overrides([value], SuperLinkConnection("local", ":local:"))
    assert (parsed.num_supernodes, parsed.client_resources_num_cpus) == (4, 1)
    assert (parsed.client_resources_num_gpus, parsed.init_args_num_cpus) == (0.5, 2)


def test_unknown_option_is_one_line_exit_2(capsys):
    with pytest.raises(SystemExit) as exc:
        launch.main(["-m", "seed=0,1"])
    assert exc.value.code == launch.BAD_INPUT
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("error: unrecognized arguments: -m")


def test_console_script_is_declared():
    import importlib
    import tomllib

    scripts = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["scripts"]
    module, _, attr = scripts["sparsyfed-flwr"].partition(":")
    assert getattr(importlib.import_module(module), attr) is launch.console
