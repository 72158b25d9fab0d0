"""Run the same settings through ``python -m sparsyfed`` and ``flwr run .``; compare the results.

Usage::

    python scripts/compare_entrypoints.py [hydra overrides ...]

e.g. ``python scripts/compare_entrypoints.py rounds=10``. The ``flwr run`` side uses
a private Flower home and private ports, and the SuperLink it starts is stopped
(by PID) at the end. Exits 1 when any round's accuracy or loss differs.
"""

from __future__ import annotations

import json
import shlex
import subprocess
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))  # this checkout's package, also when run as a script

from sparsyfed.flower.flwr_cli import (  # noqa: E402  (re-exported for the tests)
    flwr_command,
    flwr_env,
    stop_superlinks,
)

__all__ = ["REPO", "compare", "flwr_command", "flwr_env", "stop_superlinks"]


def _rows(run_dir: Path) -> list[dict]:
    path = run_dir / "metrics.jsonl"
    if not path.is_file():
        raise RuntimeError(f"{path} was not written: the run failed (see its log above)")
    return [json.loads(line) for line in path.read_text().splitlines()]


def run_python(overrides: list[str], out: Path) -> list[dict]:
    """Run ``python -m sparsyfed`` and return its per-round metrics."""
    cmd = [sys.executable, "-m", "sparsyfed", *overrides, f"output_dir={out}"]
    subprocess.run(cmd, check=True, cwd=REPO)
    return _rows(out)


def run_flwr(overrides: list[str], out: Path, num_clients: int, scratch: Path) -> list[dict]:
    """Run ``flwr run .`` with a private Flower home and return its per-round metrics."""
    flwr_home = scratch / "flwr-home"
    cmd = flwr_command(overrides, out, num_clients)
    try:
        subprocess.run(cmd, check=True, cwd=REPO, env=flwr_env(flwr_home), timeout=3600)
    finally:
        stop_superlinks(flwr_home)
    return _rows(out)


def compare(overrides: list[str], scratch: Path) -> tuple[list[dict], list[dict]]:
    """Run both entry points; return their per-round metrics (python first)."""
    from sparsyfed.config import compose_config

    num_clients = int(compose_config(overrides)["num_clients"])
    a = run_python(overrides, scratch / "python-m")
    b = run_flwr(overrides, scratch / "flwr-run", num_clients, scratch)
    return a, b


def main() -> int:
    overrides = sys.argv[1:]
    with tempfile.TemporaryDirectory(prefix="sparsyfed-compare-") as tmp:
        a, b = compare(overrides, Path(tmp))
    print(f"\n{'round':>5} {'python -m acc':>14} {'flwr run acc':>13} {'same':>5}")
    same = len(a) == len(b)
    for ra, rb in zip(a, b, strict=False):
        equal = ra["accuracy"] == rb["accuracy"] and ra["loss"] == rb["loss"]
        same &= equal
        print(f"{ra['round']:>5} {ra['accuracy']:>14.4f} {rb['accuracy']:>13.4f} {equal!s:>5}")
    verdict = "identical" if same else "DIFFERENT"
    print(
        f"\n{verdict}: final accuracy {a[-1]['accuracy']:.4f} vs {b[-1]['accuracy']:.4f} ({shlex.join(overrides)})"
    )
    return 0 if same else 1


if __name__ == "__main__":
    sys.exit(main())
