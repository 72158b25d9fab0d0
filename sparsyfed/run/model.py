"""The trained model as an output: saved with the run, loaded back as a ready torch model."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from sparsyfed.run.archive import Archive, ArchiveError
from sparsyfed.run.files import MODEL_FILE

KIND = "sparsyfed.model/v1"


def save_model(
    path: str | Path,
    state: Mapping[str, torch.Tensor],
    config: Mapping[str, Any],
    input_shape: tuple[int, ...],
    num_classes: int,
    server_round: int,
) -> None:
    """Write the global model with what is needed to rebuild it (atomically).

    Parameters
    ----------
    path : str or Path
        The file (``model.sfa`` in a run directory).
    state : mapping of str to Tensor
        The model's ``state_dict``; stored losslessly and sparse.
    config : mapping
        The run config (plain containers, see ``RunConfig.to_dict``). Where
        the run was written is not stored (``output_dir``, ``data_dir``), so
        the file does not depend on the directory it sits in.
    input_shape : tuple of int
        Shape of one input sample.
    num_classes : int
        Number of classes.
    server_round : int
        The round after which this is the global model.

    """
    archive = Archive(
        meta={
            "kind": KIND,
            "round": server_round,
            "input_shape": list(input_shape),
            "num_classes": num_classes,
            "config": dict(config) | {"output_dir": None, "data_dir": None, "overwrite": False},
        }
    )
    archive.put_tensors("", {k: v.detach().cpu().numpy() for k, v in state.items()})
    archive.write(path)


def _archive(path: str | Path) -> Archive:
    path = Path(path)
    if path.is_dir():
        path = path / MODEL_FILE
    archive = Archive.read(path)
    if archive.meta.get("kind") != KIND:
        raise ArchiveError(f"{path} is not a sparsyfed model file ({KIND})")
    return archive


def model_meta(path: str | Path) -> dict[str, Any]:
    """What a model file records besides the weights: round, input shape, classes, run config."""
    return dict(_archive(path).meta)


def load_state(path: str | Path) -> dict[str, torch.Tensor]:
    """The saved ``state_dict`` of a run's model (``path``: the run directory or the file)."""
    return {k: torch.from_numpy(np.array(v)) for k, v in _archive(path).tensors("").items()}


def load_model(path: str | Path, device: str | torch.device = "cpu") -> nn.Module:
    """Load a run's final model as a ready torch model, in eval mode.

    The model is rebuilt as the run built it (the same architecture and, for
    SparsyFed, the same Powerprop layers, so ``model(x)`` computes what the
    run evaluated), and its weights are loaded bit for bit: pruned weights
    are exact zeros.

    Parameters
    ----------
    path : str or Path
        A run directory (its ``model.sfa``) or a model file.
    device : str or torch.device, optional
        Where to put the model.

    Returns
    -------
    torch.nn.Module
        The model, in eval mode.

    Examples
    --------
    >>> import sparsyfed
    >>> model = sparsyfed.load_model("outputs/2026-12-01/10-00-00-sparsyfed")  # doctest: +SKIP
    >>> logits = model(x)  # doctest: +SKIP

    """
    from sparsyfed.config.schema import RunConfig
    from sparsyfed.methods import build_method
    from sparsyfed.models import build_model

    archive = _archive(path)
    meta = archive.meta
    cfg = RunConfig.from_dict(with_current_defaults(meta["config"]))
    method = build_method(cfg)
    model = build_model(
        cfg.model.name, cfg.model.options, tuple(meta["input_shape"]), int(meta["num_classes"])
    )
    model = method.prepare_model(model)
    state = {k: torch.from_numpy(np.array(v)) for k, v in archive.tensors("").items()}
    model.load_state_dict(state)
    return model.to(device).eval()


_SELECTED_BLOCKS = ("dataset", "model", "method")
"""Blocks chosen by a config group: a stored one is kept whole, never filled from the defaults."""


def with_current_defaults(stored: dict[str, Any]) -> dict[str, Any]:
    """A stored run config with the keys added to ``conf/config.yaml`` since, at their defaults.

    A model file written before a key existed (``faults``, ``simulation.min_completion``,
    ...) still loads; the blocks chosen by a config group (dataset, model, method) are
    taken as stored.
    """
    from sparsyfed.config import compose_config

    merged = dict(stored)
    for key, default in compose_config([]).items():
        if key not in merged:
            merged[key] = default
        elif isinstance(default, dict) and key not in _SELECTED_BLOCKS:
            merged[key] = {**default, **merged[key]}
    return merged
