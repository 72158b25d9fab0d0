"""Training FLOPs of conv/linear layers under weight and activation sparsity.

docs/methods.md section 17.4. For a conv/linear layer ``l`` with dense forward FLOPs
``F_l = 2 * MAC_l`` per sample, weight density ``d_w`` and activation keep
fraction ``d_a`` (the fraction the activation Top-K keeps, averaged over the
round's training batches; not the realised density of the saved input, which
also counts the input's own zeros), one training sample costs

- forward:      ``F_l * d_w``,
- input grad:   ``F_l * d_w`` (skipped for layers whose input needs no
  gradient, by default the first layer, as autograd does),
- weight grad:  ``F_l * d_a``,

so dense training is 3 x dense forward (minus the first layer's input grad).

``F_l`` is what :class:`torch.utils.flop_counter.FlopCounterMode` counts for
the layer (2 FLOPs per MAC, bias additions excluded), computed from the shape
of the layer's output in one eval forward: entering a FlopCounterMode imports
``torch._dynamo`` (about a second, once per client worker), so only
:func:`model_forward_flops` uses it (the tests compare the two). BatchNorm,
activations, pooling and the Powerprop re-parametrisation count 0. The counts
here therefore cover the conv/linear work only; elementwise ops are small and
would be counted dense anyway.
"""

from __future__ import annotations

import contextlib
import math
from collections.abc import Callable, Iterable, Mapping
from typing import Any

import torch
from torch import Tensor, nn

from sparsyfed.nn.layers import PRUNABLE_TYPES, SparseLayerMixin, prunable_layers


def _dummy_input(model: nn.Module, input_shape: tuple[int, ...]) -> Tensor:
    """A zero batch of one sample on the model's device and dtype."""
    param = next(model.parameters(), None)
    device = param.device if param is not None else torch.device("cpu")
    dtype = param.dtype if param is not None else torch.float32
    return torch.zeros((1, *input_shape), device=device, dtype=dtype)


