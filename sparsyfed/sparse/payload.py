"""Encode whole model states for the wire and account for their size."""

from __future__ import annotations

import math
from collections.abc import Mapping

import numpy as np

from sparsyfed.sparse.bounds import sparse_bound_bits
from sparsyfed.sparse.codec import PayloadError, decode_array, encode_array, payload_codec


def encode_state(state: Mapping[str, np.ndarray], codec: str = "auto") -> dict[str, bytes]:
    """Encode every array of ``state`` with ``codec`` (``auto`` picks the cheapest per tensor)."""
    return {key: encode_array(np.asarray(value, order="C"), codec) for key, value in state.items()}


def decode_state(
    blobs: Mapping[str, bytes | np.ndarray], expected: Mapping[str, tuple[int, ...]] | None = None
) -> dict[str, np.ndarray]:
    """Decode a mapping produced by :func:`encode_state`.

    Parameters
    ----------
    blobs : mapping of str to bytes
        The payloads.
    expected : mapping of str to shape, optional
        When given (the receiver knows the model), the keys must match exactly
        and every payload must decode to its expected shape; the element-count
        limit is set from it before anything is allocated.

    Raises
    ------
    PayloadError
        For a malformed payload, a missing or unexpected key, or a wrong shape.

    """
    if expected is None:
        return {key: decode_array(blob) for key, blob in blobs.items()}
    if set(blobs) != set(expected):
        diff = sorted(set(blobs) ^ set(expected))
        raise PayloadError(f"payload keys differ from the model's: {diff[:5]}")
    state = {}
    for key, shape in expected.items():
        value = decode_array(blobs[key], max_numel=max(1, math.prod(shape)))
        if tuple(value.shape) != tuple(shape):
            raise PayloadError(f"{key}: shape {tuple(value.shape)} != expected {tuple(shape)}")
        state[key] = value
    return state


def nonzero_count(x: np.ndarray) -> int:
    """Number of elements whose bit pattern is not all zero (what the codecs send)."""
    if x.size == 0:
        return 0
    as_bytes = np.ascontiguousarray(x).reshape(-1).view(np.uint8).reshape(x.size, x.itemsize)
    return int(np.count_nonzero(as_bytes.any(axis=1)))


def payload_report(
    state: Mapping[str, np.ndarray], blobs: Mapping[str, bytes | np.ndarray]
) -> dict:
    """Bytes actually encoded, the information-theoretic bound and the codecs used.

    Returns
    -------
    dict
        ``bytes`` (sum of payload lengths), ``dense_bytes`` (raw array bytes),
        ``bound_bytes`` (sum over tensors of ``log2 C(n, k) + bits_per_value * k``
        bits, over 8), ``nnz`` and ``codecs`` (codec name -> number of tensors).

    """
    total = dense = nnz_total = 0
    bound_bits = 0.0
    codecs: dict[str, int] = {}
    for key, value in state.items():
        blob = blobs[key]
        total += len(blob)
        dense += value.nbytes
        nnz = nonzero_count(value)
        nnz_total += nnz
        bound_bits += sparse_bound_bits(value.size, nnz, 8 * value.itemsize)
        name = payload_codec(blob)
        codecs[name] = codecs.get(name, 0) + 1
    return {
        "bytes": total,
        "dense_bytes": dense,
        "bound_bytes": bound_bits / 8.0,
        "nnz": nnz_total,
        "codecs": codecs,
    }
