"""The Rice-coded codecs (``golomb``, ``support``) and ``joint``, whose positions travel apart.

``support`` and ``joint`` code the kept positions by their ranks in the
support of a reference tensor both sides hold. The layouts are specified in
:mod:`sparsyfed.wire.codec`.
"""

from __future__ import annotations

import struct
from typing import TYPE_CHECKING, ClassVar, NamedTuple

import numpy as np

from sparsyfed.wire.bounds import sparse_bound_bits
from sparsyfed.wire.codec_base import Codec, Fields
from sparsyfed.wire.enumerative import MAX_COUNT as JOINT_MAX_COUNT
from sparsyfed.wire.format import Header, JointPositions, PayloadError, reference_mask
from sparsyfed.wire.positions import (
    RICE_MAX,
    RiceCode,
    rice_decode,
    rice_encode,
    rice_max_unary,
    rice_nbytes,
    rice_plan,
    uses_complement,
)

if TYPE_CHECKING:
    from sparsyfed.wire.plan import Plan

__all__ = ["Golomb", "Joint", "RiceCodec", "RicePlan", "Support"]


class RicePlan(NamedTuple):
    """The Rice layout of a tensor and the positions it codes (see :meth:`Plan.rice`)."""

    code: RiceCode
    coded: np.ndarray


class RiceCodec(Codec):
    """Rice-coded gaps of the kept positions, or of the others, in a domain of ``N`` positions.

    Subclasses define the domain (``golomb``: the tensor, ``support``: the
    reference support) and the codec fields around ``flags, r, u``.
    """

    fields: ClassVar[struct.Struct]

    def block_nbytes(
        self, shape: tuple[int, ...], numel: int, nnz: int, rice: RiceCode | None
    ) -> int:
        """``ceil((c * r + u) / 8)``."""
        assert rice is not None
        return rice_nbytes(rice.coded, rice.r, rice.unary_nbits)

    def planned_block_nbytes(self, plan: Plan) -> int:
        """Block length for the encoder's choice of ``r``."""
        code = plan.rice(self).code
        return rice_nbytes(code.coded, code.r, code.unary_nbits)

    def code_bits(self, hdr: Header, position_bits: int) -> int:
        """``c * r + u``."""
        assert hdr.rice is not None
        return hdr.rice.coded * hdr.rice.r + hdr.rice.unary_nbits

    def occupancy(self, plan: Plan) -> tuple[int, np.ndarray]:
        """Domain size and the flat mask of its kept positions."""
        raise NotImplementedError(self.name)

    def plan_rice(self, plan: Plan) -> RicePlan:
        """Choose the coded set and the Rice parameter (uncached: use ``plan.rice``)."""
        domain, occupied = self.occupancy(plan)
        complement = uses_complement(domain, plan.nnz)
        coded = np.flatnonzero(~occupied if complement else occupied)
        r, unary = rice_plan(coded, domain)
        return RicePlan(RiceCode(complement, r, unary, coded.size), coded)

    def rice_fields(self, flags: int, r: int, unary: int, domain: int, nnz: int) -> RiceCode:
        """Validate ``flags, r, u`` for ``nnz`` kept positions in ``domain``."""
        name = self.name
        if flags > 1:
            raise PayloadError(f"{name} flags {flags:#x} has unknown bits set")
        complement = bool(flags)
        if complement != uses_complement(domain, nnz):
            raise PayloadError(
                f"{name} complement flag {int(complement)} does not match 2 * nnz > domain "
                f"({nnz}, {domain})"
            )
        coded = domain - nnz if complement else nnz
        if coded == 0:
            if r or unary:
                raise PayloadError(f"{name} with no coded positions must have r = 0 and u = 0")
        else:
            if r > RICE_MAX:
                raise PayloadError(f"{name} Rice parameter {r} exceeds {RICE_MAX}")
            limit = rice_max_unary(domain, coded, r)
            if not coded <= unary <= limit:
                raise PayloadError(
                    f"{name} unary stream length {unary} outside [{coded}, {limit}] for "
                    f"{coded} positions in a domain of {domain}"
                )
        return RiceCode(complement, r, unary, coded)

    def pack_fields(self, plan: Plan, code: RiceCode) -> bytes:
        """The codec fields."""
        raise NotImplementedError(self.name)

    def encode_block(self, plan: Plan) -> tuple[bytes, list[bytes]]:
        """The fields and the one bit stream of low parts and quotients."""
        code, coded = plan.rice(self)
        return self.pack_fields(plan, code), [rice_encode(coded, code.r, code.unary_nbits)]

    @staticmethod
    def decoded_mask(block: np.ndarray, domain: int, code: RiceCode) -> np.ndarray:
        """Flat mask of the kept positions in the domain."""
        coded = rice_decode(block, domain, code)
        occupied = np.full(domain, code.complement)
        occupied[coded] = not code.complement
        return occupied


