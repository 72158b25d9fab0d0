"""The codecs without codec fields: ``dense``, ``bitmap``, ``coo``, ``csr`` and ``ef``.

The layouts are specified in :mod:`sparsyfed.wire.codec`; the interface is
:class:`~sparsyfed.wire.codec_base.Codec`.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

import numpy as np

from sparsyfed.wire import values as _values
from sparsyfed.wire.bitstream import nbytes_for_bits, unpack_positions
from sparsyfed.wire.codec_base import NO_FIELDS, Codec, Fields, alloc
from sparsyfed.wire.format import INDEX_DTYPE, INT32_MAX, Header, PayloadError
from sparsyfed.wire.positions import RiceCode, ef_decode, ef_encode, ef_layout

if TYPE_CHECKING:
    from sparsyfed.wire.plan import Plan

__all__ = ["Bitmap", "Coo", "Csr", "Dense", "EliasFano"]


class Dense(Codec):
    """``dense``: all ``numel`` values, no position block."""

    name = "dense"
    wire_id = 0
    sparse = False

    def parse_fields(
        self, raw: bytes, offset: int, shape: tuple[int, ...], numel: int, nnz: int
    ) -> Fields:
        """Require ``nnz == numel``."""
        if nnz != numel:
            raise PayloadError(f"dense payload must have nnz == numel, got {nnz} != {numel}")
        return NO_FIELDS

    def info_bits(self, hdr: Header, nbytes: int, value_bits: int) -> tuple[int, int]:
        """No position bits."""
        return 0, 0

    def value_count(self, plan: Plan) -> int:
        """All ``numel`` values."""
        return plan.numel

    def section_nbytes(self, plan: Plan) -> int:
        """``numel`` values."""
        return _values.section_nbytes(plan.values, plan.dtype, plan.numel)

    def encode_block(self, plan: Plan) -> tuple[bytes, list[bytes]]:
        """No fields, no block."""
        return b"", []

    def encode_values(self, plan: Plan) -> list[bytes]:
        """All values, the dropped ones as zeros."""
        if plan.values == "raw":
            return [plan.flat.tobytes()]
        if plan.values == "fp16":
            out = np.zeros(plan.numel, dtype=np.dtype("<f2"))
            out[plan.idx] = plan.q.stored
            return [out.tobytes()]
        codes = np.zeros(plan.numel, dtype=np.int8)
        codes[plan.idx] = plan.q.stored
        return [np.array(plan.q.scale, dtype="<f4").tobytes(), codes.tobytes()]

    def pre_decode(
        self,
        hdr: Header,
        section: np.ndarray,
        reference: np.ndarray | None,
        joint_coded: np.ndarray | None,
    ) -> object:
        """Raw bool values must be bytes 0/1."""
        if hdr.values == "raw" and hdr.dtype.kind == "b" and section.size:
            if section.max() > 1:
                raise PayloadError("dense bool payload has bytes other than 0/1")
        return None

    def rebuild(
        self, block: np.ndarray, hdr: Header, vals: np.ndarray, context: object
    ) -> np.ndarray:
        """The values in C order."""
        out = alloc(hdr.shape, hdr.dtype.newbyteorder("="), empty=True)
        out.reshape(-1)[...] = vals
        return out


class Bitmap(Codec):
    """``bitmap``: the keep-mask, one bit per element."""

    name = "bitmap"
    wire_id = 1

    def block_nbytes(
        self, shape: tuple[int, ...], numel: int, nnz: int, rice: RiceCode | None
    ) -> int:
        """``ceil(n / 8)``."""
        return nbytes_for_bits(numel)

    def code_bits(self, hdr: Header, position_bits: int) -> int:
        """``n``."""
        return hdr.numel

    def encode_block(self, plan: Plan) -> tuple[bytes, list[bytes]]:
        """The packed mask."""
        return b"", [np.packbits(plan.mask, bitorder="little").tobytes()]

    def positions(self, block: np.ndarray, hdr: Header, context: object) -> np.ndarray:
        """The mask (popcount and padding checked)."""
        return unpack_positions(block, hdr.numel, hdr.nnz, "bitmap")


class Coo(Codec):
    """``coo``: ``k`` int32 positions."""

    name = "coo"
    wire_id = 2

    def block_nbytes(
        self, shape: tuple[int, ...], numel: int, nnz: int, rice: RiceCode | None
    ) -> int:
        """``4 * k``."""
        return 4 * nnz

    def encode_block(self, plan: Plan) -> tuple[bytes, list[bytes]]:
        """The positions as int32."""
        return b"", [plan.idx.astype(INDEX_DTYPE).tobytes()]

    def positions(self, block: np.ndarray, hdr: Header, context: object) -> np.ndarray:
        """The positions, checked in range and strictly increasing."""
        idx = block.view(INDEX_DTYPE)
        if hdr.nnz:
            if int(idx[0]) < 0 or int(idx[-1]) >= hdr.numel:
                raise PayloadError(
                    f"coo index out of range [0, {hdr.numel}): first {int(idx[0])}, "
                    f"last {int(idx[-1])}"
                )
            # Compare neighbours directly: np.diff on int32 could wrap around.
            if not np.all(idx[1:] > idx[:-1]):
                raise PayloadError("coo indices are not strictly increasing")
        return idx.astype(np.intp)


class Csr(Codec):
    """``csr``: int32 row pointers and column indices of the tensor as a matrix."""

    name = "csr"
    wire_id = 3

    @staticmethod
    def dims(shape: tuple[int, ...]) -> tuple[int, int]:
        """``(rows, cols)`` of the matrix view (``ndim >= 1``)."""
        if len(shape) == 1:
            return 1, shape[0]
        return shape[0], math.prod(shape[1:])

    def _allowed(self, shape: tuple[int, ...]) -> bool:
        return len(shape) >= 1 and self.dims(shape)[0] + 1 <= INT32_MAX

    def parse_fields(
        self, raw: bytes, offset: int, shape: tuple[int, ...], numel: int, nnz: int
    ) -> Fields:
        """Require ``ndim >= 1`` and ``rows + 1 <= 2**31 - 1``."""
        if not self._allowed(shape):
            raise PayloadError(f"csr payload needs ndim >= 1 and rows < 2**31 - 1, shape {shape}")
        return NO_FIELDS

    def block_nbytes(
        self, shape: tuple[int, ...], numel: int, nnz: int, rice: RiceCode | None
    ) -> int:
        """``4 * (rows + 1) + 4 * k``."""
        return 4 * (self.dims(shape)[0] + 1) + 4 * nnz

    def problem(self, plan: Plan) -> str | None:
        """0-d tensors and matrices of ``2**31 - 1`` or more rows."""
        if not self._allowed(plan.shape):
            return f"csr needs ndim >= 1 and rows + 1 <= 2**31 - 1, shape {plan.shape}"
        return None

    def encode_block(self, plan: Plan) -> tuple[bytes, list[bytes]]:
        """Row pointers, then column indices."""
        rows, cols = self.dims(plan.shape)
        rowptr = np.zeros(rows + 1, dtype=np.int64)
        if plan.nnz:
            row = plan.idx // cols
            np.cumsum(np.bincount(row, minlength=rows), out=rowptr[1:])
            col = plan.idx - row * cols
        else:
            col = plan.idx
        return b"", [rowptr.astype(INDEX_DTYPE).tobytes(), col.astype(INDEX_DTYPE).tobytes()]

    def positions(self, block: np.ndarray, hdr: Header, context: object) -> np.ndarray:
        """Flat positions, with the row pointers and columns checked."""
        rows, cols = self.dims(hdr.shape)
        rowptr = block[: 4 * (rows + 1)].view(INDEX_DTYPE)
        col = block[4 * (rows + 1) :].view(INDEX_DTYPE)
        if int(rowptr[0]) != 0:
            raise PayloadError(f"csr rowptr[0] must be 0, got {int(rowptr[0])}")
        if not np.all(rowptr[1:] >= rowptr[:-1]):
            raise PayloadError("csr row pointers are decreasing")
        if int(rowptr[-1]) != hdr.nnz:
            raise PayloadError(f"csr rowptr[-1] {int(rowptr[-1])} != nnz {hdr.nnz}")
        if hdr.nnz == 0:
            return np.zeros(0, dtype=np.int64)
        if int(col.min()) < 0 or int(col.max()) >= cols:
            raise PayloadError(
                f"csr column out of range [0, {cols}): min {int(col.min())}, max {int(col.max())}"
            )
        counts = np.diff(rowptr.astype(np.int64))
        pos = np.repeat(np.arange(rows, dtype=np.int64) * cols, counts)
        pos += col
        if not np.all(pos[1:] > pos[:-1]):
            raise PayloadError("csr columns are not strictly increasing within a row")
        return pos


class EliasFano(Codec):
    """``ef``: Elias-Fano positions (fixed-width low parts, unary high parts)."""

    name = "ef"
    wire_id = 4

    def block_nbytes(
        self, shape: tuple[int, ...], numel: int, nnz: int, rice: RiceCode | None
    ) -> int:
        """Both streams, each padded to whole bytes."""
        _, low_nbytes, high_nbits = ef_layout(numel, nnz)
        return low_nbytes + nbytes_for_bits(high_nbits)

    def code_bits(self, hdr: Header, position_bits: int) -> int:
        """``k * l + h``."""
        low, _, high_nbits = ef_layout(hdr.numel, hdr.nnz)
        return hdr.nnz * low + high_nbits

    def encode_block(self, plan: Plan) -> tuple[bytes, list[bytes]]:
        """Low parts, then high parts."""
        return b"", ef_encode(plan.idx, plan.numel)

    def positions(self, block: np.ndarray, hdr: Header, context: object) -> np.ndarray:
        """The positions (streams checked)."""
        return ef_decode(block, hdr.numel, hdr.nnz)
