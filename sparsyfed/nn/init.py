"""Variance-scaling initialisation with the Powerprop inverse transform (docs/methods.md section 2.3)."""

from __future__ import annotations

import math

import torch
from torch import nn

from sparsyfed.nn.layers import SparseLayerMixin, prunable_layers

# Standard deviation of a unit normal truncated at +-2 sigma.
_TRUNCATED_STD = 0.87962566103423978


@torch.no_grad()
def init_weights(model: nn.Module, generator: torch.Generator | None = None) -> nn.Module:
    """Initialise every conv/linear layer of ``model`` in place.

    Each weight is drawn from a normal truncated at two standard deviations with
    ``sigma = sqrt(1 / fan_in) / 0.8796`` (fan-in variance scaling). For a
    Powerprop layer with ``beta > 1`` the stored parameter is
    ``v = sign(u) * |u|**(1 / beta)``, so that the effective weight
    ``sign(v) * |v|**beta`` starts with the intended distribution. Biases are
    zeroed; normalisation layers keep their PyTorch defaults.

    Parameters
    ----------
    model : nn.Module
        The model to initialise.
    generator : torch.Generator, optional
        Source of randomness, for a seeded initial model.

    Returns
    -------
    nn.Module
        The same model.

    """
    for _, layer in prunable_layers(model):
        weight = layer.weight
        fan_in = weight[0].numel()
        sigma = math.sqrt(1.0 / fan_in) / _TRUNCATED_STD
        u = torch.empty(weight.shape, dtype=weight.dtype)
        nn.init.trunc_normal_(u, 0.0, sigma, -2 * sigma, 2 * sigma, generator=generator)
        beta = layer.beta if isinstance(layer, SparseLayerMixin) else 1.0
        if beta > 1.0:
            u = torch.sign(u) * u.abs().pow(1.0 / beta)
        weight.copy_(u)
        if layer.bias is not None:
            layer.bias.zero_()
    return model
