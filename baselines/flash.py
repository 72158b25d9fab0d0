"""FLASH (Babakniya et al., TMLR 2023): SparsyFed's re-implementation and the SPDST stage 1.

Both methods use plain layers (``beta = 1``) and end with a mask that is fixed
for the rest of the run (METHOD.md 7.4). Round 1 builds the mask; from round 2
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

Server momentum (``server_momentum > 0``) would carry dense velocity into
masked positions, so in rounds >= 2 the server re-applies the mask of the
model it sent. ``upload=delta_topk`` is rejected: FLASH reads its mask from
the uploaded weights.
"""

from __future__ import annotations

import copy
import dataclasses
import functools
import math
from collections.abc import Mapping, Sequence
from fractions import Fraction
from typing import Any

import torch
from torch import Tensor, nn

from sparsyfed.config import ConfigError
from sparsyfed.core.task import derive_seed
from sparsyfed.core.training import LocalTraining, train_sgd
from sparsyfed.methods.base import ClientUpdate, Method, State
from sparsyfed.nn.init import init_weights
from sparsyfed.nn.layers import prunable_layers, prunable_weight_names
from sparsyfed.sparse.topk import num_to_prune

#: Client metric that marks an update of round 1 (the server builds the mask from it).
STAGE1_METRIC = "flash_stage1"

# Tags for derive_seed(run_seed, tag): one random stream per purpose.
_STAGE1_MASK_TAG = 0xF1A501
_SERVER_MASK_TAG = 0xF1A502
_REINIT_TAG = 0xF1A503
_REGROWTH_TAG = 0xF1A504

DECAYS = ("constant", "linear")
REDISTRIBUTIONS = ("magnitude", "none")


# --------------------------------------------------------------------- helpers
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


@torch.no_grad()
def keep_largest_(t: Tensor, k: int) -> Tensor:
    """Keep exactly the ``k`` largest magnitudes of ``t`` (any tie order), zero the rest."""
    n = t.numel()
    if k >= n:
        return t
    if k <= 0:
        return t.zero_()
    keep = torch.zeros(n, dtype=torch.bool, device=t.device)
    keep[torch.topk(t.detach().abs().flatten(), k, sorted=False).indices] = True
    return t.masked_fill_(~keep.view_as(t), 0.0)  # +0.0, never -0.0


def allocate_counts(
    targets: Mapping[str, float | Fraction], caps: Mapping[str, int], total: int
) -> dict[str, int]:
    """Split ``total`` into integers proportional to ``targets``, each at most its cap.

    Keys whose proportional share reaches their cap get the cap and the rest is
    re-split among the others; the last split takes floors and hands out the
    remainder by largest fractional part (first key on ties). Exact rational
    arithmetic, so the counts sum to ``min(total, sum(caps))``. Keys with no
    target weight share in proportion to their caps if nothing else is left.
    """
    remaining = min(int(total), sum(int(c) for c in caps.values()))
    counts = dict.fromkeys(targets, 0)
    free = [k for k in targets if caps[k] > 0]
    share: dict[str, Fraction] = {}
    while free and remaining > 0:
        weights = {k: Fraction(max(targets[k], 0)) for k in free}
        if sum(weights.values()) == 0:
            weights = {k: Fraction(caps[k]) for k in free}
        norm = sum(weights.values())
        share = {k: remaining * weights[k] / norm for k in free}
        full = [k for k in free if share[k] >= caps[k]]
        if not full:
            floors = {k: math.floor(share[k]) for k in free}
            left = remaining - sum(floors.values())
            by_remainder = sorted(free, key=lambda k: share[k] - floors[k], reverse=True)
            for k in by_remainder[:left]:
                floors[k] += 1
            counts.update(floors)
            break
        for k in full:
            counts[k] = int(caps[k])
            remaining -= int(caps[k])
            free.remove(k)
    return counts


def random_mask(shape: torch.Size, count: int, generator: torch.Generator) -> Tensor:
    """A boolean mask of ``shape`` with exactly ``count`` uniformly random True entries."""
    n = math.prod(shape)
    mask = torch.zeros(n, dtype=torch.bool)
    mask[torch.randperm(n, generator=generator)[:count]] = True
    return mask.view(shape)


def steps_per_epoch(num_samples: int, batch_size: int) -> int:
    """Optimizer steps of one epoch of :func:`train_sgd` (a last batch of one is skipped)."""
    full, rest = divmod(num_samples, batch_size)
    return full + (1 if rest >= 2 else 0) if batch_size >= 2 else 0


