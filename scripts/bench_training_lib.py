"""Helpers of ``scripts/bench_training.py``: methods built as a run builds them, timed steps.

Every model is built through the method registry (``compose_config`` ->
``load_config`` -> ``build_method`` -> ``prepare_model`` -> ``initialize``),
pruned globally to the sparsity of the upload (the state every round after the
first receives) and trained through the method's own ``train`` hook, so the
hooks of the method (ZeroFL's weight Top-K, FLASH's fixed mask...) run exactly
as in a run. A forward pre-hook on the model stamps the start of every step.
"""

from __future__ import annotations

import itertools
import time
from collections import defaultdict
from dataclasses import dataclass

import torch
from torch import Tensor, nn

from sparsyfed.config import compose_config, load_config
from sparsyfed.core.context import RoundContext
from sparsyfed.core.seeds import SeedStreams
from sparsyfed.core.training import LocalTraining
from sparsyfed.methods import Method, ModelSpec, build_method
from sparsyfed.models import build_model
from sparsyfed.nn.layers import prunable_layers, prunable_weight_names, reset_activation_state
from sparsyfed.sparse.topk import global_magnitude_prune_

#: Benchmark label -> ``method=`` config choice.
METHODS = {
    "dense": "fedavg",
    "powerprop": "sparsyfed_na",
    "sparsyfed": "sparsyfed",
    "zerofl": "zerofl",
    "topk": "topk",
    "flash": "flash",
}
#: ``--model`` -> (``model=`` config choice, ``dataset=`` choice, sample shape).
MODELS = {
    "cnn": ("uniform_cnn", "mnist1d", (1, 40)),
    "resnet18": ("resnet18_cifar", "cifar10", (3, 32, 32)),
}


@dataclass
class Bench:
    """One method's model, ready to be timed."""

    label: str
    method: Method
    model: nn.Module
    state: dict[str, Tensor]


def build(label: str, model_key: str, sparsity: float, seed: int = 0) -> Bench:
    """Build, initialise and prune the model of ``label`` as a run does for round 2."""
    model_name, dataset, shape = MODELS[model_key]
    overrides = [f"method={METHODS[label]}", f"model={model_name}", f"dataset={dataset}"]
    if label != "dense":
        overrides.append(f"sparsity={sparsity}")
    cfg = load_config(compose_config(overrides))
    method = build_method(cfg)

    def new_model() -> nn.Module:
        return method.prepare_model(build_model(model_name, {}, shape, 10))

    model = new_model()
    method.setup(
        ModelSpec(
            prunable_keys=tuple(prunable_weight_names(model)),
            parameter_keys=tuple(n for n, _ in model.named_parameters()),
            new_model=new_model,
        )
    )
    method.initialize(model, torch.Generator().manual_seed(seed))
    if label != "dense":
        with torch.no_grad():
            global_magnitude_prune_([m.weight for _, m in prunable_layers(model)], sparsity)
    state = {k: v.clone() for k, v in model.state_dict().items()}
    return Bench(label, method, model, state)


def train_round(bench: Bench, x: Tensor, y: Tensor, batch: int) -> list[float]:
    """Run one local round (round 2, state reloaded) and return its step durations (s)."""
    model = bench.model
    model.load_state_dict(bench.state)
    reset_activation_state(model)
    stamps: list[float] = []

    def stamp(module: nn.Module, args: tuple) -> None:
        if module.training:
            stamps.append(time.perf_counter())

    handle = model.register_forward_pre_hook(stamp)
    hp = LocalTraining(lr=0.05, batch_size=batch, seed=1)
    ctx = RoundContext(round=2, total_rounds=10, lr=0.05, seeds=SeedStreams(0))
    try:
        bench.method.train(model, x, y, hp, ctx)
        stamps.append(time.perf_counter())
    finally:
        handle.remove()
    return [b - a for a, b in itertools.pairwise(stamps)]


@torch.no_grad()
def eval_time(bench: Bench, x: Tensor, reps: int) -> float:
    """Median time (s) of one eval-mode forward on ``x``."""
    bench.model.eval()
    times = []
    for _ in range(reps):
        start = time.perf_counter()
        bench.model(x)
        times.append(time.perf_counter() - start)
    return sorted(times)[len(times) // 2]


#: Profiler range or op name -> breakdown group.
GROUPS = {
    "sparsyfed::powerprop": "powerprop",
    "sparsyfed::topk_threshold": "threshold",
    "sparsyfed::act_mask": "act mask",
    "sparsyfed::act_stats": "act nnz",
    "sparsyfed::weight_sparsity": "weight sparsity",
    "sparsyfed::weight_topk": "weight top-k",
    "aten::convolution_backward": "conv backward",
    "aten::mkldnn_convolution": "conv forward",
}


def breakdown(bench: Bench, x: Tensor, y: Tensor, batch: int) -> dict[str, float]:
    """CPU ms per step of the groups of :data:`GROUPS` over one profiled round.

    The ``sparsyfed::`` groups are the ranges of ``sparsyfed/nn`` (their CPU
    time with children), the conv groups the ops' own time; ``step`` is the
    profiled step time, so the rest is BatchNorm, ReLU, the optimizer and the
    autograd engine.
    """
    from torch.profiler import ProfilerActivity, profile

    train_round(bench, x, y, batch)  # warm
    with profile(activities=[ProfilerActivity.CPU]) as prof:
        durations = train_round(bench, x, y, batch)
    steps = len(durations)
    out: dict[str, float] = defaultdict(float)
    for event in prof.key_averages():
        group = GROUPS.get(event.key)
        if group is not None:
            total = (
                event.cpu_time_total
                if event.key.startswith("sparsyfed::")
                else event.self_cpu_time_total
            )
            out[group] += total / 1e3 / steps
    out["step"] = 1e3 * sum(durations) / steps
    return dict(out)
