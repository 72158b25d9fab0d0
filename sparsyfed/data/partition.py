"""Federated partitioning of a labelled dataset into client index sets.

Every partitioner returns a list (one entry per client) of disjoint ``int64``
index arrays into the ``labels`` array.

* ``lda``: the official SparsyFed latent Dirichlet allocation (one class
  distribution per client; clients filled one after another;
  :mod:`sparsyfed.data.lda`). Every sample is assigned and the client sizes are
  round-robin, ``len(labels) // num_partitions`` or one more.
* ``inner_dirichlet``: flwr-datasets'
  :class:`~flwr_datasets.partitioner.InnerDirichletPartitioner` (one class
  distribution per client, samples given to random clients); equal sizes
  ``len(labels) // num_partitions``, the remainder is left out.
* ``dirichlet``: flwr-datasets' :class:`~flwr_datasets.partitioner.DirichletPartitioner`
  (each class split over the clients by a Dirichlet draw; unequal sizes).
* ``iid``: a seeded random permutation split into equal chunks
  (``len(labels) // num_partitions``; the remainder is left out).
* ``shards``: every client holds exactly ``classes_per_client`` classes
  (FedSparsify's non-IID label sharding; :mod:`sparsyfed.data.shards`).

:func:`partition_train_test` also splits the test set per client with the same
Dirichlet matrix as the training set, so each client's test split has the class
mix of its training split (federated evaluation, docs/methods.md section 15).
"""

from __future__ import annotations

import math
import numbers
import warnings
from collections.abc import Sequence
from typing import Any

import numpy as np

from sparsyfed.data.checks import check_labels, check_num_partitions, check_seed
from sparsyfed.data.lda import LDA_SPLITS, lda_assign, lda_dirichlet_matrix, lda_rng
from sparsyfed.data.shards import partition_shards
from sparsyfed.validation import as_choice, fail

__all__ = [
    "ALPHA_SCHEMES",
    "PARTITION_SCHEMES",
    "partition_dirichlet",
    "partition_iid",
    "partition_inner_dirichlet",
    "partition_labels",
    "partition_lda",
    "partition_stats",
    "partition_train_test",
]

PARTITION_SCHEMES: tuple[str, ...] = ("lda", "inner_dirichlet", "dirichlet", "iid", "shards")
"""Names accepted by :func:`partition_labels`."""
ALPHA_SCHEMES: frozenset[str] = frozenset({"lda", "inner_dirichlet", "dirichlet"})
"""The schemes that use ``partition.alpha`` (``iid`` and ``shards`` ignore it)."""

# Stream tag mixed into the seed for the row shuffle that precedes
# InnerDirichletPartitioner, so that it is independent from the partitioner's own
# generator (seeded with ``seed``).
_INNER_ROW_ORDER_STREAM = 0x5EED


# ---------------------------------------------------------------------------
# Validation helpers
# ---------------------------------------------------------------------------


# The argument checks raise :class:`sparsyfed.validation.ConfigError` (a
# ``ValueError``) under the config keys the arguments come from
# (:mod:`sparsyfed.data.checks`); alpha may be any real number, NumPy scalars included.


def _check_alpha(alpha: Any) -> float:
    """Validate the Dirichlet concentration (config key ``partition.alpha``)."""
    if (
        isinstance(alpha, bool)
        or not isinstance(alpha, numbers.Real)
        or not math.isfinite(float(alpha))
        or float(alpha) <= 0.0
    ):
        fail("partition.alpha", alpha, "it must be a finite number > 0")
    return float(alpha)


def _check_scheme(scheme: Any) -> str:
    """Validate the partitioning scheme (config key ``partition.scheme``)."""
    return str(as_choice("partition.scheme", scheme, PARTITION_SCHEMES))


def _check_dirichlet_args(
    labels: np.ndarray, num_partitions: Any, alpha: Any, seed: Any
) -> tuple[np.ndarray, int, float, int]:
    """Validated arguments of the Dirichlet partitioners."""
    labels = check_labels(labels)
    num_partitions = check_num_partitions(num_partitions, int(labels.shape[0]))
    return labels, num_partitions, _check_alpha(alpha), check_seed(seed)


