"""Checkpoints after every ``checkpoint.every`` rounds, and the final model file."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sparsyfed.callbacks.base import Callback, RunInfo
from sparsyfed.run.checkpoint import save_checkpoint
from sparsyfed.run.files import CHECKPOINT_FILE, MODEL_FILE
from sparsyfed.run.model import save_model

if TYPE_CHECKING:
    from sparsyfed.core.run import FederatedRun


class CheckpointWriter(Callback):
    """Saves the run state atomically when a round is due, and the model after the last round.

    Runs after the metrics writer, so the records a checkpoint refers to are on
    disk. When the run completes the checkpoint is removed (the model file and
    the records hold everything a finished run keeps).

    Parameters
    ----------
    output_dir : str or Path
        The run directory.
    every : int
        Checkpoint after every ``every`` rounds (0: never; the run then
        cannot resume).

    """

    def __init__(self, output_dir: str | Path, every: int) -> None:
        self.output_dir = Path(output_dir)
        self.every = every
        self.total_rounds = 0
        self._info: RunInfo | None = None

    def on_run_start(self, info: RunInfo) -> None:
        """Remember the run's shape."""
        self._info = info
        self.total_rounds = info.cfg.rounds

    def on_round_end(self, row: Mapping[str, Any], run: FederatedRun) -> None:
        """Checkpoint when due; write the model file after the last round."""
        rnd = int(row["round"])
        if rnd == 0:
            return
        if self.every and rnd % self.every == 0:
            save_checkpoint(self.output_dir / CHECKPOINT_FILE, run.snapshot())
        if rnd == self.total_rounds:
            assert self._info is not None
            dataset = self._info.task.dataset
            save_model(
                self.output_dir / MODEL_FILE,
                run.server.state,
                self._info.cfg.to_dict(),
                dataset.input_shape,
                dataset.num_classes,
                rnd,
            )

    def on_run_end(self, summary: Mapping[str, Any], run: FederatedRun) -> None:
        """The run is complete: its checkpoint is no longer needed."""
        (self.output_dir / CHECKPOINT_FILE).unlink(missing_ok=True)
