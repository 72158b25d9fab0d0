"""The one adapter around ``flwr.simulation.run_simulation`` (deprecated upstream, pinned here)."""

from __future__ import annotations

import logging
import os
from typing import Any

from sparsyfed.callbacks.console import get_logger
from sparsyfed.config.schema import RunConfig
from sparsyfed.flower.ray_cluster import init_args, start_ray
from sparsyfed.run.directory import Decision


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


def simulate(cfg: RunConfig, decision: Decision) -> dict[str, Any]:
    """Run one federated simulation of a validated config; return its summary.

    One Ray worker per ``simulation.client_cpus`` CPUs (and
    ``simulation.client_gpus`` GPUs) trains the sampled clients, on a local Ray
    or on the cluster of ``simulation.ray_address`` / ``RAY_ADDRESS``
    (:mod:`sparsyfed.flower.ray_cluster`); the ServerApp (aggregation and
    central evaluation) runs in this process. Prints one line saying where
    both compute. ``decision`` says whether the run starts or resumes
    (:func:`sparsyfed.run.session.plan`).

    Raises
    ------
    RayResourcesError
        When Ray cannot host one client with the configured resources.

    """
    sim = cfg.simulation
    verbose = sim.verbose
    quiet_environment(verbose)
    from flwr.simulation import run_simulation

    from sparsyfed.flower.client_app import app as client_app
    from sparsyfed.flower.server_app import make_server_app

    client_resources = {"num_cpus": sim.client_cpus, "num_gpus": sim.client_gpus}
    backend_config = {"client_resources": client_resources, "init_args": init_args(cfg)}
    get_logger().info(start_ray(cfg, client_resources))
    results: list[dict[str, Any] | Exception] = []
    try:
        run_simulation(
            server_app=make_server_app(cfg, decision, results),
            client_app=client_app,
            num_supernodes=cfg.num_clients,
            backend_config=backend_config,
            verbose_logging=verbose,
        )
    finally:
        import ray

        ray.shutdown()  # Flower's backend does it too, unless the run failed before it started
    if not results:
        raise RuntimeError(
            "the simulation ended without a result; rerun with simulation.verbose=true"
        )
    if isinstance(results[0], Exception):
        raise results[0]
    return results[0]
