"""The one adapter around ``flwr.simulation.run_simulation`` (deprecated upstream, pinned here)."""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping
from typing import Any


def quiet_environment(verbose: bool) -> None:
    """Silence Flower's and Ray's INFO chatter unless ``verbose``; keep GPUs visible to workers."""
    os.environ.setdefault("RAY_ACCEL_ENV_VAR_OVERRIDE_ON_ZERO", "0")
    os.environ.setdefault("FLWR_TELEMETRY_ENABLED", "0")
    os.environ.setdefault("FLWR_DISABLE_UPDATE_CHECK", "1")
    if not verbose:
        # After flwr is imported (it sets its logger to DEBUG on import). ERROR
        # also hides run_simulation's deprecation notice; the strategy reports
        # dropped client updates itself.
        import flwr.supercore.logger  # noqa: F401

        logging.getLogger("flwr").setLevel(logging.ERROR)


def simulate(cfg: Mapping[str, Any]) -> dict[str, Any]:
    """Run one federated simulation of a validated config; return its summary.

    One Ray worker per ``simulation.client_cpus`` CPUs trains the sampled
    clients; the ServerApp (aggregation and central evaluation) runs in this
    process.
    """
    sim = cfg["simulation"]
    verbose = bool(sim.get("verbose", False))
    quiet_environment(verbose)
    from flwr.simulation import run_simulation

    from sparsyfed.flower.client_app import app as client_app
    from sparsyfed.flower.server_app import make_server_app

    init_args: dict[str, Any] = {
        "logging_level": "INFO" if verbose else "ERROR",
        "log_to_driver": verbose,
        "include_dashboard": False,
    }
    if sim.get("ray_cpus"):
        init_args["num_cpus"] = int(sim["ray_cpus"])
    backend_config = {
        "client_resources": {
            "num_cpus": float(sim["client_cpus"]),
            "num_gpus": float(sim.get("client_gpus", 0.0)),
        },
        "init_args": init_args,
    }
    results: list[dict[str, Any]] = []
    run_simulation(
        server_app=make_server_app(cfg, results),
        client_app=client_app,
        num_supernodes=int(cfg["num_clients"]),
        backend_config=backend_config,
        verbose_logging=verbose,
    )
    if not results:
        raise RuntimeError(
            "the simulation ended without a result; rerun with simulation.verbose=true"
        )
    return results[0]
