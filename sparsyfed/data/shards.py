"""Label shards (``partition.scheme=shards``): every client holds exactly ``k`` classes.

FedSparsify's non-IID distribution gives every learner the examples of a fixed number
of classes (``partition.classes_per_client``, its ``--non_iid_classes_per_learner``).
The procedure (docs/methods.md section 15):

1. the ``C`` classes present in the labels are put in a seeded random order
   ``pi``; client ``i`` holds the classes ``pi[(i*k + j) mod C]`` for
   ``j = 0..k-1`` (a round-robin over ``pi``). The ``k`` classes of a client are
   consecutive in the cyclic order, so they are distinct (``k <= C``), and every
   class is held by ``floor(K*k / C)`` or ``ceil(K*k / C)`` of the ``K`` clients;
2. the examples of each class are shuffled and cut into as many near-equal parts
   (sizes differing by at most one) as the class has holders; its holders take one
   part each, in client order. Every example of a held class is used exactly once;
   a class that no client holds (``K*k < C``) is left out;
3. the test split repeats step 2 on the test set with the same class sets (they
   depend only on the seed, ``K``, ``k`` and ``C``), so each client is evaluated on
   its own classes.

A class with fewer examples than holders would leave some client short of a class:
that is refused (config key ``num_clients``).

Random numbers come from independent streams of the run seed,
``np.random.default_rng([seed, tag])``: one for the class order and one per split
for the example shuffles.
"""

from __future__ import annotations

import numbers
from typing import Any

import numpy as np

from sparsyfed.data.checks import check_labels, check_num_partitions, check_seed
from sparsyfed.validation import fail

__all__ = ["SHARD_SPLITS", "check_classes_per_client", "partition_shards", "shard_classes"]

SHARD_SPLITS: tuple[str, ...] = ("train", "test")
"""Names of the per-split example-shuffle streams."""

# Stream tags mixed into the run seed: the class order, and each split's shuffles.
_CLASS_STREAM = 0x54A0
_SPLIT_STREAMS = {"train": 0x54A1, "test": 0x54A2}


def check_classes_per_client(classes_per_client: Any, num_classes: int) -> int:
    """Validate ``partition.classes_per_client`` against the number of classes.

    Parameters
    ----------
    classes_per_client : Any
        The value to check: an integer in ``[1, num_classes]``.
    num_classes : int
        Number of classes present in the labels.

    Returns
    -------
    int
        The number of classes per client.

    Raises
    ------
    sparsyfed.validation.ConfigError
        Naming ``partition.classes_per_client``, its value and the allowed range.

    """
    if (
        isinstance(classes_per_client, bool)
        or not isinstance(classes_per_client, numbers.Integral)
        or not 1 <= int(classes_per_client) <= num_classes
    ):
        fail(
            "partition.classes_per_client",
            classes_per_client,
            f"it must be an integer in [1, {num_classes}] (the number of classes)",
        )
    return int(classes_per_client)


def shard_classes(
    num_partitions: int, num_classes: int, classes_per_client: int, seed: int
) -> np.ndarray:
    """The classes of every client: a round-robin over a seeded class order (step 1).

    Parameters
    ----------
    num_partitions : int
        Number of clients ``K``.
    num_classes : int
        Number of classes ``C``.
    classes_per_client : int
        Classes per client ``k``, ``1 <= k <= C``.
    seed : int
        Non-negative run seed; the class order has its own stream of it.

    Returns
    -------
    numpy.ndarray
        ``int64`` class codes in ``0..C-1`` of shape ``(K, k)``; every row holds
        ``k`` distinct classes.

    """
    order = np.random.default_rng([seed, _CLASS_STREAM]).permutation(num_classes)
    slots = np.arange(num_partitions * classes_per_client) % num_classes
    return order[slots].reshape(num_partitions, classes_per_client).astype(np.int64)


def _assign(
    class_codes: np.ndarray,
    client_classes: np.ndarray,
    rng: np.random.Generator,
    split: str,
    classes: np.ndarray,
) -> list[np.ndarray]:
    """Split every class's examples among the clients holding it (step 2)."""
    num_partitions = client_classes.shape[0]
    pieces: list[list[np.ndarray]] = [[] for _ in range(num_partitions)]
    for c in range(int(client_classes.max()) + 1):
        holders = np.flatnonzero((client_classes == c).any(axis=1))
        if holders.size == 0:
            continue
        examples = rng.permutation(np.flatnonzero(class_codes == c))
        if examples.size < holders.size:
            fail(
                "num_clients",
                num_partitions,
                f"partition.scheme=shards gives class {classes[c]} to {holders.size} clients but "
                f"the {split} set has {examples.size} examples of it; use fewer clients or "
                f"a smaller partition.classes_per_client",
            )
        for pid, part in zip(holders, np.array_split(examples, holders.size), strict=True):
            pieces[pid].append(part)
    return [np.sort(np.concatenate(p)).astype(np.int64) for p in pieces]


def partition_shards(
    labels: np.ndarray,
    num_partitions: int,
    classes_per_client: int,
    seed: int,
    *,
    split: str = "train",
) -> list[np.ndarray]:
    """Partition sample indices so that every client holds exactly ``classes_per_client`` classes.

    Parameters
    ----------
    labels : numpy.ndarray
        1-D integer class labels; any integer values (they are mapped to
        ``0..C-1`` in sorted order internally).
    num_partitions : int
        Number of clients ``K``, ``1 <= K <= len(labels)``.
    classes_per_client : int
        Classes per client ``k``, ``1 <= k <= C`` (config key
        ``partition.classes_per_client``).
    seed : int
        Non-negative seed; the same seed gives the same partition, and the same
        class sets for both splits.
    split : str
        ``"train"`` or ``"test"``: which of the seed's streams shuffles the examples.

    Returns
    -------
    list of numpy.ndarray
        ``K`` disjoint sorted ``int64`` index arrays into ``labels``; client ``i``
        holds examples of exactly the classes of row ``i`` of :func:`shard_classes`.

    Raises
    ------
    ValueError
        On invalid arguments (a :class:`~sparsyfed.validation.ConfigError` naming
        the key for the config values), or when a class has fewer examples than
        clients holding it.

    """
    labels = check_labels(labels)
    num_partitions = check_num_partitions(num_partitions, int(labels.shape[0]))
    seed = check_seed(seed)
    if split not in SHARD_SPLITS:
        raise ValueError(f"split={split!r} is not allowed: choose one of {', '.join(SHARD_SPLITS)}")
    classes, codes = np.unique(labels, return_inverse=True)
    k = check_classes_per_client(classes_per_client, int(classes.size))
    client_classes = shard_classes(num_partitions, int(classes.size), k, seed)
    rng = np.random.default_rng([seed, _SPLIT_STREAMS[split]])
    return _assign(codes.reshape(-1).astype(np.int64), client_classes, rng, split, classes)
