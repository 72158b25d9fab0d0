"""Inference of a sparse model: dense torch against CSR weight products, measured side by side.

FedSparsify measures inference as the number of batches a model processes in a
fixed time (its inference benchmark exports the model to ONNX and runs
``deepsparse.benchmark -t SECONDS``). Here the executions are torch on
this machine:

- **dense**: the model with Powerprop folded into plain layers (the effective
  weight ``sign(v)|v|^beta`` computed once, as a deployment would), so both
  executions compute the same products;
- **sparse**: every conv/linear layer as a CSR weight times a dense matrix
  (``torch.sparse.mm``; a convolution as the CSR weight times its im2col
  matrix, then reshaped to the output), the layers torch cannot run that way
  (grouped convolutions, string padding, non-zero padding modes) left dense;
- **best**: per layer the faster of the two, timed on that layer's input.

Every sparse layer's output is checked against the dense layer's. Flower-free.
"""

from __future__ import annotations

import copy
import statistics
import time
import warnings
from collections.abc import Callable, Mapping
from dataclasses import dataclass

import torch
from torch import Tensor, nn
from torch.nn import functional as F

from sparsyfed.nn.layers import PRUNABLE_TYPES, SparseLayerMixin, prunable_layers

POLICIES = ("best", "sparse", "dense")


def fold_powerprop(model: nn.Module) -> nn.Module:
    """A copy of ``model`` in eval mode with every Powerprop layer a plain one (effective weight)."""
    out = copy.deepcopy(model).eval()
    with torch.no_grad():
        for _, module in prunable_layers(out):
            if isinstance(module, SparseLayerMixin):
                weight = module.effective_weight().detach().clone()
                module.__class__ = next(t for t in PRUNABLE_TYPES if isinstance(module, t))
                module.weight.copy_(weight)
    return out


class CsrLinear(nn.Module):
    """``nn.Linear`` as ``W_csr @ x^T``."""

    def __init__(self, layer: nn.Linear) -> None:
        super().__init__()
        self.weight = layer.weight.detach().to_sparse_csr()
        self.bias = None if layer.bias is None else layer.bias.detach()
        self.in_features = layer.in_features

    def forward(self, x: Tensor) -> Tensor:  # noqa: D102
        flat = x.reshape(-1, self.in_features)
        y = torch.sparse.mm(self.weight, flat.t()).t()
        if self.bias is not None:
            y = y + self.bias
        return y.reshape(*x.shape[:-1], -1)


class CsrConv(nn.Module):
    """A 1-D or 2-D convolution as ``W_csr @ unfold(x)`` (``groups=1``, integer zero padding)."""

    def __init__(self, layer: nn.Conv1d | nn.Conv2d) -> None:
        super().__init__()
        if not csr_supported(layer):
            raise ValueError(f"{type(layer).__name__}: no CSR execution for this convolution")
        self.one_d = isinstance(layer, nn.Conv1d)
        # A (B, C, L) input runs as (B, C, 1, L).
        self.kernel = (1, *layer.kernel_size) if self.one_d else tuple(layer.kernel_size)
        self.stride = (1, *layer.stride) if self.one_d else tuple(layer.stride)
        self.dilation = (1, *layer.dilation) if self.one_d else tuple(layer.dilation)
        self.padding = (0, *layer.padding) if self.one_d else tuple(layer.padding)
        self.out_channels = layer.out_channels
        self.weight = layer.weight.detach().reshape(self.out_channels, -1).to_sparse_csr()
        self.bias = None if layer.bias is None else layer.bias.detach()

    def forward(self, x: Tensor) -> Tensor:  # noqa: D102
        x4 = x.unsqueeze(2) if self.one_d else x
        batch, side = x4.shape[0], x4.shape[2:]
        out = [
            (side[i] + 2 * self.padding[i] - self.dilation[i] * (self.kernel[i] - 1) - 1)
            // self.stride[i]
            + 1
            for i in range(2)
        ]
        cols = F.unfold(x4, self.kernel, self.dilation, self.padding, self.stride)
        flat = cols.transpose(0, 1).reshape(cols.shape[1], -1)
        y = torch.sparse.mm(self.weight, flat).reshape(self.out_channels, batch, *out)
        y = y.transpose(0, 1)
        if self.bias is not None:
            y = y + self.bias.reshape(1, -1, 1, 1)
        # Contiguous NC(H)W, as a dense convolution returns (later layers are slow on strides).
        return (y.squeeze(2) if self.one_d else y).contiguous()


def csr_supported(layer: nn.Module) -> bool:
    """Whether :func:`csr_layer` can run ``layer``."""
    if isinstance(layer, nn.Linear):
        return True
    if isinstance(layer, nn.Conv1d | nn.Conv2d):
        return (
            layer.groups == 1
            and layer.padding_mode == "zeros"
            and not isinstance(layer.padding, str)
        )
    return False


def csr_layer(layer: nn.Module) -> nn.Module:
    """The CSR execution of a conv/linear layer."""
    with warnings.catch_warnings():  # "Sparse CSR tensor support is in beta state"
        warnings.simplefilter("ignore", UserWarning)
        return CsrLinear(layer) if isinstance(layer, nn.Linear) else CsrConv(layer)  # type: ignore[arg-type]


