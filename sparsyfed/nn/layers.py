"""Powerpropagation layers with SWAT-style activation pruning, applied to any model.

:func:`wrap_layers` swaps the class of every ``nn.Conv1d``, ``nn.Conv2d`` and
``nn.Linear`` of a model for a subclass that

- computes the effective weight ``w = sign(v) * |v|**beta`` from the stored
  parameter ``v`` on every forward call (``beta == 1`` bypasses it), and
- in training mode, prunes the layer input used by the weight gradient to
  the keep fraction ``max(1 - s_l, floor)``, where ``s_l`` is the layer's
  current weight sparsity (docs/methods.md sections 2-3), or to a fixed keep
  fraction (``act_keep``, ZeroFL), and
- optionally (``weight_keep``, ZeroFL, docs/methods.md section 8) overwrites the stored
  weight in place with its magnitude Top-K at every training forward; conv
  layers reuse the absolute threshold of the round's first training batch,
  linear layers recompute it every call.

Parameters, buffers and ``state_dict`` keys are unchanged, so a wrapped and a
plain model exchange weights freely.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from typing import Any

import torch
from torch import Tensor, nn

from sparsyfed.nn.activation_topk import conv_act_topk, linear_act_topk, topk_threshold
from sparsyfed.nn.kernels import count_nonzero, region, zero_below_count_

ACT_THRESHOLD_MODES = ("first_batch", "per_batch")


class _PowerProp(torch.autograd.Function):
    """``w = sign(v)|v|^beta`` with the analytic gradient ``beta |v|^(beta - 1)``.

    Computed as ``v * |v|^(beta - 1)``: the one (costly) ``pow`` per call is
    done in the forward and its result ``|v|^(beta - 1)`` is saved and reused
    by the backward, ``(grad * |v|^(beta - 1)) * beta`` (the second product in
    place, same rounding order). That backward is exactly 0 at ``v = 0`` for
    ``beta > 1``, where autograd through this form would give NaN (0 * inf).
    """

    @staticmethod
    def forward(ctx: Any, v: Tensor, beta: float) -> Tensor:  # type: ignore[override]
        with region("sparsyfed::powerprop"):
            scale = v.abs().pow_(beta - 1.0)
            ctx.save_for_backward(scale)
            ctx.beta = beta
            return v * scale

    @staticmethod
    def backward(ctx: Any, grad_w: Tensor):  # type: ignore[override]
        with region("sparsyfed::powerprop"):
            (scale,) = ctx.saved_tensors
            return torch.mul(grad_w, scale).mul_(ctx.beta), None


def powerprop(v: Tensor, beta: float) -> Tensor:
    """Return the Powerpropagation weight ``sign(v) * |v|**beta``.

    The derivative ``beta * |v|**(beta - 1)`` is written out, so the gradient at
    ``v = 0`` is exactly 0 for ``beta > 1`` (autograd through
    ``v * |v|**(beta - 1)`` would give NaN there).
    """
    if beta == 1.0:
        return v
    return _PowerProp.apply(v, beta)


def weight_topk_threshold(w: Tensor, keep_fraction: float) -> Tensor:
    """Return the magnitude of the k-th largest ``|w|``, ``k = ceil(keep * numel)``.

    The count of the official SWAT weight Top-K (``drop.py``): keeping
    ``|w| >= threshold`` keeps ``k`` entries when the magnitudes have no ties
    at the threshold, e.g. 231 of 4,608 at ``keep = 1 - 0.95`` (the upload
    prune, which zeroes ``round(S * numel)``, would keep 230). The product is
    the same float expression as the official one, so ``k`` matches it
    bit for bit; at least one entry is kept.
    """
    return topk_threshold(w, keep_fraction)


SPECTRAL_SEED = 5378


def spectral_exponent(weight: Tensor) -> float:
    """Hyper-parameter-free Powerprop exponent of one layer (docs/methods.md section 13).

    ``1 + mean(|V| / sigma)`` with ``|V|`` the weight magnitudes as an
    ``(out, rest)`` matrix (zeros included in the mean) and ``sigma`` its top
    singular value estimated by one power iteration. Unlike the official code
    the random start vector is seeded (from the shape), so the exponent is
    deterministic. A zero or non-finite estimate gives 1.0.
    """
    v = weight.abs().reshape(weight.shape[0], -1).to(torch.float64)
    g = torch.Generator().manual_seed(SPECTRAL_SEED + v.numel())
    u = torch.randn(v.shape[0], generator=g, dtype=torch.float64).to(v.device)
    r = v.t() @ u
    norm = r.norm()
    if not torch.isfinite(norm) or norm == 0:
        return 1.0
    sigma = (v @ (r / norm)).norm()
    exponent = 1.0 + float((v / sigma).mean())
    return exponent if math.isfinite(exponent) else 1.0


class _RoundActStats:
    """Activation statistics of one round, summed on the device (no host sync per step)."""

    def __init__(self) -> None:
        self.samples_per_keep: dict[float, int] = {}
        self.nnz: Tensor | int = 0
        self.numel = 0

    def add(self, samples: int, keep: float, saved: Tensor | None) -> tuple[Tensor, int] | None:
        """Add one batch; return the ``(nnz, numel)`` of its saved input.

        ``saved=None`` adds the keep fraction only; the pruned input, known in
        the backward, is added then by :meth:`add_saved`.
        """
        self.samples_per_keep[keep] = self.samples_per_keep.get(keep, 0) + samples
        return None if saved is None else self.add_saved(saved)

    def add_saved(self, saved: Tensor) -> tuple[Tensor, int]:
        """Add the non-zeros of one batch's input used by the weight gradient."""
        with region("sparsyfed::act_stats"):
            nnz = count_nonzero(saved)
        self.nnz = self.nnz + nnz
        self.numel += saved.numel()
        return nnz, saved.numel()

    @property
    def mean_keep(self) -> float:
        """Sample-weighted mean keep fraction; exact when it never changed (1.0 if no batch)."""
        counts = self.samples_per_keep
        if len(counts) == 1:
            return next(iter(counts))
        total = sum(counts.values())
        return math.fsum(k * n for k, n in counts.items()) / total if total else 1.0

    @property
    def density(self) -> float:
        """``sum(nnz) / sum(numel)``; reads the device counter once (1.0 before the first batch)."""
        return float(self.nnz) / self.numel if self.numel else 1.0


