"""Weights & Biases logging from the server only (``wandb.mode`` offline or online)."""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from sparsyfed.callbacks.base import Callback, RunInfo

if TYPE_CHECKING:
    from sparsyfed.core.run import FederatedRun


class WandbLogger(Callback):
    """Logs every round's scalar metrics and the summary to one W&B run.

    The W&B run id is derived from the output directory, so a resumed run
    continues its W&B run instead of starting another. It runs before the
    checkpoint writer, and a run that stops early (Ctrl-C, an error) finishes
    its W&B run, so every round a checkpoint holds is in the W&B files too.
    """

    def __init__(self) -> None:
        self._run: Any = None  # None again once finished

    def on_run_start(self, info: RunInfo) -> None:
        """Start (or resume) the W&B run."""
        import wandb

        cfg = info.cfg
        run_id = "sf-" + hashlib.sha1(str(cfg.output_dir).encode()).hexdigest()[:16]
        self._run = wandb.init(
            project=cfg.wandb.project,
            mode=cfg.wandb.mode,
            dir=str(cfg.output_dir),
            config=cfg.to_dict(),
            name=str(cfg.output_dir).rstrip("/").rsplit("/", 1)[-1],
            id=run_id,
            resume="allow",
            reinit="finish_previous",
        )

    def on_round_end(self, row: Mapping[str, Any], run: FederatedRun) -> None:
        """Log the round's scalars."""
        scalars = {k: v for k, v in row.items() if isinstance(v, int | float)}
        self._run.log(scalars, step=int(row["round"]))

    def on_run_end(self, summary: Mapping[str, Any], run: FederatedRun) -> None:
        """Store the summary and finish the W&B run."""
        self._run.summary.update({k: v for k, v in summary.items() if k != "output_dir"})
        self._run.finish()
        self._run = None

    def on_run_stop(self) -> None:
        """A run that stopped early: write out what was logged, marked as not completed."""
        if self._run is not None:
            run, self._run = self._run, None
            run.finish(exit_code=1)
