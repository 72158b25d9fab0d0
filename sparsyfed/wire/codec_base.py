"""The base class of the codecs: what a codec of the tensor payload format implements.

Each codec is one subclass that states its wire id (the codec id byte of the
header) and implements everything that depends on it: the codec fields and
the position block (size, eligibility, encoding, validation, decoding). The
concrete codecs are in :mod:`sparsyfed.wire.codecs` and
:mod:`sparsyfed.wire.rice_codecs`, the table of all of them in
:mod:`sparsyfed.wire.registry`; the layouts are specified in
:mod:`sparsyfed.wire.codec`.
"""

from __future__ import annotations

import math
import struct
from typing import TYPE_CHECKING, ClassVar

import numpy as np

from sparsyfed.wire import values as _values
from sparsyfed.wire.format import (
    FIXED_HEADER,
    UINT_BY_SIZE,
    Header,
    JointPositions,
    PayloadError,
)
from sparsyfed.wire.positions import RiceCode

if TYPE_CHECKING:
    from sparsyfed.wire.plan import Plan

__all__ = ["NO_FIELDS", "Codec", "Fields", "alloc"]

Fields = tuple[RiceCode | None, int | None]
"""Parsed codec fields: the Rice layout (golomb, support) and ``m`` (support)."""

NO_FIELDS: Fields = (None, None)


def alloc(shape: tuple[int, ...], dtype: np.dtype, empty: bool = False) -> np.ndarray:
    """A new zero (or uninitialised) array; ``PayloadError`` if it cannot be allocated."""
    try:
        return np.empty(shape, dtype=dtype) if empty else np.zeros(shape, dtype=dtype)
    except MemoryError as exc:
        raise PayloadError(f"cannot allocate {math.prod(shape)} elements of {dtype}") from exc


def _check_raw_values(values: np.ndarray, dtype: np.dtype) -> None:
    """Check that stored sparse raw values are non-zero bit patterns (bool: byte 1)."""
    if values.size == 0:
        return
    bits = values.view(UINT_BY_SIZE[dtype.itemsize])
    if dtype.kind == "b":
        if not np.all(bits == 1):
            raise PayloadError("stored bool values must all be True (byte 1)")
    elif not np.all(bits != 0):
        raise PayloadError("sparse payload stores an all-zero value")


class Codec:
    """One codec of the wire format: how the kept positions of a tensor are coded.

    Subclasses state ``name`` and ``wire_id`` (the codec id byte of the
    header) and override what differs from a sparse codec without codec
    fields whose value section holds the ``nnz`` kept values. Instances are
    stateless; the per-tensor data is in a :class:`~sparsyfed.wire.plan.Plan`
    (encoding) or a :class:`~sparsyfed.wire.format.Header` (decoding).
    """

    name: ClassVar[str]
    """Codec name, as in :data:`~sparsyfed.wire.codec.CODECS`."""
    wire_id: ClassVar[int]
    """The codec id byte of the header."""
    fields: ClassVar[struct.Struct | None] = None
    """Layout of the codec fields after the fixed header, if any."""
    sparse: ClassVar[bool] = True
    """The value section holds the kept values only (not all ``numel``)."""
    standalone: ClassVar[bool] = True
    """The payload holds its own positions (so :func:`encode_array` can force the codec)."""
    uses_reference: ClassVar[bool] = False
    """Positions are relative to a reference tensor both sides hold."""

    def __init__(self) -> None:
        self.field_nbytes = 0 if self.fields is None else self.fields.size

    def __repr__(self) -> str:
        return f"<codec {self.name} (id {self.wire_id})>"

    def header_nbytes(self, ndim: int) -> int:
        """Header length with the codec fields for ``ndim`` dimensions."""
        return FIXED_HEADER + 4 * ndim + self.field_nbytes

    # -- header ----------------------------------------------------------------

    def parse_fields(
        self, raw: bytes, offset: int, shape: tuple[int, ...], numel: int, nnz: int
    ) -> Fields:
        """Validate the header for this codec and parse its codec fields at ``offset``.

        Raises
        ------
        PayloadError
            If the shape, nnz or codec fields are not allowed for this codec.

        """
        return NO_FIELDS

    def block_nbytes(
        self, shape: tuple[int, ...], numel: int, nnz: int, rice: RiceCode | None
    ) -> int:
        """Length of the position block of a payload with this header."""
        return 0

    def info_bits(self, hdr: Header, nbytes: int, value_bits: int) -> tuple[int, int]:
        """``(position_bits, position_code_bits)`` of a payload of ``nbytes`` bytes."""
        scale_bits = 32 if hdr.values == "int8" else 0
        position_bits = 8 * (nbytes - hdr.nbytes) - value_bits * hdr.nnz - scale_bits
        return position_bits, self.code_bits(hdr, position_bits)

    def code_bits(self, hdr: Header, position_bits: int) -> int:
        """Length of the position code without the padding of its streams."""
        return position_bits

    # -- encoding --------------------------------------------------------------

    def problem(self, plan: Plan) -> str | None:
        """Why the codec cannot encode this tensor, or ``None`` if it can."""
        return None

    def planned_block_nbytes(self, plan: Plan) -> int:
        """Length of the position block for a tensor."""
        return self.block_nbytes(plan.shape, plan.numel, plan.nnz, None)

    def shared_nbytes(self, plan: Plan) -> float:
        """Bytes the tensor costs outside its payload (``joint``: its share of the block)."""
        return 0.0

    def value_count(self, plan: Plan) -> int:
        """Number of values in the value section (the header's ``nnz``)."""
        return plan.nnz

    def section_nbytes(self, plan: Plan) -> int:
        """Length of the value section."""
        return plan.section_nbytes

    def encode_block(self, plan: Plan) -> tuple[bytes, list[bytes]]:
        """The codec fields and the parts of the position block of a tensor."""
        raise NotImplementedError(self.name)

    def encode_values(self, plan: Plan) -> list[bytes]:
        """The parts of the value section."""
        return _values.section_parts(plan.q, plan.values)

    def joint_positions(self, plan: Plan) -> JointPositions | None:
        """What the message's joint block codes for the tensor (only ``joint``)."""
        return None

    # -- decoding --------------------------------------------------------------

    def pre_decode(
        self,
        hdr: Header,
        section: np.ndarray,
        reference: np.ndarray | None,
        joint_coded: np.ndarray | None,
    ) -> object:
        """Checks that come before the values are decoded; returns what :meth:`positions` uses."""
        return None

    def positions(self, block: np.ndarray, hdr: Header, context: object) -> np.ndarray:
        """Validate and decode the position block: flat indices or a flat boolean mask."""
        raise NotImplementedError(self.name)

    def rebuild(
        self, block: np.ndarray, hdr: Header, vals: np.ndarray, context: object
    ) -> np.ndarray:
        """The decoded tensor from its position block and decoded values."""
        if hdr.values == "raw":
            _check_raw_values(vals, hdr.dtype)
        sel = self.positions(block, hdr, context)
        out = alloc(hdr.shape, hdr.dtype.newbyteorder("="))
        out.reshape(-1)[sel] = vals
        return out
