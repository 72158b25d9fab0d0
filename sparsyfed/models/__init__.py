"""Model builders selected by ``model.name``."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from torch import nn

from sparsyfed.models.cnn import UniformCNN
from sparsyfed.models.fedsparsify import FedSparsifyCNN, FedSparsifyFC, check_cnn_input_shape
from sparsyfed.models.resnet import BUILDERS as RESNET_BUILDERS
from sparsyfed.models.resnet import check_input_shape

MODELS = ("uniform_cnn", *RESNET_BUILDERS, "fedsparsify_fc", "fedsparsify_cnn")


def build_model(
    name: str, options: Mapping[str, Any], input_shape: tuple[int, ...], num_classes: int
) -> nn.Module:
    """Build the model ``name`` for inputs of ``input_shape``.

    Parameters
    ----------
    name : str
        One of :data:`MODELS` (config key ``model.name``).
    options : mapping
        The builder's options (the other keys of the ``model`` block).
    input_shape : tuple of int
        Shape of one sample, channels first.
    num_classes : int
        Number of output classes.

    Returns
    -------
    nn.Module
        The (uninitialised) model.

    Raises
    ------
    ValueError
        For an unknown ``name``, options the model does not take, or an
        ``input_shape`` the model is not built for.

    """
    options = dict(options)
    if name == "uniform_cnn":
        # (C, L) sequences and (C, 1, L) one-row waveforms convolve in 1-D, images in 2-D.
        one_row = len(input_shape) == 3 and input_shape[1] == 1
        dims = 1 if one_row else len(input_shape) - 1
        return UniformCNN(
            input_shape[0], num_classes, spatial_dims=dims, squeeze_height=one_row, **options
        )
    if name not in MODELS:
        raise ValueError(f"model.name={name!r} is not a known model; choose one of {MODELS}")
    if options:
        raise ValueError(f"model.name={name!r} takes no options, got {sorted(options)}")
    if name == "fedsparsify_fc":
        return FedSparsifyFC(tuple(input_shape), num_classes)
    if name == "fedsparsify_cnn":
        check_cnn_input_shape(name, input_shape)
        return FedSparsifyCNN(tuple(input_shape), num_classes)
    check_input_shape(name, input_shape)
    return RESNET_BUILDERS[name](num_classes)
