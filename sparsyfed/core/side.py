"""Side tensors: per-tensor information a method sends besides the model (Flower-free).

A side tensor belongs to one model tensor (same shape) and travels in the same
encoded message as the model, under the name ``side/<model key>``: the server
adds :meth:`~sparsyfed.methods.base.Method.downlink_side` to the downlink, a
client adds what :meth:`~sparsyfed.methods.base.Method.client_round` returned
to its upload. Being payloads of the message, their bytes count in
``downlink_bytes`` / ``uplink_bytes`` like every other tensor. No model key
starts with the prefix (``state_dict`` keys are dotted module paths).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import TypeVar

PREFIX = "side/"

V = TypeVar("V")


def with_side(state: Mapping[str, V], side: Mapping[str, V]) -> dict[str, V]:
    """``state`` plus every side tensor under ``side/<key>`` (a model key of ``state``).

    Raises
    ------
    KeyError
        For a side key that is not a model key.

    """
    unknown = sorted(set(side) - set(state))
    if unknown:
        raise KeyError(f"side tensors for keys the model does not have: {unknown}")
    return dict(state) | {PREFIX + key: value for key, value in side.items()}


def split_side(message: Mapping[str, V]) -> tuple[dict[str, V], dict[str, V]]:
    """Split a decoded message into the model state and its side tensors (prefix removed)."""
    state = {k: v for k, v in message.items() if not k.startswith(PREFIX)}
    side = {k.removeprefix(PREFIX): v for k, v in message.items() if k.startswith(PREFIX)}
    return state, side


def side_shapes(
    shapes: Mapping[str, tuple[int, ...]], keys: Iterable[str]
) -> dict[str, tuple[int, ...]]:
    """The expected shapes of the side tensors of ``keys`` (under their wire names)."""
    return {PREFIX + key: shapes[key] for key in keys}
