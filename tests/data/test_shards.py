"""partition.scheme=shards: every client holds exactly classes_per_client classes."""

from __future__ import annotations

import numpy as np
import pytest

from sparsyfed.data import partition_labels, partition_shards, partition_stats, partition_train_test
from sparsyfed.data.shards import shard_classes
from sparsyfed.validation import ConfigError


def shuffled_labels(num_samples: int, num_classes: int, seed: int = 0) -> np.ndarray:
    """Shuffled, (almost) class-balanced labels ``0..num_classes-1``."""
    labels = np.arange(num_samples, dtype=np.int64) % num_classes
    return np.random.default_rng(seed).permutation(labels)


def classes_of(labels: np.ndarray, parts: list[np.ndarray]) -> list[set[int]]:
    return [set(np.unique(labels[p]).tolist()) for p in parts]


@pytest.mark.parametrize(
    ("num_clients", "k", "num_classes", "seed"),
    [(10, 1, 10, 0), (100, 2, 10, 3), (7, 3, 10, 1), (20, 5, 10, 2), (3, 10, 10, 4), (13, 4, 6, 5)],
)
def test_every_client_has_exactly_k_classes_and_examples_are_used_once(
    num_clients: int, k: int, num_classes: int, seed: int
) -> None:
    labels = shuffled_labels(3000, num_classes, seed=seed)
    parts = partition_shards(labels, num_clients, k, seed)
    assert len(parts) == num_clients
    assert all(p.dtype == np.int64 and p.ndim == 1 for p in parts)
    assert all(len(c) == k for c in classes_of(labels, parts))
    flat = np.concatenate(parts)
    assert np.unique(flat).size == flat.size  # no example twice
    assert flat.min() >= 0 and flat.max() < labels.size
    # Classes are spread as evenly as possible: holders per class differ by at most one.
    holders = np.bincount(shard_classes(num_clients, num_classes, k, seed).ravel(), minlength=10)
    held = holders[:num_classes]
    assert held.max() - held.min() <= 1 and held.sum() == num_clients * k
    # Every example of a held class is used; with K*k >= C that is every example.
    if num_clients * k >= num_classes:
        assert flat.size == labels.size
    # A class's examples are split near-equally among its holders.
    stats = partition_stats(labels, parts, num_classes)
    for c in range(num_classes):
        counts = [row[c] for row in stats["class_counts"] if row[c] > 0]
        assert max(counts) - min(counts) <= 1


def test_fewer_client_slots_than_classes_leaves_unheld_classes_out() -> None:
    labels = shuffled_labels(1000, 10)
    parts = partition_shards(labels, 2, 3, seed=0)
    used = set(np.unique(labels[np.concatenate(parts)]).tolist())
    assert len(used) == 6 and all(len(c) == 3 for c in classes_of(labels, parts))
    assert sum(len(p) for p in parts) == 600  # the 6 held classes, 100 examples each


def test_any_integer_labels_are_mapped_to_classes() -> None:
    labels = np.repeat(np.array([-3, 7, 42, 100], dtype=np.int32), 25)
    parts = partition_shards(labels, 6, 2, seed=1)
    assert all(len(c) == 2 and c <= {-3, 7, 42, 100} for c in classes_of(labels, parts))


def test_seeded_determinism() -> None:
    labels = shuffled_labels(2000, 10)
    a = partition_shards(labels, 20, 2, seed=7)
    b = partition_labels(labels, 20, "shards", 0.5, 7, classes_per_client=2)
    assert all(np.array_equal(x, y) for x, y in zip(a, b, strict=True))
    c = partition_shards(labels, 20, 2, seed=8)
    assert any(not np.array_equal(x, y) for x, y in zip(a, c, strict=True))
    assert classes_of(labels, a) != classes_of(labels, c)


def test_test_split_has_the_training_classes_of_each_client() -> None:
    train, test = shuffled_labels(3000, 10, 0), shuffled_labels(500, 10, 1)
    tr, te = partition_train_test(train, test, 25, "shards", 0.1, 3, classes_per_client=3)
    assert classes_of(train, tr) == classes_of(test, te)
    assert all(len(c) == 3 for c in classes_of(test, te))
    flat = np.concatenate(te)
    assert np.unique(flat).size == flat.size == test.size


@pytest.mark.parametrize("k", [0, -1, 11, 2.0, True, "2", None])
def test_bad_classes_per_client_names_the_key(k: object) -> None:
    with pytest.raises(ConfigError, match=r"^partition\.classes_per_client=") as info:
        partition_shards(shuffled_labels(100, 10), 5, k, seed=0)  # type: ignore[arg-type]
    assert "[1, 10]" in str(info.value) and "\n" not in str(info.value)


def test_classes_per_client_is_ignored_by_the_other_schemes() -> None:
    labels = shuffled_labels(200, 10)
    for scheme in ("lda", "iid"):
        a = partition_labels(labels, 4, scheme, 0.5, 0, classes_per_client=50)
        b = partition_labels(labels, 4, scheme, 0.5, 0)
        assert all(np.array_equal(x, y) for x, y in zip(a, b, strict=True))


def test_a_class_with_fewer_examples_than_holders_is_refused() -> None:
    labels = np.array([0] * 50 + [1] * 50 + [2] * 2, dtype=np.int64)
    with pytest.raises(ConfigError, match=r"^num_clients=9 .*class 2 to 6 clients.* 2 examples"):
        partition_shards(labels, 9, 2, seed=0)
