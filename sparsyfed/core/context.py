"""The frozen facts of one round, handed to every client and server hook of a method."""

from __future__ import annotations

from dataclasses import dataclass

from sparsyfed.core.seeds import SeedStreams


@dataclass(frozen=True)
class RoundContext:
    """Which round this is and what every participant derives from it.

    Attributes
    ----------
    round : int
        The 1-indexed server round (0 is the initial model).
    total_rounds : int
        The run's number of rounds.
    lr : float
        The client learning rate of this round.
    seeds : SeedStreams
        The run's named random streams.

    """

    round: int
    total_rounds: int
    lr: float
    seeds: SeedStreams

    @property
    def is_first(self) -> bool:
        """Whether this is round 1 (the round that starts from the initial model)."""
        return self.round == 1