def _mask_grad(dead: Tensor, grad: Tensor) -> Tensor:
    return grad.masked_fill(dead, 0.0)


class MaskedParameters:
    """Keep parameters at ``+0.0`` outside a mask during :func:`train_sgd`.

    A tensor hook zeroes their gradients (before weight decay and momentum, so
    the optimizer state stays zero there too) and :meth:`after_step` re-sets
    the masked values after every optimizer step. Call :meth:`close` after
    training to remove the hooks.

    Parameters
    ----------
    params : mapping of str to Parameter
        The parameters to mask.
    masks : mapping of str to Tensor
        Boolean masks (True = trainable), one per parameter.

    """

    def __init__(self, params: Mapping[str, nn.Parameter], masks: Mapping[str, Tensor]) -> None:
        self.params = dict(params)
        # Inverted masks, updated in place by subclasses (the hooks hold them).
        self.dead = {k: ~masks[k].to(p.device, torch.bool) for k, p in self.params.items()}
        self._handles = [
            p.register_hook(functools.partial(_mask_grad, self.dead[k]))
            for k, p in self.params.items()
        ]
        self.apply()

    @torch.no_grad()
    def apply(self) -> None:
        """Set every masked entry to ``+0.0``."""
        for key, param in self.params.items():
            param.masked_fill_(self.dead[key], 0.0)

    def after_step(self, model: nn.Module) -> None:
        """The ``train_sgd`` callback."""
        self.apply()

    def close(self) -> None:
        """Remove the gradient hooks."""
        for handle in self._handles:
            handle.remove()
        self._handles = []


class DynamicSparsity(MaskedParameters):
    """Prune-and-regrow dynamic sparse training of masked parameters (SPDST stage 1).

    Every ``interval`` optimizer steps (never after the last one) each tensor
    drops its ``round(rate * nnz)`` active entries of smallest magnitude; the
    same total is regrown at random inactive positions, split over the tensors
    by ``redistribution`` (see the module docstring). Regrown entries start at 0.
    """

    def __init__(
        self,
        params: Mapping[str, nn.Parameter],
        masks: Mapping[str, Tensor],
        *,
        prune_rate: float,
        interval: int,
        total_steps: int,
        decay: str = "constant",
        redistribution: str = "magnitude",
        generator: torch.Generator,
    ) -> None:
        super().__init__(params, masks)
        self.prune_rate = prune_rate
        self.interval = max(1, int(interval))
        self.total_steps = int(total_steps)
        self.decay = decay
        self.redistribution = redistribution
        self.generator = generator
        self.step = 0
        self.updates = 0

    def after_step(self, model: nn.Module) -> None:
        """Re-apply the mask; update it every ``interval`` steps."""
        self.apply()
        self.step += 1
        if self.step % self.interval == 0 and self.step < self.total_steps:
            rate = self.prune_rate
            if self.decay == "linear":
                rate *= 1.0 - self.step / self.total_steps
            self.update_masks(rate)

    @torch.no_grad()
    def update_masks(self, rate: float) -> None:
        """Magnitude-prune ``rate`` of every tensor's active entries, regrow at random."""
        removed: dict[str, int] = {}
        score: dict[str, Fraction] = {}
        room: dict[str, int] = {}
        for key, param in self.params.items():
            dead = self.dead[key].view(-1)
            mags = param.detach().abs().flatten()
            alive = ~dead
            nnz = int(alive.sum())
            score[key] = Fraction(float(mags[alive].mean())) if nnz else Fraction(0)
            r = min(nnz, round(rate * nnz))
            if r:
                candidates = mags.masked_fill(dead, math.inf)
                dead[torch.topk(candidates, r, largest=False, sorted=False).indices] = True
            removed[key] = r
            room[key] = int(dead.sum())
        self.apply()  # pruned weights become 0, so a re-picked one restarts at 0
        total = sum(removed.values())
        grow = removed if self.redistribution == "none" else allocate_counts(score, room, total)
        for key, count in grow.items():
            if count:
                dead = self.dead[key].view(-1)
                positions = torch.nonzero(dead).flatten()
                pick = torch.randperm(positions.numel(), generator=self.generator)[:count]
                dead[positions[pick.to(positions.device)]] = False
        self.updates += 1


def _run_masked(
    model: nn.Module, x: Tensor, y: Tensor, hp: LocalTraining, masking: MaskedParameters
) -> dict[str, float]:
    try:
        return train_sgd(model, x, y, hp, after_step=masking.after_step)
    finally:
        masking.close()


