"""Training-time data augmentation.

:func:`random_crop_flip` is the standard CIFAR augmentation (random crop of the padded
image and horizontal flip). Training applies it to the batches of datasets loaded with
``augment=True`` (see :attr:`sparsyfed.data.base.ArrayDataset.augment`). PyTorch is
imported only when it is called.
"""

from __future__ import annotations

from typing import Any

__all__ = ["random_crop_flip"]


def random_crop_flip(x: Any, generator: Any = None, padding: int = 4, fill: float = -1.0) -> Any:
    """Randomly crop (after padding) and horizontally flip a batch of images.

    The standard CIFAR training augmentation: pad each side by ``padding`` pixels with
    ``fill``, take a random crop of the original size and flip it left-right with
    probability 0.5, independently per image. The paper does not augment; this is
    used only when the dataset was loaded with ``augment=True``.

    Parameters
    ----------
    x : torch.Tensor
        Batch ``(B, C, H, W)`` (already normalised).
    generator : torch.Generator or None, optional
        Source of randomness (seed it for reproducibility).
    padding : int, optional
        Pixels of padding on each side (default 4).
    fill : float, optional
        Padding value; -1.0 is a black pixel after the ``(x/255 - 0.5)/0.5``
        normalisation.

    Returns
    -------
    torch.Tensor
        Augmented batch with the shape, dtype and device of ``x``.

    """
    import torch
    import torch.nn.functional as F

    b, _, h, w = x.shape
    padded = F.pad(x, (padding, padding, padding, padding), value=fill)
    oy = torch.randint(0, 2 * padding + 1, (b,), generator=generator).to(x.device)
    ox = torch.randint(0, 2 * padding + 1, (b,), generator=generator).to(x.device)
    flip = torch.rand(b, generator=generator).to(x.device) < 0.5
    rows = oy[:, None] + torch.arange(h, device=x.device)  # (B, H)
    cols = ox[:, None] + torch.arange(w, device=x.device)  # (B, W)
    cols = torch.where(flip[:, None], cols.flip(1), cols)
    batch = torch.arange(b, device=x.device)[:, None, None]
    out = padded.permute(0, 2, 3, 1)[batch, rows[:, :, None], cols[:, None, :]]
    return out.permute(0, 3, 1, 2).contiguous()
