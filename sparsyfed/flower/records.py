"""Carry encoded tensors inside Flower ArrayRecords without re-serialising them.

Each payload of :mod:`sparsyfed.wire.codec` travels as one ``Array`` whose
``data`` is the payload itself (``stype`` marks it), so what is counted is
exactly what is shipped: no ``.npy`` header and no extra copy.
"""

from __future__ import annotations

from collections.abc import Mapping

from flwr.app import Array, ArrayRecord

PAYLOAD_STYPE = "sparsyfed.payload/v1"


def blobs_to_record(blobs: Mapping[str, bytes]) -> ArrayRecord:
    """Wrap encoded payloads (key -> bytes) in an ArrayRecord."""
    record = ArrayRecord()
    for key, blob in blobs.items():
        record[key] = Array(dtype="uint8", shape=(len(blob),), stype=PAYLOAD_STYPE, data=blob)
    return record


def record_to_blobs(record: ArrayRecord) -> dict[str, bytes]:
    """Return the payloads of an ArrayRecord made by :func:`blobs_to_record`."""
    blobs: dict[str, bytes] = {}
    for key, array in record.items():
        if array.stype != PAYLOAD_STYPE:
            raise ValueError(f"array {key!r} has stype {array.stype!r}, expected {PAYLOAD_STYPE!r}")
        blobs[key] = bytes(array.data)
    return blobs
