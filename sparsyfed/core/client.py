"""One client's round, free of Flower: load the global state, train, make and encode the upload."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import torch

from sparsyfed.core.context import RoundContext
from sparsyfed.core.messages import (
    EvaluateInstruction,
    EvaluateReply,
    TrainInstruction,
    TrainReply,
)
from sparsyfed.core.side import split_side, with_side
from sparsyfed.core.task import Task
from sparsyfed.core.training import evaluate
from sparsyfed.metrics.flops import (
    activation_keep_fractions,
    dense_training_flops,
    training_flops,
    weight_densities,
)
from sparsyfed.metrics.masks import deactivated, local_regrowth
from sparsyfed.metrics.values import Metrics
from sparsyfed.nn.layers import reset_activation_state, sparse_layers
from sparsyfed.upload.steps import apply_delta, make_upload
from sparsyfed.upload.transport import encode_uplink
from sparsyfed.wire.message import decode_state, encode_state


def _load(task: Task, state: Mapping[str, np.ndarray]) -> torch.nn.Module:
    """A fresh model of the task holding ``state``, on the task's device."""
    model = task.new_model()
    model.load_state_dict({k: torch.from_numpy(np.array(v, copy=True)) for k, v in state.items()})
    reset_activation_state(model)
    return model.to(task.device)


def _check_partition(task: Task, partition_id: int) -> None:
    if not 0 <= partition_id < task.cfg.num_clients:
        raise ValueError(f"partition-id={partition_id} outside [0, {task.cfg.num_clients})")


def run_client_round(
    task: Task, ctx: RoundContext, partition_id: int, received: Mapping[str, np.ndarray]
) -> tuple[dict[str, np.ndarray], int, Metrics]:
    """Train one client on the received global state and return its upload.

    A fresh model is built every call, so no per-layer state survives from one
    round to the next (stateless clients, as the official code).

    Parameters
    ----------
    task : Task
        The run's dataset, partitions and method.
    ctx : RoundContext
        The round (learning rate, seed streams).
    partition_id : int
        The client's partition.
    received : mapping of str to ndarray
        The decoded downlink: the global model state and the method's side
        tensors (:mod:`sparsyfed.core.side`), if any.

    Returns
    -------
    upload : dict of str to ndarray
        The state to send (sparsified by the shared upload step) and the
        method's upload side tensors (``side/<key>``).
    num_examples : int
        The client's training samples.
    metrics : Metrics
        Training metrics, the method's own, regrowth and deactivation, FLOPs
        and per-layer activation statistics of the wrapped layers.

    """
    _check_partition(task, partition_id)
    received, side_in = split_side(received)
    model = _load(task, received)
    # On the model's device: the metrics and the upload step compare the two.
    received_t = {
        k: torch.from_numpy(np.array(v, copy=True)).to(task.device) for k, v in received.items()
    }
    side_t = {
        k: torch.from_numpy(np.array(v, copy=True)).to(task.device) for k, v in side_in.items()
    }
    x, y = task.client_data(partition_id)
    hp = task.local_training(ctx, partition_id)
    method = task.method
    metrics, side_out = method.client_round(model, x, y, hp, ctx, side_t)
    if set(side_out) != set(method.upload_side_keys(ctx)):
        raise ValueError(
            f"method {method.name}: side tensors {sorted(side_out)} != "
            f"upload_side_keys {sorted(method.upload_side_keys(ctx))}"
        )
    trained = model.state_dict()
    keys = task.prunable_keys
    metrics.update(support_change_metrics(received_t, trained, keys, len(y)))
    metrics.update(layer_metrics(model))
    _flop_metrics(task, model, metrics, len(y) * hp.epochs)
    sparsity = method.upload_sparsity(ctx)
    upload = make_upload(trained, received_t, sparsity, keys, task.cfg.upload, task.cfg.prune)
    uploaded = apply_delta(upload, received_t) if task.cfg.upload == "delta_topk" else upload
    metrics.update(support_change_metrics(received_t, uploaded, keys, len(y), "_after_prune"))
    upload = with_side(upload, side_out)
    return {k: v.detach().cpu().numpy() for k, v in upload.items()}, len(y), metrics


