"""Flower ServerApp: compose the config, run the strategy, write the results.

Two ways in, one run:

- ``flwr run .``: the module-level :data:`app` composes the Hydra config from
  the ``overrides`` run-config key and writes to ``output-dir``;
- ``python -m sparsyfed``: :func:`make_server_app` builds an app that closes over
  the already-resolved config (``run_simulation`` leaves ``run_config`` empty).
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import torch
from flwr.app import Context
from flwr.serverapp import Grid, ServerApp

from sparsyfed.callbacks.recorder import RunRecorder
from sparsyfed.config import compose_config, validate
from sparsyfed.core.server import FederatedServer
from sparsyfed.core.task import Task
from sparsyfed.flower.strategy import SparseFedStrategy


def run_server(grid: Grid, cfg: Mapping[str, Any]) -> dict[str, Any]:
    """Run a whole federated training on ``grid`` and return the run summary."""
    threads = cfg["simulation"].get("server_threads")
    if threads:
        torch.set_num_threads(int(threads))
    recorder = RunRecorder(cfg["output_dir"], cfg)
    strategy = SparseFedStrategy(FederatedServer(cfg), recorder)
    return strategy.start(grid, timeout=float(cfg["simulation"]["round_timeout"]))


def make_server_app(
    cfg: Mapping[str, Any], results: list[dict[str, Any]] | None = None
) -> ServerApp:
    """Build a ServerApp bound to a resolved config; summaries are appended to ``results``."""
    server_app = ServerApp()

    @server_app.main()
    def _main(grid: Grid, context: Context) -> None:
        summary = run_server(grid, cfg)
        if results is not None:
            results.append(summary)

    return server_app


def config_from_run_config(run_config: Mapping[str, Any]) -> dict[str, Any]:
    """Compose and validate the run config of ``flwr run`` (keys ``overrides``, ``output-dir``)."""
    cfg = compose_config(str(run_config.get("overrides", "")))
    output_dir = str(run_config.get("output-dir", "")) or cfg.get("output_dir")
    if not output_dir:
        stamp = time.strftime("%Y-%m-%d/%H-%M-%S")
        output_dir = f"outputs/flwr/{stamp}-{cfg['method']['name']}"
    cfg["output_dir"] = str(Path(output_dir).expanduser().resolve())
    validate(cfg)
    Task(cfg).dataset  # noqa: B018  (fail here, clearly, when the dataset is missing)
    return cfg


app = ServerApp()


@app.main()
def main(grid: Grid, context: Context) -> None:
    """Entry point of ``flwr run .``."""
    run_server(grid, config_from_run_config(context.run_config))
