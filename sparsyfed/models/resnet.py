"""The paper's ResNet-18 variants, built from torchvision (docs/methods.md section 16).

``resnet18_cifar``
    torchvision ``resnet18(num_classes=C)`` with the stem conv replaced by a
    3x3, stride-1, padding-1 conv without bias and the max-pool replaced by
    ``nn.Identity``; input ``(B, 3, 32, 32)``. 11,173,962 parameters for
    C = 10 (11,220,132 for C = 100), of which 11,164,352 (11,210,432) are
    prunable conv/linear weights.
``resnet18_speech``
    torchvision ``resnet18(num_classes=C)`` with the stem conv replaced by a
    7x7, stride-2, padding-3 conv without bias on one input channel; the
    max-pool is kept. Input ``(B, 1, 1, 8000)``: the raw 8 kHz waveform as an
    image of height 1, which stays 1 through the network (only the centre row
    of every 3x3 kernel sees data). 11,188,195 parameters for C = 35, of which
    11,178,560 are prunable.

Both models are plain ``nn.Conv2d`` / ``nn.Linear`` / ``nn.BatchNorm2d``
networks: Powerprop, activation and weight Top-K are added by the method's
``prepare_model`` and the initialisation by its ``initialize`` (the
torchvision default initialisation is overwritten there).
"""

from __future__ import annotations

from torch import nn

#: The input shape (channels first, no batch dimension) each model expects.
INPUT_SHAPES: dict[str, tuple[int, ...]] = {
    "resnet18_cifar": (3, 32, 32),
    "resnet18_speech": (1, 1, 8000),
}


def check_input_shape(name: str, input_shape: tuple[int, ...]) -> None:
    """Raise ``ValueError`` unless ``input_shape`` is the one model ``name`` expects.

    Parameters
    ----------
    name : str
        A key of :data:`INPUT_SHAPES`.
    input_shape : tuple of int
        Shape of one sample, channels first.

    """
    expected = INPUT_SHAPES[name]
    if tuple(input_shape) != expected:
        raise ValueError(
            f"model.name={name!r} expects samples of shape {expected} (channels first), "
            f"but the dataset gives {tuple(input_shape)}; choose a dataset with "
            f"{expected} inputs or another model"
        )


def resnet18_cifar(num_classes: int) -> nn.Module:
    """ResNet-18 for 32x32 RGB images: 3x3 stride-1 stem, no max-pool.

    Parameters
    ----------
    num_classes : int
        Output classes of the final ``fc`` layer (512 -> C).

    Returns
    -------
    nn.Module
        The torchvision ResNet-18 with the CIFAR stem (default initialisation).

    """
    from torchvision.models import resnet18  # on use: torchvision takes a second to import

    model = resnet18(weights=None, num_classes=num_classes)
    # Assigning to an existing attribute keeps the module order (conv1 stays first).
    model.conv1 = nn.Conv2d(3, 64, kernel_size=3, stride=1, padding=1, bias=False)
    model.maxpool = nn.Identity()
    return model


def resnet18_speech(num_classes: int) -> nn.Module:
    """ResNet-18 for raw 1-D waveforms shaped ``(1, 1, L)``: 7x7 stride-2 mono stem.

    Parameters
    ----------
    num_classes : int
        Output classes of the final ``fc`` layer (512 -> C).

    Returns
    -------
    nn.Module
        The torchvision ResNet-18 with a one-channel stem (default initialisation).

    """
    from torchvision.models import resnet18

    model = resnet18(weights=None, num_classes=num_classes)
    model.conv1 = nn.Conv2d(1, 64, kernel_size=7, stride=2, padding=3, bias=False)
    return model


BUILDERS = {"resnet18_cifar": resnet18_cifar, "resnet18_speech": resnet18_speech}
