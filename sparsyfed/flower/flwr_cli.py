"""The Flower command line as this project drives it: environment, ``flwr run``, run status.

Shared by the launcher (:mod:`sparsyfed.flower.launch`), the deployment
helper (:mod:`sparsyfed.flower.deployment`), ``scripts/compare_entrypoints.py``
and the tests. Everything here runs Flower's own commands from the venv of
the running interpreter, with a Flower home (``FLWR_HOME``) and ports of the
caller's choice, so that a run never reaches a SuperLink it did not mean to.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import socket
import subprocess
import sys
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from sparsyfed.flower.processes import command_line, find, stop_tree

#: Default ports of a private managed SuperLink (Flower's own are 39091 / 39093).
DEFAULT_HTTP_PORT = 39191
DEFAULT_CONTROL_PORT = 39193
#: The statuses of a finished run (``flwr list``).
COMPLETED = "finished:completed"
RUN_ID = re.compile(r"Successfully started run (\d+)")


def venv_bin() -> Path:
    """The ``bin`` directory of the running interpreter (``flwr``, ``flower-superlink``)."""
    return Path(sys.executable).parent


def flwr_env(
    flwr_home: Path,
    http_port: int | str | None = None,
    control_port: int | str | None = None,
    base: Mapping[str, str] | None = None,
) -> dict[str, str]:
    """The environment of a Flower command with a private Flower home and private ports.

    Parameters
    ----------
    flwr_home : Path
        ``FLWR_HOME``: Flower's config file, the managed SuperLink's state,
        logs and installed apps live there.
    http_port, control_port : int or str, optional
        Ports of the managed local SuperLink; default ``SPARSYFED_TEST_HTTP_PORT``
        / ``SPARSYFED_TEST_CONTROL_PORT`` from the environment, else 39191 / 39193.
    base : mapping, optional
        The environment to extend (default: this process's).

    """
    env = dict(os.environ if base is None else base)
    http = http_port or env.get("SPARSYFED_TEST_HTTP_PORT", DEFAULT_HTTP_PORT)
    control = control_port or env.get("SPARSYFED_TEST_CONTROL_PORT", DEFAULT_CONTROL_PORT)
    env |= {
        "FLWR_HOME": str(flwr_home),
        # The app's dependencies are this venv's; never `uv sync` them per run.
        "FLWR_DISABLE_RUNTIME_DEPENDENCY_INSTALLATION": "1",
        "FLWR_TELEMETRY_ENABLED": "0",
        "FLWR_DISABLE_UPDATE_CHECK": "1",
        "FLWR_LOCAL_SUPERLINK_HTTP_API_PORT": str(http),
        "FLWR_LOCAL_CONTROL_API_PORT": str(control),
    }
    env.setdefault("RAY_ACCEL_ENV_VAR_OVERRIDE_ON_ZERO", "0")  # as python -m sparsyfed
    # `flwr` starts `flower-superlink` (and that its children) from PATH.
    env["PATH"] = f"{venv_bin()}{os.pathsep}{env.get('PATH', '')}"
    return env


def toml_string(text: str) -> str:
    """``text`` as a TOML string that ``flwr run --run-config`` parses back unchanged.

    Flower splits ``--run-config`` at spaces outside ``'...'`` or ``"..."``,
    and a quoted value cannot contain its own quote character.

    Raises
    ------
    ValueError
        When ``text`` holds both quote characters.

    """
    if "'" not in text and "\n" not in text:
        return f"'{text}'"
    if '"' not in text:
        return json.dumps(text)
    raise ValueError(f"cannot pass both ' and \" through flwr's --run-config: {text}")


def run_config(overrides: Sequence[str], output_dir: Path | str) -> str:
    """The ``--run-config`` value: the Hydra ``overrides`` and the ``output-dir``."""
    return (
        f"overrides={toml_string(shlex.join(overrides))} output-dir={toml_string(str(output_dir))}"
    )


def flwr_command(
    overrides: Sequence[str],
    out: Path | str,
    num_clients: int,
    app_dir: Path | str = ".",
    client_cpus: int = 1,
    connection: str | None = None,
    federation: Mapping[str, int | float] | None = None,
) -> list[str]:
    """``flwr run <app_dir> [connection] --stream`` of ``overrides`` writing to ``out``.

    ``num_clients`` and ``client_cpus`` size the simulation federation; a
    deployment ``connection`` (a name in ``$FLWR_HOME/config.toml``) has its
    own SuperNodes and takes no federation config. ``federation`` adds more
    ``--federation-config`` keys (e.g. ``{"client-resources-num-gpus": 0.5}``).
    """
    cmd = [str(venv_bin() / "flwr"), "run", str(app_dir)]
    if connection:
        cmd.append(connection)
    cmd += ["--stream", "--run-config", run_config(overrides, out)]
    if not connection:
        keys = {"num-supernodes": num_clients, "client-resources-num-cpus": client_cpus}
        keys |= dict(federation or {})
        cmd += ["--federation-config", " ".join(f"{k}={v!r}" for k, v in keys.items())]
    return cmd


def managed_superlinks(flwr_home: Path, http_port: int | str | None = None) -> list[int]:
    """PIDs of the managed SuperLinks of ``flwr_home`` (on ``http_port`` if given).

    ``flwr`` starts them detached with ``--log-file $FLWR_HOME/local-superlink/...``,
    so the Flower home in the command line tells them apart from any other.
    """
    needles = ["flower-superlink", f"{Path(flwr_home)}/local-superlink/"]
    pids = find(*needles)
    if http_port is not None:
        pids = [p for p in pids if f"--port {http_port} " in f"{command_line(p)} "]
    return pids


def stop_superlinks(flwr_home: Path) -> None:
    """Stop the managed SuperLink(s) of ``flwr_home`` and their children, by PID."""
    stop_tree(managed_superlinks(flwr_home))


def port_in_use(port: int, host: str = "127.0.0.1") -> bool:
    """Whether something accepts connections on ``host:port``."""
    with socket.socket() as sock:
        sock.settimeout(0.5)
        return sock.connect_ex((host, int(port))) == 0


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port nobody listens on right now (the kernel's choice)."""
    return free_ports(1, host=host)[0]


def free_ports(count: int, keep: Sequence[int] = (), host: str = "127.0.0.1") -> list[int]:
    """``keep`` followed by distinct free TCP ports, ``count`` in all (held open while chosen)."""
    ports = list(keep)
    socks = []
    try:
        while len(ports) < count:
            sock = socket.socket()
            socks.append(sock)
            sock.bind((host, 0))
            ports.append(int(sock.getsockname()[1]))
    finally:
        for sock in socks:
            sock.close()
    return ports


@dataclass(frozen=True)
class RunStatus:
    """How a Flower run ended, as ``flwr list`` reports it."""

    run_id: str | None
    status: str
    details: str = ""

    @property
    def completed(self) -> bool:
        """Whether the run finished without error."""
        return self.status == COMPLETED


def query_status(
    run_id: str | None,
    env: Mapping[str, str],
    connection: str | None = None,
    cwd: Path | str | None = None,
) -> RunStatus:
    """The status of ``run_id`` (``None``: the newest run) from ``flwr list --format json``."""
    cmd = [str(venv_bin() / "flwr"), "list"]
    if connection:
        cmd.append(connection)
    cmd += ["--format", "json"] + (["--run-id", run_id] if run_id else [])
    proc = subprocess.run(cmd, env=dict(env), cwd=cwd, capture_output=True, text=True, timeout=60)
    try:
        runs = json.loads(proc.stdout)["runs"]
    except (ValueError, KeyError, TypeError):
        tail = (proc.stdout + proc.stderr).strip().splitlines()[-1:] or ["no output"]
        return RunStatus(run_id, "unknown", f"flwr list failed: {tail[0]}")
    if not runs:
        return RunStatus(run_id, "unknown", "flwr list knows no such run")
    run = max(runs, key=lambda r: str(r.get("pending-at", "")))
    details = str(run.get("status-details", ""))
    return RunStatus(str(run["run-id"]), str(run["status"]), "" if details == "N/A" else details)


def wait_for_status(
    run_id: str | None,
    env: Mapping[str, str],
    connection: str | None = None,
    cwd: Path | str | None = None,
    timeout: float = 60.0,
) -> RunStatus:
    """Poll :func:`query_status` until the run has finished (or ``timeout`` seconds)."""
    deadline = time.monotonic() + timeout
    while True:
        status = query_status(run_id, env, connection, cwd)
        if status.status.startswith("finished") or time.monotonic() > deadline:
            return status
        time.sleep(0.5)


def stream(
    cmd: Sequence[str], env: Mapping[str, str], cwd: Path | str | None = None
) -> tuple[int, str | None]:
    """Run a ``flwr run --stream`` command, echo its output; return (exit code, run id)."""
    run_id = None
    with subprocess.Popen(
        list(cmd),
        env=dict(env),
        cwd=cwd,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        errors="replace",
    ) as proc:
        try:
            assert proc.stdout is not None
            for line in proc.stdout:
                sys.stdout.write(line)
                sys.stdout.flush()
                if run_id is None and (match := RUN_ID.search(line)):
                    run_id = match.group(1)
            return proc.wait(), run_id
        finally:
            if proc.poll() is None:  # interrupted: the run goes on until its SuperLink stops
                proc.terminate()
                try:
                    proc.wait(timeout=5)
                except subprocess.TimeoutExpired:
                    proc.kill()
