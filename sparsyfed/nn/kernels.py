"""Exact element-wise helpers of the sparse layers, written for speed on CPU.

On CPU, PyTorch's comparisons that write a ``bool`` tensor, ``masked_fill_``
with a ``bool`` mask and ``count_nonzero`` (branchy on data with many zeros)
are several times slower than the same work done with float or int32 tensors;
``scripts/bench_training.py`` shows the effect on a training step.
Each helper here computes exactly the value of the plain formula named in its
docstring, bit for bit, with float-only passes where that is possible.
"""

from __future__ import annotations

import math
from contextlib import AbstractContextManager, nullcontext

import torch
from torch import Tensor

#: Largest element count whose float32 sum of 0/1 values is exact (2^24).
_EXACT_FLOAT_COUNT = 1 << 24
#: Tensors with fewer elements take the plain ``torch.kthvalue``.
_FILTER_MIN_NUMEL = 1 << 15
#: Elements of the strided sample that bounds the k-th largest value from below.
_SAMPLE_SIZE = 4096


def region(name: str) -> AbstractContextManager:
    """A ``torch.profiler`` range named ``name`` while a profiler runs, else a no-op."""
    if torch.autograd.profiler._is_profiler_enabled:
        return torch.profiler.record_function(name)
    return nullcontext()


def count_nonzero(x: Tensor) -> Tensor:
    """``torch.count_nonzero(x)`` (an int64 0-d tensor on ``x``'s device), faster on CPU.

    NaN and infinities count as non-zero, as in ``torch.count_nonzero``. Up to
    2^24 elements the 0/1 indicator is summed as float32, which is exact
    there (every partial sum is an integer below 2^24).
    """
    x = x.detach()
    if x.numel() >= _EXACT_FLOAT_COUNT or not x.is_floating_point() or x.device.type != "cpu":
        return torch.count_nonzero(x)
    ones = torch.ne(x, 0, out=torch.empty_like(x, dtype=torch.float32))
    return ones.sum().to(torch.int64)


def zero_below_(w: Tensor, threshold: Tensor) -> Tensor:
    """``w.masked_fill_(w.abs() < threshold, 0.0)`` without a bool mask; returns ``w``.

    For contiguous float32 on CPU the float indicator ``|w| < t`` (1 or 0;
    false for NaN, as in the masked fill) becomes the int32 ``0`` or ``-1``
    and is AND-ed into the bit patterns: pruned entries become ``+0.0``,
    every other entry (``-0.0`` and NaN included) keeps its bits.
    """
    zero_below_count_(w, threshold)
    return w


def zero_below_count_(w: Tensor, threshold: Tensor) -> Tensor:
    """:func:`zero_below_`, returning how many entries had ``|w| < threshold`` (int64 0-d).

    The count comes from the pass's own indicator. For ``threshold > 0`` the
    entries left non-zero are exactly the others, so ``w.numel()`` minus it
    is ``torch.count_nonzero(w)`` afterwards, without another pass.
    """
    if w.dtype != torch.float32 or w.device.type != "cpu" or not w.is_contiguous():
        drop_mask = w.abs() < threshold
        w.masked_fill_(drop_mask, 0.0)
        return drop_mask.sum()
    drop = w.detach().abs().lt_(threshold)
    w.detach().view(torch.int32).bitwise_and_(drop.to(torch.int32).sub_(1))
    if drop.numel() < _EXACT_FLOAT_COUNT:
        return drop.sum().to(torch.int64)
    return drop.sum(dtype=torch.float64).to(torch.int64)


def _keep_bits(dead: Tensor) -> Tensor:
    """int32 ``0`` where ``dead`` (a bool mask) is true, ``-1`` (all bits set) elsewhere."""
    return dead.to(torch.int32).sub_(1)


def _bitwise_fast(t: Tensor, dead: Tensor) -> bool:
    return (
        t.dtype == torch.float32
        and t.device.type == "cpu"
        and t.is_contiguous()
        and dead.shape == t.shape
        and dead.is_contiguous()
    )


def masked_zero(t: Tensor, dead: Tensor) -> Tensor:
    """``t.masked_fill(dead, 0.0)`` (a new tensor; ``+0.0`` where ``dead``), faster on CPU.

    The kept entries' bit patterns are AND-ed with all ones, the dead ones
    with zero, so the result is the masked fill's bit for bit.
    """
    if not _bitwise_fast(t, dead):
        return t.masked_fill(dead, 0.0)
    return t.detach().view(torch.int32).bitwise_and(_keep_bits(dead)).view(t.dtype)


def masked_zero_(t: Tensor, dead: Tensor) -> Tensor:
    """``t.masked_fill_(dead, 0.0)`` in place (see :func:`masked_zero`); returns ``t``."""
    if not _bitwise_fast(t, dead):
        return t.masked_fill_(dead, 0.0)
    t.detach().view(torch.int32).bitwise_and_(_keep_bits(dead))
    return t


def kth_largest(values: Tensor, k: int) -> Tensor:
    """``torch.kthvalue(values, n - k + 1).values`` for a flat tensor of ``n`` elements.

    The same 0-d tensor, found faster on CPU: a strided sample gives a lower
    bound ``L`` of the k-th largest value; when at least ``k`` elements are not
    below ``L`` (checked exactly), the k-th largest of those candidates is the
    k-th largest of all (every element above it is a candidate). NaN, which
    ``kthvalue`` orders above every number, is always a candidate. If the
    check fails the plain ``kthvalue`` runs.
    """
    n = values.numel()
    if n < _FILTER_MIN_NUMEL or values.device.type != "cpu" or k >= n // 4:
        return torch.kthvalue(values, n - k + 1).values
    stride = max(1, n // _SAMPLE_SIZE)
    sample = values[::stride]
    m = sample.numel()
    expected = k * m / n
    rank = min(m, math.ceil(1.25 * expected + 4.0 * math.sqrt(expected) + 16))
    lower = torch.kthvalue(sample, m - rank + 1).values
    candidates = values[~(values < lower)]
    c = candidates.numel()
    if c < k:
        return torch.kthvalue(values, n - k + 1).values
    return torch.kthvalue(candidates, c - k + 1).values
