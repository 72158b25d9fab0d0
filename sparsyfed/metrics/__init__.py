"""Evaluation metrics: mask overlap, regrowth (masks) and training FLOPs (flops)."""

from sparsyfed.metrics.flops import (
    activation_densities,
    activation_keep_fractions,
    dense_training_flops,
    layer_forward_flops,
    model_forward_flops,
    training_flops,
    weight_densities,
)
from sparsyfed.metrics.masks import (
    deactivated,
    global_regrowth,
    iou,
    local_regrowth,
    mean_pairwise_iou,
    pack_masks,
    packed_nbytes,
    pairwise_iou_matrix,
    readmission,
    support,
    unpack_masks,
)

__all__ = [
    "activation_densities",
    "activation_keep_fractions",
    "deactivated",
    "dense_training_flops",
    "global_regrowth",
    "iou",
    "layer_forward_flops",
    "local_regrowth",
    "mean_pairwise_iou",
    "model_forward_flops",
    "pack_masks",
    "packed_nbytes",
    "pairwise_iou_matrix",
    "readmission",
    "support",
    "training_flops",
    "unpack_masks",
    "weight_densities",
]
