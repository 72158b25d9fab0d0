"""The deployment engine on one machine: a SuperLink and N SuperNodes on loopback.

``python -m sparsyfed.flower.deployment [options] [hydra overrides]`` (or
``scripts/deployment.py``) validates the config as ``python -m sparsyfed``
does, starts ``flower-superlink`` and one ``flower-supernode`` per client
(partition ``i`` of ``num_clients`` in its ``--node-config``), all insecure on
127.0.0.1, writes a named connection into a private ``$FLWR_HOME/config.toml``,
runs ``flwr run <app> <connection> --stream``, waits for the run's real status
and stops every process it started, by PID, with its children. Exit codes are
the launcher's (:mod:`sparsyfed.flower.launch`): 0 completed with
``summary.json``, 1 failed, 2 bad input, 130 interrupted.

This is the real wire: every message crosses the SuperLink's HTTP API, every
ClientApp call is a ``flwr-clientapp`` process of its SuperNode, and the
ServerApp is a ``flwr-serverapp`` process of the SuperLink. On real machines
the same commands run on separate hosts (``docs/deployment.md``).
"""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sparsyfed.flower.flwr_cli import (
    flwr_command,
    flwr_env,
    free_ports,
    stream,
    venv_bin,
    wait_for_status,
)
from sparsyfed.flower.processes import stop_tree

CONNECTION = "deployment"


def connection_toml(
    name: str, address: str, insecure: bool = True, root_certificates: str | None = None
) -> str:
    """A Flower config file (``$FLWR_HOME/config.toml``) whose default is connection ``name``.

    ``flwr run . <name>`` then submits to the SuperLink at ``address``;
    ``root_certificates`` is the CA certificate (PEM) of a TLS SuperLink.
    """
    lines = [
        "[superlink]",
        f'default = "{name}"',
        "",
        f"[superlink.{name}]",
        f'address = "{address}"',
    ]
    if insecure:
        lines.append("insecure = true")
    elif root_certificates:
        lines.append(f'root-certificates = "{root_certificates}"')
    return "\n".join([*lines, ""])


def superlink_command(port: int, host: str = "127.0.0.1") -> list[str]:
    """``flower-superlink`` (deployment mode, insecure, in-memory state) on ``host:port``."""
    return [
        str(venv_bin() / "flower-superlink"),
        "--insecure",
        "--isolation", "subprocess",
        "--host", host,
        "--port", str(port),
        "--disable-runtime-dependency-installation",
    ]  # fmt: skip


def supernode_command(
    superlink: str, runtime_port: int, partition: int, partitions: int
) -> list[str]:
    """``flower-supernode`` holding data partition ``partition`` of ``partitions``."""
    return [
        str(venv_bin() / "flower-supernode"),
        "--insecure",
        "--superlink", superlink,
        "--port", str(runtime_port),
        "--node-config", f"partition-id={partition} num-partitions={partitions}",
    ]  # fmt: skip


def healthy(port: int, host: str = "127.0.0.1") -> bool:
    """Whether the Flower HTTP API on ``host:port`` answers ``/health``."""
    try:
        with urllib.request.urlopen(f"http://{host}:{port}/health", timeout=0.5) as resp:
            return 200 <= resp.status < 300
    except (urllib.error.URLError, OSError):
        return False


@dataclass
class LocalDeployment:
    """A SuperLink and ``num_nodes`` SuperNodes on loopback, started by this process.

    Use as a context manager: every process (and each child it started) is
    stopped by PID on exit. Logs go to ``flwr_home/logs``.
    """

    num_nodes: int
    flwr_home: Path
    port: int = 0
    cwd: Path | None = None
    base_env: Mapping[str, str] | None = None
    processes: list[subprocess.Popen[bytes]] = field(default_factory=list)

    @property
    def address(self) -> str:
        """The SuperLink's address (``host:port``)."""
        return f"127.0.0.1:{self.port}"

    @property
    def env(self) -> dict[str, str]:
        """The environment of every Flower command of this deployment."""
        return flwr_env(self.flwr_home, base=self.base_env)

    @property
    def pids(self) -> list[int]:
        """PIDs of the SuperLink and the SuperNodes."""
        return [p.pid for p in self.processes]

    def start(self, timeout: float = 60.0) -> LocalDeployment:
        """Write the connection, start the SuperLink, wait until it answers, start the SuperNodes.

        The SuperNodes connect on their first try then; the ServerApp waits for
        them (up to a minute), so they need not be up before ``flwr run``.
        """
        self.flwr_home.mkdir(parents=True, exist_ok=True)
        self.port, *node_ports = free_ports(
            1 + self.num_nodes, keep=[self.port] if self.port else []
        )
        (self.flwr_home / "config.toml").write_text(connection_toml(CONNECTION, self.address))
        logs = self.flwr_home / "logs"
        logs.mkdir(exist_ok=True)
        self._spawn(logs / "superlink.log", superlink_command(self.port))
        deadline = time.monotonic() + timeout
        while not healthy(self.port):
            if self.processes[0].poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"the SuperLink did not start; see {logs / 'superlink.log'}")
            time.sleep(0.1)
        for i, node_port in enumerate(node_ports):
            cmd = supernode_command(self.address, node_port, i, self.num_nodes)
            self._spawn(logs / f"supernode-{i}.log", cmd)
        return self

    def _spawn(self, log_path: Path, cmd: list[str]) -> None:
        with log_path.open("wb") as log:
            self.processes.append(
                subprocess.Popen(
                    cmd, env=self.env, cwd=self.cwd, stdout=log, stderr=subprocess.STDOUT
                )
            )

    def stop(self) -> list[int]:
        """Stop the SuperNodes, then the SuperLink, each with its children; return the PIDs."""
        nodes, link = self.processes[1:], self.processes[:1]
        stopped = stop_tree([p.pid for p in nodes], grace=10)
        stopped += stop_tree([p.pid for p in link], grace=10)
        for proc in self.processes:
            proc.wait()
        return stopped

    def __enter__(self) -> LocalDeployment:
        try:
            return self.start()
        except BaseException:
            self.stop()
            raise

    def __exit__(self, *exc: object) -> None:
        self.stop()


