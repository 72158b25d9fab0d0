"""Every random stream of a run, derived from the run seed in one place.

A stream is a 63-bit seed made from the run seed and the stream's own
coordinates with :class:`numpy.random.SeedSequence`, so streams never overlap
and adding one never shifts another. Data partitioning takes the run seed
itself (see :mod:`sparsyfed.data.partition`).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

# Stream tags (the second coordinate of a run-level stream).
INITIAL_MODEL = 0
CLIENT_SAMPLER = 1
EVAL_SAMPLER = 2
FAULTS = 11
INITIAL_CLIENT = 12
QUANTIZATION = 7  # fourth coordinate of a client stream, apart from its training stream


def derive_seed(*parts: int) -> int:
    """Return a 63-bit seed derived from integers (run seed, round, partition, ...)."""
    return int(np.random.SeedSequence([int(p) for p in parts]).generate_state(2, np.uint64)[0] >> 1)


@dataclass(frozen=True)
class SeedStreams:
    """The named random streams of one run.

    Attributes
    ----------
    seed : int
        The run seed (config key ``seed``).

    """

    seed: int

    def initial_model(self) -> int:
        """Initialisation of the round-0 global model."""
        return derive_seed(self.seed, INITIAL_MODEL)

    def initial_client(self) -> int:
        """The choice of the client whose data a data-dependent initialisation uses."""
        return derive_seed(self.seed, INITIAL_CLIENT)

    def client_sampler(self) -> int:
        """The sampler of the clients that train each round."""
        return derive_seed(self.seed, CLIENT_SAMPLER)

    def eval_sampler(self) -> int:
        """The sampler of the clients of federated evaluation."""
        return derive_seed(self.seed, EVAL_SAMPLER)

    def client_training(self, server_round: int, partition_id: int) -> int:
        """A client's local training in one round (batch order, augmentation)."""
        return derive_seed(self.seed, server_round, partition_id)

    def quantization(self, server_round: int, partition_id: int) -> int:
        """A client's stochastic rounding of its upload in one round."""
        return derive_seed(self.seed, server_round, partition_id, QUANTIZATION)

    def faults(self, server_round: int, fault_seed: int) -> int:
        """Which sampled clients fault in one round (config ``faults.seed``).

        Five coordinates, so it cannot meet a client stream (three or four).
        """
        return derive_seed(self.seed, FAULTS, fault_seed, server_round, FAULTS)

    def method(self, tag: int) -> int:
        """A run-level stream a method owns (``tag`` distinguishes its purposes)."""
        return derive_seed(self.seed, tag)