def _label_table(labels: np.ndarray, row_order: np.ndarray) -> Any:
    """A ``datasets.Dataset`` of class codes ``0..C-1`` and sample indices, rows in ``row_order``.

    flwr-datasets' Dirichlet partitioners assume the classes are exactly 0..C-1.
    Arrow format: they read the whole label column once; with the default
    (python) format that column is materialised row by row (~0.3 s).
    """
    # Lazy import: ``datasets`` is heavy and only needed here.
    import datasets

    _, class_codes = np.unique(labels, return_inverse=True)
    return datasets.Dataset.from_dict(
        {
            "label": class_codes.reshape(-1)[row_order].astype(np.int64),
            "index": np.asarray(row_order, dtype=np.int64),
        }
    ).with_format("arrow")


# ---------------------------------------------------------------------------
# Partitioners
# ---------------------------------------------------------------------------


def partition_lda(
    labels: np.ndarray,
    num_partitions: int,
    alpha: float,
    seed: int,
    *,
    dirichlet: np.ndarray | None = None,
    split: str = "train",
) -> list[np.ndarray]:
    """Partition sample indices with the official SparsyFed LDA.

    Each client ``i`` has class proportions ``p_i``, a row of one Dirichlet
    matrix ``p ~ Dir(alpha * 1_C)`` over the ``C`` classes present in ``labels``.
    The clients are filled one after another (client 0 first): each of client
    ``i``'s samples gets a class drawn from ``p_i`` and one not-yet-assigned
    sample of that class. Every non-empty class gets ``1e-5`` extra mass before
    a client's first draw and again whenever a class runs out; empty classes get
    none. Client sizes are round-robin and every sample is assigned (details in
    :mod:`sparsyfed.data.lda`).

    Parameters
    ----------
    labels : numpy.ndarray
        1-D integer class labels; any integer values (they are mapped to
        ``0..C-1`` internally).
    num_partitions : int
        Number of clients, ``1 <= num_partitions <= len(labels)``.
    alpha : float
        Dirichlet concentration, ``> 0``. Small values give highly skewed
        clients; large values (e.g. 1000) approach IID.
    seed : int
        Non-negative seed; the same seed gives the same partition.
    dirichlet : numpy.ndarray, optional
        The ``(num_partitions, C)`` class proportions to use instead of drawing
        them (:func:`~sparsyfed.data.lda.lda_dirichlet_matrix` with the same
        arguments is the matrix drawn by default). :func:`partition_train_test`
        passes the training set's matrix for the test set.
    split : str
        ``"train"`` or ``"test"``: which of the seed's streams shuffles the samples
        and draws their classes.

    Returns
    -------
    list of numpy.ndarray
        ``num_partitions`` disjoint ``int64`` index arrays into ``labels``
        covering every sample; the first ``len(labels) % num_partitions`` have
        ``len(labels) // num_partitions + 1`` samples, the others one fewer.

    Raises
    ------
    ValueError
        On invalid arguments, or a ``dirichlet`` matrix of the wrong shape or
        with negative or non-finite entries.

    """
    labels, num_partitions, alpha, seed = _check_dirichlet_args(labels, num_partitions, alpha, seed)
    if split not in LDA_SPLITS:
        raise ValueError(f"split={split!r} is not allowed: choose one of {', '.join(LDA_SPLITS)}")
    classes, class_codes = np.unique(labels, return_inverse=True)
    num_classes = int(classes.size)
    if dirichlet is None:
        dirichlet = lda_dirichlet_matrix(num_partitions, num_classes, alpha, seed)
    matrix = np.asarray(dirichlet, dtype=np.float64)
    if matrix.shape != (num_partitions, num_classes):
        raise ValueError(
            f"the Dirichlet matrix has shape {matrix.shape}; it must be "
            f"(num_clients, classes) = ({num_partitions}, {num_classes})"
        )
    if not np.all(np.isfinite(matrix)) or np.any(matrix < 0):
        raise ValueError("the Dirichlet matrix must have finite, non-negative entries")
    codes = class_codes.reshape(-1).astype(np.int64)
    return lda_assign(codes, num_classes, matrix, lda_rng(seed, split))