def _mac_per_output(module: nn.Module) -> int:
    """Multiply-adds behind one output element of a conv or linear layer."""
    if isinstance(module, nn.Linear):
        return module.in_features
    assert isinstance(module, (nn.Conv1d, nn.Conv2d))
    return (module.in_channels // module.groups) * math.prod(module.kernel_size)


def _layer_flops(model: nn.Module, input_shape: tuple[int, ...]) -> dict[str, int]:
    """``2 * MAC`` of each conv/linear layer for one sample, from its outputs' shapes.

    Hooks add up every call of a layer, so a layer used twice counts twice.
    """
    per_layer: dict[str, int] = {name: 0 for name, _ in prunable_layers(model)}
    handles = []

    def hook(name: str) -> Any:
        def count(module: nn.Module, _args: Any, out: Tensor) -> None:
            per_layer[name] += 2 * out.numel() * _mac_per_output(module)

        return count

    for name, module in prunable_layers(model):
        handles.append(module.register_forward_hook(hook(name)))
    try:
        _eval_forward(model, input_shape, contextlib.nullcontext())
    finally:
        for handle in handles:
            handle.remove()
    return per_layer


def _eval_forward(
    model: nn.Module, input_shape: tuple[int, ...], mode: contextlib.AbstractContextManager
) -> None:
    """One eval-mode forward of a zero sample under ``mode``; the training mode is restored."""
    was_training = model.training
    model.eval()
    try:
        with torch.no_grad(), mode:
            model(_dummy_input(model, input_shape))
    finally:
        model.train(was_training)


def layer_forward_flops(model: nn.Module, input_shape: tuple[int, ...]) -> dict[str, int]:
    """Dense forward FLOPs per sample of every conv/linear layer.

    Parameters
    ----------
    model : nn.Module
        Any model; wrapped layers of :mod:`sparsyfed.nn.layers` are fine (the
        forward runs in eval mode, where they call plain ``F.conv``/``F.linear``).
        Its training mode is restored afterwards.
    input_shape : tuple of int
        Shape of one sample, channels first (e.g. ``(1, 40)``).

    Returns
    -------
    dict of str to int
        Module name -> ``2 * MAC`` of one sample, in module order.

    """
    return _layer_flops(model, input_shape)


def model_forward_flops(model: nn.Module, input_shape: tuple[int, ...]) -> int:
    """Dense forward FLOPs per sample of the whole model, as FlopCounterMode counts.

    FlopCounterMode counts convolutions and matrix products only; BatchNorm,
    activations and pooling count 0, so for the CNNs of this project this
    equals ``sum(layer_forward_flops(...).values())``. Counted by running the
    forward under the counter (which imports ``torch._dynamo``).
    """
    from torch.utils.flop_counter import FlopCounterMode

    counter = FlopCounterMode(display=False)
    _eval_forward(model, input_shape, counter)
    return int(counter.get_total_flops())


def _density(densities: Mapping[str, float] | None, name: str) -> float:
    """Look up a layer's density by module name or weight key; default 1.0."""
    if not densities:
        return 1.0
    for key in (name, f"{name}.weight" if name else "weight"):
        if key in densities:
            value = float(densities[key])
            if not 0.0 <= value <= 1.0:
                raise ValueError(f"density of {key!r} = {value!r} must lie in [0, 1]")
            return value
    return 1.0


def training_flops(
    layer_flops: Mapping[str, int],
    weight_density: Mapping[str, float] | None = None,
    act_density: Mapping[str, float] | None = None,
    num_samples: int = 1,
    no_input_grad: Iterable[str] | None = None,
) -> float:
    """Training FLOPs of conv/linear layers over ``num_samples`` samples.

    ``sum_l num_samples * (F_l d_w,l + g_l F_l d_w,l + F_l d_a,l)``, with
    ``g_l = 0`` for the layers in ``no_input_grad`` and 1 otherwise.

    Parameters
    ----------
    layer_flops : mapping of str to int
        Dense forward FLOPs per sample by module name (:func:`layer_forward_flops`).
    weight_density : mapping of str to float, optional
        Weight density per layer, keyed by module name or ``"<name>.weight"``;
        missing layers count as dense (1.0).
    act_density : mapping of str to float, optional
        Activation keep fraction applied to the input saved for the weight
        gradient (:func:`activation_keep_fractions`, not the realised
        density), keyed the same way; missing layers count 1.0.
    num_samples : int
        Training samples processed (e.g. local epochs x dataset size).
    no_input_grad : iterable of str, optional
        Layers whose input needs no gradient, so autograd skips their input
        gradient. None means the first layer of ``layer_flops`` (the one
        reading the data); pass ``()`` to count every input gradient.

    Returns
    -------
    float
        The FLOPs.

    """
    if no_input_grad is None:
        no_input_grad = list(layer_flops)[:1]
    skip = set(no_input_grad)
    per_sample = 0.0
    for name, flops in layer_flops.items():
        d_w = _density(weight_density, name)
        d_a = _density(act_density, name)
        input_grad = 0.0 if name in skip else flops * d_w
        per_sample += flops * d_w + input_grad + flops * d_a
    return num_samples * per_sample


def dense_training_flops(
    layer_flops: Mapping[str, int],
    num_samples: int = 1,
    no_input_grad: Iterable[str] | None = None,
) -> float:
    """Training FLOPs with every density 1 (about 3 x dense forward)."""
    return training_flops(layer_flops, None, None, num_samples, no_input_grad)


def weight_densities(model: nn.Module) -> dict[str, float]:
    """Fraction of non-zero weights of every conv/linear layer, by module name."""
    out: dict[str, float] = {}
    for name, module in prunable_layers(model):
        w = module.weight.detach()
        out[name] = float(torch.count_nonzero(w)) / w.numel()
    return out


def activation_densities(model: nn.Module) -> dict[str, float]:
    """Realised density of the input saved for backward, mean over the round's batches.

    Wrapped layers report :attr:`SparseLayerMixin.mean_act_density` (input
    zeros such as a ReLU's count too); plain layers report 1.0. This is a
    diagnostic: the FLOPs use :func:`activation_keep_fractions`.
    """
    return _per_layer(model, lambda layer: layer.mean_act_density)


def activation_keep_fractions(model: nn.Module) -> dict[str, float]:
    """Activation keep fraction applied by the Top-K, mean over the round's batches.

    Wrapped layers report :attr:`SparseLayerMixin.mean_keep_fraction` (1 for
    batches that ran dense); plain layers report 1.0. This is ``d_a`` of
    :func:`training_flops`.
    """
    return _per_layer(model, lambda layer: layer.mean_keep_fraction)


def _per_layer(model: nn.Module, read: Callable[[SparseLayerMixin], float]) -> dict[str, float]:
    out: dict[str, float] = {}
    for name, module in model.named_modules():
        if isinstance(module, SparseLayerMixin):
            out[name] = float(read(module))
        elif isinstance(module, PRUNABLE_TYPES):
            out[name] = 1.0
    return out
