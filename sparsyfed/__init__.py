"""sparsyfed: a Flower-based simulation framework for sparse federated learning.

The one function most users need besides the command line::

    import sparsyfed
    model = sparsyfed.load_model("outputs/<date>/<time>-sparsyfed")  # the run's final model
"""

from __future__ import annotations

from typing import Any

__all__ = ["load_model", "load_state"]


def load_model(path: Any, device: Any = "cpu") -> Any:
    """Load a run's final model as a ready torch model (see :func:`sparsyfed.run.model.load_model`)."""
    from sparsyfed.run.model import load_model as _load_model

    return _load_model(path, device)


def load_state(path: Any) -> Any:
    """Load a run's final ``state_dict`` (see :func:`sparsyfed.run.model.load_state`)."""
    from sparsyfed.run.model import load_state as _load_state

    return _load_state(path)
