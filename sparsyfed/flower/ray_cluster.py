"""Where the simulation's Ray runs: a local Ray of this run, or an existing cluster.

``simulation.ray_address`` picks it (``docs/ray_cluster.md``):

``null``
    the cluster named by ``RAY_ADDRESS`` in the environment when it is set,
    else a local Ray started by this run (never a stray ``ray start`` cluster
    of this machine, which a bare ``ray.init()`` would join).
``local``
    always a local Ray (``RAY_ADDRESS`` is ignored).
``auto``
    the cluster of ``RAY_ADDRESS``, else the latest ``ray start`` of this machine.
``host:port``
    the GCS of a running cluster; this process must run on one of its nodes.

:func:`check_cluster` is the preflight (one line, exit code 2, before anything
is written); :func:`start_ray` connects and returns the console line that says
where the server and the clients compute.
"""

from __future__ import annotations

import os
import socket
import sys
from collections.abc import Mapping
from typing import Any

import torch

from sparsyfed.config.schema import RunConfig
from sparsyfed.core.task import resolve_device
from sparsyfed.validation import ConfigError, fail

ENV_VAR = "RAY_ADDRESS"
LOCAL = "local"
AUTO = "auto"
CONNECT_TIMEOUT = 3.0
"""Seconds the preflight waits for the cluster's GCS port to accept a connection."""


class RayResourcesError(ConfigError):
    """Ray cannot host one ClientApp with the configured resources."""


def cluster_address(configured: str | None, environ: Mapping[str, str] | None = None) -> str | None:
    """The address to attach to (as given, ``auto`` included), or ``None`` for a local Ray."""
    env = os.environ if environ is None else environ
    address = configured if configured is not None else (env.get(ENV_VAR) or None)
    return None if address in (None, LOCAL) else address


def _source(cfg: RunConfig) -> str:
    """The setting that names the cluster, for messages."""
    return ENV_VAR if cfg.simulation.ray_address is None else "simulation.ray_address"


def split_address(address: str, key: str) -> tuple[str, int]:
    """``host:port`` (``[v6]:port`` too) as ``(host, port)``; a bad form is a ConfigError."""
    allowed = "use local, auto or the host:port of the cluster's GCS (ray start --head --port P)"
    if "://" in address:
        fail(key, address, "Ray Client (ray://) is not supported; " + allowed)
    host, sep, port = address.rpartition(":")
    host = host.strip("[]")
    if not sep or not host or not port.isdigit() or not 0 < int(port) < 65536:
        fail(key, address, allowed)
    return host, int(port)


def _resolve_auto(key: str) -> str:
    """The ``host:port`` that ``ray.init(address="auto")`` would join."""
    try:
        from ray._private.services import canonicalize_bootstrap_address
    except ImportError:  # pragma: no cover (Ray moved it): leave the check to ray.init
        return ""
    try:
        return canonicalize_bootstrap_address(AUTO) or ""
    except ConnectionError:
        fail(key, AUTO, "no running Ray cluster found on this machine (ray start --head)")


def client_device(cfg: RunConfig, attached: bool) -> str:
    """The device the ClientApps pick in their Ray workers (``device=auto`` resolved)."""
    name = str(cfg.device or "auto")
    if name != "auto":
        return name
    if cfg.simulation.client_gpus > 0:
        return "cuda"
    # A local Ray keeps the GPUs visible to workers without a GPU share
    # (simulation.quiet_environment); a cluster's workers see none.
    return "cuda" if not attached and torch.cuda.is_available() else "cpu"


