"""Server-side aggregation rules (plain torch, no Flower), docs/methods.md section 6."""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence

import torch
from torch import Tensor

AGGREGATIONS = ("fedavg", "nz_mean")
"""Values of ``aggregation``: how the client weights are averaged before the server step."""


def fedavg_pseudo_gradients(
    global_state: Mapping[str, Tensor],
    client_states: Sequence[Mapping[str, Tensor]],
    weights: Sequence[float],
    server_lr: float = 1.0,
    nz_mean_keys: Collection[str] = (),
) -> dict[str, Tensor]:
    """Apply the sample-weighted mean pseudo-gradient to the global model.

    With ``p_k = n_k / sum(n)`` and ``delta_k = theta_k - theta_t`` the update is
    ``theta_{t+1} = theta_t + server_lr * sum_k p_k delta_k``. It is computed
    as ``avg + (1 - server_lr) * (theta_t - avg)`` with ``avg = sum_k p_k theta_k``
    (accumulated in float64), which is the same quantity but makes
    ``server_lr = 1`` reproduce weight averaging exactly: a position that every
    client uploads as zero stays exactly zero.

    For the keys in ``nz_mean_keys`` the average is the non-zero mean
    (``aggregation=nz_mean``): per entry
    ``avg = sum_k n_k theta_k / sum_k n_k [theta_k != 0]``, and 0 where no
    client holds the entry, so a weight pruned by some clients is the mean of
    the clients that kept it; the server step then applies
    ``avg - theta_t`` as the pseudo-gradient, as above.

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
    nz_mean_keys : collection of str
        Keys averaged over the clients that hold each entry non-zero (empty:
        plain FedAvg everywhere).

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
        device = current.device  # float64 sums on the global model's device
        if key in nz_mean_keys:
            avg = _nonzero_mean([state[key] for state in client_states], coeffs, device)
        else:
            avg = torch.zeros(current.shape, dtype=torch.float64, device=device)
            for coeff, state in zip(coeffs, client_states, strict=True):
                avg.add_(state[key].detach().to(device, torch.float64), alpha=coeff)
        if server_lr != 1.0:
            avg.add_(current.detach().to(torch.float64) - avg, alpha=1.0 - server_lr)
        if current.is_floating_point():
            new_state[key] = avg.to(current.dtype)
        else:
            new_state[key] = avg.round().to(current.dtype)
    return new_state


def _nonzero_mean(
    tensors: Sequence[Tensor], coeffs: Sequence[float], device: torch.device
) -> Tensor:
    """``sum_k p_k t_k / sum_k p_k [t_k != 0]`` per entry (float64 on ``device``), 0 where every ``t_k`` is 0."""
    total = torch.zeros(tensors[0].shape, dtype=torch.float64, device=device)
    holders = torch.zeros(tensors[0].shape, dtype=torch.float64, device=device)
    for coeff, tensor in zip(coeffs, tensors, strict=True):
        values = tensor.detach().to(device, torch.float64)
        total.add_(values, alpha=coeff)
        holders.add_((values != 0).to(torch.float64), alpha=coeff)
    return torch.where(holders > 0, total / holders.clamp_min(1e-300), torch.zeros_like(total))
