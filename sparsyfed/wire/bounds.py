"""Information-theoretic size bounds for sparse tensors.

A tensor with ``numel`` elements of which exactly ``nnz`` are non-zero can be
described by (a) *which* ``nnz`` positions out of ``numel`` are occupied and
(b) the ``nnz`` values themselves. Without any prior knowledge of the
positions, (a) needs at least ``log2(C(numel, nnz))`` bits and (b) needs
``value_bits * nnz`` bits, so no lossless encoding of an arbitrary k-sparse
tensor can be smaller on average than their sum. The codecs in
:mod:`sparsyfed.wire.codec` are compared against this bound.
"""

from __future__ import annotations

import math
import operator

__all__ = ["sparse_bound_bits", "sparse_bound_bytes"]

_LN2 = math.log(2.0)


def _check_int(name: str, value: int) -> int:
    """Return ``value`` as a Python ``int`` (accepts NumPy integers)."""
    try:
        return operator.index(value)
    except TypeError:
        raise TypeError(f"{name} must be an integer, got {value!r}") from None


def sparse_bound_bits(numel: int, nnz: int, value_bits: int = 32) -> float:
    """Information-theoretic size in bits of a k-sparse tensor.

    Parameters
    ----------
    numel : int
        Total number of elements ``n`` of the tensor.
    nnz : int
        Number of non-zero elements ``k``, with ``0 <= k <= n``.
    value_bits : int, optional
        Bits needed per stored value (32 for float32), by default 32.

    Returns
    -------
    float
        ``log2(C(n, k)) + value_bits * k``. The binomial term is evaluated with
        :func:`math.lgamma`, so it is accurate to double precision without
        building huge integers; it is exactly ``0`` for ``k == 0`` and
        ``k == n``.

    Raises
    ------
    ValueError
        If ``numel < 0``, ``nnz < 0``, ``nnz > numel`` or ``value_bits < 0``.
    TypeError
        If an argument is not an integer.

    """
    n = _check_int("numel", numel)
    k = _check_int("nnz", nnz)
    b = _check_int("value_bits", value_bits)
    if n < 0:
        raise ValueError(f"numel must be >= 0, got numel={n}")
    if not 0 <= k <= n:
        raise ValueError(f"nnz must satisfy 0 <= nnz <= numel, got nnz={k}, numel={n}")
    if b < 0:
        raise ValueError(f"value_bits must be >= 0, got value_bits={b}")
    if k in (0, n):
        position_bits = 0.0
    else:
        log_binom = math.lgamma(n + 1) - math.lgamma(k + 1) - math.lgamma(n - k + 1)
        position_bits = max(0.0, log_binom / _LN2)
    return position_bits + float(b) * k


def sparse_bound_bytes(numel: int, nnz: int, value_bits: int = 32) -> float:
    """Information-theoretic size in bytes of a k-sparse tensor.

    Parameters
    ----------
    numel : int
        Total number of elements of the tensor.
    nnz : int
        Number of non-zero elements, ``0 <= nnz <= numel``.
    value_bits : int, optional
        Bits needed per stored value, by default 32.

    Returns
    -------
    float
        ``sparse_bound_bits(numel, nnz, value_bits) / 8`` (not rounded).

    Raises
    ------
    ValueError
        See :func:`sparse_bound_bits`.

    """
    return sparse_bound_bits(numel, nnz, value_bits) / 8.0
