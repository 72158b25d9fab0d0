"""Decoding and describing payloads (re-exported by :mod:`sparsyfed.wire.codec`)."""

from __future__ import annotations

import numpy as np

from sparsyfed.wire import values as _values
from sparsyfed.wire.bitstream import BitstreamError
from sparsyfed.wire.format import MAX_NUMEL, Header, PayloadError, PayloadInfo, payload_buffer
from sparsyfed.wire.registry import parse_header
from sparsyfed.wire.values import ValueSectionError

__all__ = ["decode_array", "payload_codec", "payload_info"]


def payload_info(payload: bytes | bytearray | memoryview | np.ndarray) -> PayloadInfo:
    """Describe a payload from its header, after validating the header and length.

    The body contents are not checked (use :func:`decode_array` for that).

    Parameters
    ----------
    payload : bytes, bytearray, memoryview or np.ndarray
        A payload produced by :func:`encode_array` (ndarray: 1-D uint8).

    Returns
    -------
    PayloadInfo
        ``codec``, ``dtype`` (native byte order), ``shape``, ``numel``,
        ``nnz``, ``values`` (format name), ``value_bits`` (bits per stored
        value), ``position_bits`` (bits of the body spent on positions:
        ``8 * len(body) - value_bits * nnz``, minus the 32-bit int8 scale;
        0 for dense), ``reference_nnz`` (``m`` for support, else ``None``),
        ``nbytes`` (total payload length) and ``position_code_bits`` (the
        length of the position code itself, without the zero bits that pad
        its streams to whole bytes; equal to ``position_bits`` for coo and csr).

    Raises
    ------
    PayloadError
        If the header is malformed or the length does not match it.

    """
    buf = payload_buffer(payload)
    hdr = parse_header(buf)
    value_bits = _values.value_bits(hdr.values, hdr.dtype)
    position_bits, code_bits = hdr.codec.info_bits(hdr, buf.size, value_bits)
    return PayloadInfo(
        codec=hdr.codec.name,
        dtype=hdr.dtype.newbyteorder("="),
        shape=hdr.shape,
        numel=hdr.numel,
        nnz=hdr.nnz,
        values=hdr.values,
        value_bits=value_bits,
        position_bits=position_bits,
        reference_nnz=hdr.ref_nnz,
        nbytes=buf.size,
        position_code_bits=code_bits,
    )


def payload_codec(payload: bytes | bytearray | memoryview | np.ndarray) -> str:
    """Return the codec name of a payload after validating its header.

    The header fields and the total payload length are checked; the body
    contents are not (use :func:`decode_array` for that).

    Parameters
    ----------
    payload : bytes, bytearray, memoryview or np.ndarray
        A payload produced by :func:`encode_array` (ndarray: 1-D uint8).

    Returns
    -------
    str
        One of :data:`CODECS`.

    Raises
    ------
    PayloadError
        If the header is malformed or the length does not match it.

    """
    return parse_header(payload_buffer(payload)).codec.name


def _decode_body(
    buf: np.ndarray,
    hdr: Header,
    reference: np.ndarray | None,
    joint_coded: np.ndarray | None,
) -> np.ndarray:
    codec = hdr.codec
    body = buf[hdr.nbytes :]
    section_len = _values.section_nbytes(hdr.values, hdr.dtype, hdr.nnz)
    block, section = body[: body.size - section_len], body[body.size - section_len :]
    context = codec.pre_decode(hdr, section, reference, joint_coded)
    vals = _values.decode_section(section, hdr.nnz, hdr.values, hdr.dtype, codec.sparse)
    return codec.rebuild(block, hdr, vals, context)


def decode_array(
    payload: bytes | bytearray | memoryview | np.ndarray,
    *,
    max_numel: int = MAX_NUMEL,
    reference: np.ndarray | None = None,
    joint_coded: np.ndarray | None = None,
) -> np.ndarray:
    """Rebuild a tensor from a payload produced by :func:`encode_array`.

    Parameters
    ----------
    payload : bytes, bytearray, memoryview or np.ndarray
        The payload; an ndarray must be 1-D uint8. It is not modified and the
        result does not share memory with it.
    max_numel : int, optional
        Reject payloads whose shape has more elements than this (at most
        ``MAX_NUMEL``, the default). A sparse payload of a few bytes can
        describe a huge all-zero tensor, so receivers that know the expected
        tensor sizes should pass a tighter limit.
    reference : np.ndarray, optional
        The reference tensor a ``support`` or ``joint`` payload was coded
        against (same shape, same support); ignored by the other codecs.
    joint_coded : np.ndarray, optional
        For a ``joint`` payload, its coded ranks as decoded from the
        message's joint block (:func:`sparsyfed.wire.joint.decode_joint_block`).

    Returns
    -------
    np.ndarray
        A writable, C-contiguous array in native byte order that owns its
        memory: bit-identical to the encoded tensor for raw values, the
        quantised tensor otherwise.

    Raises
    ------
    PayloadError
        For any malformed payload: bad magic, version, codec id, dtype code
        or value format, ndim > 8, more than ``max_numel`` elements, nnz >
        numel, codec fields out of range, a length that does not match the
        header exactly, positions out of range or not strictly increasing,
        popcounts that differ from the header, set padding bits, a Rice
        parameter other than the encoder's choice, a missing or mismatching
        reference, or stored values that are not canonical (zero values in a
        sparse codec, bad int8 scale or codes, non-canonical float16). No
        other exception type escapes.

    """
    buf = payload_buffer(payload)
    hdr = parse_header(buf)
    if hdr.numel > max_numel:
        raise PayloadError(f"shape {hdr.shape} has {hdr.numel} elements, limit is {max_numel}")
    try:
        return _decode_body(buf, hdr, reference, joint_coded)
    except PayloadError:
        raise
    except (BitstreamError, ValueSectionError) as exc:
        raise PayloadError(str(exc)) from exc
    except (ValueError, TypeError, IndexError, OverflowError) as exc:
        # Safety net: validation above should make this unreachable.
        raise PayloadError(f"internal decoding error: {exc!r}") from exc