class Golomb(RiceCodec):
    """``golomb``: Rice-coded gaps of the positions in the tensor."""

    name = "golomb"
    wire_id = 5
    fields = struct.Struct("<BBQ")  # flags, r, unary bits

    def parse_fields(
        self, raw: bytes, offset: int, shape: tuple[int, ...], numel: int, nnz: int
    ) -> Fields:
        """``flags, r, u`` for the domain of ``numel`` positions."""
        flags, r, unary = self.fields.unpack_from(raw, offset)
        return self.rice_fields(flags, r, unary, numel, nnz), None

    def occupancy(self, plan: Plan) -> tuple[int, np.ndarray]:
        """The whole tensor."""
        return plan.numel, plan.mask

    def plan_rice(self, plan: Plan) -> RicePlan:
        """As for every Rice codec, reusing the kept positions when they are coded."""
        if uses_complement(plan.numel, plan.nnz):
            return super().plan_rice(plan)
        r, unary = rice_plan(plan.idx, plan.numel)
        return RicePlan(RiceCode(False, r, unary, plan.idx.size), plan.idx)

    def pack_fields(self, plan: Plan, code: RiceCode) -> bytes:
        """``flags, r, u``."""
        return self.fields.pack(int(code.complement), code.r, code.unary_nbits)

    def positions(self, block: np.ndarray, hdr: Header, context: object) -> np.ndarray:
        """Kept positions (index array), or the mask when the complement is coded."""
        assert hdr.rice is not None
        if not hdr.rice.complement:
            return rice_decode(block, hdr.numel, hdr.rice)
        return self.decoded_mask(block, hdr.numel, hdr.rice)


def _reference_problem(name: str, plan: Plan) -> str | None:
    if plan.ref_mask is None:
        return f"codec {name!r} needs reference= (the shared reference tensor)"
    if plan.outside:
        return f"codec {name!r}: {plan.outside} kept positions lie outside the reference support"
    return None


def _usable_reference(hdr: Header, reference: np.ndarray | None) -> np.ndarray:
    """Flat support mask of the reference of a ``support`` / ``joint`` payload (a fresh array)."""
    if reference is None:
        raise PayloadError(
            f"{hdr.codec.name} payload needs reference= (the shared reference tensor)"
        )
    try:
        return reference_mask(reference, hdr.shape)
    except ValueError as exc:
        raise PayloadError(f"unusable reference: {exc}") from exc


class Support(RiceCodec):
    """``support``: Rice-coded ranks of the positions in the support of a reference."""

    name = "support"
    wire_id = 6
    fields = struct.Struct("<QBBQ")  # m, flags, r, unary bits
    uses_reference = True

    def parse_fields(
        self, raw: bytes, offset: int, shape: tuple[int, ...], numel: int, nnz: int
    ) -> Fields:
        """``m, flags, r, u`` with ``nnz <= m <= numel``."""
        ref_nnz, flags, r, unary = self.fields.unpack_from(raw, offset)
        if ref_nnz > numel:
            raise PayloadError(f"support reference nnz {ref_nnz} exceeds numel {numel}")
        if nnz > ref_nnz:
            raise PayloadError(f"support nnz {nnz} exceeds reference nnz {ref_nnz}")
        return self.rice_fields(flags, r, unary, ref_nnz, nnz), ref_nnz

    def problem(self, plan: Plan) -> str | None:
        """No reference, or kept positions outside its support."""
        return _reference_problem(self.name, plan)

    def occupancy(self, plan: Plan) -> tuple[int, np.ndarray]:
        """The reference support."""
        return plan.ref_nnz, plan.mask[plan.ref_mask]

    def pack_fields(self, plan: Plan, code: RiceCode) -> bytes:
        """``m, flags, r, u``."""
        return self.fields.pack(plan.ref_nnz, int(code.complement), code.r, code.unary_nbits)

    def pre_decode(
        self,
        hdr: Header,
        section: np.ndarray,
        reference: np.ndarray | None,
        joint_coded: np.ndarray | None,
    ) -> object:
        """The reference's support mask, whose popcount must be ``m``."""
        ref_mask = _usable_reference(hdr, reference)
        m = int(np.count_nonzero(ref_mask))
        if m != hdr.ref_nnz:
            raise PayloadError(
                f"reference has {m} non-zeros, the payload was coded against {hdr.ref_nnz}"
            )
        return ref_mask

    def positions(self, block: np.ndarray, hdr: Header, context: object) -> np.ndarray:
        """Mask of the kept positions: the decoded ranks placed in the reference support."""
        assert hdr.rice is not None and isinstance(context, np.ndarray)
        context[context] = self.decoded_mask(block, int(hdr.ref_nnz or 0), hdr.rice)
        return context


