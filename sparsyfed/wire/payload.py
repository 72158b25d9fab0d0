"""Encode whole model states (one message) for the wire and account for their size.

An encoded state maps every tensor name to its payload
(:mod:`sparsyfed.wire.codec`). When tensors are coded with the ``joint``
codec, one more entry, :data:`~sparsyfed.wire.joint.JOINT_KEY`, holds the
joint position block of the message (:mod:`sparsyfed.wire.joint`).
"""

from __future__ import annotations

import math
from collections.abc import Mapping

import numpy as np

from sparsyfed.wire.bounds import sparse_bound_bits
from sparsyfed.wire.codec import (
    JointPositions,
    PayloadError,
    PayloadInfo,
    choose_codec,
    decode_array,
    encode_array,
    encode_array_joint,
    payload_buffer,
    payload_info,
    support_mask,
)
from sparsyfed.wire.joint import (
    JOINT_KEY,
    block_code_bits,
    decode_joint_block,
    encode_joint_block,
    reference_fingerprint,
)

MIN_SPARSE_NUMEL = 1024
"""Tensors with fewer elements (and all 0-d/1-d or non-float tensors) travel dense."""


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
) -> dict[str, bytes]:
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
        the ``joint`` codec: their position sets go into one joint block
        under :data:`~sparsyfed.wire.joint.JOINT_KEY` (default ``True``).

    Raises
    ------
    ValueError
        If a key equals :data:`~sparsyfed.wire.joint.JOINT_KEY`, or as
        :func:`~sparsyfed.wire.codec.encode_array` raises.

    """
    if JOINT_KEY in state:
        raise ValueError(f"{JOINT_KEY!r} is reserved for the joint position block")
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
    if parts:
        assert references is not None
        keys = sorted(parts)
        fingerprint = reference_fingerprint([support_mask(references[key]) for key in keys])
        blobs[JOINT_KEY] = encode_joint_block([parts[key] for key in keys], fingerprint)
    return blobs


def _joint_ranks(
    blobs: Mapping[str, bytes | np.ndarray],
    infos: Mapping[str, PayloadInfo],
    refs: Mapping[str, np.ndarray],
) -> dict[str, np.ndarray]:
    """Decode the joint block of a message: coded ranks per ``joint`` tensor."""
    keys = sorted(key for key, info in infos.items() if info.codec == "joint")
    block = blobs.get(JOINT_KEY)
    if block is None:
        if keys:
            raise PayloadError(f"{len(keys)} joint tensors but no {JOINT_KEY!r} block")
        return {}
    if not keys:
        raise PayloadError(f"{JOINT_KEY!r} block without joint tensors")
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
    ranks = decode_joint_block(payload_buffer(block).tobytes(), parts, reference_fingerprint(masks))
    return dict(zip(keys, ranks, strict=True))


def decode_state(
    blobs: Mapping[str, bytes | np.ndarray],
    expected: Mapping[str, tuple[int, ...]] | None = None,
    references: Mapping[str, np.ndarray] | None = None,
) -> dict[str, np.ndarray]:
    """Decode a mapping produced by :func:`encode_state`.

    Parameters
    ----------
    blobs : mapping of str to bytes
        The payloads, with the joint position block under
        :data:`~sparsyfed.wire.joint.JOINT_KEY` if any tensor uses the
        ``joint`` codec.
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
    refs = references or {}
    tensors = [key for key in blobs if key != JOINT_KEY]
    if expected is not None and set(tensors) != set(expected):
        diff = sorted(set(tensors) ^ set(expected))
        raise PayloadError(f"payload keys differ from the model's: {diff[:5]}")
    infos = {key: payload_info(blobs[key]) for key in tensors}
    ranks = _joint_ranks(blobs, infos, refs)
    if expected is None:
        return {
            key: decode_array(blobs[key], reference=refs.get(key), joint_coded=ranks.get(key))
            for key in tensors
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


def nonzero_count(x: np.ndarray) -> int:
    """Number of elements whose bit pattern is not all zero (what the codecs send)."""
    return int(np.count_nonzero(support_mask(x)))


def _best_unconditional(x: np.ndarray, values: str) -> tuple[int, int]:
    """Size and position bits of ``x`` with the smallest codec that needs no reference."""
    best = choose_codec(x, MIN_SPARSE_NUMEL, values=values)
    # x is already representable in ``values``, so re-encoding reproduces it exactly.
    info = payload_info(encode_array(x, best, values=values, rng=np.random.default_rng(0)))
    return info.nbytes, info.position_bits


def payload_report(
    state: Mapping[str, np.ndarray],
    blobs: Mapping[str, bytes | np.ndarray],
    references: Mapping[str, np.ndarray] | None = None,
) -> dict:
    """Bytes actually encoded, the information-theoretic bounds and the codecs used.

    Parameters
    ----------
    state : mapping of str to ndarray
        The decoded tensors (what the receiver rebuilt from ``blobs``).
    blobs : mapping of str to bytes
        The payloads as sent (with the joint block, if any).
    references : mapping of str to ndarray, optional
        The side information the receiver holds (uplink: the model it sent).

    Returns
    -------
    dict
        ``bytes`` (sum of payload lengths), ``dense_bytes`` (raw array bytes),
        ``bound_bytes`` (sum over tensors of ``log2 C(n, k) + b * k`` bits over
        8, with ``b`` the bits per sent value), ``nnz``, ``codecs`` (codec name
        -> number of tensors), ``codec_per_tensor`` and ``position_bits`` (bits
        spent on positions). With ``references`` also ``cond_bound_bytes``
        (``log2 C(m, k)`` instead of ``log2 C(n, k)`` for every tensor whose
        support lies in its reference's support of size ``m``),
        ``best_unconditional_bytes`` (the size had no codec used the
        reference), ``support_position_bits``, ``support_position_code_bits``,
        ``support_position_bound_bits`` and ``support_unconditional_position_bits``
        (for the tensors coded against the reference, with the ``support`` or
        ``joint`` codec: the bits spent on their positions, the same without
        the padding to whole bytes, ``log2 C(m, k)``, and the position bits of
        the best codec that ignores the reference). The joint block counts
        with its rank bytes as position bits and its rank length ``B`` as
        code bits; its 11-byte header counts in ``bytes`` only, like the
        tensor headers.

    """
    total = dense = nnz_total = position_bits = 0
    bound_bits = cond_bound_bits = 0.0
    best_uncond = support_bits = support_code_bits = uncond_position_bits = 0
    support_bound = 0.0
    codecs: dict[str, int] = {}
    per_tensor: dict[str, str] = {}
    joint_parts: list[tuple[int, int]] = []
    for key, value in state.items():
        blob = blobs[key]
        info = payload_info(blob)
        total += info.nbytes
        dense += value.nbytes
        mask = support_mask(value)
        nnz = int(np.count_nonzero(mask))
        nnz_total += nnz
        position_bits += info.position_bits
        unconditional = sparse_bound_bits(value.size, nnz, info.value_bits)
        bound_bits += unconditional
        codecs[info.codec] = codecs.get(info.codec, 0) + 1
        per_tensor[key] = info.codec
        if references is None:
            continue
        ref = references.get(key)
        conditional = unconditional
        if ref is not None and ref.size == value.size:
            ref_mask = support_mask(ref)
            if not np.any(mask & ~ref_mask):
                m = int(np.count_nonzero(ref_mask))
                conditional = sparse_bound_bits(m, nnz, info.value_bits)
                if info.codec == "joint":
                    joint_parts.append((m, nnz))
        cond_bound_bits += conditional
        if info.codec in ("support", "joint"):
            support_bits += info.position_bits
            support_code_bits += info.position_code_bits
            support_bound += conditional - nnz * info.value_bits
            nbytes, bits = _best_unconditional(value, info.values)
            best_uncond += nbytes
            uncond_position_bits += bits
        else:
            best_uncond += info.nbytes
    if JOINT_KEY in blobs:
        block_nbytes = payload_buffer(blobs[JOINT_KEY]).size
        code_bits = block_code_bits(joint_parts)
        total += block_nbytes
        position_bits += 8 * ((code_bits + 7) // 8)
        support_bits += 8 * ((code_bits + 7) // 8)
        support_code_bits += code_bits
    report = {
        "bytes": total,
        "dense_bytes": dense,
        "bound_bytes": bound_bits / 8.0,
        "nnz": nnz_total,
        "codecs": codecs,
        "codec_per_tensor": per_tensor,
        "position_bits": position_bits,
    }
    if references is not None:
        report |= {
            "cond_bound_bytes": cond_bound_bits / 8.0,
            "best_unconditional_bytes": best_uncond,
            "support_position_bits": support_bits,
            "support_position_code_bits": support_code_bits,
            "support_position_bound_bits": support_bound,
            "support_unconditional_position_bits": uncond_position_bits,
        }
    return report
