"""The FedSparsify paper's models: the FashionMNIST FC network and the CIFAR-10 CNN.

Stripelis et al. 2022 (docs/methods.md sections 11 and 16.4-16.5) train a
784-128-128-10 fully-connected network on FashionMNIST and a 6-layer VGG-like
CNN on CIFAR-10. Both are rebuilt here from plain ``nn.Linear`` / ``nn.Conv2d``
/ ``nn.BatchNorm2d`` modules with the trainable-parameter counts of the
paper (118,282 and 1,609,930); a method's ``prepare_model`` wraps the
conv/linear layers as for every other model.
"""

from __future__ import annotations

import math

from torch import Tensor, nn

# Keras BatchNormalization defaults (the original is a tf.keras model): epsilon 1e-3 and a
# moving-average decay of 0.99, i.e. PyTorch momentum 1 - 0.99.
KERAS_BN_EPS = 1e-3
KERAS_BN_MOMENTUM = 0.01
# Three 2x max-pools (floor): every spatial side shrinks by a factor of 8.
CNN_DOWNSAMPLING = 8


class FedSparsifyFC(nn.Module):
    """Flatten, two ReLU hidden layers of 128 units, a linear head.

    On FashionMNIST (``(1, 28, 28)``, 10 classes) the layers hold
    ``784*128 + 128 = 100,480``, ``128*128 + 128 = 16,512`` and
    ``128*10 + 10 = 1,290`` parameters: 118,282 in all, of which 118,016 are
    prunable weights. Any input shape is flattened to ``prod(input_shape)``
    features, so the first layer (and the count) follows the dataset.

    Parameters
    ----------
    input_shape : tuple of int
        Shape of one sample (any rank).
    num_classes : int
        Output classes.

    """

    def __init__(self, input_shape: tuple[int, ...], num_classes: int) -> None:
        super().__init__()
        features = math.prod(input_shape)
        self.classifier = nn.Sequential(
            nn.Flatten(),
            nn.Linear(features, 128),
            nn.ReLU(inplace=True),
            nn.Linear(128, 128),
            nn.ReLU(inplace=True),
            nn.Linear(128, num_classes),
        )

    def forward(self, x: Tensor) -> Tensor:  # noqa: D102
        return self.classifier(x)


def _conv_relu(in_channels: int, out_channels: int) -> list[nn.Module]:
    """A 3x3 "same" conv with bias followed by ReLU (Keras ``Conv2D(activation='relu')``)."""
    return [nn.Conv2d(in_channels, out_channels, 3, padding=1), nn.ReLU(inplace=True)]


class FedSparsifyCNN(nn.Module):
    """The original's CIFAR-10 CNN: three conv pairs with max-pools, a 512-unit dense head.

    Layer order, as in the Keras original (``CifarCNN`` of dstripelis/FedSparsify)::

        conv 3x3 C->64, ReLU;   conv 3x3 64->64, ReLU;   max-pool 2
        BatchNorm(64)
        conv 3x3 64->128, ReLU; conv 3x3 128->128, ReLU; max-pool 2
        BatchNorm(128)
        conv 3x3 128->128, ReLU; conv 3x3 128->128, ReLU; max-pool 2
        flatten; dense -> 512, ReLU; dropout 0.2; dense 512 -> classes

    Every conv has a bias and "same" padding; BatchNorm follows the first two
    pools (it normalises the next pair's input). Trainable parameters on
    ``(3, 32, 32)`` with 10 classes (BatchNorm counts its ``gamma`` and
    ``beta``; its running statistics are buffers)::

        conv 3->64        3*9*64 + 64      =     1,792
        conv 64->64      64*9*64 + 64      =    36,928
        BatchNorm(64)    2*64              =       128
        conv 64->128     64*9*128 + 128    =    73,856
        conv 128->128   128*9*128 + 128    =   147,584
        BatchNorm(128)   2*128             =       256
        conv 128->128 (x2)  2 * 147,584    =   295,168
        dense 2048->512  (4*4*128)*512+512 = 1,049,088
        dense 512->10    512*10 + 10       =     5,130
        total                              = 1,609,930

    Other image shapes ``(C, H, W)`` with ``H, W >= 8`` build too: the flatten
    has ``128 * (H // 8) * (W // 8)`` features (1,152 on ``(1, 28, 28)``).

    Parameters
    ----------
    input_shape : tuple of int
        ``(C, H, W)`` of one image.
    num_classes : int
        Output classes.

    """

    def __init__(self, input_shape: tuple[int, ...], num_classes: int) -> None:
        super().__init__()
        channels, height, width = input_shape
        self.features = nn.Sequential(
            *_conv_relu(channels, 64),
            *_conv_relu(64, 64),
            nn.MaxPool2d(2),
            nn.BatchNorm2d(64, eps=KERAS_BN_EPS, momentum=KERAS_BN_MOMENTUM),
            *_conv_relu(64, 128),
            *_conv_relu(128, 128),
            nn.MaxPool2d(2),
            nn.BatchNorm2d(128, eps=KERAS_BN_EPS, momentum=KERAS_BN_MOMENTUM),
            *_conv_relu(128, 128),
            *_conv_relu(128, 128),
            nn.MaxPool2d(2),
        )
        flat = 128 * (height // CNN_DOWNSAMPLING) * (width // CNN_DOWNSAMPLING)
        self.classifier = nn.Sequential(
            nn.Flatten(),
            nn.Linear(flat, 512),
            nn.ReLU(inplace=True),
            nn.Dropout(0.2),
            nn.Linear(512, num_classes),
        )

    def forward(self, x: Tensor) -> Tensor:  # noqa: D102
        return self.classifier(self.features(x))


def check_cnn_input_shape(name: str, input_shape: tuple[int, ...]) -> None:
    """Refuse shapes :class:`FedSparsifyCNN` cannot take.

    Parameters
    ----------
    name : str
        The ``model.name`` to name in the message.
    input_shape : tuple of int
        Shape of one sample, channels first.

    Raises
    ------
    ValueError
        Unless ``input_shape`` is ``(C, H, W)`` with ``H, W >= 8`` (three 2x
        pools must leave at least one pixel).

    """
    if len(input_shape) != 3 or min(input_shape[1:]) < CNN_DOWNSAMPLING:
        raise ValueError(
            f"model.name={name!r} needs images (C, H, W) with H, W >= {CNN_DOWNSAMPLING} "
            f"(three 2x max-pools), got input shape {tuple(input_shape)}"
        )
