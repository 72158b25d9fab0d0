"""Tests for sparsyfed.data: offline datasets and federated partitioning."""

from __future__ import annotations

import json
import math
import subprocess
import sys
import time
import warnings
from pathlib import Path

import numpy as np
import pytest

from sparsyfed.data import (
    DATASETS,
    PARTITION_SCHEMES,
    ArrayDataset,
    load_dataset,
    partition_iid,
    partition_inner_dirichlet,
    partition_labels,
    partition_lda,
    partition_stats,
    partition_train_test,
)
from sparsyfed.data import mnist1d as mnist1d_mod
from sparsyfed.data.mnist1d import mnist1d_cache_path

MNIST1D_TEST_SAMPLES = 1000  # small, fast generation (800 train / 200 test)


def balanced_labels(num_samples: int, num_classes: int = 10, seed: int = 0) -> np.ndarray:
    """Shuffled, (almost) class-balanced integer labels."""
    labels = np.arange(num_samples, dtype=np.int64) % num_classes
    return np.random.default_rng(seed).permutation(labels)


def mean_entropy(labels: np.ndarray, parts: list[np.ndarray], num_classes: int = 10) -> float:
    return partition_stats(labels, parts, num_classes)["mean_label_entropy"]


def assert_valid_equal_partition(
    parts: list[np.ndarray], num_samples: int, num_partitions: int
) -> None:
    """Equal sizes floor(N/K), int64, valid indices, pairwise disjoint."""
    assert isinstance(parts, list)
    assert len(parts) == num_partitions
    size = num_samples // num_partitions
    for part in parts:
        assert isinstance(part, np.ndarray)
        assert part.dtype == np.int64
        assert part.shape == (size,)
    flat = np.concatenate(parts)
    assert flat.min() >= 0
    assert flat.max() < num_samples
    assert np.unique(flat).size == flat.size  # disjoint (and no duplicates within)


# ---------------------------------------------------------------------------
# Datasets
# ---------------------------------------------------------------------------


