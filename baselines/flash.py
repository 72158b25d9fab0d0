"""FLASH (Babakniya et al., TMLR 2023): SparsyFed's re-implementation and the SPDST stage 1.

Both methods use plain layers (``beta = 1``) and end with a mask that is fixed
for the rest of the run (docs/methods.md section 9). Round 1 builds the mask; from round 2
on every client trains under the mask of the model it received and the
server runs plain FedAvg, so all clients upload the same support (IoU 1.0) and
the global mask never changes (zero regrowth).

:class:`Flash` (``method=flash``, SparsyFed's ``fedavgFLASH`` + ``fixed_train``)
    Round 1: clients train for ``method.warmup_epochs`` epochs (replaces
    ``local_epochs`` in round 1 when > 0). With ``method.round1_mask`` (default,
    as the official code, whose round 1 also runs ``fixed_train``) every
    parameter that is zero in the received model keeps a zero gradient and
    stays ``+0.0``, over the same parameters as rounds >= 2: the initial
    model's zero biases and BatchNorm shifts stay zero for the whole run. Then
    the clients globally prune their conv/linear weights to ``S``. The server
    computes, for every floating-point state array ``i``,
    ``k_i = floor(size_i * d_i)`` with ``d_i`` the sample-weighted mean client
    density (fraction of non-zero entries of the uploads, computed in exact
    integer arithmetic), averages the uploads (FedAvg) and keeps the ``k_i``
    largest magnitudes of each array separately (``k_i = size_i`` leaves it
    untouched, so arrays that every client uploaded dense stay dense;
    ``k_i = 0`` keeps the whole average with ``method.zero_k=keep``, the
    default, as the official threshold does, and zeroes it with ``zero``).
    Integer buffers are never pruned.
    Rounds >= 2: mask = ``param != 0`` over **all** parameters (BatchNorm and
    biases included, buffers excluded); gradients are masked (a tensor hook,
    so momentum buffers stay zero there) and the masked entries are re-set to
    ``+0.0`` after every optimizer step; then the global prune to ``S`` (a
    no-op: the mask never holds more than ``(1 - S) N`` entries).

:class:`FlashSPDST` (``method=flash_spdst``, FLASH-ORIG's stage 1 + SPDST)
    The mask covers ``method.mask_layers``: ``conv`` (default, as FLASH-ORIG's
    ResNet-18 mask: every conv weight, stem and shortcut convs included; the
    classifier stays dense) or ``prunable`` (every conv/linear weight). The
    density target ``1 - S`` applies to the masked weights, so with ``conv``
    the model's sparsity over all conv/linear weights is slightly below ``S``.
    Round 1 (stage 1) runs on the clients sampled in round 1 (FLASH-ORIG uses a
    separate ``init_frac`` of the clients). Each trains ``method.stage1_epochs``
    epochs of dynamic sparse training of the masked weights, starting
    from the received (round-0) model under one random mask at density
    ``1 - S`` that all clients share (seeded from the run seed, as FLASH-ORIG
    hands the same mask to every stage-1 client); each layer gets the uniform
    density (exact counts, largest remainders). The mask is updated at the end
    of every epoch but the last (FLASH-ORIG; one update after step
    ``per_epoch // 2 + 1`` when there is one epoch), or every
    ``method.dst_interval`` optimizer steps if set (never after the last step):
    each layer drops the ``ceil(rate * nnz_l)`` active weights of smallest
    magnitude and the same total number is regrown at uniformly random inactive
    positions (seeded by the client's round seed). ``method.redistribution``
    decides how the regrowth is split over the layers: ``magnitude`` (default,
    as FLASH-ORIG) in proportion to the mean magnitude of each layer's active
    weights before the prune, capped by the free positions; ``none``: every
    layer regrows what it lost (layer densities then never change). Candidate
    positions include the ones just pruned; every regrown weight restarts at
    0. ``method.prune_rate_decay``: ``linear`` (default, FLASH-ORIG's
    LinearDecay: after step ``t`` of ``T`` the rate is
    ``prune_rate * (1 - t / T)``) or ``constant``. The upload is not pruned
    further with ``conv`` (the mask sets its sparsity; a global Top-K to ``S``
    would cut into the dense classifier and the mask).
    The server then takes the sample-weighted mean number of non-zeros of every
    masked weight in the uploads, rescales these counts so that exactly
    ``N_m - round(S * N_m)`` of the ``N_m`` masked weights are kept in total
    (proportional split with per-layer caps, largest
    remainders), draws a uniformly random mask with exactly that many entries
    per layer, re-initialises the **whole** model (fresh fan-in weights, zero
    biases, default BatchNorm parameters and statistics; seeded from the run
    seed with its own tag, so it differs from the round-0 model) and applies
    the mask. The FedAvg of the stage-1 uploads is discarded, as FLASH-ORIG
    builds a new model. Rounds >= 2: fixed-mask training as in FLASH, but the
    mask covers the masked weights only (the re-initialised biases and
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
import functools
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
ZERO_K = ("keep", "zero")
MASK_LAYERS = ("conv", "prunable")
_CONV_TYPES = (nn.Conv1d, nn.Conv2d)


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


def dst_update_steps(per_epoch: int, epochs: int, interval: int | None) -> frozenset[int]:
    """The optimizer steps (1-based) after which stage 1 updates its mask.

    Parameters
    ----------
    per_epoch : int
        Optimizer steps of one local epoch.
    epochs : int
        Local epochs of stage 1.
    interval : int or None
        ``None`` (FLASH-ORIG): at the end of epochs ``1 .. epochs - 1`` (none
        after the last epoch); with a single epoch, once after step
        ``per_epoch // 2 + 1`` (the original's mid-epoch update). An integer:
        every ``interval`` steps, never after the last step.

    Returns
    -------
    frozenset of int
        The step numbers.

    """
    total = per_epoch * epochs
    if interval is not None:
        return frozenset(range(interval, total, interval))
    if epochs == 1:
        return frozenset({per_epoch // 2 + 1}) if per_epoch > 0 else frozenset()
    return frozenset(e * per_epoch for e in range(1, epochs) if per_epoch > 0)


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
    else ``local_epochs``), ``round1_mask`` (round 1 keeps the received zeros
    at zero, as in the official code) and ``zero_k`` (``keep``: an array whose
    ``k_i`` is 0 keeps its whole FedAvg, as in the official code; ``zero``:
    it is zeroed).
    """

    uses_sparsity = True
    upload_modes = ("weights",)
    option_specs: ClassVar[dict[str, Option]] = {
        "warmup_epochs": Option(int, lambda v: v >= 0, "an integer >= 0", official=1),
        "round1_mask": Option(bool, official=True),
        "zero_k": Option(str, choices=ZERO_K, official="keep"),
    }

    # ----------------------------------------------------------------- client
    def masked_parameters(self, model: nn.Module) -> dict[str, nn.Parameter]:
        """The parameters the fixed mask covers: all of them (BatchNorm and biases included)."""
        return dict(model.named_parameters())

    def train(
        self, model: nn.Module, x: Tensor, y: Tensor, hp: LocalTraining, ctx: RoundContext
    ) -> Metrics:
        """Round 1: stage 1 (:meth:`train_stage1`); later: training under the received mask."""
        if ctx.is_first:
            return self.train_stage1(model, x, y, hp, ctx)
        return self.train_fixed(model, x, y, hp)

    def train_fixed(self, model: nn.Module, x: Tensor, y: Tensor, hp: LocalTraining) -> Metrics:
        """Train with every zero of :meth:`masked_parameters` kept at ``+0.0``."""
        params = self.masked_parameters(model)
        masks = {k: p.detach() != 0 for k, p in params.items()}
        return _run_masked(model, x, y, hp, MaskedParameters(params, masks))

    def train_stage1(
        self, model: nn.Module, x: Tensor, y: Tensor, hp: LocalTraining, ctx: RoundContext
    ) -> Metrics:
        """``warmup_epochs`` (or ``local_epochs``) epochs, masked unless ``round1_mask`` is off."""
        stage1 = dataclasses.replace(hp, epochs=self.options["warmup_epochs"] or hp.epochs)
        if self.options["round1_mask"]:
            return self.train_fixed(model, x, y, stage1)
        return train_sgd(model, x, y, stage1)

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
        """FedAvg, then keep ``floor(size_i * d_i)`` largest magnitudes of every float array.

        An array with ``k_i = 0`` keeps its whole average with ``zero_k=keep``
        (the official partition threshold then selects the smallest value) and
        is zeroed with ``zero_k=zero``.
        """
        new_state = super().aggregate(global_state, updates, ctx)
        floats = [k for k, v in new_state.items() if v.is_floating_point()]
        for key, k in keep_counts(updates, floats).items():
            if k > 0 or self.options["zero_k"] == "zero":
                keep_largest_(new_state[key], k)
        return new_state

    def server_mask_keys(self) -> tuple[str, ...]:
        """The ``state_dict`` keys of :meth:`masked_parameters`."""
        return self.model_spec.parameter_keys


