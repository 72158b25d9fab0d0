"""The official SparsyFed LDA partition (``partition.scheme=lda``), on validated inputs.

The procedure (docs/methods.md section 15.4):

1. the samples are shuffled, then sorted by class (a stable sort, so the order
   within a class is the shuffled one); one list of samples per class;
2. client sizes are round-robin, sample ``j`` counting for client ``j % K``: the
   first ``N % K`` clients get ``N // K + 1`` samples, the others ``N // K``, and
   no sample is left out;
3. one Dirichlet matrix ``p ~ Dir(alpha * 1_C)`` of shape ``(K, C)`` is drawn;
4. the clients are filled one after another, client 0 first. Client ``i`` starts
   from ``p_i`` after :func:`exclude_and_normalise`; for each of its samples a
   class is drawn from the current distribution and the last remaining sample of
   that class is taken. When a class runs out it is marked empty (for every later
   client too) and :func:`exclude_and_normalise` is applied again to the current
   distribution;
5. a client's test split repeats the procedure on the test set with the same
   matrix.

A class is drawn by the inverse CDF of one uniform number per sample: class
``c`` is the first with ``cdf[c] > u * cdf[-1]`` (``cdf`` the cumulative sum of the
current distribution), so ``P(c) = dist[c] / sum(dist)`` and an empty class
(probability 0) is never drawn. The official code makes a one-draw multinomial
from numpy's legacy global generator instead; the two draws have the same
distribution.

Random numbers come from three independent streams of the run seed,
``np.random.default_rng([seed, tag])``: one for the Dirichlet matrix, one for the
training set's shuffle and class draws and one for the test set's.
"""

from __future__ import annotations

from bisect import bisect_right

import numpy as np

__all__ = [
    "LDA_EPS",
    "LDA_SPLITS",
    "exclude_and_normalise",
    "lda_assign",
    "lda_dirichlet_matrix",
    "lda_rng",
    "round_robin_sizes",
]

LDA_EPS: float = 1e-5
"""Mass added to every non-empty class by :func:`exclude_and_normalise`."""

LDA_SPLITS: tuple[str, ...] = ("train", "test")
"""Names of the per-split streams of :func:`lda_rng`."""

# Stream tags mixed into the run seed: the Dirichlet matrix, and the shuffle and
# class draws of each split.
_DIRICHLET_STREAM = 0x1DA0
_SPLIT_STREAMS = {"train": 0x1DA1, "test": 0x1DA2}


def lda_rng(seed: int, split: str) -> np.random.Generator:
    """The generator of one split's shuffle and class draws.

    Parameters
    ----------
    seed : int
        Non-negative run seed.
    split : str
        ``"train"`` or ``"test"`` (:data:`LDA_SPLITS`).

    Returns
    -------
    numpy.random.Generator
        ``np.random.default_rng([seed, tag])`` with the split's own tag.

    """
    return np.random.default_rng([seed, _SPLIT_STREAMS[split]])


def lda_dirichlet_matrix(
    num_partitions: int, num_classes: int, alpha: float, seed: int
) -> np.ndarray:
    """Draw the per-client class proportions ``p_i ~ Dir(alpha * 1_C)``.

    Parameters
    ----------
    num_partitions : int
        Number of clients ``K``.
    num_classes : int
        Number of classes ``C``.
    alpha : float
        Dirichlet concentration, ``> 0``.
    seed : int
        Non-negative run seed; the matrix has its own stream of it.

    Returns
    -------
    numpy.ndarray
        ``float64`` array of shape ``(K, C)``, one distribution per row.

    """
    rng = np.random.default_rng([seed, _DIRICHLET_STREAM])
    return rng.dirichlet(np.full(num_classes, alpha, dtype=np.float64), size=num_partitions)


def round_robin_sizes(num_samples: int, num_partitions: int) -> np.ndarray:
    """Client sizes when sample ``j`` goes to client ``j % num_partitions``.

    Parameters
    ----------
    num_samples : int
        Number of samples ``N``.
    num_partitions : int
        Number of clients ``K``.

    Returns
    -------
    numpy.ndarray
        ``int64`` sizes summing to ``N``: ``N // K + 1`` for the first ``N % K``
        clients, ``N // K`` for the others.

    """
    sizes = np.full(num_partitions, num_samples // num_partitions, dtype=np.int64)
    sizes[: num_samples % num_partitions] += 1
    return sizes


def exclude_and_normalise(distribution: np.ndarray, empty: np.ndarray) -> np.ndarray:
    """Give every non-empty class ``LDA_EPS`` more mass, the empty ones none, and renormalise.

    Parameters
    ----------
    distribution : numpy.ndarray
        1-D class probabilities (not modified).
    empty : numpy.ndarray
        Boolean mask of the classes without samples left.

    Returns
    -------
    numpy.ndarray
        The new distribution, divided by its sum plus float64 machine epsilon
        (so it sums to just under 1).

    """
    out = np.array(distribution, dtype=np.float64)
    out[~empty] += LDA_EPS
    out[empty] = 0.0
    return out / (out.sum() + np.finfo(np.float64).eps)


def _cdf(distribution: np.ndarray) -> list[float]:
    """Cumulative sum of ``distribution`` as a list (for :func:`bisect.bisect_right`)."""
    return np.cumsum(distribution).tolist()


def lda_assign(
    class_codes: np.ndarray,
    num_classes: int,
    matrix: np.ndarray,
    rng: np.random.Generator,
) -> list[np.ndarray]:
    """Fill the clients one after another from the rows of ``matrix`` (steps 1, 2 and 4).

    Parameters
    ----------
    class_codes : numpy.ndarray
        1-D ``int64`` class of every sample, in ``0..num_classes-1``.
    num_classes : int
        Number of classes ``C``.
    matrix : numpy.ndarray
        Client class proportions, shape ``(K, C)``.
    rng : numpy.random.Generator
        The split's stream: first the shuffle, then one uniform per sample,
        client by client.

    Returns
    -------
    list of numpy.ndarray
        ``K`` disjoint ``int64`` index arrays into ``class_codes``, of the
        :func:`round_robin_sizes`, covering every sample; each in draw order.

    """
    num_samples = int(class_codes.shape[0])
    shuffled = rng.permutation(num_samples)
    by_class = shuffled[np.argsort(class_codes[shuffled], kind="stable")]
    counts = np.bincount(class_codes, minlength=num_classes)
    starts = (np.cumsum(counts) - counts).tolist()
    remaining = counts.tolist()
    empty = counts == 0

    parts: list[np.ndarray] = []
    for row, size in zip(matrix, round_robin_sizes(num_samples, matrix.shape[0]), strict=True):
        dist = exclude_and_normalise(row, empty)
        cdf = _cdf(dist)
        picked = []
        for u in rng.random(int(size)).tolist():
            c = bisect_right(cdf, u * cdf[-1])
            remaining[c] -= 1
            picked.append(starts[c] + remaining[c])  # the class's last remaining sample
            if remaining[c] == 0:
                empty[c] = True
                dist = exclude_and_normalise(dist, empty)
                cdf = _cdf(dist)
        parts.append(by_class[np.asarray(picked, dtype=np.int64)].astype(np.int64))
    return parts
