"""One run from a validated config: decide about the directory, build the callbacks, run.

Both entry points use it: ``python -m sparsyfed`` decides about the output
directory before any worker starts (:func:`plan`) and runs inside its
ServerApp (:func:`execute`); the ``flwr run`` ServerApp does both.
"""

from __future__ import annotations

from typing import Any

import torch

from sparsyfed.callbacks.base import Callback
from sparsyfed.callbacks.checkpoint import CheckpointWriter
from sparsyfed.callbacks.console import ConsoleProgress, get_logger
from sparsyfed.callbacks.jsonl import MetricsWriter
from sparsyfed.config.schema import RunConfig
from sparsyfed.core.executor import Executor
from sparsyfed.core.run import FederatedRun
from sparsyfed.methods import method_settings
from sparsyfed.methods.official import departures
from sparsyfed.run.directory import Decision, Status, prepare_run_dir


def run_header(cfg: RunConfig) -> dict[str, Any]:
    """What identifies a run in its summary.

    The method's effective settings, the keys it ignores and where the run
    departs from the official behaviour (``departures``, docs/methods.md 18.1).
    """
    cls, settings, ignored = method_settings(cfg)
    return {
        "method": cfg.method.name,
        "beta": settings.beta,
        "sparsity_target": settings.sparsity if cls.uses_sparsity else None,
        "seed": cfg.seed,
        "dataset": cfg.dataset.name,
        "ignored": ignored,
        "departures": departures(cfg, cls, settings.options, ignored),
    }


def build_callbacks(cfg: RunConfig) -> list[Callback]:
    """The callbacks of a run, in the order they must run."""
    callbacks: list[Callback] = [MetricsWriter(str(cfg.output_dir))]
    if cfg.wandb.mode != "disabled":  # before the checkpoint: a saved round is a logged round
        from sparsyfed.callbacks.wandb_logger import WandbLogger

        callbacks.append(WandbLogger())
    callbacks += [CheckpointWriter(str(cfg.output_dir), cfg.checkpoint.every), ConsoleProgress()]
    return callbacks


def plan(cfg: RunConfig) -> Decision:
    """Decide how to run into ``cfg.output_dir``; say so when the run is already complete."""
    decision = prepare_run_dir(cfg)
    if decision.status is Status.COMPLETE:
        summary = decision.summary or {}
        get_logger().info(
            "run complete: %s (final acc %.4f after %s rounds); nothing to do",
            cfg.output_dir,
            summary.get("final_accuracy", float("nan")),
            summary.get("rounds"),
        )
    return decision


def execute(cfg: RunConfig, executor: Executor, decision: Decision) -> dict[str, Any]:
    """Run (or resume) the training and return its summary."""
    if cfg.simulation.server_threads:
        torch.set_num_threads(cfg.simulation.server_threads)
    run = FederatedRun(cfg, executor, build_callbacks(cfg), run_header(cfg), decision.resume)
    return run.run()
