"""Mask overlap, consensus and weight regrowth (docs/methods.md section 17.3).

Every function works on ``state_dict``-like mappings of tensors (any device)
and on an explicit list of keys, normally the prunable conv/linear weights.
A *mask* is a boolean tensor ``t != 0``. Nothing here modifies its inputs
(the official ``net_compare`` overwrote its first argument, docs/methods.md section 17.3).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence

import numpy as np
import torch
from torch import Tensor

# Columns per matrix product in :func:`pairwise_iou_matrix`; float32 sums of
# 0/1 stay exact below 2**24.
_IOU_CHUNK = 1 << 20

PackedMasks = dict[str, tuple[np.ndarray, tuple[int, ...]]]


def support(state: Mapping[str, Tensor], keys: Iterable[str] | None = None) -> dict[str, Tensor]:
    """Return the boolean masks ``state[k] != 0``.

    Parameters
    ----------
    state : mapping of str to Tensor
        A ``state_dict``-like mapping.
    keys : iterable of str, optional
        Keys to take (all keys of ``state`` when None).

    Returns
    -------
    dict of str to Tensor
        A new boolean tensor per key, on the tensor's device.

    """
    keys = state.keys() if keys is None else keys
    return {k: state[k].detach() != 0 for k in keys}


def _common_keys(masks: Sequence[Mapping[str, Tensor]]) -> list[str]:
    """Keys present in every mapping, in the order of the first one."""
    if not masks:
        return []
    rest = [set(m) for m in masks[1:]]
    return [k for k in masks[0] if all(k in r for r in rest)]


def _check_shapes(key: str, a: Tensor, b: Tensor) -> None:
    if a.shape != b.shape:
        raise ValueError(f"{key!r}: shapes {tuple(a.shape)} and {tuple(b.shape)} differ")


def iou(a_masks: Mapping[str, Tensor], b_masks: Mapping[str, Tensor]) -> float:
    """Intersection over union of two masks, pooled over their common keys.

    ``IoU = sum_k |A_k & B_k| / sum_k |A_k | B_k|``.

    Parameters
    ----------
    a_masks, b_masks : mapping of str to Tensor
        Boolean masks (non-boolean tensors are read as ``t != 0``).

    Returns
    -------
    float
        The IoU in [0, 1]; 1.0 when both masks are empty (no common entry set).

    """
    inter = union = 0
    for key in _common_keys([a_masks, b_masks]):
        a = a_masks[key].detach() != 0
        b = b_masks[key].detach().to(a.device) != 0  # e.g. a mask unpacked on the CPU
        _check_shapes(key, a, b)
        inter += int(torch.count_nonzero(a & b))
        union += int(torch.count_nonzero(a | b))
    return inter / union if union else 1.0


def pairwise_iou_matrix(masks_list: Sequence[Mapping[str, Tensor]]) -> np.ndarray:
    """IoU between every pair of masks, as a symmetric ``K x K`` matrix.

    The intersections of all pairs come from one Gram matrix ``X X^T`` of the
    0/1 masks, accumulated over column chunks, so ``K = 10`` clients with 11M
    weights take well under a second and a few tens of MB.

    Parameters
    ----------
    masks_list : sequence of mapping of str to Tensor
        One mask per client; the keys common to all of them are used.

    Returns
    -------
    numpy.ndarray
        ``float64`` matrix with ones on the diagonal; a pair with an empty
        union has IoU 1.0, as in :func:`iou`.

    """
    k = len(masks_list)
    gram = torch.zeros(k, k, dtype=torch.float64)
    for key in _common_keys(masks_list):
        rows = [m[key].detach().cpu().flatten() != 0 for m in masks_list]
        for r in rows[1:]:
            _check_shapes(key, rows[0], r)
        stacked = torch.stack(rows)
        for start in range(0, stacked.shape[1], _IOU_CHUNK):
            x = stacked[:, start : start + _IOU_CHUNK].to(torch.float32)
            gram += (x @ x.T).to(torch.float64)
    sizes = gram.diagonal()
    union = sizes[:, None] + sizes[None, :] - gram
    out = torch.where(union > 0, gram / union.clamp_min(1.0), torch.ones_like(gram))
    out.fill_diagonal_(1.0)
    return out.numpy()


def mean_pairwise_iou(masks_list: Sequence[Mapping[str, Tensor]]) -> float:
    """Consensus of a round: mean IoU over the ``K (K - 1) / 2`` client pairs.

    Parameters
    ----------
    masks_list : sequence of mapping of str to Tensor
        One mask per participating client.

    Returns
    -------
    float
        The mean off-diagonal entry of :func:`pairwise_iou_matrix`; ``nan``
        for fewer than two clients, where consensus is undefined (callers
        should skip logging it).

    """
    k = len(masks_list)
    if k < 2:
        return math.nan
    matrix = pairwise_iou_matrix(masks_list)
    upper = matrix[np.triu_indices(k, 1)]
    return float(upper.mean())


def _count_new(old: Mapping[str, Tensor], new: Mapping[str, Tensor], keys: Iterable[str]) -> int:
    """Number of entries zero in ``old`` and non-zero in ``new``."""
    total = 0
    for key in keys:
        a = old[key].detach()
        b = new[key].detach().to(a.device)  # e.g. a mask unpacked on the CPU
        _check_shapes(key, a, b)
        total += int(torch.count_nonzero((a == 0) & (b != 0)))
    return total


def local_regrowth(
    received: Mapping[str, Tensor], local: Mapping[str, Tensor], keys: Iterable[str]
) -> int:
    """Definition (a): entries zero in the received global model, non-zero locally.

    Call it once after local training and once after pruning, both times with
    the model the client *received*; the inputs are not modified.

    Parameters
    ----------
    received : mapping of str to Tensor
        The global model the client started the round from.
    local : mapping of str to Tensor
        The client's model (after training, or after pruning).
    keys : iterable of str
        Keys to count over (normally the prunable weights).

    Returns
    -------
    int
        The number of regrown entries.

    """
    return _count_new(received, local, keys)


def global_regrowth(
    previous_global: Mapping[str, Tensor], new_global: Mapping[str, Tensor], keys: Iterable[str]
) -> int:
    """Definition (b): ``|supp(theta_{t+1}) minus supp(theta_t)|`` of the global model.

    Parameters
    ----------
    previous_global, new_global : mapping of str to Tensor
        The global models of rounds ``t`` and ``t + 1``.
    keys : iterable of str
        Keys to count over.

    Returns
    -------
    int
        Entries in the support of ``new_global`` but not of ``previous_global``.

    """
    return _count_new(previous_global, new_global, keys)


def readmission(
    previous_mask: Mapping[str, Tensor], current: Mapping[str, Tensor], keys: Iterable[str]
) -> int:
    """Definition (c): entries of the upload outside the client's previous mask.

    Parameters
    ----------
    previous_mask : mapping of str to Tensor
        Boolean mask of the client's upload at its last participation (for
        instance from :func:`unpack_masks`).
    current : mapping of str to Tensor
        The client's current upload (after pruning).
    keys : iterable of str
        Keys to count over.

    Returns
    -------
    int
        Entries in ``supp(current)`` that were not in ``previous_mask``.

    """
    return _count_new(previous_mask, current, keys)


def deactivated(
    before: Mapping[str, Tensor], after: Mapping[str, Tensor], keys: Iterable[str]
) -> int:
    """Entries non-zero in ``before`` and zero in ``after``.

    Parameters
    ----------
    before, after : mapping of str to Tensor
        Two states of the same model.
    keys : iterable of str
        Keys to count over.

    Returns
    -------
    int
        The number of deactivated entries.

    """
    return _count_new(after, before, keys)


def pack_masks(masks: Mapping[str, Tensor]) -> PackedMasks:
    """Store masks as bits (``np.packbits``), 1/8 byte per entry.

    Parameters
    ----------
    masks : mapping of str to Tensor
        Masks (non-boolean tensors are read as ``t != 0``).

    Returns
    -------
    dict of str to (numpy.ndarray, tuple of int)
        Per key, the packed ``uint8`` bits of the flattened mask and its shape.

    """
    packed: PackedMasks = {}
    for key, mask in masks.items():
        flat = (mask.detach().cpu() != 0).flatten().numpy()
        packed[key] = (np.packbits(flat), tuple(mask.shape))
    return packed


def unpack_masks(packed: Mapping[str, tuple[np.ndarray, tuple[int, ...]]]) -> dict[str, Tensor]:
    """Invert :func:`pack_masks` exactly.

    Parameters
    ----------
    packed : mapping of str to (numpy.ndarray, tuple of int)
        The output of :func:`pack_masks`.

    Returns
    -------
    dict of str to Tensor
        Boolean CPU tensors with the original shapes.

    """
    out: dict[str, Tensor] = {}
    for key, (bits, shape) in packed.items():
        n = math.prod(shape)
        flat = np.unpackbits(np.asarray(bits, dtype=np.uint8), count=n).astype(bool)
        out[key] = torch.from_numpy(flat.reshape(shape))
    return out


def packed_nbytes(packed: Mapping[str, tuple[np.ndarray, tuple[int, ...]]]) -> int:
    """Bytes held by the bit arrays of :func:`pack_masks` output."""
    return sum(int(bits.nbytes) for bits, _ in packed.values())
