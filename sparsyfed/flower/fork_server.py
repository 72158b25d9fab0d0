"""The fork server the ``processes`` backend's client workers come from.

Kept apart from :mod:`sparsyfed.flower.process_grid` so that it imports
nothing heavy: ``python -m sparsyfed`` starts the fork server before it
imports torch itself (:func:`start_early`), and the two imports then run side
by side on two cores instead of one after the other.
"""

from __future__ import annotations

import atexit
import multiprocessing
import os
import signal
from collections.abc import Mapping, Sequence
from functools import cache
from typing import Any

CLIENT_APP = "sparsyfed.flower.client_app:app"
"""The ClientApp every engine runs, as ``module:attribute``."""
PRELOAD = ("sparsyfed.flower.client_handlers",)
"""What the fork server imports once for every worker besides the app: torch and the task
code. Local training does not build a ``torch.optim`` optimizer, whose first instance in a
process imports ``torch._dynamo`` (about a second): :mod:`sparsyfed.core.sgd`."""

RAY_OVERRIDES = ("simulation.backend=ray", "simulation.ray_address=")
"""Overrides after which a run uses Ray (and no fork server)."""
NO_RUN_FLAGS = ("-h", "--help", "--hydra-help", "-c", "--cfg", "-i", "--info", "--version")
"""Command-line flags with which ``python -m sparsyfed`` shows something and runs nothing."""
PARALLEL_LAUNCHER = "hydra/launcher=parallel"


def start_fork_server(app_ref: str = CLIENT_APP, preload: Sequence[str] = PRELOAD) -> Any:
    """Start the fork server the workers come from, importing the app and ``preload``.

    It imports in the background (a run calls this early, so that the imports
    overlap its own start-up) and is started once per process: the jobs of a
    sweep share it. It stops when this process ends. Returns the context.
    """
    from multiprocessing import forkserver

    ctx = multiprocessing.get_context("forkserver")
    ctx.set_forkserver_preload([app_ref.partition(":")[0], *preload])
    forkserver.ensure_running()
    _stop_at_exit()
    return ctx


@cache
def _stop_at_exit() -> None:
    atexit.register(_stop_fork_server)


def _stop_fork_server() -> None:
    """End the fork server at once when this process exits.

    Left to itself it notices the exit and then spends most of a second in
    torch's teardown, holding this process's standard output open all the while (a
    pipe reading it, ``| tee log``, waits for that). Its workers are stopped
    by then (:meth:`~sparsyfed.flower.process_grid.ProcessGrid.close`).
    """
    from multiprocessing import forkserver

    pid = getattr(forkserver._forkserver, "_forkserver_pid", None)
    if pid is None:
        return
    try:
        os.kill(pid, signal.SIGTERM)
        os.waitpid(pid, 0)
    except (ProcessLookupError, ChildProcessError):  # gone already
        pass


def will_use_processes(argv: Sequence[str], environ: Mapping[str, str]) -> bool:
    """A guess, from the command line alone, that this ``python -m sparsyfed`` runs local workers.

    False for Ray (a Ray override, GPU shares, ``RAY_ADDRESS``), for a
    parallel sweep (its jobs are their own processes) and for flags that run
    nothing. The composed config decides for real
    (:func:`sparsyfed.flower.simulation.backend`): a wrong guess either way
    changes no result, only when the workers' imports start.
    """
    if environ.get("RAY_ADDRESS"):
        return False
    for arg in argv:
        bare = arg.lstrip("+~")
        if arg in NO_RUN_FLAGS or arg == PARALLEL_LAUNCHER:
            return False
        if bare.startswith(RAY_OVERRIDES) and not bare.endswith(("=null", "=")):
            return False
        if bare.startswith("simulation.client_gpus="):
            try:
                if float(bare.partition("=")[2].split(",")[0]) > 0:
                    return False
            except ValueError:
                return False  # not a number: the config check reports it
    return True


def start_early(argv: Sequence[str], environ: Mapping[str, str] | None = None) -> bool:
    """Start the fork server now if :func:`will_use_processes` guesses so; whether it did."""
    if not will_use_processes(argv, os.environ if environ is None else environ):
        return False
    start_fork_server()
    return True
