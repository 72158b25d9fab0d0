"""The callback interface: what is done at run start, after every round and at the end.

Cross-cutting work (files, console, W&B, checkpoints) lives in callbacks, so
the round loop (:mod:`sparsyfed.core.run`) only computes. Callbacks are called
in the order given; each gets the run itself, read-only by convention (the
checkpoint callback asks it for a snapshot).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from sparsyfed.config.schema import RunConfig
    from sparsyfed.core.run import FederatedRun
    from sparsyfed.core.task import Task


@dataclass(frozen=True)
class RunInfo:
    """What callbacks learn when a run starts.

    Attributes
    ----------
    cfg : RunConfig
        The run config.
    header : mapping
        The run's identity for the summary (method, effective beta and
        sparsity, ignored keys).
    start_round : int
        The last round already done (0 for a fresh run).
    history : sequence of dict
        The records written before a resume (empty for a fresh run).
    task : Task
        The run's dataset, partitions and method.

    """

    cfg: RunConfig
    header: Mapping[str, Any]
    start_round: int
    history: Sequence[Mapping[str, Any]]
    task: Task

    @property
    def resumed(self) -> bool:
        """Whether the run continues after a saved round."""
        return self.start_round > 0


class Callback:
    """Base class: every hook does nothing."""

    def on_run_start(self, info: RunInfo) -> None:
        """Called once before the first round to run (round 0 or the one after a resume)."""

    def on_round_end(self, row: Mapping[str, Any], run: FederatedRun) -> None:
        """Called after every round's record (round 0 included) is complete."""

    def on_run_end(self, summary: Mapping[str, Any], run: FederatedRun) -> None:
        """Called once after the last round."""

    def on_run_stop(self) -> None:
        """Called once when the run leaves its loop, completed or not (finish what is in flight)."""
