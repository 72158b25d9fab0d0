"""Encoding tensors into payloads (re-exported by :mod:`sparsyfed.wire.codec`)."""

from __future__ import annotations

import numpy as np

from sparsyfed.wire import values as _values
from sparsyfed.wire.codec_base import Codec
from sparsyfed.wire.format import JointPositions, pack_header, prepare
from sparsyfed.wire.plan import Plan
from sparsyfed.wire.registry import BY_NAME, codec_named

__all__ = ["choose_codec", "encode_array", "encode_array_joint", "encoded_nbytes"]

_DENSE = BY_NAME["dense"]
_AUTO = "auto"


def _wants_sparse(arr: np.ndarray, min_sparse_numel: int) -> bool:
    if min_sparse_numel < 0:
        raise ValueError(f"min_sparse_numel must be >= 0, got {min_sparse_numel}")
    return arr.ndim > 1 and arr.size >= min_sparse_numel and np.issubdtype(arr.dtype, np.floating)


def choose_codec(
    x: np.ndarray,
    min_sparse_numel: int = 1024,
    *,
    values: str = "raw",
    reference: np.ndarray | None = None,
) -> str:
    """Pick the codec that ``encode_array(x, "auto", ...)`` would use.

    Parameters
    ----------
    x : np.ndarray
        Tensor to encode (a supported dtype, see :mod:`sparsyfed.wire.codec`).
    min_sparse_numel : int, optional
        Tensors with fewer elements are always sent dense, by default 1024.
    values : str, optional
        Value format, one of :data:`VALUE_FORMATS`. For ``"fp16"`` the
        tensor is quantised first (deterministic); for ``"int8"`` the choice
        is made on ``x`` as is, which is exact when ``x`` is already
        int8-representable (e.g. a decoded int8 payload).
    reference : np.ndarray, optional
        Reference tensor enabling the ``support`` codec.

    Returns
    -------
    str
        ``"dense"`` if ``x.ndim <= 1``, ``x.size < min_sparse_numel`` or the
        dtype is not floating point; otherwise the eligible codec with the
        smallest encoded size, ties resolved in the order of :data:`CODECS`
        (``support`` is eligible when ``reference`` is given and contains the
        support of ``x``).

    Raises
    ------
    ValueError
        If the dtype, ndim, size or value format of ``x`` is not supported,
        the reference has another shape, or ``min_sparse_numel`` is negative.

    """
    arr, _ = prepare(x)
    _values.check_format(values, arr.dtype)
    if not _wants_sparse(arr, min_sparse_numel):
        return _DENSE.name
    return Plan(arr, values, None, reference, quantized=values == "fp16").best().name


def encoded_nbytes(
    x: np.ndarray,
    codec: str,
    *,
    values: str = "raw",
    reference: np.ndarray | None = None,
) -> int:
    """Exact length of ``encode_array(x, codec, values=values, reference=reference)``.

    Parameters
    ----------
    x : np.ndarray
        Tensor to measure. For ``values="int8"`` the result is exact when
        ``x`` is already int8-representable (e.g. a decoded int8 payload);
        otherwise it is the size for the current support of ``x``.
    codec : str
        One of :data:`CODECS`.
    values : str, optional
        Value format, one of :data:`VALUE_FORMATS`.
    reference : np.ndarray, optional
        Reference tensor, required for ``codec="support"``.

    Returns
    -------
    int
        Payload length in bytes (header included). For ``joint`` this is the
        tensor payload only; its positions travel in the joint block.

    Raises
    ------
    ValueError
        If ``codec`` or ``values`` is unknown, ``x`` is not supported, or
        the codec is not eligible (csr of a 0-d tensor, support without a
        reference or with kept positions outside it).

    """
    spec = codec_named(codec)
    arr, _ = prepare(x)
    _values.check_format(values, arr.dtype)
    if not spec.sparse:
        return spec.header_nbytes(arr.ndim) + _values.section_nbytes(values, arr.dtype, arr.size)
    if not spec.uses_reference:
        reference = None
    plan = Plan(arr, values, None, reference, quantized=values == "fp16")
    plan.check_eligible(spec)
    return plan.nbytes(spec)