class SparseLayerMixin:
    """State and behaviour shared by the wrapped conv and linear layers."""

    weight: Tensor
    training: bool
    beta: float = 1.0
    act_pruning: bool = False
    act_keep_floor: float = 1e-7
    cache_threshold: bool = False
    _act_threshold: Tensor | None = None
    last_keep_fraction: float = 1.0
    _act_nnz: tuple[Tensor, int] | None = None
    _act_stats: _RoundActStats | None = None
    _spectral_exponent: float | None = None
    act_keep: float | None = None
    weight_keep: float | None = None
    _weight_threshold: Tensor | None = None
    _weight_threshold_positive: bool = False
    _weight_nnz: tuple[Tensor, int] | None = None

    def configure(
        self,
        beta: float,
        act_pruning: bool,
        act_keep_floor: float,
        act_threshold: str,
        act_keep: float | None = None,
        weight_keep: float | None = None,
    ) -> None:
        """Set the Powerprop exponent, the activation- and weight-pruning options.

        ``act_keep`` (None = derive it from the weight sparsity) fixes the
        activation keep fraction; ``weight_keep`` (None = off) turns on the
        in-place weight Top-K of the training forward. Both must lie in (0, 1].
        """
        if act_threshold not in ACT_THRESHOLD_MODES:
            raise ValueError(
                f"method.act_threshold={act_threshold!r} is not allowed; "
                f"choose one of {ACT_THRESHOLD_MODES}"
            )
        for key, value in (("act_keep", act_keep), ("weight_keep", weight_keep)):
            if value is not None and not 0.0 < float(value) <= 1.0:
                raise ValueError(f"{key}={value!r} must lie in (0, 1]")
        self.beta = float(beta)
        self.act_pruning = bool(act_pruning)
        self.act_keep_floor = float(act_keep_floor)
        self.act_keep = None if act_keep is None else float(act_keep)
        self.weight_keep = None if weight_keep is None else float(weight_keep)
        # Official behaviour: conv layers cache the first-batch threshold,
        # linear layers recompute it on every batch.
        self.cache_threshold = act_threshold == "first_batch" and not isinstance(self, nn.Linear)
        self.reset_activation_state()

    def reset_activation_state(self) -> None:
        """Forget the cached thresholds and statistics (done at every round start)."""
        self._act_threshold = None
        self.last_keep_fraction = 1.0
        self._act_nnz = None
        self._act_stats = None
        self._weight_threshold = None
        self._weight_threshold_positive = False
        self._weight_nnz = None
        self._spectral_exponent = None

    def apply_weight_topk(self) -> None:
        """Overwrite the stored weight with its magnitude Top-K, in place (ZeroFL).

        Runs in training mode only and when ``weight_keep < 1``. Conv layers
        compute the absolute threshold on the first call of the round and
        reuse it (weights that grew past it come back, others are zeroed);
        linear layers recompute it on every call. Zeroed entries are written
        as +0.0. Pruned weights keep receiving dense gradients, so SGD can
        move them back above the threshold.
        """
        keep = self.weight_keep
        if keep is None or keep >= 1.0 or not self.training:
            return
        with torch.no_grad():
            w = self.weight
            threshold = self._weight_threshold
            if threshold is None:
                threshold = weight_topk_threshold(w, keep)
                if not isinstance(self, nn.Linear):
                    self._weight_threshold = threshold
                    self._weight_threshold_positive = bool(threshold > 0)  # once a round
            with region("sparsyfed::weight_topk"):
                # w.masked_fill_(w.abs() < threshold, 0.0)
                dropped = zero_below_count_(w, threshold)
                # Summed as a tensor (no device sync per step); read through
                # mean_forward_weight_density. With a positive (reused) threshold
                # every entry not dropped is non-zero.
                if self._weight_threshold_positive:
                    nnz = w.numel() - dropped
                else:
                    nnz = count_nonzero(w)
            if self._weight_nnz is None:
                self._weight_nnz = (nnz, 1)
            else:
                total, calls = self._weight_nnz
                self._weight_nnz = (total + nnz, calls + 1)

    @property
    def mean_forward_weight_density(self) -> float:
        """Mean density of the forward weights over this round's training calls.

        Only tracked while the weight Top-K is on; otherwise (or before the
        first training call) it is the current density of the stored weight.
        """
        if self._weight_nnz is None:
            w = self.weight.detach()
            return float(torch.count_nonzero(w)) / w.numel()
        total, calls = self._weight_nnz
        return float(total) / (calls * self.weight.numel())

    def effective_weight(self) -> Tensor:
        """Return the weight used in the forward pass."""
        return powerprop(self.weight, self.exponent())

    def exponent(self) -> float:
        """The Powerprop exponent: ``beta``, or the spectral one when ``beta < 0``."""
        if self.beta >= 0:
            return self.beta
        if self._spectral_exponent is None:
            self._spectral_exponent = spectral_exponent(self.weight.detach())
        return self._spectral_exponent

    @property
    def applied_spectral_exponent(self) -> float | None:
        """The spectral exponent this round's forwards used.

        None when the layer is not spectral (``beta >= 0``) or has not run a
        forward since the last :meth:`reset_activation_state`.
        """
        return self._spectral_exponent if self.beta < 0 else None

    def weight_sparsity(self) -> float:
        """Fraction of exact zeros in the weight (computed on its device)."""
        w = self.weight.detach()
        with region("sparsyfed::weight_sparsity"):
            return float(w.numel() - count_nonzero(w)) / w.numel()

    def _pruned_input(self, x: Tensor) -> Tensor | None:
        """Return the activation threshold of ``x`` for backward, or None to run dense.

        Every training forward with gradients (pruned or dense) adds its keep
        fraction and the non-zeros of the input its weight gradient uses to
        the round's statistics (:attr:`mean_keep_fraction`,
        :attr:`mean_act_density`); the pruned input's non-zeros are added by
        its backward (:meth:`_record_saved`), where it is computed.
        """
        if not (self.training and torch.is_grad_enabled()):
            return None
        if not self.act_pruning:
            self._record_batch(x, 1.0, x)
            return None
        if self.act_keep is not None:
            keep = self.act_keep
        else:
            keep = max(1.0 - self.weight_sparsity(), self.act_keep_floor)
        self.last_keep_fraction = keep
        if keep >= 1.0:
            self._act_nnz = None
            self._record_batch(x, keep, x)
            return None
        threshold = self._act_threshold
        if threshold is None:
            threshold = topk_threshold(x, keep)
            if self.cache_threshold:
                self._act_threshold = threshold
        self._act_nnz = None  # set by the backward
        self._record_batch(x, keep, None)
        return threshold

    def _record_batch(
        self, x: Tensor, keep: float, saved: Tensor | None
    ) -> tuple[Tensor, int] | None:
        """Add one batch to the round's statistics; return ``(nnz, numel)`` of ``saved``."""
        if self._act_stats is None:
            self._act_stats = _RoundActStats()
        return self._act_stats.add(x.shape[0] if x.dim() else 1, keep, saved)

    def _record_saved(self, x_pruned: Tensor) -> None:
        """Backward callback: add the pruned input's non-zeros (sets ``_act_nnz``)."""
        if self._act_stats is None:
            self._act_stats = _RoundActStats()
        self._act_nnz = self._act_stats.add_saved(x_pruned)

    @property
    def mean_keep_fraction(self) -> float:
        """Activation keep fraction applied this round, mean over training batches.

        Weighted by the batch's samples; 1 for batches that ran dense (no
        activation pruning, or keep fraction 1) and 1.0 before the first
        training batch.
        """
        return 1.0 if self._act_stats is None else self._act_stats.mean_keep

    @property
    def mean_act_density(self) -> float:
        """Non-zero fraction of the input saved for backward, over this round's batches.

        ``sum(nnz) / sum(numel)`` over the training batches, i.e. the
        sample-weighted mean of the per-batch densities. It counts the input's
        own zeros (e.g. after a ReLU) too, also in batches that ran dense;
        1.0 before the first training batch. A pruned batch is counted when
        its backward runs (the pruned input is formed there).
        """
        return 1.0 if self._act_stats is None else self._act_stats.density


