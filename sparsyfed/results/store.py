"""Read a directory of runs into pandas DataFrames: one row per run, or one per run and round.

A run directory is any directory holding ``config.yaml`` and ``metrics.jsonl``
(what ``python -m sparsyfed`` and ``flwr run .`` write); it is *complete* when
``summary.json`` exists too. Every frame carries the same identity columns,
so that runs differing only in ``seed`` group together:

``run``
    the run directory relative to the root that was read (``"."`` for the root);
``dataset``, ``model``, ``method``, ``label``
    ``label`` is the method's name, ``fedprox`` for FedAvg with a proximal term,
    with `` (β=1)`` appended for a Powerprop method run at β = 1 (the ablation);
``sparsity``, ``beta``, ``alpha``, ``partition``, ``seed``, ``rounds``, ``complete``
    ``sparsity`` is the method's effective target (0 when it does not prune);
    ``alpha`` is ``None`` for a partition that ignores it (``iid``, ``shards``);
``config.<key>``
    every key of the resolved config, dotted (``config.partition.alpha``).

The columns of ``summary.json`` (per run) and of ``metrics.jsonl`` (per round)
follow under their own names; dict- and list-valued metrics (``layer_sparsity``,
per-client values) stay Python objects in their cells.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import pandas as pd
import yaml

from sparsyfed.data.partition import ALPHA_SCHEMES

IDENTITY = (
    "run", "dataset", "model", "method", "label", "sparsity", "beta", "alpha",
    "partition", "seed", "rounds", "complete",
)  # fmt: skip
"""The identity columns of every frame, in order."""

POWERPROP_METHODS = frozenset({"sparsyfed", "sparsyfed_na", "sparsefedpp"})
"""Methods whose β = 1 run is the no-Powerprop ablation (their label says so)."""


def find_run_dirs(root: str | Path) -> list[Path]:
    """Every run directory at or below ``root``, sorted by path."""
    root = Path(root)
    found = {p.parent for p in root.rglob("metrics.jsonl") if (p.parent / "config.yaml").is_file()}
    return sorted(found)


def flatten(mapping: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    """Nested mappings as one level of dotted keys (``{"a": {"b": 1}} -> {"a.b": 1}``)."""
    out: dict[str, Any] = {}
    for key, value in mapping.items():
        name = f"{prefix}{key}"
        if isinstance(value, Mapping):
            out |= flatten(value, f"{name}.")
        else:
            out[name] = value
    return out


def read_records(run_dir: str | Path) -> list[dict[str, Any]]:
    """The rounds of ``metrics.jsonl``; a last line cut short by a kill is left out."""
    rows = []
    for line in (Path(run_dir) / "metrics.jsonl").read_text().splitlines():
        try:
            rows.append(json.loads(line))
        except json.JSONDecodeError:
            continue
    return rows


def identity(run_dir: Path, root: Path) -> dict[str, Any]:
    """The identity columns and the ``config.*`` columns of one run."""
    cfg = yaml.safe_load((run_dir / "config.yaml").read_text()) or {}
    summary_path = run_dir / "summary.json"
    summary = json.loads(summary_path.read_text()) if summary_path.is_file() else {}
    method = str(summary.get("method") or cfg.get("method", {}).get("name"))
    beta = float(summary.get("beta", cfg.get("beta", 1.0)))
    target = summary.get("sparsity_target", cfg.get("sparsity"))
    partition = cfg.get("partition") or {}
    row = {
        "run": str(run_dir.relative_to(root)),
        "dataset": (cfg.get("dataset") or {}).get("name"),
        "model": (cfg.get("model") or {}).get("name"),
        "method": method,
        "label": method_label(method, beta, float(cfg.get("prox_mu") or 0.0)),
        "sparsity": float(target or 0.0),
        "beta": beta,
        "alpha": partition.get("alpha") if partition.get("scheme") in ALPHA_SCHEMES else None,
        "partition": partition.get("scheme"),
        "seed": cfg.get("seed"),
        "rounds": cfg.get("rounds"),
        "complete": bool(summary),
    }
    return row | {f"config.{k}": v for k, v in flatten(cfg).items()}


def method_label(method: str, beta: float, prox_mu: float = 0.0) -> str:
    """The name a table shows for a method (``fedprox``, ``sparsyfed (β=1)``)."""
    if method == "fedavg" and prox_mu > 0:
        return "fedprox"
    if method in POWERPROP_METHODS and beta == 1.0:
        return f"{method} (β=1)"
    return method


def _runs(root: Path) -> Iterator[tuple[Path, dict[str, Any]]]:
    for run_dir in find_run_dirs(root):
        yield run_dir, identity(run_dir, root)


def load_summaries(root: str | Path, complete_only: bool = True) -> pd.DataFrame:
    """One row per run below ``root``: identity, ``config.*`` and ``summary.json`` columns.

    Parameters
    ----------
    root : str or Path
        A directory of runs (a sweep directory, a preset's output) or one run.
    complete_only : bool
        Leave out runs without ``summary.json`` (interrupted or still running).

    Returns
    -------
    pandas.DataFrame
        Sorted by ``run``; empty (with the identity columns) when no run is found.

    """
    root = Path(root)
    rows = []
    for run_dir, ident in _runs(root):
        if complete_only and not ident["complete"]:
            continue
        summary_path = run_dir / "summary.json"
        summary = json.loads(summary_path.read_text()) if ident["complete"] else {}
        rows.append(ident | {k: v for k, v in summary.items() if k not in ident})
    return pd.DataFrame(rows, columns=None if rows else list(IDENTITY))


def load_rounds(root: str | Path, complete_only: bool = False) -> pd.DataFrame:
    """One row per run and round below ``root``: identity, ``config.*`` and the round's metrics.

    Parameters
    ----------
    root : str or Path
        A directory of runs or one run.
    complete_only : bool
        Leave out runs without ``summary.json`` (by default their rounds so far are read).

    Returns
    -------
    pandas.DataFrame
        Sorted by ``run`` then ``round`` (round 0 is the initial model).

    """
    root = Path(root)
    rows = []
    for run_dir, ident in _runs(root):
        if complete_only and not ident["complete"]:
            continue
        for record in read_records(run_dir):
            rows.append(ident | {k: v for k, v in record.items() if k not in ident})
    if not rows:
        return pd.DataFrame(columns=[*IDENTITY, "round"])
    return pd.DataFrame(rows).sort_values(["run", "round"], kind="stable").reset_index(drop=True)
