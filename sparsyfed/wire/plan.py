"""The encoding plan of one tensor: its kept positions and values, shared by the sparse codecs."""

from __future__ import annotations

import numpy as np

from sparsyfed.wire import values as _values
from sparsyfed.wire.codec_base import Codec
from sparsyfed.wire.format import pack_header, reference_mask, support_mask
from sparsyfed.wire.registry import REGISTRY
from sparsyfed.wire.rice_codecs import RiceCodec, RicePlan

__all__ = ["Plan"]


class Plan:
    """Kept positions and value section of one tensor, and what each codec makes of them.

    Parameters
    ----------
    arr : np.ndarray
        The tensor, as returned by :func:`~sparsyfed.wire.format.prepare`.
    values : str
        Value format.
    rng : np.random.Generator or None
        Stochastic rounding for ``int8``.
    reference : np.ndarray or None
        Reference tensor of the reference-relative codecs.
    quantized : bool, optional
        Quantise the values (``False``: take the tensor as already representable,
        to measure sizes).

    """

    def __init__(
        self,
        arr: np.ndarray,
        values: str,
        rng: np.random.Generator | None,
        reference: np.ndarray | None,
        quantized: bool = True,
    ) -> None:
        self.shape: tuple[int, ...] = arr.shape
        self.ndim = arr.ndim
        self.numel = arr.size
        self.dtype = arr.dtype
        self.values = values
        self.flat = flat = arr.reshape(-1)
        mask = support_mask(flat)
        idx = np.flatnonzero(mask)
        if values == "raw" or not quantized:
            # Not quantised: sizes of a tensor already representable in `values`.
            scale = np.float32(0.0) if values == "int8" else None
            self.q = _values.Quantized(None, flat[idx], scale)
        else:
            self.q = _values.quantize(flat[idx], values, rng)
            if self.q.keep is not None and not self.q.keep.all():
                mask[idx[~self.q.keep]] = False
                idx = idx[self.q.keep]
        self.mask = mask
        self.idx = idx
        self.nnz = idx.size
        self.section_nbytes = _values.section_nbytes(values, self.dtype, self.nnz)
        self.ref_mask: np.ndarray | None = None
        self.ref_nnz = 0
        self.outside = 0
        if reference is not None:
            self.ref_mask = reference_mask(reference, self.shape)
            self.ref_nnz = int(np.count_nonzero(self.ref_mask))
            self.outside = self.nnz - int(np.count_nonzero(mask[self.ref_mask]))
        self._rice: dict[int, RicePlan] = {}

    @property
    def joint_count(self) -> int:
        """Number of coded positions relative to the reference support."""
        return min(self.nnz, self.ref_nnz - self.nnz)

    def eligible(self, codec: Codec) -> bool:
        """Whether ``codec`` can encode the tensor."""
        return codec.problem(self) is None

    def check_eligible(self, codec: Codec) -> None:
        """Raise ``ValueError`` (saying why) if ``codec`` cannot encode the tensor."""
        problem = codec.problem(self)
        if problem is not None:
            raise ValueError(problem)

    def rice(self, codec: RiceCodec) -> RicePlan:
        """The Rice layout of a Rice codec (computed once per codec)."""
        plan = self._rice.get(codec.wire_id)
        if plan is None:
            plan = self._rice[codec.wire_id] = codec.plan_rice(self)
        return plan

    def nbytes(self, codec: Codec) -> int:
        """Exact payload length with ``codec``."""
        head = codec.header_nbytes(self.ndim)
        return head + codec.planned_block_nbytes(self) + codec.section_nbytes(self)

    def best(self, allow_joint: bool = False) -> Codec:
        """Smallest eligible codec; ``joint`` is charged ``log2 C(m, k) / 8`` position bytes."""
        sizes = {
            codec: self.nbytes(codec) + codec.shared_nbytes(self)
            for codec in REGISTRY
            if (codec.standalone or allow_joint) and self.eligible(codec)
        }
        return min(sizes, key=sizes.__getitem__)

    def encode(self, codec: Codec, dcode: int) -> bytes:
        """The payload with ``codec`` (which must be eligible)."""
        fields, block = codec.encode_block(self)
        vcode = _values.check_format(self.values, self.dtype)
        header = pack_header(codec.wire_id, dcode, vcode, self.shape, codec.value_count(self))
        return b"".join([header, fields, *block, *codec.encode_values(self)])
