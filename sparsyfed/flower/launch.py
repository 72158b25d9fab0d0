"""``python -m sparsyfed.flower.launch [hydra overrides]``: ``flwr run`` with a true exit code.

Also installed as the console script ``sparsyfed-flwr``. It

1. composes and validates the config exactly as ``python -m sparsyfed`` does
   (a bad input is one line on stderr and exit code 2; nothing is started or
   written);
2. picks an absolute output directory (``output_dir=...`` or
   ``outputs/flwr/<date>/<time>-<method>`` under the working directory);
3. runs ``flwr run <app> --stream`` with a federation of ``num_clients``
   SuperNodes and ``simulation.client_cpus`` CPUs per ClientApp, in a private
   Flower home (``--flwr-home``, default a new temporary directory) and on
   private ports, so that ``flwr`` starts a managed SuperLink of its own;
4. waits until the run has finished and exits 0 only when Flower reports it
   ``finished:completed`` *and* ``summary.json`` was written (``flwr run
   --stream`` itself exits 0 after a failed run);
5. always stops the SuperLink it started, by PID, with its children (also
   on Ctrl-C and SIGTERM), and never one it did not start.

Plain ``flwr run .`` keeps working; this only wraps it.
"""

from __future__ import annotations

import argparse
import shutil
import signal
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NoReturn

from sparsyfed.validation import ConfigError

#: Exit codes: bad input (nothing started), failed run, interrupted.
BAD_INPUT, FAILED, INTERRUPTED = 2, 1, 130


@dataclass(frozen=True)
class Prepared:
    """A validated run: its config, overrides and absolute output directory."""

    cfg: Any  # sparsyfed.config.RunConfig (imported lazily: the CLI starts fast)
    overrides: list[str]
    output_dir: Path
    complete: bool = False


def default_output_dir(method: str) -> Path:
    """``outputs/flwr/<date>/<time>-<method>`` under the working directory (absolute)."""
    stamp = time.strftime("%Y-%m-%d/%H-%M-%S")
    return (Path("outputs/flwr") / f"{stamp}-{method}").resolve()


def prepare(overrides: Sequence[str], default_out: Path | None = None) -> Prepared:
    """Compose and validate a run before anything starts (as ``python -m sparsyfed``).

    The checks are those of ``python -m sparsyfed``: group choices, known keys,
    the output directory (writable; a run of another config in it is refused
    unless ``overwrite=true``), the device, and the dataset, partitions and
    model on a sample. The dataset is loaded (and cached) here, once.

    Raises
    ------
    ConfigError
        For any bad input, with a one-line message.

    """
    from hydra.errors import HydraException
    from omegaconf.errors import OmegaConfBaseException

    from sparsyfed.config import compose_config, load_config
    from sparsyfed.data import DatasetNotFoundError
    from sparsyfed.run.preflight import check_overrides

    overrides = list(overrides)
    for item in overrides:
        if item.startswith("-"):
            raise ConfigError(f"{item}: options go before the overrides; see --help")
    check_overrides(overrides)
    try:
        plain = compose_config(overrides)
    except (HydraException, OmegaConfBaseException) as err:
        first = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        raise ConfigError(first) from err
    out = plain.get("output_dir")
    output_dir = (
        Path(out).expanduser().resolve()
        if out
        else (default_out or default_output_dir(plain["method"]["name"]))
    )
    plain["output_dir"] = str(output_dir)
    try:
        return _check(load_config(plain), overrides, output_dir)
    except DatasetNotFoundError as err:
        raise ConfigError(str(err)) from err
    except ConfigError:
        raise
    except ValueError as err:
        raise ConfigError(f"dataset {plain['dataset']['name']!r}: {err}") from err


def _check(cfg: Any, overrides: list[str], output_dir: Path) -> Prepared:
    from sparsyfed.core.task import Task
    from sparsyfed.flower.flwr_cli import run_config
    from sparsyfed.run.directory import Status, prepare_run_dir
    from sparsyfed.run.preflight import check_device, check_output_dir, check_task
    from sparsyfed.validation import fail

    check_output_dir(cfg)
    check_device(cfg)
    cpus = cfg.simulation.client_cpus
    if cpus != int(cpus) or cpus < 1:
        fail("simulation.client_cpus", cpus, "flwr run takes a whole number of CPUs >= 1")
    try:
        run_config(overrides, output_dir)
    except ValueError as err:
        raise ConfigError(str(err)) from err
    if not cfg.overwrite:  # read-only then (overwrite=true would delete the old run here)
        decision = prepare_run_dir(cfg)
        if decision.status is Status.COMPLETE:
            return Prepared(cfg, overrides, output_dir, complete=True)
    check_task(Task(cfg))
    return Prepared(cfg, overrides, output_dir)


def app_root() -> Path:
    """The Flower app directory: the checkout holding this package's ``pyproject.toml``."""
    root = Path(__file__).resolve().parents[2]
    if "[tool.flwr.app]" not in _read(root / "pyproject.toml"):
        raise ConfigError(
            f"no Flower app (pyproject.toml with [tool.flwr.app]) at {root}; pass --app-dir"
        )
    return root


def _read(path: Path) -> str:
    try:
        return path.read_text()
    except OSError:
        return ""


def federation_extras(cfg: Any) -> dict[str, int | float]:
    """The ``--federation-config`` keys of ``simulation.client_gpus`` and ``ray_cpus`` when set."""
    sim = cfg.simulation
    extras: dict[str, int | float] = {}
    if sim.client_gpus:
        extras["client-resources-num-gpus"] = float(sim.client_gpus)
    if sim.ray_cpus:
        extras["init-args-num-cpus"] = int(sim.ray_cpus)
    return extras