class Joint(Codec):
    """``joint``: ranks in a reference support, coded in the message's joint position block."""

    name = "joint"
    wire_id = 7
    standalone = False
    uses_reference = True

    def problem(self, plan: Plan) -> str | None:
        """As ``support``, or more than ``MAX_COUNT`` coded ranks."""
        problem = _reference_problem(self.name, plan)
        if problem is None and plan.joint_count > JOINT_MAX_COUNT:
            problem = (
                f"codec {self.name!r} codes at most {JOINT_MAX_COUNT} positions, this tensor needs "
                f"{plan.joint_count}"
            )
        return problem

    def shared_nbytes(self, plan: Plan) -> float:
        """``log2 C(m, k) / 8``, what the tensor adds to the joint block."""
        return sparse_bound_bits(plan.ref_nnz, plan.nnz, 0) / 8.0

    def encode_block(self, plan: Plan) -> tuple[bytes, list[bytes]]:
        """No fields, no block: the positions travel in the joint block."""
        return b"", []

    def joint_positions(self, plan: Plan) -> JointPositions:
        """Coded ranks relative to the reference support."""
        assert plan.ref_mask is not None
        occupied = plan.mask[plan.ref_mask]
        if uses_complement(plan.ref_nnz, plan.nnz):
            occupied = ~occupied
        return JointPositions(plan.ref_nnz, plan.nnz, np.flatnonzero(occupied).astype(np.int64))

    def pre_decode(
        self,
        hdr: Header,
        section: np.ndarray,
        reference: np.ndarray | None,
        joint_coded: np.ndarray | None,
    ) -> object:
        """Flat mask of the kept positions, from the checked ranks of the joint block."""
        ref_mask = _usable_reference(hdr, reference)
        if joint_coded is None:
            raise PayloadError(
                "joint payload: its positions are in the message's joint block "
                "(decode the whole message with decode_state)"
            )
        m = int(np.count_nonzero(ref_mask))
        if hdr.nnz > m:
            raise PayloadError(f"joint nnz {hdr.nnz} exceeds the reference's {m} non-zeros")
        count = min(hdr.nnz, m - hdr.nnz)
        if count > JOINT_MAX_COUNT:
            raise PayloadError(f"joint payload codes {count} positions, at most {JOINT_MAX_COUNT}")
        coded = np.asarray(joint_coded)
        if coded.ndim != 1 or coded.size != count or coded.dtype.kind not in "iu":
            raise PayloadError(f"joint payload needs {count} coded ranks, got {coded.size}")
        if count and (
            int(coded[0]) < 0 or int(coded[-1]) >= m or not np.all(coded[1:] > coded[:-1])
        ):
            raise PayloadError(f"joint ranks are not strictly increasing in [0, {m})")
        sub = np.zeros(m, dtype=bool)
        sub[coded] = True
        ref_mask[ref_mask] = ~sub if uses_complement(m, hdr.nnz) else sub  # a fresh array
        return ref_mask

    def positions(self, block: np.ndarray, hdr: Header, context: object) -> np.ndarray:
        """The mask built by :meth:`pre_decode`."""
        assert isinstance(context, np.ndarray)
        return context