class PowerConv1d(SparseLayerMixin, nn.Conv1d):
    """``nn.Conv1d`` with Powerprop weights and activation Top-K."""

    def forward(self, x: Tensor) -> Tensor:  # noqa: D102
        return _conv_forward(self, x)


class PowerConv2d(SparseLayerMixin, nn.Conv2d):
    """``nn.Conv2d`` with Powerprop weights and activation Top-K."""

    def forward(self, x: Tensor) -> Tensor:  # noqa: D102
        return _conv_forward(self, x)


class PowerLinear(SparseLayerMixin, nn.Linear):
    """``nn.Linear`` with Powerprop weights and activation Top-K."""

    def forward(self, x: Tensor) -> Tensor:  # noqa: D102
        self.apply_weight_topk()
        w = self.effective_weight()
        threshold = self._pruned_input(x)
        if threshold is None:
            return nn.functional.linear(x, w, self.bias)
        return linear_act_topk(x, w, self.bias, threshold, self._record_saved)


def _conv_forward(layer: PowerConv1d | PowerConv2d, x: Tensor) -> Tensor:
    layer.apply_weight_topk()
    w = layer.effective_weight()
    threshold = layer._pruned_input(x)
    if threshold is None:
        return layer._conv_forward(x, w, layer.bias)
    if layer.padding_mode != "zeros" or isinstance(layer.padding, str):
        raise ValueError(
            f"activation pruning needs integer zero padding, got padding={layer.padding!r} "
            f"padding_mode={layer.padding_mode!r}"
        )
    return conv_act_topk(
        x,
        w,
        layer.bias,
        threshold,
        layer.stride,
        layer.padding,
        layer.dilation,
        layer.groups,
        layer._record_saved,
    )


