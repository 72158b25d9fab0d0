"""Checkpoints after every ``checkpoint.every`` rounds, and the final model file."""

from __future__ import annotations

import logging
import threading
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sparsyfed.callbacks.base import Callback, RunInfo
from sparsyfed.run.archive import Archive, CompressedBlobs
from sparsyfed.run.checkpoint import checkpoint_archive
from sparsyfed.run.files import CHECKPOINT_FILE, MODEL_FILE
from sparsyfed.run.model import save_model

if TYPE_CHECKING:
    from sparsyfed.core.run import FederatedRun


class CheckpointWriter(Callback):
    """Saves the run state atomically when a round is due, and the model after the last round.

    Runs after the metrics writer, so the records a checkpoint refers to are on
    disk. When the run completes the checkpoint is removed (the model file and
    the records hold everything a finished run keeps).

    The run state is copied into an archive (bytes) at the end of its round; a
    background thread serialises and writes it (compression, fsync) while the
    next round runs, compressing again only the blobs that changed since the
    last checkpoint (:class:`~sparsyfed.run.archive.CompressedBlobs`). At most
    one write is in flight: the next checkpoint, the model file and the end of
    the run wait for it, and a failed write is
    raised there. A process killed mid-write leaves the previous checkpoint,
    from which the same command resumes.

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
        self._writing: threading.Thread | None = None
        self._error: BaseException | None = None
        self._compressed = CompressedBlobs()  # used by the one write in flight only

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
            self._write(checkpoint_archive(run.snapshot()))
        if rnd == self.total_rounds:
            self.wait()
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
        self.wait()
        (self.output_dir / CHECKPOINT_FILE).unlink(missing_ok=True)

    def on_run_stop(self) -> None:
        """A stopped run leaves its last checkpoint complete on disk (a failed write is logged)."""
        try:
            self.wait()
        except Exception as err:  # the run's own error, if any, is the one to raise
            logging.getLogger("sparsyfed").error(
                "error: the last checkpoint was not written: %s", err
            )

    def _write(self, archive: Archive) -> None:
        self.wait()
        path = self.output_dir / CHECKPOINT_FILE
        self._writing = threading.Thread(target=self._save, args=(archive, path), name="checkpoint")
        self._writing.start()  # not a daemon: an exiting process finishes the write first

    def _save(self, archive: Archive, path: Path) -> None:
        try:
            archive.write(path, self._compressed)
        except BaseException as err:  # raised by wait(), in the run's thread
            self._error = err

    def wait(self) -> None:
        """Wait for the checkpoint being written; raise its error, if any."""
        if self._writing is not None:
            self._writing.join()
            self._writing = None
        if self._error is not None:
            error, self._error = self._error, None
            raise error
