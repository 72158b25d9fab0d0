"""Checks of a run config against this machine and its data, before any worker starts.

``python -m sparsyfed`` calls :func:`check_output_dir` before it decides about
the run directory and :func:`check_task` once the dataset is loaded, so a bad
input is one line and exit code 2 instead of a traceback from inside a worker.
Each check raises :class:`~sparsyfed.validation.ConfigError` naming the key.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import torch

from sparsyfed.config.schema import RunConfig
from sparsyfed.core.task import Task
from sparsyfed.validation import ConfigError, fail


def check_overrides(overrides: Sequence[str]) -> None:
    """Check command-line overrides before anything composes them into a run directory.

    Group choices, known keys (:func:`~sparsyfed.config.check_override_keys`) and an
    ``output_dir=`` path; every entry point calls it first.
    """
    from sparsyfed.config import check_group_choices, check_override_keys

    check_group_choices(overrides)
    check_override_keys(overrides)
    for item in overrides:
        if item.startswith("output_dir=") and item != "output_dir=null":
            check_output_path(item.partition("=")[2])


def check_output_dir(cfg: RunConfig) -> None:
    """Refuse ``cfg.output_dir`` if it cannot become a run directory (:func:`check_output_path`)."""
    check_output_path(str(cfg.output_dir))


def check_output_path(value: str) -> None:
    """Refuse an ``output_dir`` below a file, or whose nearest existing folder is not writable.

    Nothing is created: the path and its nearest existing ancestor are only
    inspected.
    """
    import os

    path = Path(value).expanduser().absolute()
    if path.exists() and not path.is_dir():
        fail("output_dir", value, "it is a file; it must name a directory")
    ancestor = path
    while not ancestor.exists():
        ancestor = ancestor.parent
    if not ancestor.is_dir():
        fail("output_dir", value, f"{ancestor} is a file, not a directory")
    if not os.access(ancestor, os.W_OK | os.X_OK) or _is_virtual(ancestor):
        fail("output_dir", value, f"{ancestor} is not writable")


def _is_virtual(path: Path) -> bool:
    """Kernel file systems (``/proc``, ``/sys``) refuse new directories, even to root."""
    parts = path.resolve().parts
    return len(parts) > 1 and parts[1] in ("proc", "sys")


def check_device(cfg: RunConfig) -> None:
    """Refuse ``device=cuda[:i]`` where torch sees no such CUDA device."""
    name = str(cfg.device or "auto")
    if not name.startswith("cuda"):
        return
    count = torch.cuda.device_count() if torch.cuda.is_available() else 0
    index = int(name.partition(":")[2] or 0)
    if index >= count:
        found = f"{count} CUDA device(s)" if count else "no CUDA device"
        fail("device", name, f"this machine has {found}; use device=auto or device=cpu")


def check_task(task: Task) -> None:
    """Partition the data and run the model once on a dataset sample (on the CPU).

    Raises
    ------
    ConfigError
        For more clients than training samples, or a model that cannot take
        the dataset's inputs.

    """
    cfg = task.cfg
    num_train = int(task.dataset.x_train.shape[0])
    if cfg.num_clients > num_train:
        fail(
            "num_clients",
            cfg.num_clients,
            f"at most the {num_train} training samples of dataset={cfg.dataset.name}",
        )
    task.partitions  # noqa: B018 (partitioned once here, with its own argument checks)
    try:
        model = task.new_model().eval()
        x = torch.as_tensor(task.dataset.x_train[:2])
        with torch.no_grad():
            out = model(x)
    except (RuntimeError, ValueError) as err:
        first = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        raise ConfigError(
            f"model={cfg.model.name} cannot take dataset={cfg.dataset.name} samples of shape "
            f"{tuple(task.dataset.input_shape)}: {first}"
        ) from err
    if tuple(out.shape) != (x.shape[0], task.dataset.num_classes):
        fail(
            "model",
            cfg.model.name,
            f"it gives outputs of shape {tuple(out.shape)[1:]} for "
            f"{task.dataset.num_classes} classes of dataset={cfg.dataset.name}",
        )
