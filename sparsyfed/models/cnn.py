"""Uniform-width CNNs with global average pooling for the offline datasets.

Global magnitude pruning of a freshly initialised model empties the layers
with the largest fan-in (docs/references.md section 6.4). These models keep the fan-in of all
big layers equal (same width, same kernel) and end in global average pooling
and a small linear head, so no layer collapses at 95-99% sparsity.
"""

from __future__ import annotations

from torch import Tensor, nn


class UniformCNN(nn.Module):
    """Conv-BN-ReLU stack of constant width, global average pooling, linear head.

    Parameters
    ----------
    in_channels : int
        Channels of the input.
    num_classes : int
        Output classes.
    spatial_dims : int
        1 for sequences ``(B, C, L)``, 2 for images ``(B, C, H, W)``.
    width : int
        Channels of every conv layer.
    depth : int
        Number of conv layers.
    kernel_size : int
        Kernel size of every conv layer (odd; "same" zero padding).
    pool_layers : int
        Number of conv blocks that end with a 2x max-pool.
    pool_start : int
        Index of the first block with a max-pool (blocks ``pool_start`` to
        ``pool_start + pool_layers - 1`` pool).
    squeeze_height : bool
        Inputs are ``(B, C, 1, L)`` (a waveform stored as a one-row image, as
        Speech Commands): drop the height and convolve in 1-D.

    """

    def __init__(
        self,
        in_channels: int,
        num_classes: int,
        spatial_dims: int = 1,
        width: int = 64,
        depth: int = 6,
        kernel_size: int = 5,
        pool_layers: int = 3,
        pool_start: int = 0,
        squeeze_height: bool = False,
    ) -> None:
        super().__init__()
        self.squeeze_height = squeeze_height
        if spatial_dims not in (1, 2):
            raise ValueError(f"spatial_dims={spatial_dims!r} must be 1 or 2")
        conv = nn.Conv1d if spatial_dims == 1 else nn.Conv2d
        norm = nn.BatchNorm1d if spatial_dims == 1 else nn.BatchNorm2d
        pool = nn.MaxPool1d if spatial_dims == 1 else nn.MaxPool2d
        blocks: list[nn.Module] = []
        channels = in_channels
        for i in range(depth):
            block = [
                conv(channels, width, kernel_size, padding=kernel_size // 2, bias=False),
                norm(width),
                nn.ReLU(inplace=True),
            ]
            if pool_start <= i < pool_start + pool_layers:
                block.append(pool(2))
            blocks.append(nn.Sequential(*block))
            channels = width
        self.features = nn.Sequential(*blocks)
        self.pool = nn.AdaptiveAvgPool1d(1) if spatial_dims == 1 else nn.AdaptiveAvgPool2d(1)
        self.classifier = nn.Linear(width, num_classes)

    def forward(self, x: Tensor) -> Tensor:  # noqa: D102
        if self.squeeze_height:
            x = x.flatten(2)
        return self.classifier(self.pool(self.features(x)).flatten(1))
