"""Model builders selected by ``model.name``."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from torch import nn

from sparsyfed.models.cnn import UniformCNN

MODELS = ("uniform_cnn",)


def build_model(
    cfg: Mapping[str, Any], input_shape: tuple[int, ...], num_classes: int
) -> nn.Module:
    """Build the model named by ``cfg["name"]`` for inputs of ``input_shape``.

    Parameters
    ----------
    cfg : mapping
        The ``model`` config group: ``name`` plus the builder's options.
    input_shape : tuple of int
        Shape of one sample, channels first.
    num_classes : int
        Number of output classes.

    Returns
    -------
    nn.Module
        The (uninitialised) model.

    """
    options = {k: v for k, v in cfg.items() if k != "name"}
    name = cfg.get("name")
    if name == "uniform_cnn":
        return UniformCNN(input_shape[0], num_classes, spatial_dims=len(input_shape) - 1, **options)
    raise ValueError(f"model.name={name!r} is not a known model; choose one of {MODELS}")