@pytest.fixture(scope="module")
def mnist1d_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A cache directory in which the small MNIST-1D has been generated once."""
    data_dir = tmp_path_factory.mktemp("mnist1d_cache")
    load_dataset("mnist1d", data_dir=data_dir, num_samples=MNIST1D_TEST_SAMPLES)
    return data_dir


def test_dataset_names() -> None:
    assert DATASETS == (
        "mnist1d",
        "digits",
        "cifar10",
        "cifar100",
        "speech_commands",
        "synthetic",
        "fashion_mnist",
    )


def test_synthetic_is_seeded_shaped_and_learnable_by_its_class_means() -> None:
    options = {"shape": [3, 8, 8], "num_classes": 4, "num_train": 400, "num_test": 100}
    ds = load_dataset("synthetic", **options)
    again = load_dataset("synthetic", **options)
    other = load_dataset("synthetic", **options, generator_seed=1)
    assert ds.x_train.shape == (400, 3, 8, 8) and ds.x_test.shape == (100, 3, 8, 8)
    assert ds.x_train.dtype == np.float32 and ds.y_train.dtype == np.int64
    assert ds.input_shape == (3, 8, 8) and ds.num_classes == 4
    assert np.array_equal(ds.x_train, again.x_train) and np.array_equal(ds.y_test, again.y_test)
    assert not np.array_equal(ds.x_train, other.x_train)
    # The nearest training-class mean names the test label far above chance (0.25).
    means = np.stack([ds.x_train[ds.y_train == c].mean(0) for c in range(4)]).reshape(4, -1)
    dist = ((ds.x_test.reshape(100, 1, -1) - means[None]) ** 2).sum(-1)
    assert (dist.argmin(1) == ds.y_test).mean() > 0.9


def test_digits_shapes_dtypes_and_range() -> None:
    ds = load_dataset("digits")
    assert isinstance(ds, ArrayDataset)
    assert ds.name == "digits"
    assert ds.num_classes == 10
    assert ds.input_shape == (1, 8, 8)
    assert ds.x_train.shape == (1437, 1, 8, 8)
    assert ds.x_test.shape == (360, 1, 8, 8)
    assert ds.num_train == 1437 and ds.num_test == 360
    for x, y in ((ds.x_train, ds.y_train), (ds.x_test, ds.y_test)):
        assert x.dtype == np.float32
        assert y.dtype == np.int64
        assert y.ndim == 1 and y.shape[0] == x.shape[0]
        assert set(np.unique(y).tolist()) == set(range(10))
        # pixels 0..16 -> /16 -> (x - 0.5) / 0.5 in [-1, 1]
        assert x.min() == -1.0 and x.max() == 1.0
        # values are on the 17-level grid (v/16 - 0.5) / 0.5 = v/8 - 1
        assert np.allclose((x + 1.0) * 8.0, np.round((x + 1.0) * 8.0), atol=1e-5)


def test_digits_split_is_stratified_and_deterministic() -> None:
    a = load_dataset("digits")
    b = load_dataset("digits")
    np.testing.assert_array_equal(a.x_train, b.x_train)
    np.testing.assert_array_equal(a.y_test, b.y_test)
    total = np.bincount(a.y_train, minlength=10) + np.bincount(a.y_test, minlength=10)
    assert total.sum() == 1797
    # stratified 20 % test split: every class within one sample of its 20 % share
    assert np.all(np.abs(np.bincount(a.y_test, minlength=10) - 0.2 * total) <= 1.0)


def test_mnist1d_shapes_dtypes_and_range(mnist1d_dir: Path) -> None:
    ds = load_dataset("mnist1d", data_dir=mnist1d_dir, num_samples=MNIST1D_TEST_SAMPLES)
    assert ds.name == "mnist1d"
    assert ds.num_classes == 10
    assert ds.input_shape == (1, 40)
    assert ds.x_train.shape == (800, 1, 40)
    assert ds.x_test.shape == (200, 1, 40)
    for x, y in ((ds.x_train, ds.y_train), (ds.x_test, ds.y_test)):
        assert x.dtype == np.float32
        assert y.dtype == np.int64
        assert y.min() >= 0 and y.max() <= 9
        assert np.isfinite(x).all()
    assert set(np.unique(ds.y_train).tolist()) == set(range(10))
    # the generator standardises the whole set: mean ~ 0, std ~ 1, |x| of a few units
    x_all = np.concatenate([ds.x_train, ds.x_test]).astype(np.float64)
    assert abs(x_all.mean()) < 1e-3
    assert abs(x_all.std() - 1.0) < 1e-3
    assert np.abs(x_all).max() < 10.0


def test_mnist1d_cache_file_and_reload_identical(
    mnist1d_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = mnist1d_cache_path(mnist1d_dir, MNIST1D_TEST_SAMPLES, 42)
    assert path.parent == mnist1d_dir
    assert path.is_file()
    assert [p.name for p in mnist1d_dir.iterdir()] == [path.name]  # no temp files left
    first = load_dataset("mnist1d", data_dir=mnist1d_dir, num_samples=MNIST1D_TEST_SAMPLES)

    def _no_generation(*args: object, **kwargs: object) -> None:
        raise AssertionError("cache hit expected, but the data was regenerated")

    monkeypatch.setattr(mnist1d_mod, "_generate", _no_generation)
    second = load_dataset(
        "mnist1d", data_dir=str(mnist1d_dir), num_samples=MNIST1D_TEST_SAMPLES, generator_seed=42
    )
    for field in ("x_train", "y_train", "x_test", "y_test"):
        np.testing.assert_array_equal(getattr(first, field), getattr(second, field))
        assert getattr(first, field).dtype == getattr(second, field).dtype


def test_mnist1d_corrupt_cache_is_regenerated(mnist1d_dir: Path, tmp_path: Path) -> None:
    reference = load_dataset("mnist1d", data_dir=mnist1d_dir, num_samples=MNIST1D_TEST_SAMPLES)
    path = mnist1d_cache_path(tmp_path, MNIST1D_TEST_SAMPLES, 42)
    path.write_bytes(b"this is not an npz file")
    regenerated = load_dataset("mnist1d", data_dir=tmp_path, num_samples=MNIST1D_TEST_SAMPLES)
    np.testing.assert_array_equal(regenerated.x_train, reference.x_train)
    np.testing.assert_array_equal(regenerated.y_test, reference.y_test)
    with np.load(path) as npz:  # the corrupt file was replaced by a valid one
        np.testing.assert_array_equal(npz["x_train"], reference.x_train)


def test_mnist1d_cache_key_and_global_rng_untouched(tmp_path: Path) -> None:
    np_state = np.random.get_state()  # noqa: NPY002 (checking the legacy global RNG)
    a = load_dataset("mnist1d", data_dir=tmp_path, num_samples=100, generator_seed=1)
    after = np.random.get_state()  # noqa: NPY002
    assert np_state[0] == after[0]
    np.testing.assert_array_equal(np_state[1], after[1])  # generation restored the state
    assert np_state[2:] == after[2:]

    b = load_dataset("mnist1d", data_dir=tmp_path, num_samples=100, generator_seed=2)
    assert a.x_train.shape == (80, 1, 40)
    assert not np.array_equal(a.x_train, b.x_train)  # generator seed matters
    names = sorted(p.name for p in tmp_path.iterdir())
    assert len(names) == 2 and all(n.endswith(".npz") for n in names)
    assert mnist1d_cache_path(tmp_path, 100, 1) != mnist1d_cache_path(tmp_path, 100, 2)
    assert mnist1d_cache_path(tmp_path, 100, 1) != mnist1d_cache_path(tmp_path, 200, 1)


def test_load_dataset_unknown_name() -> None:
    with pytest.raises(ValueError, match=r"dataset\.name") as info:
        load_dataset("imagenet")
    assert "imagenet" in str(info.value)
    assert "mnist1d" in str(info.value) and "digits" in str(info.value)


@pytest.mark.parametrize(
    ("name", "options", "match"),
    [
        ("digits", {"num_samples": 10}, r"dataset\.num_samples"),
        ("mnist1d", {"bogus": 1}, r"dataset\.bogus"),
        ("mnist1d", {"num_samples": 15}, r"dataset\.num_samples"),
        ("mnist1d", {"num_samples": 0}, r"dataset\.num_samples"),
        ("mnist1d", {"num_samples": 12.5}, r"dataset\.num_samples"),
        ("mnist1d", {"generator_seed": -1}, r"dataset\.generator_seed"),
    ],
)
def test_load_dataset_bad_options(
    name: str, options: dict[str, object], match: str, tmp_path: Path
) -> None:
    with pytest.raises(ValueError, match=match):
        load_dataset(name, data_dir=tmp_path, **options)
    assert list(tmp_path.iterdir()) == []  # nothing generated


def test_array_dataset_validates_shapes() -> None:
    x = np.zeros((4, 1, 40), dtype=np.float32)
    y = np.zeros(4, dtype=np.int64)
    with pytest.raises(ValueError, match="input_shape"):
        ArrayDataset("m", x, y, x, y, num_classes=10, input_shape=(1, 8, 8))
    with pytest.raises(ValueError, match="y_train"):
        ArrayDataset("m", x, y[:3], x, y, num_classes=10, input_shape=(1, 40))


def test_import_has_no_heavy_side_effects() -> None:
    code = (
        "import sys, sparsyfed.data\n"
        "heavy = {'datasets', 'flwr_datasets', 'sklearn', 'mnist1d', 'matplotlib', 'torch',\n"
        "         'torchaudio', 'urllib.request', 'sparsyfed.data.speech'}\n"
        "print(sorted(heavy & set(sys.modules)))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        check=True,
        cwd=Path(__file__).resolve().parents[2],
    )
    assert out.stdout.strip() == "[]"


# ---------------------------------------------------------------------------
# Partitioning
# ---------------------------------------------------------------------------


@pytest.mark.parametrize(("num_samples", "num_partitions"), [(2000, 20), (2003, 20), (97, 97)])
def test_inner_dirichlet_equal_sizes_disjoint_valid(num_samples: int, num_partitions: int) -> None:
    labels = balanced_labels(num_samples)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # the remainder warning must be silenced
        parts = partition_inner_dirichlet(labels, num_partitions, alpha=0.5, seed=3)
    assert_valid_equal_partition(parts, num_samples, num_partitions)


def test_lda_seeding() -> None:
    labels = balanced_labels(2000)
    a = partition_lda(labels, 20, alpha=0.3, seed=7)
    b = partition_lda(labels, 20, alpha=0.3, seed=7)
    c = partition_lda(labels, 20, alpha=0.3, seed=8)
    assert all(np.array_equal(x, y) for x, y in zip(a, b, strict=True))
    assert not all(np.array_equal(x, y) for x, y in zip(a, c, strict=True))


def test_lda_heterogeneity_decreases_with_alpha() -> None:
    labels = balanced_labels(2000)
    seeds = (0, 1)
    ent = {
        alpha: np.mean([mean_entropy(labels, partition_lda(labels, 20, alpha, s)) for s in seeds])
        for alpha in (0.1, 1.0, 1000.0)
    }
    ent_iid = np.mean([mean_entropy(labels, partition_iid(labels, 20, s)) for s in seeds])
    assert ent[0.1] < ent[1.0] - 0.3
    assert ent[1.0] < ent[1000.0]
    # alpha = 1000 is practically IID (100 samples per client: ~2.25 nats of log(10)=2.30)
    assert abs(ent[1000.0] - ent_iid) < 0.05
    stats = partition_stats(labels, partition_lda(labels, 20, 1000.0, 0), 10)
    # Clients are filled one after another: all but the last get every class; the
    # last ones get the leftovers (the official procedure does the same).
    assert stats["num_classes_present"][:18] == [10] * 18
    assert stats["mean_num_classes_present"] >= 9.5


def test_lda_follows_client_dirichlet() -> None:
    # With alpha = 0.1 a client is dominated by few classes; its top class holds
    # much more than the 10 % it would get under IID.
    labels = balanced_labels(5000)
    stats = partition_stats(labels, partition_lda(labels, 10, 0.1, seed=0), 10)
    top_share = [max(row) / sum(row) for row in stats["class_counts"]]
    assert np.mean(top_share) > 0.4
    assert stats["mean_num_classes_present"] < 8


def test_lda_arbitrary_label_values() -> None:
    labels = np.random.default_rng(0).choice(np.array([3, 7, 42]), size=600)
    parts = partition_lda(labels, 6, alpha=1.0, seed=0)
    assert_valid_equal_partition(parts, 600, 6)


def test_lda_tiny_alpha_succeeds() -> None:
    # The +1e-5 mass on every class that still has samples keeps every draw defined.
    labels = balanced_labels(2000)
    parts = partition_lda(labels, 30, alpha=0.001, seed=0)
    assert np.array_equal(np.sort(np.concatenate(parts)), np.arange(2000))
    # Most clients hold one class; a client whose class runs out draws uniformly
    # from the remaining ones (their +1e-5 is all the mass left), as in the official code.
    assert np.median(partition_stats(labels, parts, 10)["num_classes_present"]) == 1


def test_inner_dirichlet_tiny_alpha_fails_clearly_or_succeeds() -> None:
    labels = balanced_labels(2000)
    try:
        parts = partition_inner_dirichlet(labels, 30, alpha=0.001, seed=0)
    except ValueError as exc:  # InnerDirichletPartitioner hits 0/0 probabilities
        assert "partition.alpha" in str(exc)
    else:
        assert_valid_equal_partition(parts, 2000, 30)


def test_lda_speed_paper_scale() -> None:
    labels = balanced_labels(84_843, num_classes=35)  # Speech Commands' training set size
    start = time.perf_counter()
    parts = partition_lda(labels, 100, alpha=0.1, seed=0)
    elapsed = time.perf_counter() - start
    assert sorted({len(p) for p in parts}) == [848, 849]
    assert elapsed < 2.0  # ~0.05 s on one core; generous bound for loaded machines


def test_iid_partition() -> None:
    labels = balanced_labels(1003)
    parts = partition_iid(labels, 10, seed=0)
    assert_valid_equal_partition(parts, 1003, 10)
    assert all(
        np.array_equal(x, y) for x, y in zip(parts, partition_iid(labels, 10, 0), strict=True)
    )
    assert not np.array_equal(parts[0], partition_iid(labels, 10, 1)[0])
    assert not np.array_equal(np.sort(parts[0]), np.arange(100))  # shuffled, not a block


def test_partition_labels_dispatch() -> None:
    labels = balanced_labels(500)
    assert PARTITION_SCHEMES == ("lda", "inner_dirichlet", "dirichlet", "iid", "shards")
    lda = partition_labels(labels, 5, "lda", 0.5, 1)
    inner = partition_labels(labels, 5, "inner_dirichlet", 0.5, 1)
    iid = partition_labels(labels, 5, "iid", 0.5, 1)
    assert all(
        np.array_equal(x, y) for x, y in zip(lda, partition_lda(labels, 5, 0.5, 1), strict=True)
    )
    assert all(
        np.array_equal(x, y)
        for x, y in zip(inner, partition_inner_dirichlet(labels, 5, 0.5, 1), strict=True)
    )
    assert all(np.array_equal(x, y) for x, y in zip(iid, partition_iid(labels, 5, 1), strict=True))


@pytest.mark.parametrize("alpha", [0, 0.0, -1.0, float("nan"), float("inf"), "0.5", None, True])
def test_bad_alpha(alpha: object) -> None:
    labels = balanced_labels(100)
    with pytest.raises(ValueError, match=r"partition\.alpha") as info:
        partition_labels(labels, 5, "lda", alpha, 0)  # type: ignore[arg-type]
    assert "> 0" in str(info.value)


@pytest.mark.parametrize("scheme", ["pathological", "LDA", "", None])
def test_bad_scheme(scheme: object) -> None:
    with pytest.raises(ValueError, match=r"partition\.scheme") as info:
        partition_labels(balanced_labels(100), 5, scheme, 0.5, 0)  # type: ignore[arg-type]
    assert "lda" in str(info.value) and "iid" in str(info.value)


@pytest.mark.parametrize("num_partitions", [0, -3, 101, 2.0, True])
@pytest.mark.parametrize("scheme", ["lda", "inner_dirichlet", "iid"])
def test_bad_num_clients(num_partitions: object, scheme: str) -> None:
    with pytest.raises(ValueError, match="num_clients") as info:
        partition_labels(balanced_labels(100), num_partitions, scheme, 0.5, 0)  # type: ignore[arg-type]
    assert "100" in str(info.value)


@pytest.mark.parametrize(
    ("labels", "seed", "match"),
    [
        (np.zeros((10, 2), dtype=np.int64), 0, "1-D"),
        (np.zeros(0, dtype=np.int64), 0, "non-empty"),
        (np.zeros(10, dtype=np.float32), 0, "integer dtype"),
        (np.zeros(10, dtype=np.int64), -1, "seed"),
    ],
)
def test_bad_labels_or_seed(labels: np.ndarray, seed: int, match: str) -> None:
    for scheme in PARTITION_SCHEMES:
        with pytest.raises(ValueError, match=match):
            partition_labels(labels, 2, scheme, 0.5, seed)


def test_partition_stats_counts_add_up() -> None:
    labels = balanced_labels(1003)
    parts = partition_lda(labels, 10, alpha=0.5, seed=0)
    stats = partition_stats(labels, parts, 10)
    assert json.loads(json.dumps(stats)) == stats  # plain JSON types only
    assert stats["num_clients"] == 10
    assert stats["num_classes"] == 10
    assert stats["num_samples"] == 1003
    assert stats["sample_counts"] == [101] * 3 + [100] * 7  # round-robin, nothing left out
    assert stats["num_assigned"] == 1003
    assert (stats["min_sample_count"], stats["max_sample_count"]) == (100, 101)
    counts = np.asarray(stats["class_counts"])
    assert counts.shape == (10, 10)
    assert counts.sum(axis=1).tolist() == stats["sample_counts"]
    assert np.all(counts.sum(axis=0) <= np.bincount(labels, minlength=10))
    assert counts.sum() == sum(len(p) for p in parts)
    assert stats["num_classes_present"] == (counts > 0).sum(axis=1).tolist()
    for row, ent in zip(counts, stats["label_entropy"], strict=True):
        probs = row[row > 0] / row.sum()
        assert math.isclose(ent, float(-(probs * np.log(probs)).sum()), rel_tol=1e-9)
        assert 0.0 <= ent <= stats["max_label_entropy"] + 1e-12
    assert math.isclose(stats["max_label_entropy"], math.log(10))
    assert math.isclose(stats["mean_label_entropy"], float(np.mean(stats["label_entropy"])))


def test_partition_stats_edge_cases() -> None:
    labels = np.array([0, 0, 1, 2], dtype=np.int64)
    stats = partition_stats(labels, [np.array([0, 1]), np.array([], dtype=np.int64)], 3)
    assert stats["class_counts"] == [[2, 0, 0], [0, 0, 0]]
    assert stats["label_entropy"] == [0.0, 0.0]
    assert stats["num_classes_present"] == [1, 0]
    with pytest.raises(ValueError, match="labels must lie"):
        partition_stats(labels, [np.array([0])], 2)
    with pytest.raises(ValueError, match="outside"):
        partition_stats(labels, [np.array([4])], 3)


def _class_mix(labels: np.ndarray, idx: np.ndarray, num_classes: int) -> np.ndarray:
    counts = np.bincount(labels[idx], minlength=num_classes).astype(float)
    return counts / max(counts.sum(), 1.0)


@pytest.mark.parametrize("scheme", ["lda", "inner_dirichlet", "dirichlet"])
def test_client_test_splits_share_the_train_class_mix(scheme: str) -> None:
    rng = np.random.default_rng(0)
    y_train = rng.integers(0, 10, size=6000)
    y_test = rng.integers(0, 10, size=2000)
    train, test = partition_train_test(y_train, y_test, 20, scheme, 0.1, seed=4)
    assert len(train) == len(test) == 20
    for parts, labels in ((train, y_train), (test, y_test)):
        flat = np.concatenate(parts)
        assert np.unique(flat).size == flat.size  # disjoint
        assert flat.min() >= 0 and flat.max() < labels.size
    if scheme in ("lda", "inner_dirichlet"):
        assert {len(p) for p in test} == {100}
    mixes = [
        (_class_mix(y_train, a, 10), _class_mix(y_test, b, 10))
        for a, b in zip(train, test, strict=True)
    ]
    own = np.mean([0.5 * np.abs(a - b).sum() for a, b in mixes])  # total variation
    other = np.mean([0.5 * np.abs(mixes[i][0] - mixes[(i + 1) % 20][1]).sum() for i in range(20)])
    assert own < 0.35 * other, (own, other)
    # Same seed, same splits; another seed, other splits.
    again = partition_train_test(y_train, y_test, 20, scheme, 0.1, seed=4)
    assert all(np.array_equal(a, b) for a, b in zip(test, again[1], strict=True))
    other_seed = partition_train_test(y_train, y_test, 20, scheme, 0.1, seed=5)
    assert not all(np.array_equal(a, b) for a, b in zip(test, other_seed[1], strict=True))


def test_dirichlet_scheme_assigns_every_sample_with_unequal_sizes() -> None:
    labels = np.random.default_rng(1).integers(0, 10, size=3000)
    parts = partition_labels(labels, 10, "dirichlet", 0.3, 2)
    assert sorted(np.concatenate(parts).tolist()) == list(range(3000))
    assert len({len(p) for p in parts}) > 1
    hetero = mean_entropy(labels, parts)
    iid = mean_entropy(labels, partition_labels(labels, 10, "iid", 0.3, 2))
    assert hetero < iid


def test_client_test_splits_need_the_same_classes() -> None:
    with pytest.raises(ValueError, match="different classes"):
        partition_train_test(np.arange(100) % 10, np.arange(100) % 5, 4, "lda", 1.0, 0)
