"""Server-side aggregation rules (plain torch, no Flower)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import torch
from torch import Tensor


def fedavg_pseudo_gradients(
    global_state: Mapping[str, Tensor],
    client_states: Sequence[Mapping[str, Tensor]],
    weights: Sequence[float],
    server_lr: float = 1.0,
) -> dict[str, Tensor]:
    """Apply the sample-weighted mean pseudo-gradient to the global model.

    With ``p_k = n_k / sum(n)`` and ``delta_k = theta_k - theta_t`` the update is
    ``theta_{t+1} = theta_t + server_lr * sum_k p_k delta_k``. It is computed
    as ``avg + (1 - server_lr) * (theta_t - avg)`` with ``avg = sum_k p_k theta_k``
    (accumulated in float64), which is the same quantity but makes
    ``server_lr = 1`` reproduce weight averaging exactly: a position that every
    client uploads as zero stays exactly zero.

    Integer tensors (BatchNorm ``num_batches_tracked``) are averaged the same
    way and rounded back to their dtype.

    Parameters
    ----------
    global_state : mapping of str to Tensor
        ``theta_t``, the model the clients received.
    client_states : sequence of mappings
        The clients' uploaded states ``theta_k`` (same keys and shapes).
    weights : sequence of float
        The clients' sample counts ``n_k``.
    server_lr : float
        Server learning rate (1.0 reproduces FedAvg of weights).

    Returns
    -------
    dict of str to Tensor
        ``theta_{t+1}``, with the dtypes of ``global_state``.

    """
    if not client_states:
        raise ValueError("cannot aggregate zero client updates")
    if len(weights) != len(client_states):
        raise ValueError(f"{len(weights)} weights for {len(client_states)} client states")
    total = float(sum(weights))
    if total <= 0:
        raise ValueError(f"client weights must sum to a positive number, got {list(weights)}")
    coeffs = [float(w) / total for w in weights]
    new_state: dict[str, Tensor] = {}
    for key, current in global_state.items():
        avg = torch.zeros(current.shape, dtype=torch.float64)
        for coeff, state in zip(coeffs, client_states, strict=True):
            avg.add_(state[key].detach().to("cpu", torch.float64), alpha=coeff)
        if server_lr != 1.0:
            avg.add_(current.detach().to("cpu", torch.float64) - avg, alpha=1.0 - server_lr)
        if current.is_floating_point():
            new_state[key] = avg.to(current.dtype)
        else:
            new_state[key] = avg.round().to(current.dtype)
    return new_state
