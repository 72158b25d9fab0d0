"""FLASH (Babakniya et al., TMLR 2023): SparsyFed's re-implementation and the SPDST stage 1.

Both methods use plain layers (``beta = 1``) and end with a mask that is fixed
for the rest of the run (docs/methods.md section 9). Round 1 builds the mask; from round 2
on every client trains under the mask of the model it received and the
server runs plain FedAvg, so all clients upload the same support (IoU 1.0) and
the global mask never changes (zero regrowth).

:class:`Flash` (``method=flash``, SparsyFed's ``fedavgFLASH`` + ``fixed_train``)
    Round 1: clients train dense for ``method.warmup_epochs`` epochs (replaces
    ``local_epochs`` in round 1 when > 0), then globally prune their conv/linear
    weights to ``S``. The server computes, for every floating-point state
    array ``i``, ``k_i = floor(size_i * d_i)`` with ``d_i`` the sample-weighted
    mean client density (fraction of non-zero entries of the uploads, computed
    in exact integer arithmetic), averages the uploads (FedAvg) and keeps the
    ``k_i`` largest magnitudes of each array separately (``k_i = 0`` zeroes the
    array, ``k_i = size_i`` leaves it untouched, so arrays that every client
    uploaded dense stay dense). Integer buffers are never pruned.
    Rounds >= 2: mask = ``param != 0`` over **all** parameters (BatchNorm and
    biases included, buffers excluded); gradients are masked (a tensor hook,
    so momentum buffers stay zero there) and the masked entries are re-set to
    ``+0.0`` after every optimizer step; then the global prune to ``S`` (a
    no-op: the mask never holds more than ``(1 - S) N`` entries).

:class:`FlashSPDST` (``method=flash_spdst``, FLASH-ORIG's stage 1 + SPDST)
    Round 1 (stage 1) runs on the clients sampled in round 1 (FLASH-ORIG uses a
    separate ``init_frac`` of the clients). Each trains ``method.stage1_epochs``
    epochs of dynamic sparse training of the conv/linear weights, starting
    from the received (round-0) model under one random mask at density
    ``1 - S`` that all clients share (seeded from the run seed, as FLASH-ORIG
    hands the same mask to every stage-1 client); each layer gets the uniform
    density (exact counts, largest remainders). Every ``method.dst_interval``
    optimizer steps (default: twice per epoch; never after the last step) each
    layer drops the ``round(rate * nnz_l)`` active weights of smallest
    magnitude and the same total number is regrown at uniformly random inactive
    positions (seeded by the client's round seed). ``method.redistribution``
    decides how the regrowth is split over the layers: ``magnitude`` (default,
    as FLASH-ORIG) in proportion to the mean magnitude of each layer's active
    weights before the prune, capped by the free positions; ``none``: every
    layer regrows what it lost (layer densities then never change). Candidate
    positions include the ones just pruned; every regrown weight restarts at
    0. ``method.prune_rate_decay``: ``constant`` (default) or ``linear`` (the
    rate decays to 0 over the local steps, as FLASH-ORIG's LinearDecay).
    The server then takes the sample-weighted mean number of non-zeros of every
    conv/linear weight in the uploads, rescales these counts so that exactly
    ``N - round(S * N)`` weights are kept in total (the same count as every
    other method's prune; proportional split with per-layer caps, largest
    remainders), draws a uniformly random mask with exactly that many entries
    per layer, re-initialises the **whole** model (fresh fan-in weights, zero
    biases, default BatchNorm parameters and statistics; seeded from the run
    seed with its own tag, so it differs from the round-0 model) and applies
    the mask. The FedAvg of the stage-1 uploads is discarded, as FLASH-ORIG
    builds a new model. Rounds >= 2: fixed-mask training as in FLASH, but the
    mask covers the conv/linear weights only (the re-initialised biases and
    BatchNorm shifts are exactly zero and would otherwise be frozen).

Under ``server_lr != 1`` or server momentum the base aggregation keeps the
global model inside the union of the uploads' supports over the keys of the
fixed mask (:meth:`Flash.server_mask_keys`); in rounds >= 2 that union is the
mask of the model the server sent, so the mask still never changes. Both
declare ``upload=weights`` only: FLASH reads its mask from the uploaded
weights. Round 1 is told by the round context, not by a metric.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from fractions import Fraction
from typing import ClassVar

import torch
from torch import Tensor, nn

from sparsyfed.core.context import RoundContext
from sparsyfed.core.seeds import derive_seed
from sparsyfed.core.training import LocalTraining, steps_per_epoch, train_sgd
from sparsyfed.methods.base import ClientUpdate, Method, Option, State
from sparsyfed.metrics.values import Metrics
from sparsyfed.nn.init import init_weights
from sparsyfed.nn.layers import prunable_layers
from sparsyfed.sparse.masks import (
    DynamicSparsity,
    MaskedParameters,
    allocate_counts,
    keep_largest_,
    random_mask,
)
from sparsyfed.sparse.topk import num_to_prune

# Tags of the method's seed streams (RoundContext.seeds.method(tag)): one per purpose.
_STAGE1_MASK_TAG = 0xF1A501
_SERVER_MASK_TAG = 0xF1A502
_REINIT_TAG = 0xF1A503
_REGROWTH_TAG = 0xF1A504

DECAYS = ("constant", "linear")
REDISTRIBUTIONS = ("magnitude", "none")


def keep_counts(updates: Sequence[ClientUpdate], keys: Sequence[str]) -> dict[str, int]:
    """Return ``floor(size_i * d_i)`` per key, ``d_i`` the sample-weighted mean client density.

    Computed exactly as ``(sum_k n_k nnz_ik) // sum_k n_k``, so a density that
    is an exact fraction of the size never loses an entry to float rounding.
    """
    total = sum(int(u.num_examples) for u in updates)
    if total <= 0:
        raise ValueError("client sample counts must sum to a positive number")
    return {
        key: sum(int(u.num_examples) * int(torch.count_nonzero(u.state[key])) for u in updates)
        // total
        for key in keys
    }


def _run_masked(
    model: nn.Module, x: Tensor, y: Tensor, hp: LocalTraining, masking: MaskedParameters
) -> Metrics:
    try:
        return train_sgd(model, x, y, hp, after_step=masking.after_step)
    finally:
        masking.close()


class Flash(Method):
    """FLASH as re-implemented by SparsyFed (see the module docstring).

    Options (``method.*``): ``warmup_epochs`` (round-1 local epochs when > 0,
    else ``local_epochs``).
    """

    uses_sparsity = True
    upload_modes = ("weights",)
    option_specs: ClassVar[dict[str, Option]] = {
        "warmup_epochs": Option(int, lambda v: v >= 0, "an integer >= 0")
    }
    #: Which parameters the fixed mask of rounds >= 2 covers: ``all`` or ``prunable``.
    mask_scope = "all"

    # ----------------------------------------------------------------- client
    def masked_parameters(self, model: nn.Module) -> dict[str, nn.Parameter]:
        """The parameters that the fixed mask of rounds >= 2 covers."""
        if self.mask_scope == "all":
            return dict(model.named_parameters())
        return {f"{name}.weight": layer.weight for name, layer in prunable_layers(model)}

    def train(
        self, model: nn.Module, x: Tensor, y: Tensor, hp: LocalTraining, ctx: RoundContext
    ) -> Metrics:
        """Round 1: stage 1 (dense warm-up); later: training under the received mask."""
        if ctx.is_first:
            return self.train_stage1(model, x, y, hp, ctx)
        params = self.masked_parameters(model)
        masks = {k: p.detach() != 0 for k, p in params.items()}
        return _run_masked(model, x, y, hp, MaskedParameters(params, masks))

    def train_stage1(
        self, model: nn.Module, x: Tensor, y: Tensor, hp: LocalTraining, ctx: RoundContext
    ) -> Metrics:
        """Dense local training for ``warmup_epochs`` (or ``local_epochs``) epochs."""
        epochs = self.options["warmup_epochs"] or hp.epochs
        return train_sgd(model, x, y, dataclasses.replace(hp, epochs=epochs))

    # ----------------------------------------------------------------- server
    def aggregate(
        self,
        global_state: Mapping[str, Tensor],
        updates: Sequence[ClientUpdate],
        ctx: RoundContext,
    ) -> State:
        """Round 1: build the mask (:meth:`build_mask`); later: FedAvg under the fixed mask."""
        if ctx.is_first:
            return self.build_mask(global_state, updates, ctx)
        return super().aggregate(global_state, updates, ctx)

    def build_mask(
        self,
        global_state: Mapping[str, Tensor],
        updates: Sequence[ClientUpdate],
        ctx: RoundContext,
    ) -> State:
        """FedAvg, then keep ``floor(size_i * d_i)`` largest magnitudes of every float array."""
        new_state = super().aggregate(global_state, updates, ctx)
        floats = [k for k, v in new_state.items() if v.is_floating_point()]
        for key, k in keep_counts(updates, floats).items():
            keep_largest_(new_state[key], k)
        return new_state

    def server_mask_keys(self) -> tuple[str, ...]:
        """The keys of the fixed mask: every parameter (``flash``) or the prunable weights."""
        spec = self.model_spec
        return spec.parameter_keys if self.mask_scope == "all" else spec.prunable_keys


class FlashSPDST(Flash):
    """FLASH-ORIG's stage 1 (dynamic sparse training) and SPDST mask (module docstring).

    Options (``method.*``): ``stage1_epochs``, ``dst_interval`` (steps between
    mask updates; null = twice per epoch), ``prune_rate``, ``prune_rate_decay``
    (``constant`` | ``linear``) and ``redistribution`` (``magnitude`` | ``none``).
    """

    mask_scope = "prunable"
    option_specs: ClassVar[dict[str, Option]] = {
        "stage1_epochs": Option(int, lambda v: v >= 1, "an integer >= 1"),
        "dst_interval": Option(int, lambda v: v >= 1, "null or an integer >= 1", nullable=True),
        "prune_rate": Option(float, lambda v: 0 <= v <= 1, "a number in [0, 1]"),
        "prune_rate_decay": Option(str, choices=DECAYS),
        "redistribution": Option(str, choices=REDISTRIBUTIONS),
    }

    def keep_total(self, numel: int) -> int:
        """Weights kept at sparsity ``S`` out of ``numel`` (``numel - round(S * numel)``)."""
        return numel - num_to_prune(numel, self.sparsity)

    # ----------------------------------------------------------------- client
    def train_stage1(
        self, model: nn.Module, x: Tensor, y: Tensor, hp: LocalTraining, ctx: RoundContext
    ) -> Metrics:
        """Dynamic sparse training from the shared random mask at density ``1 - S``."""
        opts = self.options
        params = self.masked_parameters(model)
        sizes = {k: p.numel() for k, p in params.items()}
        counts = allocate_counts(sizes, sizes, self.keep_total(sum(sizes.values())))
        generator = torch.Generator().manual_seed(ctx.seeds.method(_STAGE1_MASK_TAG))
        masks = {k: random_mask(p.shape, counts[k], generator) for k, p in params.items()}
        per_epoch = steps_per_epoch(int(x.shape[0]), hp.batch_size)
        dst = DynamicSparsity(
            params,
            masks,
            prune_rate=opts["prune_rate"],
            interval=opts["dst_interval"] or max(1, per_epoch // 2),
            total_steps=per_epoch * opts["stage1_epochs"],
            decay=opts["prune_rate_decay"],
            redistribution=opts["redistribution"],
            generator=torch.Generator().manual_seed(derive_seed(hp.seed, _REGROWTH_TAG)),
        )
        stage1 = dataclasses.replace(hp, epochs=opts["stage1_epochs"])
        metrics = _run_masked(model, x, y, stage1, dst)
        return metrics.mean("dst_mask_updates", float(dst.updates))

    # ----------------------------------------------------------------- server
    def build_mask(
        self,
        global_state: Mapping[str, Tensor],
        updates: Sequence[ClientUpdate],
        ctx: RoundContext,
    ) -> State:
        """Rescaled mean layer densities, a random mask with them, a re-initialised model."""
        keys = self.model_spec.prunable_keys
        total = sum(int(u.num_examples) for u in updates)
        sizes = {k: global_state[k].numel() for k in keys}
        mean_nnz = {
            k: Fraction(
                sum(int(u.num_examples) * int(torch.count_nonzero(u.state[k])) for u in updates),
                total,
            )
            for k in keys
        }
        counts = allocate_counts(mean_nnz, sizes, self.keep_total(sum(sizes.values())))
        model = self.model_spec.new_model()
        init_weights(model, torch.Generator().manual_seed(ctx.seeds.method(_REINIT_TAG)))
        fresh = model.state_dict()
        generator = torch.Generator().manual_seed(ctx.seeds.method(_SERVER_MASK_TAG))
        for key in keys:
            mask = random_mask(fresh[key].shape, counts[key], generator)
            fresh[key].masked_fill_(~mask, 0.0)
        return {
            k: fresh[k].detach().clone().to(global_state[k].device, global_state[k].dtype)
            for k in global_state
        }