def _option(options: Mapping[str, Any], key: str, default: Any, kind: type, check, allowed: str):
    value = options.get(key, default)
    if value is None:
        return None
    try:
        converted = kind(value)
    except (TypeError, ValueError):
        converted = None
    if kind is int and converted is not None and converted != value:
        converted = None  # 1.5 is not an integer
    if converted is None or isinstance(value, bool) or not check(converted):
        raise ConfigError(f"method.{key}={value!r} is not allowed: {allowed}")
    return converted


# --------------------------------------------------------------------- methods
class Flash(Method):
    """FLASH as re-implemented by SparsyFed (see the module docstring).

    Options read from ``cfg["method"]``: ``warmup_epochs`` (default 1; round-1
    local epochs when > 0, else ``local_epochs``).
    """

    uses_sparsity = True
    #: Which parameters the fixed mask of rounds >= 2 covers: ``all`` or ``prunable``.
    mask_scope = "all"

    def __init__(self, cfg: Mapping[str, Any]) -> None:
        super().__init__(cfg)
        self.beta = 1.0
        upload = str(cfg.get("upload", "weights"))
        if upload != "weights":
            raise ConfigError(
                f"upload={upload!r} is not allowed with method={self.name}: FLASH reads its "
                "mask from the uploaded weights; use upload=weights"
            )
        self.warmup_epochs = _option(
            self.options, "warmup_epochs", 1, int, lambda v: v >= 0, "an integer >= 0"
        )
        self._param_keys: list[str] | None = None
        self._prunable_keys: list[str] | None = None

    def prepare_model(self, model: nn.Module) -> nn.Module:
        """Plain layers."""
        return model

    def initialize(self, model: nn.Module, generator: torch.Generator) -> nn.Module:
        """Fan-in initialisation; remembers the parameter names (server side)."""
        self._param_keys = [name for name, _ in model.named_parameters()]
        self._prunable_keys = prunable_weight_names(model)
        return super().initialize(model, generator)

    # ----------------------------------------------------------------- client
    def masked_parameters(self, model: nn.Module) -> dict[str, nn.Parameter]:
        """The parameters that the fixed mask of rounds >= 2 covers."""
        if self.mask_scope == "all":
            return dict(model.named_parameters())
        return {f"{name}.weight": layer.weight for name, layer in prunable_layers(model)}

    def train(self, model: nn.Module, x: Tensor, y: Tensor, hp: LocalTraining) -> dict[str, float]:
        """Round 1: stage 1 (dense warm-up); later: training under the received mask."""
        if hp.server_round == 1:
            return self.train_stage1(model, x, y, hp) | {STAGE1_METRIC: 1.0}
        params = self.masked_parameters(model)
        masks = {k: p.detach() != 0 for k, p in params.items()}
        return _run_masked(model, x, y, hp, MaskedParameters(params, masks))

    def train_stage1(
        self, model: nn.Module, x: Tensor, y: Tensor, hp: LocalTraining
    ) -> dict[str, float]:
        """Dense local training for ``warmup_epochs`` (or ``local_epochs``) epochs."""
        epochs = self.warmup_epochs or hp.epochs
        return train_sgd(model, x, y, dataclasses.replace(hp, epochs=epochs))

    # ----------------------------------------------------------------- server
    def aggregate(
        self, global_state: Mapping[str, Tensor], updates: Sequence[ClientUpdate]
    ) -> State:
        """Round 1: build the mask (:meth:`build_mask`); later: FedAvg under the fixed mask."""
        if any(u.metrics.get(STAGE1_METRIC) for u in updates):
            return self.build_mask(global_state, updates)
        new_state = super().aggregate(global_state, updates)
        if getattr(self, "server_momentum", 0.0) > 0:
            for key in self._server_mask_keys(global_state):
                new_state[key] = new_state[key].masked_fill(global_state[key] == 0, 0.0)
        return new_state

    def build_mask(
        self, global_state: Mapping[str, Tensor], updates: Sequence[ClientUpdate]
    ) -> State:
        """FedAvg, then keep ``floor(size_i * d_i)`` largest magnitudes of every float array."""
        new_state = super().aggregate(global_state, updates)
        floats = [k for k, v in new_state.items() if v.is_floating_point()]
        for key, k in keep_counts(updates, floats).items():
            keep_largest_(new_state[key], k)
        return new_state

    def _server_mask_keys(self, state: Mapping[str, Tensor]) -> list[str]:
        keys = self._param_keys if self.mask_scope == "all" else self._prunable_keys
        if keys is None:  # initialize() not seen: every float array
            keys = [k for k, v in state.items() if v.is_floating_point()]
        return keys