class FlashSPDST(Flash):
    """FLASH-ORIG's stage 1 (dynamic sparse training) and SPDST mask (module docstring).

    Options (``method.*``): ``stage1_epochs``, ``dst_interval`` (steps between
    mask updates; null = at the end of every epoch but the last, as
    FLASH-ORIG), ``prune_rate``, ``prune_rate_decay`` (``linear`` |
    ``constant``), ``redistribution`` (``magnitude`` | ``none``) and
    ``mask_layers`` (``conv``: the conv weights, as FLASH-ORIG; ``prunable``:
    every conv/linear weight).
    """

    option_specs: ClassVar[dict[str, Option]] = {
        "stage1_epochs": Option(int, lambda v: v >= 1, "an integer >= 1", official=10),
        "dst_interval": Option(
            int, lambda v: v >= 1, "null or an integer >= 1", nullable=True, official=None
        ),
        "prune_rate": Option(float, lambda v: 0 <= v <= 1, "a number in [0, 1]", official=0.25),
        "prune_rate_decay": Option(str, choices=DECAYS, official="linear"),
        "redistribution": Option(str, choices=REDISTRIBUTIONS, official="magnitude"),
        "mask_layers": Option(str, choices=MASK_LAYERS, official="conv"),
    }

    def masked_parameters(self, model: nn.Module) -> dict[str, nn.Parameter]:
        """The weights the mask covers: conv layers (``mask_layers=conv``) or all conv/linear."""
        conv_only = self.options["mask_layers"] == "conv"
        return {
            f"{name}.weight": layer.weight
            for name, layer in prunable_layers(model)
            if not conv_only or isinstance(layer, _CONV_TYPES)
        }

    @functools.cached_property
    def _mask_keys(self) -> tuple[str, ...]:
        return tuple(self.masked_parameters(self.model_spec.new_model()))

    def server_mask_keys(self) -> tuple[str, ...]:
        """The ``state_dict`` keys of :meth:`masked_parameters`, in model order."""
        return self._mask_keys

    def keep_total(self, numel: int) -> int:
        """Weights kept at sparsity ``S`` out of ``numel`` (``numel - round(S * numel)``)."""
        return numel - num_to_prune(numel, self.sparsity)

    def upload_sparsity(self, ctx: RoundContext) -> float:
        """``S`` with ``mask_layers=prunable`` (a no-op prune); 0 with ``conv``.

        The mask alone sets the upload's sparsity: a global Top-K to ``S``
        over every conv/linear weight would prune the dense classifier and the
        conv weights the mask keeps.
        """
        return self.sparsity if self.options["mask_layers"] == "prunable" else 0.0

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
        epochs = opts["stage1_epochs"]
        dst = DynamicSparsity(
            params,
            masks,
            prune_rate=opts["prune_rate"],
            update_steps=dst_update_steps(per_epoch, epochs, opts["dst_interval"]),
            total_steps=per_epoch * epochs,
            decay=opts["prune_rate_decay"],
            redistribution=opts["redistribution"],
            generator=torch.Generator().manual_seed(derive_seed(hp.seed, _REGROWTH_TAG)),
        )
        metrics = _run_masked(model, x, y, dataclasses.replace(hp, epochs=epochs), dst)
        return metrics.mean("dst_mask_updates", float(dst.updates))

    # ----------------------------------------------------------------- server
    def build_mask(
        self,
        global_state: Mapping[str, Tensor],
        updates: Sequence[ClientUpdate],
        ctx: RoundContext,
    ) -> State:
        """Rescaled mean layer densities, a random mask with them, a re-initialised model.

        The kept total is ``N_m - round(S * N_m)`` over the ``N_m`` masked
        weights; weights outside the mask (the classifier with
        ``mask_layers=conv``) stay dense.
        """
        keys = self.server_mask_keys()
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
