"""What a message cost: bytes actually encoded, next to the information-theoretic bounds."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

from sparsyfed.wire.bounds import sparse_bound_bits
from sparsyfed.wire.codec import (
    choose_codec,
    encode_array,
    payload_buffer,
    payload_info,
    support_mask,
)
from sparsyfed.wire.joint import block_code_bits
from sparsyfed.wire.message import MIN_SPARSE_NUMEL, EncodedMessage


@dataclass(frozen=True)
class ConditionalReport:
    """The part of a :class:`PayloadReport` that compares against the receiver's references.

    Attributes
    ----------
    cond_bound_bytes : float
        The bound with ``log2 C(m, k)`` instead of ``log2 C(n, k)`` for every
        tensor whose support lies in its reference's support of size ``m``.
    best_unconditional_bytes : int
        What the message would have cost had no codec used the references.
    support_position_bits, support_position_code_bits : int
        For the tensors coded against their reference (``support`` or
        ``joint`` codec): the bits spent on their positions, and the same
        without the padding to whole bytes.
    support_position_bound_bits : float
        ``log2 C(m, k)`` summed over those tensors.
    support_unconditional_position_bits : int
        The position bits of the best codec that ignores the reference, for
        those tensors.

    """

    cond_bound_bytes: float
    best_unconditional_bytes: int
    support_position_bits: int
    support_position_code_bits: int
    support_position_bound_bits: float
    support_unconditional_position_bits: int


@dataclass(frozen=True)
class PayloadReport:
    """Size accounting of one encoded message.

    Attributes
    ----------
    bytes : int
        Sum of the payload lengths and the joint block.
    dense_bytes : int
        The raw array bytes of the same tensors.
    bound_bytes : float
        Sum over tensors of ``log2 C(n, k) + b * k`` bits over 8, ``b`` the
        bits per sent value.
    nnz : int
        Non-zero (sent) elements over all tensors.
    codecs : dict of str to int
        Codec name -> number of tensors.
    codec_per_tensor : dict of str to str
        The codec of every tensor.
    position_bits : int
        Bits spent on positions (the joint block counts with its rank bytes).
    conditional : ConditionalReport or None
        Only when the receiver's references were given.

    """

    bytes: int
    dense_bytes: int
    bound_bytes: float
    nnz: int
    codecs: dict[str, int]
    codec_per_tensor: dict[str, str]
    position_bits: int
    conditional: ConditionalReport | None = None


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
    message: EncodedMessage,
    references: Mapping[str, np.ndarray] | None = None,
) -> PayloadReport:
    """Bytes actually encoded, the information-theoretic bounds and the codecs used.

    Parameters
    ----------
    state : mapping of str to ndarray
        The decoded tensors (what the receiver rebuilt from ``message``).
    message : EncodedMessage
        The payloads as sent (with the joint block, if any).
    references : mapping of str to ndarray, optional
        The side information the receiver holds (uplink: the model it sent);
        when given the report has its :attr:`PayloadReport.conditional` part.
        The joint block counts with its rank bytes as position bits and its
        rank length ``B`` as code bits; its 11-byte header counts in ``bytes``
        only, like the tensor headers.

    """
    total = dense = nnz_total = position_bits = 0
    bound_bits = cond_bound_bits = 0.0
    best_uncond = support_bits = support_code_bits = uncond_position_bits = 0
    support_bound = 0.0
    codecs: dict[str, int] = {}
    per_tensor: dict[str, str] = {}
    joint_parts: list[tuple[int, int]] = []
    for key, value in state.items():
        info = payload_info(message.tensors[key])
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
    if message.joint is not None:
        code_bits = block_code_bits(joint_parts)
        total += payload_buffer(message.joint).size
        position_bits += 8 * ((code_bits + 7) // 8)
        support_bits += 8 * ((code_bits + 7) // 8)
        support_code_bits += code_bits
    conditional_report = None
    if references is not None:
        conditional_report = ConditionalReport(
            cond_bound_bytes=cond_bound_bits / 8.0,
            best_unconditional_bytes=best_uncond,
            support_position_bits=support_bits,
            support_position_code_bits=support_code_bits,
            support_position_bound_bits=support_bound,
            support_unconditional_position_bits=uncond_position_bits,
        )
    return PayloadReport(
        bytes=total,
        dense_bytes=dense,
        bound_bytes=bound_bits / 8.0,
        nnz=nnz_total,
        codecs=codecs,
        codec_per_tensor=per_tensor,
        position_bits=position_bits,
        conditional=conditional_report,
    )
