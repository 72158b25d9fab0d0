"""What goes on the wire in each direction: codec policy, side information, quantisation.

Flower-free. The downlink is the global model, coded losslessly. The uplink is a
client's upload, coded relative to the model the client received when its
support is a subset of the received support (the server holds that model, so
the positions cost ``log2 C(m, k)`` bits instead of ``log2 C(n, k)``), with
optional fp16 / 8-bit values whose quantisation error the client keeps and adds
to its next upload (error feedback).
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from sparsyfed.config.schema import WireOptions
from sparsyfed.wire.codec import support_mask
from sparsyfed.wire.message import EncodedMessage, decode_state, encode_state, is_quantizable


def encode_downlink(state: Mapping[str, np.ndarray], wire: WireOptions) -> EncodedMessage:
    """Encode the global model losslessly (raw values, no reference)."""
    return encode_state(state, wire.codec)


def encode_uplink(
    upload: Mapping[str, np.ndarray],
    received: Mapping[str, np.ndarray],
    wire: WireOptions,
    *,
    residual: Mapping[str, np.ndarray] | None = None,
    rng: np.random.Generator | None = None,
) -> tuple[EncodedMessage, dict[str, np.ndarray]]:
    """Encode a client's upload; return the payloads and the new quantisation residual.

    Parameters
    ----------
    upload : mapping of str to ndarray
        The tensors the method wants to send.
    received : mapping of str to ndarray
        The global model this client received (the server's side information).
    wire : WireOptions
        Codec policy.
    residual : mapping of str to ndarray, optional
        This client's quantisation error from its previous upload. It is added
        to the upload on the upload's support only, so the support (and with it
        the sparsity and the subset property of the conditional codec) is never
        changed; error left on positions the client no longer sends is dropped,
        since those weights were pruned.
    rng : numpy.random.Generator, optional
        Source of the stochastic rounding of ``int8`` values.

    Returns
    -------
    message : EncodedMessage
        The payloads.
    residual : dict of str to ndarray
        The error ``sent - decoded`` of every quantised tensor (empty when
        values are raw or error feedback is off).

    """
    references = dict(received) if wire.conditional else None
    if not wire.quantized:
        return encode_state(upload, wire.codec, references=references, joint=wire.joint), {}
    to_send = {}
    for key, value in upload.items():
        arr = np.asarray(value)
        old = None if residual is None else residual.get(key)
        if wire.error_feedback and old is not None and is_quantizable(arr):
            on_support = support_mask(arr).reshape(arr.shape)
            arr = np.where(on_support, arr + old.astype(arr.dtype, copy=False), arr)
            # Adding the error may cancel a value exactly; keep such zeros as they are.
        to_send[key] = arr
    blobs = encode_state(
        to_send,
        wire.codec,
        values=wire.values,
        references=references,
        rng=rng,
        joint=wire.joint,
    )
    new_residual: dict[str, np.ndarray] = {}
    if wire.error_feedback:
        decoded = decode_state(blobs, references=references)
        for key, arr in to_send.items():
            if is_quantizable(arr):
                new_residual[key] = (arr - decoded[key]).astype(arr.dtype, copy=False)
    return blobs, new_residual
