"""Tests for :mod:`sparsyfed.wire.registry`: one class per codec, each stating its wire id."""

from __future__ import annotations

import pytest

from sparsyfed.wire.codec import CODECS, STANDALONE_CODECS
from sparsyfed.wire.codec_base import Codec
from sparsyfed.wire.registry import BY_ID, BY_NAME, REGISTRY, codec_named

# The codec ids of wire format v2, as documented (independent of the implementation).
WIRE_IDS = {
    "dense": 0,
    "bitmap": 1,
    "coo": 2,
    "csr": 3,
    "ef": 4,
    "golomb": 5,
    "support": 6,
    "joint": 7,
}


def test_each_codec_class_states_its_documented_id() -> None:
    assert {codec.name: codec.wire_id for codec in REGISTRY} == WIRE_IDS
    for codec in REGISTRY:
        assert isinstance(codec, Codec)
        assert "wire_id" in type(codec).__dict__ and "name" in type(codec).__dict__
    assert len({type(codec) for codec in REGISTRY}) == len(REGISTRY)


def test_tables_are_consistent_and_ordered_by_id() -> None:
    assert [c.wire_id for c in REGISTRY] == sorted(WIRE_IDS.values())
    assert all(BY_ID[c.wire_id] is c and BY_NAME[c.name] is c for c in REGISTRY)
    assert tuple(sorted(WIRE_IDS, key=WIRE_IDS.__getitem__)) == CODECS
    assert STANDALONE_CODECS == tuple(c for c in CODECS if c != "joint")


def test_codec_named() -> None:
    assert codec_named("golomb") is BY_NAME["golomb"]
    for bad in ("zip", "auto", None, 3):
        with pytest.raises(ValueError, match="unknown codec"):
            codec_named(bad)  # type: ignore[arg-type]
