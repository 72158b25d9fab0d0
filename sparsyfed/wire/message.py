"""Whole messages: every tensor of a model state as one payload, plus the joint position block.

An :class:`EncodedMessage` holds one payload per tensor name
(:mod:`sparsyfed.wire.codec`) and, when tensors use the ``joint`` codec, the
joint position block of the message (:mod:`sparsyfed.wire.joint`) in its own
field, so no tensor name is reserved.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np

from sparsyfed.wire.codec import (
    JointPositions,
    PayloadError,
    PayloadInfo,
    decode_array,
    encode_array,
    encode_array_joint,
    payload_buffer,
    payload_info,
    support_mask,
)
from sparsyfed.wire.joint import decode_joint_block, encode_joint_block, reference_fingerprint

MIN_SPARSE_NUMEL = 1024
"""Tensors with fewer elements (and all 0-d/1-d or non-float tensors) travel dense."""

Buffer = bytes | bytearray | memoryview | np.ndarray


@dataclass(frozen=True)
class EncodedMessage:
    """The encoded form of one model state: what crosses the wire in one direction.

    Attributes
    ----------
    tensors : mapping of str to bytes
        One self-describing payload per tensor name, in the order encoded.
    joint : bytes or None
        The joint position block of the ``joint`` tensors (``None`` when no
        tensor uses the ``joint`` codec).

    """

    tensors: Mapping[str, Buffer] = field(default_factory=dict)
    joint: Buffer | None = None

    @property
    def nbytes(self) -> int:
        """Total length of the payloads and the joint block."""
        total = sum(payload_buffer(b).size for b in self.tensors.values())
        return total + (0 if self.joint is None else payload_buffer(self.joint).size)


def is_quantizable(x: np.ndarray, min_sparse_numel: int = MIN_SPARSE_NUMEL) -> bool:
    """Whether value quantisation applies to ``x``: a float weight tensor (ndim > 1, not tiny).

    Biases, BatchNorm parameters and statistics and integer counters always travel
    with raw values; they are a small share of the bytes and sensitive to rounding.
    """
    return x.ndim > 1 and x.size >= min_sparse_numel and np.issubdtype(x.dtype, np.floating)


def encode_state(
    state: Mapping[str, np.ndarray],
    codec: str = "auto",
    *,
    values: str = "raw",
    references: Mapping[str, np.ndarray] | None = None,
    rng: np.random.Generator | None = None,
    joint: bool = True,
) -> EncodedMessage:
    """Encode every array of ``state`` (``auto`` picks the cheapest codec per tensor).

    Parameters
    ----------
    state : mapping of str to ndarray
        The tensors to send.
    codec : str, optional
        ``"auto"`` or a codec of :data:`~sparsyfed.wire.codec.CODECS`, forced
        on every tensor.
    values : str, optional
        Value format for quantisable tensors (:func:`is_quantizable`): ``raw``,
        ``fp16`` or ``int8``; every other tensor is sent with raw values.
    references : mapping of str to ndarray, optional
        What the receiver already holds (the model it sent). With ``auto``, a
        tensor whose support is a subset of its reference's support may be
        coded relative to it (the ``support`` codec) when that is smaller.
    rng : numpy.random.Generator, optional
        Source of the stochastic rounding of ``int8`` values.
    joint : bool, optional
        With ``auto`` and references, let tensors with few coded positions use
        the ``joint`` codec: their position sets go into the message's joint
        block (default ``True``).

    Raises
    ------
    ValueError
        As :func:`~sparsyfed.wire.codec.encode_array` raises.

    """
    blobs = {}
    parts: dict[str, JointPositions] = {}
    for key, value in state.items():
        arr = np.asarray(value, order="C")
        fmt = values if is_quantizable(arr) else "raw"
        reference = None if references is None else references.get(key)
        if joint and codec == "auto" and reference is not None:
            blobs[key], part = encode_array_joint(
                arr, MIN_SPARSE_NUMEL, values=fmt, reference=reference, rng=rng
            )
            if part is not None:
                parts[key] = part
        else:
            blobs[key] = encode_array(
                arr, codec, MIN_SPARSE_NUMEL, values=fmt, reference=reference, rng=rng
            )
    block = None
    if parts:
        assert references is not None
        keys = sorted(parts)
        fingerprint = reference_fingerprint([support_mask(references[key]) for key in keys])
        block = encode_joint_block([parts[key] for key in keys], fingerprint)
    return EncodedMessage(blobs, block)


def _joint_ranks(
    message: EncodedMessage,
    infos: Mapping[str, PayloadInfo],
    refs: Mapping[str, np.ndarray],
) -> dict[str, np.ndarray]:
    """Decode the joint block of a message: coded ranks per ``joint`` tensor."""
    keys = sorted(key for key, info in infos.items() if info.codec == "joint")
    if message.joint is None:
        if keys:
            raise PayloadError(f"{len(keys)} joint tensors but no joint position block")
        return {}
    block = payload_buffer(message.joint).tobytes()
    if not keys:
        raise PayloadError("joint position block without joint tensors")
    parts, masks = [], []
    for key in keys:
        ref = refs.get(key)
        if ref is None:
            raise PayloadError(f"{key}: joint payload needs its reference tensor")
        if tuple(np.shape(ref)) != infos[key].shape:
            raise PayloadError(
                f"{key}: reference shape {tuple(np.shape(ref))} != payload shape {infos[key].shape}"
            )
        try:
            mask = support_mask(np.asarray(ref))
        except (TypeError, ValueError) as exc:
            raise PayloadError(f"{key}: unusable reference: {exc}") from exc
        masks.append(mask)
        parts.append((int(np.count_nonzero(mask)), infos[key].nnz))
    ranks = decode_joint_block(block, parts, reference_fingerprint(masks))
    return dict(zip(keys, ranks, strict=True))


def decode_state(
    message: EncodedMessage,
    expected: Mapping[str, tuple[int, ...]] | None = None,
    references: Mapping[str, np.ndarray] | None = None,
) -> dict[str, np.ndarray]:
    """Decode a message produced by :func:`encode_state`.

    Parameters
    ----------
    message : EncodedMessage
        The payloads and the joint block.
    expected : mapping of str to shape, optional
        When given (the receiver knows the model), the keys must match exactly
        and every payload must decode to its expected shape; the element-count
        limit is set from it before anything is allocated.
    references : mapping of str to ndarray, optional
        The tensors the payloads may be coded relative to (``support`` and
        ``joint`` codecs).

    Raises
    ------
    PayloadError
        For a malformed payload or joint block, a missing or unexpected key,
        or a wrong shape.

    """
    if not isinstance(message, EncodedMessage):
        raise PayloadError(f"expected an EncodedMessage, got {type(message).__name__}")
    refs = references or {}
    blobs = message.tensors
    if expected is not None and set(blobs) != set(expected):
        diff = sorted(set(blobs) ^ set(expected))
        raise PayloadError(f"payload keys differ from the model's: {diff[:5]}")
    infos = {key: payload_info(blob) for key, blob in blobs.items()}
    ranks = _joint_ranks(message, infos, refs)
    if expected is None:
        return {
            key: decode_array(blob, reference=refs.get(key), joint_coded=ranks.get(key))
            for key, blob in blobs.items()
        }
    state = {}
    for key, shape in expected.items():
        value = decode_array(
            blobs[key],
            max_numel=max(1, math.prod(shape)),
            reference=refs.get(key),
            joint_coded=ranks.get(key),
        )
        if tuple(value.shape) != tuple(shape):
            raise PayloadError(f"{key}: shape {tuple(value.shape)} != expected {tuple(shape)}")
        state[key] = value
    return state