def check_cluster(cfg: RunConfig) -> None:
    """Refuse a Ray setting that cannot work, before anything is written.

    Raises
    ------
    ConfigError
        For ``simulation.client_gpus > 0`` with ``device=cpu``, with
        ``device=cuda:N`` (N > 0; a worker sees its one GPU as ``cuda:0``) or
        without CUDA on this machine (local Ray); and, when attaching, for a malformed
        address, ``simulation.ray_cpus`` set, ``device=cuda`` without a GPU
        share per client, or no cluster answering at the address.

    """
    sim, device = cfg.simulation, str(cfg.device or "auto")
    gpus = sim.client_gpus
    if gpus > 0 and device == "cpu":
        fail("simulation.client_gpus", gpus, "device=cpu keeps clients on the CPU; use device=auto")
    if 0 < gpus <= 1 and device.startswith("cuda:") and device != "cuda:0":
        fail(
            "device", device,
            f"with simulation.client_gpus={gpus} Ray shows each client one GPU, as cuda:0; "
            "use device=cuda or device=auto",
        )  # fmt: skip
    address = cluster_address(sim.ray_address)
    if address is None:
        if gpus > 0 and not torch.cuda.is_available():
            fail(
                "simulation.client_gpus", gpus,
                "this machine has no CUDA device; use simulation.client_gpus=0 or attach "
                "to a cluster with GPUs (simulation.ray_address=host:port)",
            )  # fmt: skip
        return
    key = _source(cfg)
    if address != AUTO:
        split_address(address, key)
    if sim.ray_cpus is not None:
        fail(
            "simulation.ray_cpus", sim.ray_cpus,
            f"it sizes a local Ray; the cluster of {key}={address} has its own CPUs "
            "(use simulation.ray_cpus=null)",
        )  # fmt: skip
    if device.startswith("cuda") and gpus == 0:
        fail(
            "device", device,
            "on a Ray cluster a client sees a GPU only with a share of one; "
            "set simulation.client_gpus > 0 (e.g. 0.25) or use device=auto",
        )  # fmt: skip
    target = _resolve_auto(key) if address == AUTO else address
    if target:
        host, port = split_address(target, key)
        try:
            socket.create_connection((host, port), timeout=CONNECT_TIMEOUT).close()
        except OSError as err:
            reason = err.strerror or type(err).__name__
            raise ConfigError(
                f"{key}={address!r}: no Ray cluster answers at {host}:{port} ({reason}); "
                f"start one with `ray start --head --port {port}` or fix the address"
            ) from err


def init_args(cfg: RunConfig) -> dict[str, Any]:
    """The ``ray.init`` arguments: resources only for a local Ray (a cluster has its own)."""
    sim = cfg.simulation
    address = cluster_address(sim.ray_address)
    args: dict[str, Any] = {
        "address": address or LOCAL,
        "logging_level": "INFO" if sim.verbose else "ERROR",
        "log_to_driver": sim.verbose,
        "include_dashboard": False,
    }
    if address is None and sim.ray_cpus:
        args["num_cpus"] = sim.ray_cpus
    return args


def start_ray(cfg: RunConfig, client_resources: Mapping[str, float]) -> str:
    """Start or join Ray as Flower's Ray backend would; return the one-line device report.

    Flower's backend leaves an initialised Ray as it is (and shuts it down at
    the end of the run). Like the backend, the workers get this process's
    ``sys.path`` as ``PYTHONPATH``, so a cluster started elsewhere imports this
    code.

    Raises
    ------
    RayResourcesError
        When the Ray instance cannot host one client with ``client_resources``
        (for example ``simulation.client_gpus > 0`` on a cluster without GPUs).

    """
    import ray
    from flwr.simulation.ray_transport.ray_actor import pool_size_from_resources

    args = init_args(cfg)
    attached = args["address"] != LOCAL
    pythonpath = os.pathsep.join(sys.path)
    if os.environ.get("PYTHONPATH"):
        pythonpath = f"{pythonpath}{os.pathsep}{os.environ['PYTHONPATH']}"
    os.environ["PYTHONPATH"] = pythonpath
    env_vars = {"PYTHONPATH": pythonpath}
    if attached:  # a worker without a GPU share sees no GPU, whatever the raylet's setting
        env_vars["RAY_ACCEL_ENV_VAR_OVERRIDE_ON_ZERO"] = "1"
    ray.init(runtime_env={"env_vars": env_vars}, **args)
    resources = ray.cluster_resources()
    cpus, gpus = int(resources.get("CPU", 0)), resources.get("GPU", 0)
    try:
        workers = pool_size_from_resources(dict(client_resources))
    except ValueError:
        ray.shutdown()
        where = f"the Ray cluster of {_source(cfg)}" if attached else "this machine"
        raise RayResourcesError(
            f"simulation.client_cpus={cfg.simulation.client_cpus}, "
            f"simulation.client_gpus={cfg.simulation.client_gpus}: {where} has no node with "
            f"that much ({cpus} CPUs, {gpus:g} GPUs in all); lower them"
        ) from None
    if attached:
        nodes = sum(1 for node in ray.nodes() if node.get("Alive"))
        ray_line = f"attached to {ray.get_runtime_context().gcs_address} ({_source(cfg)}), "
        ray_line += f"{nodes} node{'s' if nodes != 1 else ''}, "
    else:
        ray_line = "local, "
    return (
        f"device: {resolve_device(cfg.device)} (server), "
        f"{client_device(cfg, attached)} (clients), ray: {ray_line}"
        f"{cpus} CPUs, {gpus:g} GPUs, {workers} client worker{'s' if workers != 1 else ''}"
    )
