"""Upload modes shared by every method (METHOD.md decisions box).

- ``weights`` (default, official): the client uploads what the method's
  ``make_update`` returns (for SparsyFed: its Top-K-pruned weights); the server
  forms the pseudo-gradients.
- ``delta_topk`` (the paper text's wording): the client uploads the
  pseudo-gradient ``theta_k - theta_t`` itself, Top-K-pruned by magnitude over
  the prunable tensors to the method's sparsity; the method's own upload rule
  is not applied. The server adds it back to ``theta_t`` and aggregates as usual,
  so with server lr 1 the global step is the mean pseudo-gradient.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from torch import Tensor

from sparsyfed.sparse.topk import global_magnitude_prune_

UPLOAD_MODES = ("weights", "delta_topk")


def delta_topk(
    trained: Mapping[str, Tensor],
    received: Mapping[str, Tensor],
    sparsity: float,
    prunable_keys: Sequence[str],
) -> dict[str, Tensor]:
    """Return ``trained - received`` with the prunable part Top-K-pruned to ``sparsity``."""
    delta = {k: (trained[k].detach().cpu() - received[k].cpu()) for k in trained}
    if sparsity > 0:
        global_magnitude_prune_([delta[k] for k in prunable_keys], sparsity)
    return delta


def apply_delta(
    delta: Mapping[str, Tensor], global_state: Mapping[str, Tensor]
) -> dict[str, Tensor]:
    """Rebuild a client's model ``theta_t + delta`` on the server."""
    return {k: (global_state[k] + delta[k].to(global_state[k].dtype)) for k in global_state}


def is_delta(mode: str) -> bool:
    """Whether an upload mode sends pseudo-gradients rather than weights."""
    if mode not in UPLOAD_MODES:
        raise ValueError(f"upload={mode!r} is not allowed; choose one of {', '.join(UPLOAD_MODES)}")
    return mode == "delta_topk"


__all__ = ["UPLOAD_MODES", "apply_delta", "delta_topk", "is_delta"]