_WRAPPED_CLASS: dict[type[nn.Module], type[nn.Module]] = {
    nn.Conv1d: PowerConv1d,
    nn.Conv2d: PowerConv2d,
    nn.Linear: PowerLinear,
}
PRUNABLE_TYPES = (nn.Conv1d, nn.Conv2d, nn.Linear)


def prunable_layers(model: nn.Module) -> Iterator[tuple[str, nn.Module]]:
    """Yield ``(name, module)`` for every conv/linear layer of ``model``."""
    for name, module in model.named_modules():
        if isinstance(module, PRUNABLE_TYPES):
            yield name, module


def prunable_weight_names(model: nn.Module) -> list[str]:
    """Return the ``state_dict`` keys of every conv/linear weight, in model order."""
    return [f"{name}.weight" if name else "weight" for name, _ in prunable_layers(model)]


def wrap_layers(
    model: nn.Module,
    beta: float,
    act_pruning: bool,
    act_keep_floor: float = 1e-7,
    act_threshold: str = "first_batch",
    skip: tuple[str, ...] = (),
    act_keep: float | None = None,
    weight_keep: float | None = None,
) -> nn.Module:
    """Turn every conv/linear layer of ``model`` into a Powerprop layer, in place.

    Parameters
    ----------
    model : nn.Module
        Any model; its parameters and ``state_dict`` keys are kept.
    beta : float
        Powerprop exponent (1.0 leaves the weights untransformed).
    act_pruning : bool
        Whether the input saved for backward is Top-K-pruned in training.
    act_keep_floor : float
        Lower bound of the activation keep fraction (1e-7 SparsyFed, 0.01 SparseFedPP).
    act_threshold : str
        ``"first_batch"`` (conv layers cache the first batch's threshold for the
        round, as the official code) or ``"per_batch"``.
    skip : tuple of str
        Module names to leave untouched.
    act_keep : float, optional
        Fixed activation keep fraction in (0, 1] (ZeroFL: ``1 - S``); None
        derives it from the layer's weight sparsity with ``act_keep_floor``.
    weight_keep : float, optional
        Keep fraction in (0, 1] of the in-place weight Top-K of every training
        forward (ZeroFL: ``1 - S``); None (default) leaves the weights alone.

    Returns
    -------
    nn.Module
        The same model object.

    """
    for name, module in model.named_modules():
        if name in skip:
            continue
        cls = _WRAPPED_CLASS.get(type(module))
        if cls is not None:
            module.__class__ = cls
        if isinstance(module, SparseLayerMixin):
            module.configure(
                beta,
                act_pruning,
                act_keep_floor,
                act_threshold,
                act_keep=act_keep,
                weight_keep=weight_keep,
            )
    return model


def downsample_layer_names(model: nn.Module) -> tuple[str, ...]:
    """Return the names of the modules with a ``downsample`` component in their name.

    On the ResNet-18s these are the three 1x1 ``layer{2,3,4}.0.downsample.0``
    convs (and their ``downsample`` containers), the layers the official layer
    replacement never reaches (docs/methods.md section 2.2). Empty for models
    without downsample modules.
    """
    return tuple(name for name, _ in model.named_modules() if "downsample" in name.split("."))


def sparse_layers(model: nn.Module) -> Iterator[tuple[str, SparseLayerMixin]]:
    """Yield ``(name, layer)`` for every wrapped layer of ``model``."""
    for name, module in model.named_modules():
        if isinstance(module, SparseLayerMixin):
            yield name, module


def reset_activation_state(model: nn.Module) -> None:
    """Reset the per-round activation-pruning state of every wrapped layer."""
    for _, layer in sparse_layers(model):
        layer.reset_activation_state()
