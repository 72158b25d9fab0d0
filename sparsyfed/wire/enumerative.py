"""Enumerative (combinatorial-rank) coding of small position sets.

A set of ``c`` positions out of a domain of ``d`` is one of ``C(d, c)``
subsets, so it can be sent in ``ceil(log2 C(d, c))`` bits: its rank in the
combinatorial number system, ``rank = sum_i C(p_i, i + 1)`` for the sorted
positions ``p_0 < p_1 < ... < p_{c-1}``. Several independent sets are coded
together as one mixed-radix number (``rank_0 + C_0 * (rank_1 + C_1 * ...)``)
so the whole group pays the rounding to whole bits once. Ranks are exact
Python integers, so the cost grows with ``c``; callers keep ``c`` small
(:data:`MAX_COUNT`) and use Rice coding above it.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

__all__ = [
    "MAX_COUNT",
    "combined_radix",
    "split_rank",
    "subset_rank",
    "subset_unrank",
]

MAX_COUNT = 256
"""Largest set that is coded enumeratively (decoding is O(c) exact binomials)."""


def subset_rank(positions: np.ndarray) -> int:
    """Rank of a strictly increasing set of non-negative positions.

    Parameters
    ----------
    positions : np.ndarray
        Sorted, distinct, non-negative integers ``p_0 < ... < p_{c-1}``.

    Returns
    -------
    int
        ``sum_i C(p_i, i + 1)``, which lies in ``[0, C(d, c))`` for every
        domain ``d > p_{c-1}``.

    """
    return sum(math.comb(int(p), i + 1) for i, p in enumerate(positions.tolist()))


def _log_comb(p: float, i: int) -> float:
    return math.lgamma(p + 1.0) - math.lgamma(i + 1.0) - math.lgamma(p - i + 1.0)


def _largest_with_comb_at_most(rank: int, i: int, upper: int) -> tuple[int, int]:
    """Largest ``p < upper`` with ``C(p, i) <= rank``, and ``C(p, i)``.

    A floating-point bisection on ``log C(p, i)`` lands within a step or two
    of the answer; exact integer binomials then settle it.
    """
    if i == 1:
        return rank, rank
    if rank == 0:
        return i - 1, 0
    target = math.log(rank)
    lo, hi = float(i), float(upper - 1)
    if _log_comb(hi, i) <= target:
        p = upper - 1
    else:
        while hi - lo > 0.5:
            mid = 0.5 * (lo + hi)
            if _log_comb(mid, i) <= target:
                lo = mid
            else:
                hi = mid
        p = max(i - 1, min(upper - 1, int(lo)))
    value = math.comb(p, i)
    while value > rank:  # step down: C(p - 1, i) = C(p, i) * (p - i) / p
        value = value * (p - i) // p
        p -= 1
    while p + 1 < upper:
        following = value * (p + 1) // (p + 1 - i)
        if following > rank:
            break
        p, value = p + 1, following
    return p, value


def subset_unrank(rank: int, count: int, domain: int) -> np.ndarray:
    """Inverse of :func:`subset_rank`: the ``count`` positions of ``rank``.

    Parameters
    ----------
    rank : int
        A rank in ``[0, C(domain, count))`` (callers check the range).
    count : int
        Number of positions ``c``.
    domain : int
        Domain size ``d``; every position is below it.

    Returns
    -------
    np.ndarray
        The sorted positions as int64.

    """
    out = np.empty(count, dtype=np.int64)
    upper = domain
    for i in range(count, 0, -1):
        p, value = _largest_with_comb_at_most(rank, i, upper)
        out[i - 1] = p
        rank -= value
        upper = p
    return out


def combined_radix(sizes: Sequence[tuple[int, int]]) -> int:
    """Number of joint outcomes ``prod C(d, c)`` of independent sets ``(d, c)``."""
    total = 1
    for domain, count in sizes:
        total *= math.comb(domain, count)
    return total


def split_rank(joint: int, sizes: Sequence[tuple[int, int]]) -> list[int]:
    """Split a mixed-radix joint rank into the per-set ranks (first set least significant)."""
    ranks = []
    for domain, count in sizes:
        joint, rank = divmod(joint, math.comb(domain, count))
        ranks.append(rank)
    return ranks
