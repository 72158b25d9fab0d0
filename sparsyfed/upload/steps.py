"""The upload step shared by every method: one owner for how sparse an upload is.

After local training the client's upload is made here, never by a method:
the step asks the method once for its upload sparsity
(:meth:`~sparsyfed.methods.base.Method.upload_sparsity`, e.g. ``S`` for
SparsyFed, ``S - mask_ratio`` for ZeroFL, ``s_t`` for FedSparsify-Local, 0
for FedSparsify-Global) and applies it in the configured ``upload`` mode:

- ``weights`` (default, official): the trained weights, with one global
  magnitude Top-K over all prunable (conv/linear) weights to exactly
  ``round(s * N)`` zeros; the server forms the pseudo-gradients;
- ``delta_topk`` (the paper text's wording): the pseudo-gradient
  ``theta_k - theta_t`` itself, with the same Top-K applied to its prunable
  part. The server adds it back to ``theta_t`` and aggregates as usual, so
  with server lr 1 the global step is the mean pseudo-gradient.

Which prunable weights the Top-K covers, and whether with one threshold or
one per layer, is the run's :class:`~sparsyfed.sparse.scope.PruneScope`
(``prune_scope``, ``prune_layers``; default: global over every conv/linear
weight, as the official code). Biases and normalisation tensors are never
pruned.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from torch import Tensor

from sparsyfed.sparse.scope import OFFICIAL_PRUNE, PruneScope


def make_upload(
    trained: Mapping[str, Tensor],
    received: Mapping[str, Tensor],
    sparsity: float,
    prunable_keys: Sequence[str],
    mode: str,
    scope: PruneScope = OFFICIAL_PRUNE,
) -> dict[str, Tensor]:
    """Return what a client uploads (copies; ``trained`` is not modified).

    Parameters
    ----------
    trained : mapping of str to Tensor
        The client's model state after local training.
    received : mapping of str to Tensor
        The global model it received (``theta_t``).
    sparsity : float
        The method's upload sparsity for this client and round.
    prunable_keys : sequence of str
        The keys of the prunable weights, in model order.
    mode : str
        ``weights`` or ``delta_topk``.
    scope : PruneScope
        Which prunable tensors are pruned, globally or per layer (default:
        one global threshold over all of them).

    """
    if mode == "delta_topk":
        upload = {k: (v.detach().cpu() - received[k].cpu()) for k, v in trained.items()}
    else:
        upload = {k: v.detach().clone() for k, v in trained.items()}
    if sparsity > 0:
        scope.prune_(upload, prunable_keys, sparsity)
    return upload


def apply_delta(
    delta: Mapping[str, Tensor], global_state: Mapping[str, Tensor]
) -> dict[str, Tensor]:
    """Rebuild a client's model ``theta_t + delta`` on the server."""
    return {
        k: global_state[k] + delta[k].to(global_state[k].device, global_state[k].dtype)
        for k in global_state
    }
