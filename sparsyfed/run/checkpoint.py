"""Save and load the state of a run after a completed round (the checkpoint file).

A checkpoint holds everything the next round depends on: the global model,
the method's server state (e.g. the server-momentum buffer), the positions of
the client samplers, each client's persistent state (quantisation residuals),
the upload masks behind the readmission metric, the byte totals and the round.
Per-round records are not in it: they are the first ``round + 1`` lines of
``metrics.jsonl``. Tensors are stored as lossless wire payloads, masks as
packed bits, so for a sparse model the file is small.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from sparsyfed.core.run import RunState
from sparsyfed.core.server import ServerState
from sparsyfed.run.archive import Archive, ArchiveError
from sparsyfed.wire.message import EncodedMessage

KIND = "sparsyfed.checkpoint/v1"


def _torch(arrays: dict[str, np.ndarray]) -> dict[str, torch.Tensor]:
    return {k: torch.from_numpy(v) for k, v in arrays.items()}


def checkpoint_archive(state: RunState) -> Archive:
    """The archive of a run state."""
    server = state.server
    archive = Archive()
    archive.put_tensors(
        "model/", {k: v.detach().cpu().numpy() for k, v in server.global_state.items()}
    )
    archive.put_tensors(
        "method/", {k: v.detach().cpu().numpy() for k, v in server.method_state.items()}
    )
    clients = {}
    for pid, message in sorted(server.client_states.items()):
        for key, blob in message.tensors.items():
            archive.blobs[f"client/{pid}/t/{key}"] = bytes(blob)
        if message.joint is not None:
            archive.blobs[f"client/{pid}/joint"] = bytes(message.joint)
        clients[str(pid)] = {"tensors": list(message.tensors), "joint": message.joint is not None}
    masks = {}
    for pid, packed in sorted(server.last_masks.items()):
        masks[str(pid)] = {}
        for key, (bits, shape) in packed.items():
            name = f"mask/{pid}/{key}"
            archive.blobs[name] = np.asarray(bits, dtype=np.uint8).tobytes()
            archive.compressed.add(name)
            masks[str(pid)][key] = list(shape)
    archive.meta = {
        "kind": KIND,
        "round": state.round,
        "cumulative": state.cumulative,
        "sampler": server.sampler,
        "eval_sampler": server.eval_sampler,
        "clients": clients,
        "masks": masks,
    }
    return archive


def load_checkpoint(path: str | Path) -> RunState:
    """Read a checkpoint (:class:`ArchiveError` if it is not a valid one)."""
    archive = Archive.read(path)
    meta = archive.meta
    if meta.get("kind") != KIND:
        raise ArchiveError(f"{path} is not a sparsyfed checkpoint ({KIND})")
    try:
        clients = {}
        for pid, entry in meta["clients"].items():
            tensors = {k: archive.blobs[f"client/{pid}/t/{k}"] for k in entry["tensors"]}
            joint = archive.blobs[f"client/{pid}/joint"] if entry["joint"] else None
            clients[int(pid)] = EncodedMessage(tensors, joint)
        masks = {
            int(pid): {
                key: (
                    np.frombuffer(archive.blobs[f"mask/{pid}/{key}"], np.uint8).copy(),
                    tuple(shape),
                )
                for key, shape in entry.items()
            }
            for pid, entry in meta["masks"].items()
        }
        server = ServerState(
            global_state=_torch(archive.tensors("model/")),
            method_state=_torch(archive.tensors("method/")),
            sampler=meta["sampler"],
            eval_sampler=meta["eval_sampler"],
            client_states=clients,
            last_masks=masks,
        )
        return RunState(
            int(meta["round"]), server, {k: int(v) for k, v in meta["cumulative"].items()}
        )
    except (KeyError, TypeError, ValueError) as exc:
        raise ArchiveError(f"{path} is an incomplete checkpoint: {exc}") from exc