def run_flwr(
    prepared: Prepared,
    app_dir: Path,
    flwr_home: Path,
    http_port: int,
    control_port: int,
    status_timeout: float = 120.0,
) -> int:
    """Run the prepared config through ``flwr run --stream``; return the launcher's exit code."""
    from sparsyfed.flower.flwr_cli import (
        flwr_command,
        flwr_env,
        managed_superlinks,
        port_in_use,
        stream,
        wait_for_status,
    )
    from sparsyfed.flower.processes import stop_tree

    env = flwr_env(flwr_home, http_port, control_port)
    before = managed_superlinks(flwr_home, http_port)
    if port_in_use(http_port) and not before:
        print(
            f"error: port {http_port} is in use by a process that is not a SuperLink of "
            f"{flwr_home}; choose another --port",
            file=sys.stderr,
        )
        return BAD_INPUT
    cmd = flwr_command(
        prepared.overrides,
        prepared.output_dir,
        prepared.cfg.num_clients,
        app_dir,
        int(prepared.cfg.simulation.client_cpus),
        federation=federation_extras(prepared.cfg),
    )
    print(
        f"sparsyfed-flwr: FLWR_HOME={flwr_home}, SuperLink 127.0.0.1:{http_port}, "
        f"output {prepared.output_dir}",
        flush=True,
    )
    try:
        code, run_id = stream(cmd, env)
        status = wait_for_status(run_id, env, timeout=status_timeout) if run_id else None
    finally:
        started = [pid for pid in managed_superlinks(flwr_home) if pid not in before]
        stop_tree(started)
    summary = prepared.output_dir / "summary.json"
    if status is not None and status.completed and summary.is_file():
        return 0
    if status is None:
        why = f"flwr run exited with code {code} before a run started"
    else:
        why = f"run {status.run_id} ended {status.status}"
        why += f" ({status.details})" if status.details else ""
        if status.completed:
            why += f" but wrote no {summary}"
    log = flwr_home / "local-superlink" / "superlink.log"
    print(f"error: {why}; SuperLink log: {log}", file=sys.stderr)
    return FAILED


class OneLineParser(argparse.ArgumentParser):
    """An argument parser whose usage errors are one line on stderr and exit code 2."""

    def error(self, message: str) -> NoReturn:
        """Print ``error: <message>`` and exit with :data:`BAD_INPUT`."""
        self.exit(BAD_INPUT, f"error: {message} (see --help)\n")


def parse_args(argv: Sequence[str]) -> argparse.Namespace:
    """The launcher's options and the Hydra overrides."""
    parser = OneLineParser(
        prog="sparsyfed-flwr",
        description="Run sparsyfed through `flwr run` and exit non-zero unless the run completed.",
    )
    parser.add_argument("overrides", nargs="*", help="Hydra overrides, e.g. method=fedavg rounds=5")
    parser.add_argument("--app-dir", type=Path, help="the Flower app (default: this checkout)")
    parser.add_argument(
        "--flwr-home",
        type=Path,
        help="FLWR_HOME (default: a new temporary one, removed after a completed run)",
    )
    parser.add_argument(
        "--port", type=int, help="HTTP API port of the managed SuperLink (default: a free one)"
    )
    parser.add_argument(
        "--control-port", type=int, help="its legacy Control API port (default: a free one)"
    )
    parser.add_argument(
        "--status-timeout",
        type=float,
        default=120.0,
        help="seconds to wait for the final run status after the log stream ends",
    )
    return parser.parse_intermixed_args(argv)


def terminate(signum: int, frame: Any) -> None:
    """SIGTERM handler: unwind (so ``finally`` blocks stop what was started), exit 128 + signum."""
    raise SystemExit(128 + signum)


def app_and_run(app_dir: Path | None, overrides: Sequence[str]) -> tuple[Path, Prepared] | int:
    """The app directory and the checked run, or the exit code when there is nothing to start.

    A bad input prints its one line and gives :data:`BAD_INPUT`; a complete run
    says so and gives 0.
    """
    try:
        root = (app_dir or app_root()).resolve()
        if not (root / "pyproject.toml").is_file():
            raise ConfigError(f"--app-dir {root} holds no pyproject.toml")
        prepared = prepare(overrides)
    except ConfigError as err:
        print(f"error: {err}", file=sys.stderr)
        return BAD_INPUT
    if prepared.complete:
        print(f"run complete: {prepared.output_dir}; nothing to do")
        return 0
    return root, prepared


def main(argv: Sequence[str] | None = None) -> int:
    """Console entry point; returns the exit code."""
    args = parse_args(sys.argv[1:] if argv is None else argv)
    checked = app_and_run(args.app_dir, args.overrides)
    if isinstance(checked, int):
        return checked
    app_dir, prepared = checked
    from sparsyfed.flower.flwr_cli import free_ports

    given = [p for p in (args.port, args.control_port) if p]
    free = iter(free_ports(2 + len(given), keep=given)[len(given) :])
    private = args.flwr_home is None
    home = Path(tempfile.mkdtemp(prefix="sparsyfed-flwr-")) if private else args.flwr_home
    home = home.expanduser().resolve()
    previous = signal.signal(signal.SIGTERM, terminate)
    code = FAILED
    try:
        code = run_flwr(
            prepared,
            app_dir,
            home,
            args.port or next(free),
            args.control_port or next(free),
            args.status_timeout,
        )
    except KeyboardInterrupt:
        print("interrupted; the SuperLink and the run were stopped", file=sys.stderr)
        code = INTERRUPTED
    finally:
        signal.signal(signal.SIGTERM, previous)
        if private and code == 0:
            shutil.rmtree(home, ignore_errors=True)
    return code


def console() -> None:
    """``sparsyfed-flwr``: :func:`main` as a process exit code."""
    sys.exit(main())


if __name__ == "__main__":
    console()