def median_seconds(fn: Callable[[], object], reps: int) -> float:
    """Median wall time of ``fn`` over ``reps`` calls, after one warm-up call."""
    fn()
    times = []
    for _ in range(reps):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


@dataclass(frozen=True)
class LayerChoice:
    """How one conv/linear layer runs in the sparse execution.

    Attributes
    ----------
    name : str
        Module name.
    kind : str
        ``linear``, ``conv1d`` or ``conv2d``.
    density : float
        Non-zero fraction of its (effective) weight.
    dense_seconds, sparse_seconds : float
        Median time of the layer alone on its input (``sparse_seconds`` is
        ``None`` when the layer has no CSR execution).
    sparse : bool
        Whether the execution uses the CSR layer.

    """

    name: str
    kind: str
    density: float
    dense_seconds: float
    sparse_seconds: float | None
    sparse: bool


@dataclass(frozen=True)
class SparseExecution:
    """The dense and the sparse execution of one model, with the per-layer choices."""

    dense: nn.Module
    sparse: nn.Module
    layers: tuple[LayerChoice, ...]
    max_abs_error: float


def _layer_inputs(model: nn.Module, x: Tensor) -> dict[str, Tensor]:
    inputs: dict[str, Tensor] = {}
    hooks = [
        module.register_forward_pre_hook(lambda _m, a, name=name: inputs.setdefault(name, a[0]))
        for name, module in prunable_layers(model)
    ]
    try:
        model(x)
    finally:
        for hook in hooks:
            hook.remove()
    return inputs


def _check_close(got: Tensor, want: Tensor, what: str) -> float:
    scale = max(1.0, float(want.abs().max()))
    error = float((got - want).abs().max())
    if error > 1e-4 * scale:
        raise AssertionError(f"{what}: sparse output differs from dense by {error:.3g}")
    return error


@torch.no_grad()
def sparse_execution(
    model: nn.Module, x: Tensor, policy: str = "best", reps: int = 5
) -> SparseExecution:
    """Build the sparse execution of ``model`` on example batch ``x``.

    Parameters
    ----------
    model : nn.Module
        The model (Powerprop layers are folded, see :func:`fold_powerprop`).
    x : Tensor
        An example batch: the layers are timed on the inputs it produces.
    policy : str
        ``best`` (per layer the faster execution), ``sparse`` (CSR wherever
        supported) or ``dense`` (nothing replaced).
    reps : int
        Timed calls per layer and execution (median).

    Raises
    ------
    AssertionError
        If a sparse layer's or the whole model's output differs from dense.

    """
    if policy not in POLICIES:
        raise ValueError(f"policy={policy!r}: choose one of {POLICIES}")
    dense = fold_powerprop(model).requires_grad_(False)
    inputs = _layer_inputs(dense, x)
    sparse = copy.deepcopy(dense)
    choices = []
    for name, layer in prunable_layers(dense):
        x_in = inputs[name]
        kind = type(layer).__name__.lower()
        density = float(torch.count_nonzero(layer.weight)) / layer.weight.numel()
        dense_s = median_seconds(lambda layer=layer, x_in=x_in: layer(x_in), reps)
        sparse_s, use = None, False
        if csr_supported(layer):
            candidate = csr_layer(layer)
            _check_close(candidate(x_in), layer(x_in), name)
            sparse_s = median_seconds(lambda c=candidate, x_in=x_in: c(x_in), reps)
            use = policy == "sparse" or (policy == "best" and sparse_s < dense_s)
            if use:
                parent, _, attr = name.rpartition(".")
                setattr(sparse.get_submodule(parent) if parent else sparse, attr, candidate)
        choices.append(LayerChoice(name, kind, density, dense_s, sparse_s, use))
    error = _check_close(sparse(x), dense(x), "model")
    return SparseExecution(dense, sparse, tuple(choices), error)


@dataclass(frozen=True)
class Throughput:
    """Batches one execution processed in a fixed time, and its per-batch latency."""

    batches: int
    seconds: float
    median_latency: float

    @property
    def batches_per_second(self) -> float:
        """Throughput."""
        return self.batches / self.seconds if self.seconds else 0.0


@torch.inference_mode()
def side_by_side(
    models: Mapping[str, nn.Module], x: Tensor, seconds: float, blocks: int = 4
) -> dict[str, Throughput]:
    """Run every model on ``x`` for ``seconds`` each, in ``blocks`` interleaved blocks.

    Interleaving spreads the load of a busy machine over all executions. Each
    model gets one untimed warm-up call; then, block after block, every model
    is called until its share ``seconds / blocks`` of the block is spent.
    """
    latencies: dict[str, list[float]] = {name: [] for name in models}
    spent = dict.fromkeys(models, 0.0)
    for model in models.values():
        model(x)
    for _ in range(blocks):
        for name, model in models.items():
            end = time.perf_counter() + seconds / blocks
            while True:
                start = time.perf_counter()
                model(x)
                stop = time.perf_counter()
                latencies[name].append(stop - start)
                spent[name] += stop - start
                if stop >= end:
                    break
    return {
        name: Throughput(len(lat), spent[name], statistics.median(lat))
        for name, lat in latencies.items()
    }
