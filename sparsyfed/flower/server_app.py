"""Flower ServerApp: the round loop of :mod:`sparsyfed.core.run` over the ServerApp's Grid.

Two ways in, one run:

- ``flwr run .``: the module-level :data:`app` composes the Hydra config from
  the ``overrides`` run-config key, writes to ``output-dir`` and decides there
  whether to start, resume or skip the run;
- ``python -m sparsyfed``: :func:`make_server_app` builds an app that closes
  over the already-validated config and the decision made before Ray started
  (``run_simulation`` leaves ``run_config`` empty).

There is no Strategy subclass: the loop is a plain loop whose clients are
reached through :class:`~sparsyfed.flower.executor.GridExecutor`.
"""

from __future__ import annotations

import json
import logging
import shlex
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from flwr.app import Context
from flwr.serverapp import Grid, ServerApp

from sparsyfed.config import ConfigError, compose_config, load_config
from sparsyfed.config.schema import RunConfig
from sparsyfed.core.run import RoundIncomplete
from sparsyfed.core.task import Task
from sparsyfed.data import DatasetNotFoundError
from sparsyfed.flower.executor import GridExecutor
from sparsyfed.run.directory import Decision, Status
from sparsyfed.run.preflight import check_device, check_output_dir, check_overrides, check_task
from sparsyfed.run.session import execute, plan


def run_server(grid: Grid, cfg: RunConfig, decision: Decision | None = None) -> dict[str, Any]:
    """Run (or resume, or skip) a whole federated training on ``grid``; return its summary."""
    if decision is None:
        decision = plan(cfg)
    if decision.status is Status.COMPLETE:
        return dict(decision.summary or {})
    executor = GridExecutor(
        grid, cfg.num_clients, json.dumps(cfg.to_dict()), cfg.simulation.round_timeout
    )
    return execute(cfg, executor, decision)


def make_server_app(
    cfg: RunConfig, decision: Decision, results: list[dict[str, Any] | Exception]
) -> ServerApp:
    """Build a ServerApp bound to a validated config.

    Its summary, or the exception that ended the run, is appended to
    ``results``: the caller raises it again outside Flower's thread, so the
    user sees the run's own error, not Flower's report of it.
    """
    server_app = ServerApp()

    @server_app.main()
    def _main(grid: Grid, context: Context) -> None:
        try:
            results.append(run_server(grid, cfg, decision))
        except Exception as err:  # handed to the caller, see above
            results.append(err)

    return server_app


def config_from_run_config(run_config: Mapping[str, Any]) -> RunConfig:
    """Compose and validate the run config of ``flwr run`` (keys ``overrides``, ``output-dir``).

    The same checks as ``python -m sparsyfed`` run here, before any client is
    addressed: unknown keys, the output directory, the device, the dataset,
    the number of clients and the model's fit to the data.
    """
    from sparsyfed.flower.launch import default_output_dir

    overrides = shlex.split(str(run_config.get("overrides", "")))
    check_overrides(overrides)
    plain = compose_config(overrides)
    output_dir = str(run_config.get("output-dir", "")) or plain.get("output_dir")
    resolved = Path(output_dir).expanduser().resolve() if output_dir else None
    plain["output_dir"] = str(resolved or default_output_dir(plain["method"]["name"]))
    cfg = load_config(plain)
    check_output_dir(cfg)
    check_device(cfg)
    check_task(Task(cfg))
    return cfg


LOGGER = logging.getLogger("sparsyfed")

app = ServerApp()


@app.main()
def main(grid: Grid, context: Context) -> None:
    """Entry point of ``flwr run .``."""
    try:
        cfg = config_from_run_config(context.run_config)
    except (ConfigError, DatasetNotFoundError) as err:
        LOGGER.error("error: %s", err)  # the one line of python -m sparsyfed, in the run's log
        raise
    try:
        run_server(grid, cfg)
    except RoundIncomplete as err:
        LOGGER.error("error: %s", err)
        raise