class FlashSPDST(Flash):
    """FLASH-ORIG's stage 1 (dynamic sparse training) and SPDST mask (module docstring).

    Options read from ``cfg["method"]``: ``stage1_epochs`` (10), ``dst_interval``
    (steps between mask updates; null = twice per epoch), ``prune_rate`` (0.25),
    ``prune_rate_decay`` (``constant`` | ``linear``) and ``redistribution``
    (``magnitude`` | ``none``).
    """

    mask_scope = "prunable"

    def __init__(self, cfg: Mapping[str, Any]) -> None:
        super().__init__(cfg)
        opts = self.options
        self.stage1_epochs = _option(
            opts, "stage1_epochs", 10, int, lambda v: v >= 1, "an integer >= 1"
        )
        self.dst_interval = _option(
            opts, "dst_interval", None, int, lambda v: v >= 1, "null or an integer >= 1"
        )
        self.prune_rate = _option(
            opts, "prune_rate", 0.25, float, lambda v: 0 <= v <= 1, "a number in [0, 1]"
        )
        self.decay = str(opts.get("prune_rate_decay", "constant"))
        if self.decay not in DECAYS:
            raise ConfigError(
                f"method.prune_rate_decay={self.decay!r} is not allowed: choose one of {DECAYS}"
            )
        self.redistribution = str(opts.get("redistribution", "magnitude"))
        if self.redistribution not in REDISTRIBUTIONS:
            raise ConfigError(
                f"method.redistribution={self.redistribution!r} is not allowed: "
                f"choose one of {REDISTRIBUTIONS}"
            )
        self.seed = int(cfg.get("seed", 0))
        self._template: nn.Module | None = None

    def initialize(self, model: nn.Module, generator: torch.Generator) -> nn.Module:
        """Keep an uninitialised copy of the model for the re-initialisation after round 1."""
        self._template = copy.deepcopy(model).cpu()
        return super().initialize(model, generator)

    def keep_total(self, numel: int) -> int:
        """Weights kept at sparsity ``S`` out of ``numel`` (``numel - round(S * numel)``)."""
        return numel - num_to_prune(numel, self.sparsity)

    # ----------------------------------------------------------------- client
    def train_stage1(
        self, model: nn.Module, x: Tensor, y: Tensor, hp: LocalTraining
    ) -> dict[str, float]:
        """Dynamic sparse training from the shared random mask at density ``1 - S``."""
        params = self.masked_parameters(model)
        sizes = {k: p.numel() for k, p in params.items()}
        counts = allocate_counts(sizes, sizes, self.keep_total(sum(sizes.values())))
        generator = torch.Generator().manual_seed(derive_seed(self.seed, _STAGE1_MASK_TAG))
        masks = {k: random_mask(p.shape, counts[k], generator) for k, p in params.items()}
        per_epoch = steps_per_epoch(int(x.shape[0]), hp.batch_size)
        dst = DynamicSparsity(
            params,
            masks,
            prune_rate=self.prune_rate,
            interval=self.dst_interval or max(1, per_epoch // 2),
            total_steps=per_epoch * self.stage1_epochs,
            decay=self.decay,
            redistribution=self.redistribution,
            generator=torch.Generator().manual_seed(derive_seed(hp.seed, _REGROWTH_TAG)),
        )
        metrics = _run_masked(model, x, y, dataclasses.replace(hp, epochs=self.stage1_epochs), dst)
        metrics["dst_mask_updates"] = float(dst.updates)
        return metrics

    # ----------------------------------------------------------------- server
    def build_mask(
        self, global_state: Mapping[str, Tensor], updates: Sequence[ClientUpdate]
    ) -> State:
        """Rescaled mean layer densities, a random mask with them, a re-initialised model."""
        if self._template is None or self._prunable_keys is None:
            raise RuntimeError(
                "flash_spdst needs initialize(model, generator) on the server before round 1"
            )
        keys = self._prunable_keys
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
        model = copy.deepcopy(self._template)
        init_weights(model, torch.Generator().manual_seed(derive_seed(self.seed, _REINIT_TAG)))
        fresh = model.state_dict()
        generator = torch.Generator().manual_seed(derive_seed(self.seed, _SERVER_MASK_TAG))
        for key in keys:
            mask = random_mask(fresh[key].shape, counts[key], generator)
            fresh[key].masked_fill_(~mask, 0.0)
        return {
            k: fresh[k].detach().clone().to(global_state[k].device, global_state[k].dtype)
            for k in global_state
        }
