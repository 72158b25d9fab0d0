"""The one adapter around ``flwr.simulation.run_simulation`` (deprecated upstream, pinned here)."""

from __future__ import annotations

import logging
import os
from typing import Any

import torch

from sparsyfed.callbacks.console import get_logger
from sparsyfed.config.schema import RunConfig
from sparsyfed.core.task import resolve_device
from sparsyfed.flower.fork_server import CLIENT_APP, PRELOAD, start_fork_server
from sparsyfed.flower.ray_cluster import client_device, cluster_address, init_args, start_ray
from sparsyfed.run.directory import Decision
from sparsyfed.run.launcher import JOB_CPUS_ENV


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


def backend(cfg: RunConfig) -> str:
    """The engine that runs the ClientApps: ``processes`` (local) or ``ray``."""
    sim = cfg.simulation
    if sim.backend != "auto":
        return sim.backend
    if cluster_address(sim.ray_address) is not None or sim.client_gpus > 0:
        return "ray"
    return "processes"


def _cpus(cfg: RunConfig) -> int:
    """CPUs of this run: ``simulation.ray_cpus`` or the machine's, at most a parallel sweep's share."""
    cpus = cfg.simulation.ray_cpus or os.cpu_count() or 1
    share = os.environ.get(JOB_CPUS_ENV, "")
    if share.isdigit() and int(share) > 0:  # one job of a parallel sweep
        cpus = min(cpus, int(share))
    return cpus


def process_workers(cfg: RunConfig) -> int:
    """Worker processes of the ``processes`` backend: CPUs / ``client_cpus``, at least one.

    The CPUs are ``simulation.ray_cpus`` if set, else this machine's, and at
    most a parallel sweep's share per job (``SPARSYFED_JOB_CPUS``,
    :mod:`sparsyfed.run.launcher`). More workers than clients in a round
    would only wait.
    """
    busiest = max(cfg.clients_per_round, cfg.fed_eval_clients)
    return max(1, min(int(_cpus(cfg) // cfg.simulation.client_cpus), busiest))


def server_threads(cfg: RunConfig, workers: int) -> int:
    """Torch threads of the server process beside ``workers`` local client workers.

    ``simulation.server_threads`` if set; else the CPUs the workers' threads
    leave free, at least one. The server evaluates while the next round
    trains, so more threads than that would only take turns with the workers
    (on 2 cores a 2-thread server made a sweep 1.3x slower than a 1-thread one).
    """
    sim = cfg.simulation
    if sim.server_threads:
        return sim.server_threads
    return max(1, _cpus(cfg) - workers * sim.client_threads)


def simulate(cfg: RunConfig, decision: Decision) -> dict[str, Any]:
    """Run one federated simulation of a validated config; return its summary.

    The ClientApps run on the engine of :func:`backend`: local worker
    processes (:class:`~sparsyfed.flower.process_grid.ProcessGrid`, no Ray:
    the default on one machine) or Ray. Both run the same ClientApp on the
    same messages and give the same results, bit for bit; the ServerApp's loop
    runs in this process either way.
    """
    quiet_environment(cfg.simulation.verbose)
    if backend(cfg) == "processes":
        return _simulate_processes(cfg, decision)
    return _simulate_ray(cfg, decision)


def prepare_workers(cfg: RunConfig) -> None:
    """Start importing what the client workers need, if the run will use local processes.

    Called before the run's own checks and set-up, which then overlap the
    imports; nothing is written, and the importing process ends with this one.
    """
    if backend(cfg) == "processes":
        start_fork_server(CLIENT_APP, PRELOAD)


def _simulate_processes(cfg: RunConfig, decision: Decision) -> dict[str, Any]:
    """The ClientApps in :func:`process_workers` local processes."""
    from flwr.supercore.task_identity import TaskIdentity

    from sparsyfed.flower.process_grid import RUN_ID, ProcessGrid
    from sparsyfed.flower.server_app import run_server

    workers = process_workers(cfg)
    get_logger().info(
        "device: %s (server), %s (clients), %d client worker process%s",
        resolve_device(cfg.device),
        client_device(cfg, attached=False),
        workers,
        "es" if workers != 1 else "",
    )
    saved = (TaskIdentity._task_id, TaskIdentity._run_id, TaskIdentity._node_id)
    TaskIdentity.task_id, TaskIdentity.run_id, TaskIdentity.node_id = 1, RUN_ID, 0
    threads = torch.get_num_threads()
    torch.set_num_threads(server_threads(cfg, workers))
    try:
        with ProcessGrid(CLIENT_APP, cfg.num_clients, workers, PRELOAD) as grid:
            return run_server(grid, cfg, decision)
    finally:
        torch.set_num_threads(threads)
        TaskIdentity._task_id, TaskIdentity._run_id, TaskIdentity._node_id = saved


def _simulate_ray(cfg: RunConfig, decision: Decision) -> dict[str, Any]:
    """The ClientApps in Ray workers, through ``flwr.simulation.run_simulation``.

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
