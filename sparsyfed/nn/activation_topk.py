"""SWAT-style activation Top-K for the weight gradient (docs/methods.md section 3).

The forward pass is exact: the layer output is computed from the dense input.
Only the copy of the input saved for backward is Top-K-pruned by magnitude, so

- the input gradient is exact (full ``grad_output`` against the weight),
- the weight gradient is computed from the pruned input,
- the bias gradient is the exact sum of ``grad_output``.

Everything runs on the tensor's device; there is no numpy round trip.
"""

from __future__ import annotations

import math
from typing import Any

import torch
from torch import Tensor
from torch.nn import functional as F


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
    flat = x.detach().abs().flatten()
    numel = flat.numel()
    k = min(numel, max(1, math.ceil(keep_fraction * numel)))
    # The k-th largest value is the (numel - k + 1)-th smallest.
    return torch.kthvalue(flat, numel - k + 1).values


def prune_by_threshold(x: Tensor, threshold: Tensor) -> Tensor:
    """Zero every element of ``x`` whose magnitude is below ``threshold``."""
    return x * (x.abs() >= threshold)


class _ConvNdActTopK(torch.autograd.Function):
    """Convolution whose weight gradient uses a pruned copy of the input."""

    @staticmethod
    def forward(  # type: ignore[override]
        ctx: Any,
        x: Tensor,
        weight: Tensor,
        bias: Tensor | None,
        x_pruned: Tensor,
        stride: tuple[int, ...],
        padding: tuple[int, ...],
        dilation: tuple[int, ...],
        groups: int,
    ) -> Tensor:
        conv = F.conv1d if weight.dim() == 3 else F.conv2d
        out = conv(x, weight, bias, stride, padding, dilation, groups)
        ctx.save_for_backward(x_pruned, weight)
        ctx.has_bias = bias is not None
        ctx.conv_args = (stride, padding, dilation, groups)
        return out

    @staticmethod
    def backward(ctx: Any, grad_out: Tensor):  # type: ignore[override]
        x_pruned, weight = ctx.saved_tensors
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
        return grad_x, grad_w, grad_b, None, None, None, None, None


class _LinearActTopK(torch.autograd.Function):
    """Linear layer whose weight gradient uses a pruned copy of the input."""

    @staticmethod
    def forward(  # type: ignore[override]
        ctx: Any, x: Tensor, weight: Tensor, bias: Tensor | None, x_pruned: Tensor
    ) -> Tensor:
        ctx.save_for_backward(x_pruned, weight)
        ctx.has_bias = bias is not None
        return F.linear(x, weight, bias)

    @staticmethod
    def backward(ctx: Any, grad_out: Tensor):  # type: ignore[override]
        x_pruned, weight = ctx.saved_tensors
        grad_x = grad_w = grad_b = None
        if ctx.needs_input_grad[0]:
            grad_x = grad_out @ weight
        g2 = grad_out.reshape(-1, grad_out.shape[-1])
        if ctx.needs_input_grad[1]:
            grad_w = g2.t() @ x_pruned.reshape(-1, x_pruned.shape[-1])
        if ctx.has_bias:
            grad_b = g2.sum(0)
        return grad_x, grad_w, grad_b, None


def conv_act_topk(
    x: Tensor,
    weight: Tensor,
    bias: Tensor | None,
    x_pruned: Tensor,
    stride: tuple[int, ...],
    padding: tuple[int, ...],
    dilation: tuple[int, ...],
    groups: int,
) -> Tensor:
    """Exact conv forward; backward takes the weight gradient from ``x_pruned``."""
    return _ConvNdActTopK.apply(x, weight, bias, x_pruned, stride, padding, dilation, groups)


def linear_act_topk(x: Tensor, weight: Tensor, bias: Tensor | None, x_pruned: Tensor) -> Tensor:
    """Exact linear forward; backward takes the weight gradient from ``x_pruned``."""
    return _LinearActTopK.apply(x, weight, bias, x_pruned)
