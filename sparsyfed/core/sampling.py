"""Seeded client sampling over partition ids (Flower's own sampler is unseeded)."""

from __future__ import annotations

import random
from typing import Any


class ClientSampler:
    """Draw ``per_round`` distinct partition ids per round from one seeded RNG.

    The sequence of draws depends only on ``seed``, ``num_clients`` and
    ``per_round`` (as the official ``DeterministicClientManager``), so every
    method and both entry points train the same clients in the same rounds.

    Parameters
    ----------
    num_clients : int
        Number of partitions (clients) to choose from.
    per_round : int
        Clients per round, at most ``num_clients``.
    seed : int
        Seed of the sampler's private RNG.

    """

    def __init__(self, num_clients: int, per_round: int, seed: int) -> None:
        if not 1 <= per_round <= num_clients:
            raise ValueError(
                f"clients_per_round={per_round} must be between 1 and num_clients={num_clients}"
            )
        self.num_clients = num_clients
        self.per_round = per_round
        self._rng = random.Random(seed)

    def sample(self) -> list[int]:
        """Return the next round's partition ids, sorted."""
        return sorted(self._rng.sample(range(self.num_clients), self.per_round))

    def state(self) -> list[Any]:
        """The RNG position as JSON-able data (for checkpoints)."""
        version, internal, gauss = self._rng.getstate()
        return [version, list(internal), gauss]

    def load_state(self, state: list[Any]) -> None:
        """Continue from a position saved with :meth:`state`."""
        version, internal, gauss = state
        self._rng.setstate((int(version), tuple(int(x) for x in internal), gauss))
