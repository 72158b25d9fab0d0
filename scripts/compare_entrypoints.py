"""Run the same settings through ``python -m sparsyfed`` and ``flwr run .``; compare the results.

Usage::

    python scripts/compare_entrypoints.py [hydra overrides ...]

e.g. ``python scripts/compare_entrypoints.py rounds=10``. The ``flwr run`` side uses
a private Flower home and private ports, and the SuperLink it starts is stopped
(by PID) at the end. Exits 1 when any round's accuracy or loss differs.
"""

from __future__ import annotations

import json
import os
import shlex
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def _rows(run_dir: Path) -> list[dict]:
    path = run_dir / "metrics.jsonl"
    if not path.is_file():
        raise RuntimeError(f"{path} was not written: the run failed (see its log above)")
    return [json.loads(line) for line in path.read_text().splitlines()]


def stop_superlinks(flwr_home: Path) -> None:
    """Stop the SuperLink(s) started with ``flwr_home`` (by PID)."""
    out = subprocess.run(
        ["pgrep", "-f", f"flower-superlink.*{flwr_home}"], capture_output=True, text=True
    )
    pids = [int(pid) for pid in out.stdout.split()]
    for pid in pids:
        os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + 15
    while pids and time.monotonic() < deadline:
        pids = [pid for pid in pids if Path(f"/proc/{pid}").exists() and not _zombie(pid)]
        time.sleep(0.2)
    for pid in pids:
        os.kill(pid, signal.SIGKILL)


def _zombie(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().split(")")[-1].split()[0] == "Z"
    except OSError:
        return True


def run_python(overrides: list[str], out: Path) -> list[dict]:
    """Run ``python -m sparsyfed`` and return its per-round metrics."""
    cmd = [sys.executable, "-m", "sparsyfed", *overrides, f"output_dir={out}"]
    subprocess.run(cmd, check=True, cwd=REPO)
    return _rows(out)


def flwr_env(flwr_home: Path) -> dict[str, str]:
    """The environment of a ``flwr run`` with a private Flower home and private ports."""
    env = os.environ | {
        "FLWR_HOME": str(flwr_home),
        "FLWR_DISABLE_RUNTIME_DEPENDENCY_INSTALLATION": "1",
        "FLWR_TELEMETRY_ENABLED": "0",
        "FLWR_DISABLE_UPDATE_CHECK": "1",
        "FLWR_LOCAL_SUPERLINK_HTTP_API_PORT": os.environ.get("SPARSYFED_TEST_HTTP_PORT", "39191"),
        "FLWR_LOCAL_CONTROL_API_PORT": os.environ.get("SPARSYFED_TEST_CONTROL_PORT", "39193"),
    }
    bin_dir = Path(sys.executable).parent  # flwr starts flower-superlink from PATH
    env["PATH"] = f"{bin_dir}{os.pathsep}{env.get('PATH', '')}"
    return env


def flwr_command(overrides: list[str], out: Path, num_clients: int) -> list[str]:
    """``flwr run . --stream`` with the run config of ``overrides`` writing to ``out``."""
    run_config = f"overrides='{' '.join(overrides)}' output-dir='{out}'"
    federation = f"num-supernodes={num_clients} client-resources-num-cpus=1"
    flwr = Path(sys.executable).parent / "flwr"
    return [str(flwr), "run", ".", "--stream", "--run-config", run_config,
            "--federation-config", federation]  # fmt: skip


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