def run(
    overrides: Sequence[str],
    output_dir: Path,
    num_nodes: int,
    flwr_home: Path,
    app_dir: Path,
    port: int = 0,
    base_env: Mapping[str, str] | None = None,
    status_timeout: float = 120.0,
) -> tuple[int, Any]:
    """Start a local deployment, run the app on it, stop it; return (exit code, run status)."""
    deployment = LocalDeployment(num_nodes, flwr_home, port, Path.cwd(), base_env)
    cmd = flwr_command(overrides, output_dir, num_nodes, app_dir, connection=CONNECTION)
    with deployment:
        print(
            f"sparsyfed deployment: SuperLink {deployment.address}, {num_nodes} SuperNodes, "
            f"FLWR_HOME={flwr_home}, output {output_dir}",
            flush=True,
        )
        code, run_id = stream(cmd, deployment.env)
        status = (
            wait_for_status(run_id, deployment.env, CONNECTION, timeout=status_timeout)
            if run_id
            else None
        )
    if status is not None and status.completed and (output_dir / "summary.json").is_file():
        return 0, status
    why = (
        f"flwr run exited with code {code} before a run started"
        if status is None
        else f"run {status.run_id} ended {status.status}"
        + (f" ({status.details})" if status.details else "")
    )
    print(f"error: {why}; logs: {flwr_home / 'logs'}", file=sys.stderr)
    return 1, status


def parse_args(argv: Sequence[str]) -> argparse.Namespace:
    """The deployment's options and the Hydra overrides."""
    from sparsyfed.flower.launch import OneLineParser

    parser = OneLineParser(
        prog="python -m sparsyfed.flower.deployment",
        description="Run sparsyfed on a local SuperLink with one SuperNode per client.",
    )
    parser.add_argument("overrides", nargs="*", help="Hydra overrides, e.g. rounds=2 num_clients=4")
    parser.add_argument("--app-dir", type=Path, help="the Flower app (default: this checkout)")
    parser.add_argument("--flwr-home", type=Path, help="FLWR_HOME (default: a new temporary one)")
    parser.add_argument("--port", type=int, default=0, help="SuperLink port (default: a free one)")
    return parser.parse_intermixed_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    """Console entry point; returns the exit code."""
    from sparsyfed.flower.launch import INTERRUPTED, app_and_run, terminate

    args = parse_args(sys.argv[1:] if argv is None else argv)
    checked = app_and_run(args.app_dir, args.overrides)
    if isinstance(checked, int):
        return checked
    app_dir, prepared = checked
    home = args.flwr_home or Path(tempfile.mkdtemp(prefix="sparsyfed-deploy-"))
    previous = signal.signal(signal.SIGTERM, terminate)
    try:
        code, _ = run(
            prepared.overrides,
            prepared.output_dir,
            prepared.cfg.num_clients,
            home.expanduser().resolve(),
            app_dir,
            args.port,
            os.environ,
        )
    except KeyboardInterrupt:
        print("interrupted; every process of the deployment was stopped", file=sys.stderr)
        code = INTERRUPTED
    except (RuntimeError, OSError) as err:  # a process that would not start
        print(f"error: {err}", file=sys.stderr)
        code = 1
    finally:
        signal.signal(signal.SIGTERM, previous)
    return code


if __name__ == "__main__":
    sys.exit(main())