def encode_array(
    x: np.ndarray,
    codec: str = "auto",
    min_sparse_numel: int = 1024,
    *,
    values: str = "raw",
    reference: np.ndarray | None = None,
    rng: np.random.Generator | None = None,
) -> bytes:
    """Serialise a tensor into one self-describing payload.

    Parameters
    ----------
    x : np.ndarray
        Tensor to encode: 0 to 8 dimensions, at most ``2**31 - 1`` elements,
        dtype float32, float64, float16, int64, int32, uint8 or bool (any byte
        order; the payload is little-endian).
    codec : str, optional
        ``"auto"`` (default) for the smallest eligible codec (see
        :func:`choose_codec`; with lossy values it is chosen after
        quantising), or one of :data:`STANDALONE_CODECS` to force a codec.
    min_sparse_numel : int, optional
        Threshold below which ``codec="auto"`` sends the tensor dense.
    values : str, optional
        Value format, one of :data:`VALUE_FORMATS` (``"raw"`` by default;
        ``"fp16"`` and ``"int8"`` need a floating dtype).
    reference : np.ndarray, optional
        Reference tensor of the same shape for the ``support`` codec; only
        ``codec="auto"`` and ``codec="support"`` look at it.
    rng : np.random.Generator, optional
        Source of the stochastic rounding, required for ``values="int8"``.

    Returns
    -------
    bytes
        The payload. With raw values ``decode_array`` of it is bit-identical
        to ``x``; with lossy values it is the quantised tensor.

    Raises
    ------
    ValueError
        If ``codec`` or ``values`` is unknown, ``x`` is not supported, int8
        is requested without ``rng`` or for non-finite values, the reference
        has another shape, or a forced codec is not eligible (csr of a 0-d
        tensor; support without a reference, or with kept positions outside
        the reference support: the message gives their count; joint, whose
        positions need the message's joint block).

    """
    spec = None if codec == _AUTO else codec_named(codec)
    if spec is not None and not spec.standalone:
        raise ValueError(
            f"codec {spec.name!r} keeps its positions in the message's joint block: "
            "use encode_array_joint (or encode_state)"
        )
    return _encode(x, spec, min_sparse_numel, values, reference, rng, allow_joint=False)[0]


def encode_array_joint(
    x: np.ndarray,
    min_sparse_numel: int = 1024,
    *,
    values: str = "raw",
    reference: np.ndarray,
    rng: np.random.Generator | None = None,
) -> tuple[bytes, JointPositions | None]:
    """Encode like ``encode_array(x, "auto", ...)``, with the ``joint`` codec as an option.

    ``joint`` is chosen when the kept positions lie in the reference support,
    at most :data:`~sparsyfed.wire.enumerative.MAX_COUNT` positions are
    coded, and the payload plus ``log2 C(m, k) / 8`` bytes of joint block is
    smaller than every other codec.

    Parameters
    ----------
    x, min_sparse_numel, values, rng
        As for :func:`encode_array`.
    reference : np.ndarray
        The reference tensor the receiver holds (same shape).

    Returns
    -------
    payload : bytes
        The tensor payload.
    positions : JointPositions or None
        For a ``joint`` payload, the ranks to put in the joint block
        (:func:`sparsyfed.wire.joint.encode_joint_block`); ``None`` otherwise.

    """
    return _encode(x, None, min_sparse_numel, values, reference, rng, allow_joint=True)


def _encode(
    x: np.ndarray,
    spec: Codec | None,
    min_sparse_numel: int,
    values: str,
    reference: np.ndarray | None,
    rng: np.random.Generator | None,
    allow_joint: bool,
) -> tuple[bytes, JointPositions | None]:
    """Encode with ``spec``, or the best codec for ``None`` (auto)."""
    arr, dcode = prepare(x)
    vcode = _values.check_format(values, arr.dtype)
    if values == "int8" and rng is None:
        raise ValueError("values='int8' needs rng=np.random.Generator (stochastic rounding)")
    if spec is None and not _wants_sparse(arr, min_sparse_numel):
        spec = _DENSE
    if spec is not None and not spec.sparse:
        header = pack_header(spec.wire_id, dcode, vcode, arr.shape, arr.size)
        return b"".join([header, *_values.dense_section(arr.reshape(-1), values, rng)]), None
    if spec is not None and not spec.uses_reference:
        reference = None  # only auto and the reference codecs look at the reference
    plan = Plan(arr, values, rng, reference)
    if spec is None:
        spec = plan.best(allow_joint)
    plan.check_eligible(spec)
    return plan.encode(spec, dcode), spec.joint_positions(plan)