def partition_inner_dirichlet(
    labels: np.ndarray, num_partitions: int, alpha: float, seed: int
) -> list[np.ndarray]:
    """Partition sample indices with flwr-datasets' ``InnerDirichletPartitioner``.

    Each client ``i`` draws class proportions ``p_i ~ Dir(alpha * 1_C)`` over the
    ``C`` classes present in ``labels`` and receives ``len(labels) //
    num_partitions`` samples. Samples are assigned one at a time: a client that is
    not yet full is chosen uniformly at random, a class is drawn from its
    ``p_i`` and one not-yet-assigned sample of that class is given to it (sampling
    without replacement). When a class runs out it is removed from every ``p_i``
    and the proportions are renormalised. The ``len(labels) % num_partitions``
    remaining samples are left out.

    The assignment is computed by flwr-datasets' ``InnerDirichletPartitioner``
    (seeded with ``seed``) over an in-memory ``datasets.Dataset``. Its rows are a
    seeded shuffle of ``labels`` so that *which* samples of a class a client gets
    (and which are left out) does not depend on the order of ``labels``.

    Parameters
    ----------
    labels : numpy.ndarray
        1-D integer class labels; any integer values (they are mapped to
        ``0..C-1`` internally).
    num_partitions : int
        Number of clients, ``1 <= num_partitions <= len(labels)``.
    alpha : float
        Dirichlet concentration, ``> 0``.
    seed : int
        Non-negative seed; the same seed gives the same partition.

    Returns
    -------
    list of numpy.ndarray
        ``num_partitions`` disjoint ``int64`` index arrays into ``labels``, each
        of length ``len(labels) // num_partitions``.

    Raises
    ------
    ValueError
        On invalid arguments, or if the partitioner fails because ``alpha`` is so
        small that some clients' Dirichlet proportions are exactly zero on all
        classes that still have samples.

    """
    labels, num_partitions, alpha, seed = _check_dirichlet_args(labels, num_partitions, alpha, seed)
    num_samples = int(labels.shape[0])
    from flwr_datasets.partitioner import InnerDirichletPartitioner

    row_order = np.random.default_rng([seed, _INNER_ROW_ORDER_STREAM]).permutation(num_samples)
    table = _label_table(labels, row_order)

    partitioner = InnerDirichletPartitioner(
        partition_sizes=[num_samples // num_partitions] * num_partitions,
        partition_by="label",
        alpha=alpha,
        shuffle=True,
        seed=seed,
    )
    partitioner.dataset = table

    with warnings.catch_warnings():
        # Expected whenever num_samples % num_partitions != 0 (remainder left out);
        # it would otherwise be emitted once per load_partition call.
        warnings.filterwarnings(
            "ignore",
            message="The sum of the partition_sizes does not sum",
            category=UserWarning,
        )
        # 0/0 when a class runs out for a client whose proportions are zero
        # elsewhere; harmless if that client is already full, else it turns into
        # the ValueError handled below.
        warnings.filterwarnings(
            "ignore", message="invalid value encountered in divide", category=RuntimeWarning
        )
        try:
            parts = [
                np.asarray(partitioner.load_partition(pid)[:]["index"], dtype=np.int64)
                for pid in range(num_partitions)
            ]
        except ValueError as exc:
            if "nan" not in str(exc).lower():
                raise
            raise ValueError(
                f"inner_dirichlet partitioning failed for partition.alpha={alpha} with "
                f"num_clients={num_partitions}: some client's Dirichlet class "
                "proportions are exactly zero for every class that still has "
                "samples (happens for very small alpha, typically <= 0.01). Use a "
                "larger partition.alpha or fewer clients."
            ) from exc
    return parts


def partition_dirichlet(
    labels: np.ndarray, num_partitions: int, alpha: float, seed: int
) -> list[np.ndarray]:
    """Split every class over the clients by a Dirichlet draw (unequal client sizes).

    flwr-datasets' ``DirichletPartitioner`` (seeded with ``seed``, no minimum
    client size, no self-balancing): for each class ``c`` proportions
    ``q_c ~ Dir(alpha * 1_K)`` over the ``K`` clients decide how its samples are
    shared. Every sample is assigned; client sizes vary.

    Parameters
    ----------
    labels : numpy.ndarray
        1-D integer class labels.
    num_partitions : int
        Number of clients.
    alpha : float
        Dirichlet concentration, ``> 0``.
    seed : int
        Non-negative seed; the same seed gives the same partition.

    Returns
    -------
    list of numpy.ndarray
        ``num_partitions`` disjoint ``int64`` index arrays into ``labels``
        covering every sample (some may be empty).

    """
    labels, num_partitions, alpha, seed = _check_dirichlet_args(labels, num_partitions, alpha, seed)
    from flwr_datasets.partitioner import DirichletPartitioner

    table = _label_table(labels, np.arange(labels.shape[0]))
    partitioner = DirichletPartitioner(
        num_partitions=num_partitions,
        partition_by="label",
        alpha=alpha,
        min_partition_size=0,
        self_balancing=False,
        shuffle=True,
        seed=seed,
    )
    partitioner.dataset = table
    return [
        np.asarray(partitioner.load_partition(pid)[:]["index"], dtype=np.int64)
        for pid in range(num_partitions)
    ]


def partition_iid(labels: np.ndarray, num_partitions: int, seed: int) -> list[np.ndarray]:
    """Partition sample indices uniformly at random into equal-sized clients.

    Parameters
    ----------
    labels : numpy.ndarray
        1-D integer class labels (only their number is used).
    num_partitions : int
        Number of clients, ``1 <= num_partitions <= len(labels)``.
    seed : int
        Non-negative seed of the random permutation.

    Returns
    -------
    list of numpy.ndarray
        ``num_partitions`` disjoint ``int64`` index arrays of length
        ``len(labels) // num_partitions``; the remainder samples are left out.

    """
    labels = check_labels(labels)
    num_samples = int(labels.shape[0])
    num_partitions = check_num_partitions(num_partitions, num_samples)
    seed = check_seed(seed)

    size = num_samples // num_partitions
    perm = np.random.default_rng(seed).permutation(num_samples).astype(np.int64)
    return [perm[pid * size : (pid + 1) * size].copy() for pid in range(num_partitions)]


def partition_labels(
    labels: np.ndarray,
    num_partitions: int,
    scheme: str,
    alpha: float,
    seed: int,
    *,
    classes_per_client: int = 2,
) -> list[np.ndarray]:
    """Partition sample indices with the named scheme.

    Parameters
    ----------
    labels : numpy.ndarray
        1-D integer class labels.
    num_partitions : int
        Number of clients.
    scheme : str
        One of :data:`PARTITION_SCHEMES`: ``"lda"``, ``"inner_dirichlet"``,
        ``"dirichlet"``, ``"iid"`` or ``"shards"``.
    alpha : float
        Dirichlet concentration (ignored for ``"iid"`` and ``"shards"``).
    seed : int
        Non-negative seed.
    classes_per_client : int, optional
        Classes of every client for ``"shards"`` (ignored by the other schemes).

    Returns
    -------
    list of numpy.ndarray
        ``num_partitions`` disjoint ``int64`` index arrays; their sizes are those
        of the scheme's partitioner.

    Raises
    ------
    ValueError
        If ``scheme`` is unknown or another argument is invalid.

    """
    scheme = _check_scheme(scheme)
    if scheme == "lda":
        return partition_lda(labels, num_partitions, alpha, seed)
    if scheme == "inner_dirichlet":
        return partition_inner_dirichlet(labels, num_partitions, alpha, seed)
    if scheme == "dirichlet":
        return partition_dirichlet(labels, num_partitions, alpha, seed)
    if scheme == "shards":
        return partition_shards(labels, num_partitions, classes_per_client, seed)
    return partition_iid(labels, num_partitions, seed)


def partition_train_test(
    train_labels: np.ndarray,
    test_labels: np.ndarray,
    num_partitions: int,
    scheme: str,
    alpha: float,
    seed: int,
    *,
    classes_per_client: int = 2,
) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """Partition the training set and give every client a test split with the same class mix.

    Both sets are partitioned with the same scheme and seed, and the test split
    of client ``i`` is drawn from the same class proportions ``p_i`` as its
    training split. For ``lda`` the training set's Dirichlet matrix is passed to
    the test partition (as the official code does), whose shuffle and class
    draws come from the seed's ``"test"`` stream; its sizes are round-robin over
    ``len(test_labels)``. The flwr-datasets partitioners (``inner_dirichlet``,
    ``dirichlet``) draw their Dirichlet matrix first from a generator seeded
    with ``seed``, so the same seed gives the same matrix for both sets. For
    ``shards`` both sets get the same class sets per client; the test examples
    are shuffled by the seed's ``"test"`` stream.

    Parameters
    ----------
    train_labels, test_labels : numpy.ndarray
        1-D integer class labels of the two sets (same classes).
    num_partitions, scheme, alpha, seed, classes_per_client
        As in :func:`partition_labels`.

    Returns
    -------
    train, test : list of numpy.ndarray
        Per-client index arrays into ``train_labels`` and ``test_labels``.

    Raises
    ------
    ValueError
        As :func:`partition_labels`, or when the two sets have different classes
        (the shared Dirichlet matrix would then mean different things).

    """
    train_classes = np.unique(check_labels(train_labels))
    test_classes = np.unique(check_labels(test_labels))
    if not np.array_equal(train_classes, test_classes):
        raise ValueError(
            f"train and test labels have different classes ({train_classes.size} vs "
            f"{test_classes.size}); client test splits need the same classes"
        )
    if _check_scheme(scheme) == "lda":
        train_labels, num_partitions, alpha, seed = _check_dirichlet_args(
            train_labels, num_partitions, alpha, seed
        )
        matrix = lda_dirichlet_matrix(num_partitions, int(train_classes.size), alpha, seed)
        train = partition_lda(train_labels, num_partitions, alpha, seed, dirichlet=matrix)
        test = partition_lda(
            test_labels, num_partitions, alpha, seed, dirichlet=matrix, split="test"
        )
        return train, test
    if scheme == "shards":
        train = partition_shards(train_labels, num_partitions, classes_per_client, seed)
        test = partition_shards(test_labels, num_partitions, classes_per_client, seed, split="test")
        return train, test
    train = partition_labels(train_labels, num_partitions, scheme, alpha, seed)
    test = partition_labels(test_labels, num_partitions, scheme, alpha, seed)
    return train, test


# ---------------------------------------------------------------------------
# Statistics
# ---------------------------------------------------------------------------


def _entropy(counts: np.ndarray) -> float:
    """Shannon entropy (nats) of the empirical distribution given by ``counts``."""
    total = counts.sum()
    if total == 0:
        return 0.0
    probs = counts[counts > 0] / total
    return float(-(probs * np.log(probs)).sum())


def partition_stats(
    labels: np.ndarray, partitions: Sequence[np.ndarray], num_classes: int
) -> dict[str, Any]:
    """Summarise the label distribution of each client.

    Parameters
    ----------
    labels : numpy.ndarray
        1-D integer labels in ``[0, num_classes)``.
    partitions : sequence of numpy.ndarray
        Per-client index arrays into ``labels``.
    num_classes : int
        Number of classes.

    Returns
    -------
    dict
        JSON-serialisable summary (plain ``int``/``float``/``list``):

        ``num_clients``, ``num_classes``, ``num_samples`` (``len(labels)``),
        ``num_assigned`` (sum of client sizes), ``sample_counts`` (per client),
        ``class_counts`` (per client, a list of ``num_classes`` counts),
        ``num_classes_present`` (per client), ``label_entropy`` (per client, in
        nats; 0 for an empty client), ``max_label_entropy`` (``log(num_classes)``),
        ``mean_num_classes_present``, ``mean_label_entropy``,
        ``min_sample_count`` and ``max_sample_count``.

    """
    labels = check_labels(labels)
    if isinstance(num_classes, bool) or not isinstance(num_classes, numbers.Integral):
        raise ValueError(f"num_classes must be a positive integer, got {num_classes!r}")
    num_classes = int(num_classes)
    if num_classes < 1:
        raise ValueError(f"num_classes must be a positive integer, got {num_classes}")
    if labels.min() < 0 or labels.max() >= num_classes:
        raise ValueError(
            f"labels must lie in [0, {num_classes}), got range [{labels.min()}, {labels.max()}]"
        )

    class_counts: list[list[int]] = []
    for pid, part in enumerate(partitions):
        idx = np.asarray(part)
        if idx.ndim != 1 or (idx.size and not np.issubdtype(idx.dtype, np.integer)):
            raise ValueError(
                f"partition {pid} must be a 1-D integer index array, got dtype "
                f"{idx.dtype} and shape {idx.shape}"
            )
        if idx.size and (idx.min() < 0 or idx.max() >= labels.shape[0]):
            raise ValueError(f"partition {pid} has indices outside [0, {labels.shape[0]})")
        counts = np.bincount(labels[idx.astype(np.int64)], minlength=num_classes)
        class_counts.append([int(c) for c in counts])

    counts_arr = np.asarray(class_counts, dtype=np.int64).reshape(-1, num_classes)
    sample_counts = [int(c) for c in counts_arr.sum(axis=1)]
    present = [int(c) for c in (counts_arr > 0).sum(axis=1)]
    entropies = [_entropy(row) for row in counts_arr]
    num_clients = len(class_counts)
    return {
        "num_clients": num_clients,
        "num_classes": num_classes,
        "num_samples": int(labels.shape[0]),
        "num_assigned": int(sum(sample_counts)),
        "sample_counts": sample_counts,
        "class_counts": class_counts,
        "num_classes_present": present,
        "label_entropy": entropies,
        "max_label_entropy": float(math.log(num_classes)),
        "mean_num_classes_present": float(np.mean(present)) if num_clients else 0.0,
        "mean_label_entropy": float(np.mean(entropies)) if num_clients else 0.0,
        "min_sample_count": min(sample_counts) if num_clients else 0,
        "max_sample_count": max(sample_counts) if num_clients else 0,
    }