def support_change_metrics(
    received: Mapping[str, torch.Tensor],
    local: Mapping[str, torch.Tensor],
    keys: Sequence[str],
    num_examples: int,
    suffix: str = "",
) -> Metrics:
    """Regrowth (a) and deactivation of one client vs the model it received.

    docs/methods.md section 17.3: ``local_regrowth<suffix>`` (entries zero in
    ``received``, non-zero in ``local``) and ``local_deactivated<suffix>`` (the
    reverse), both sample-weighted means over the round's clients (weight
    ``num_examples``, as the official instrumentation), and the deactivation
    per client (``local_deactivated<suffix>_per_client``).

    Parameters
    ----------
    received : mapping of str to Tensor
        The global model the client started the round from.
    local : mapping of str to Tensor
        The client's model after training, or as uploaded (after the prune).
    keys : sequence of str
        The prunable weight keys.
    num_examples : int
        The client's training samples (the weight of its values).
    suffix : str
        Appended to the names (``"_after_prune"`` for the uploaded model).

    Returns
    -------
    Metrics
        The three metrics.

    """
    lost = deactivated(received, local, keys)
    metrics = Metrics().weighted_mean(
        f"local_regrowth{suffix}", local_regrowth(received, local, keys), num_examples
    )
    metrics.weighted_mean(f"local_deactivated{suffix}", lost, num_examples)
    return metrics.per_client(f"local_deactivated{suffix}_per_client", lost)


def layer_metrics(model: torch.nn.Module) -> Metrics:
    """Per-round activation statistics of every wrapped layer (means over training batches).

    ``act_keep_fraction``: the keep fraction the activation Top-K applied;
    ``act_density``: the realised non-zero fraction of the input saved for
    backward (the input's own zeros included). Layers with an in-place weight
    Top-K (ZeroFL) also report the mean density of their forward weights over
    the round, and spectral layers (``beta = -1``) the exponent they applied
    (``spectral_exponent`` per layer, ``spectral_exponent_mean`` over layers).
    Empty for a model without wrapped layers.
    """
    metrics = Metrics()
    layers = list(sparse_layers(model))
    if not layers:
        return metrics
    metrics.layer_mean("act_keep_fraction", {n: la.mean_keep_fraction for n, la in layers})
    metrics.layer_mean("act_density", {n: la.mean_act_density for n, la in layers})
    forward = {n: la.mean_forward_weight_density for n, la in layers if la.weight_keep is not None}
    if forward:
        metrics.layer_mean("forward_weight_density", forward)
    exponents = {
        n: la.applied_spectral_exponent
        for n, la in layers
        if la.applied_spectral_exponent is not None
    }
    if exponents:
        metrics.layer_mean("spectral_exponent", exponents)
        metrics.mean("spectral_exponent_mean", float(np.mean(list(exponents.values()))))
    return metrics


def _flop_metrics(
    task: Task, model: torch.nn.Module, metrics: Metrics, default_samples: int
) -> None:
    """Training FLOPs of this round (docs/methods.md section 17.4) and the dense equivalent.

    Weight densities are the forward ones where a layer prunes its weights in
    the forward pass (ZeroFL), else the trained weights' densities; activation
    densities are the keep fractions the activation Top-K applied, averaged
    over the round's training batches (not the realised input densities).
    """
    samples = metrics.value("samples_trained", default_samples)
    w_density = weight_densities(model) | metrics.value("forward_weight_density", {})
    a_density = activation_keep_fractions(model)
    metrics.mean("train_flops", training_flops(task.layer_flops, w_density, a_density, samples))
    metrics.mean("train_flops_dense", dense_training_flops(task.layer_flops, samples))


def handle_train(task: Task, instruction: TrainInstruction) -> TrainReply:
    """Answer a train instruction: decode, train, make the upload, encode it."""
    ctx, pid = instruction.ctx, instruction.partition_id
    received = decode_state(instruction.model)
    upload, num_examples, metrics = run_client_round(task, ctx, pid, received)
    wire = task.cfg.wire
    residual = None
    if wire.quantized and wire.error_feedback and instruction.client_state is not None:
        residual = decode_state(instruction.client_state)
    rng = np.random.default_rng(ctx.seeds.quantization(ctx.round, pid))
    update, new_residual = encode_uplink(upload, received, wire, residual=residual, rng=rng)
    # The residual lives on the upload's support, so it is kept encoded (sparse).
    client_state = encode_state(new_residual) if new_residual else instruction.client_state
    return TrainReply(pid, num_examples, update, metrics, client_state)


@torch.no_grad()
def handle_evaluate(task: Task, instruction: EvaluateInstruction) -> EvaluateReply:
    """Evaluate the received global model on one client's test split (federated evaluation)."""
    pid = instruction.partition_id
    _check_partition(task, pid)
    model = _load(task, split_side(decode_state(instruction.model))[0])
    x, y = task.client_test_data(pid)
    result = evaluate(model, x, y, task.cfg.eval_batch_size)
    return EvaluateReply(pid, len(y), result["loss"], result["accuracy"])
