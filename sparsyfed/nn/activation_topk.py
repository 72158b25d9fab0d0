"""SWAT-style activation Top-K for the weight gradient (docs/methods.md section 3).

The forward pass is exact: the layer output is computed from the dense input.
Only the input used by the weight gradient is Top-K-pruned by magnitude, so

- the input gradient is exact (full ``grad_output`` against the weight),
- the weight gradient is computed from the pruned input,
- the bias gradient is the exact sum of ``grad_output``.

The forward saves the (dense) input and the 0-d threshold, which the
layer's autograd graph keeps alive anyway in the models of this repository
(the input is the output of the previous layer), and the mask is applied in
the backward: no second, pruned copy of the input is kept between the passes.
The backward hands the pruned input to an optional ``record`` callback (the
layer's activation statistics). Everything runs on the tensor's device; there
is no numpy round trip.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import torch
from torch import Tensor
from torch.nn import functional as F

from sparsyfed.nn.kernels import kth_largest, region

Record = Callable[[Tensor], None]


def topk_threshold(x: Tensor, keep_fraction: float) -> Tensor:
    """Return the magnitude of the k-th largest ``|x|`` over the whole tensor.

    Parameters
    ----------
    x : Tensor
        Any tensor; the Top-K is taken over all of its elements together.
    keep_fraction : float
        Fraction of elements to keep, in (0, 1]; ``k = ceil(keep_fraction * numel)``.

    Returns
    -------
    Tensor
        A 0-d tensor ``t`` such that ``|x| >= t`` keeps at least k elements
        (ties at the threshold are kept, as in the official code).

    """
    with region("sparsyfed::topk_threshold"):
        flat = x.detach().abs().flatten()
        numel = flat.numel()
        k = min(numel, max(1, math.ceil(keep_fraction * numel)))
        # The k-th largest value (torch.kthvalue's (numel - k + 1)-th smallest).
        return kth_largest(flat, k)


def prune_by_threshold(x: Tensor, threshold: Tensor) -> Tensor:
    """Zero every element of ``x`` whose magnitude is below ``threshold``.

    The value of ``x * (x.abs() >= threshold)`` bit for bit (``-0.0`` for a
    pruned negative entry, NaN stays NaN), computed as the float indicator
    ``(|x| >= t)`` times ``x`` in one buffer (multiplication commutes exactly),
    without a bool mask. The result carries no gradient.
    """
    with region("sparsyfed::act_mask"):
        x = x.detach()
        return x.abs().ge_(threshold).mul_(x)


class _ConvNdActTopK(torch.autograd.Function):
    """Convolution whose weight gradient uses a pruned copy of the input."""

    @staticmethod
    def forward(  # type: ignore[override]
        ctx: Any,
        x: Tensor,
        weight: Tensor,
        bias: Tensor | None,
        threshold: Tensor,
        stride: tuple[int, ...],
        padding: tuple[int, ...],
        dilation: tuple[int, ...],
        groups: int,
        record: Record | None,
    ) -> Tensor:
        conv = F.conv1d if weight.dim() == 3 else F.conv2d
        out = conv(x, weight, bias, stride, padding, dilation, groups)
        ctx.save_for_backward(x, weight, threshold)
        ctx.has_bias = bias is not None
        ctx.conv_args = (stride, padding, dilation, groups)
        ctx.record = record
        return out

    @staticmethod
    def backward(ctx: Any, grad_out: Tensor):  # type: ignore[override]
        x, weight, threshold = ctx.saved_tensors
        x_pruned = prune_by_threshold(x, threshold)
        if ctx.record is not None:
            ctx.record(x_pruned)
        stride, padding, dilation, groups = ctx.conv_args
        # The input gradient of a convolution does not depend on the input
        # values, so one backward call on the pruned input gives the exact
        # input gradient and the pruned weight gradient.
        zeros = [0] * len(stride)
        grad_x, grad_w, grad_b = torch.ops.aten.convolution_backward(
            grad_out,
            x_pruned,
            weight,
            [weight.shape[0]] if ctx.has_bias else None,
            list(stride),
            list(padding),
            list(dilation),
            False,
            zeros,
            groups,
            [ctx.needs_input_grad[0], ctx.needs_input_grad[1], ctx.has_bias],
        )
        return grad_x, grad_w, grad_b, None, None, None, None, None, None


class _LinearActTopK(torch.autograd.Function):
    """Linear layer whose weight gradient uses a pruned copy of the input."""

    @staticmethod
    def forward(  # type: ignore[override]
        ctx: Any,
        x: Tensor,
        weight: Tensor,
        bias: Tensor | None,
        threshold: Tensor,
        record: Record | None,
    ) -> Tensor:
        ctx.save_for_backward(x, weight, threshold)
        ctx.has_bias = bias is not None
        ctx.record = record
        return F.linear(x, weight, bias)

    @staticmethod
    def backward(ctx: Any, grad_out: Tensor):  # type: ignore[override]
        x, weight, threshold = ctx.saved_tensors
        x_pruned = prune_by_threshold(x, threshold)
        if ctx.record is not None:
            ctx.record(x_pruned)
        grad_x = grad_w = grad_b = None
        if ctx.needs_input_grad[0]:
            grad_x = grad_out @ weight
        g2 = grad_out.reshape(-1, grad_out.shape[-1])
        if ctx.needs_input_grad[1]:
            grad_w = g2.t() @ x_pruned.reshape(-1, x_pruned.shape[-1])
        if ctx.has_bias:
            grad_b = g2.sum(0)
        return grad_x, grad_w, grad_b, None, None


def conv_act_topk(
    x: Tensor,
    weight: Tensor,
    bias: Tensor | None,
    threshold: Tensor,
    stride: tuple[int, ...],
    padding: tuple[int, ...],
    dilation: tuple[int, ...],
    groups: int,
    record: Record | None = None,
) -> Tensor:
    """Exact conv forward; the weight gradient uses ``prune_by_threshold(x, threshold)``.

    ``record`` (optional) receives that pruned input in the backward.
    """
    return _ConvNdActTopK.apply(
        x, weight, bias, threshold, stride, padding, dilation, groups, record
    )


def linear_act_topk(
    x: Tensor,
    weight: Tensor,
    bias: Tensor | None,
    threshold: Tensor,
    record: Record | None = None,
) -> Tensor:
    """Exact linear forward; the weight gradient uses ``prune_by_threshold(x, threshold)``.

    ``record`` (optional) receives that pruned input in the backward.
    """
    return _LinearActTopK.apply(x, weight, bias, threshold, record)
