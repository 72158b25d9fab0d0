"""What the framework adds to a round: the bare loop, the simulation and ``flwr run``, side by side.

Usage::

    python scripts/bench_simulation.py [hydra overrides ...] [--skip-flwr]

Runs the same seeded work three ways in one invocation and prints, for each,
the steady-state seconds per round (median over rounds 2..N of the records'
``round_seconds``), the start-up plus tear-down (wall time minus the rounds),
the wall time, and the ratios to the ideal:

(a) the bare loop: the project's own client round and server step in this
    process (``LocalExecutor``: no Flower, no Ray), one torch thread;
(b) the simulation: ``python -m sparsyfed`` (Ray workers through ``run_simulation``);
(c) ``flwr run``: the ``sparsyfed-flwr`` launcher (a managed local SuperLink).

The ideal round is the bare loop's 1-thread round divided by the number of
client workers (``2 CPUs / simulation.client_cpus`` here). It also checks that
the three runs end with the same accuracy, bit for bit (exit code 1 if not).
The default task is the default run (40 rounds); pass e.g. ``rounds=10`` for a
quicker look.
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def _rows(out: Path) -> list[dict]:
    return [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]


def _summary(name: str, out: Path, wall: float) -> dict:
    rows = _rows(out)
    rounds = [r["round_seconds"] for r in rows[1:]]
    steady = statistics.median(rounds[1:] if len(rounds) > 1 else rounds)
    return {
        "name": name,
        "steady": steady,
        "startup": wall - sum(rounds),
        "wall": wall,
        "accuracy": rows[-1]["accuracy"],
        "loss": rows[-1]["loss"],
    }


def bare_loop(overrides: list[str], out: Path) -> dict:
    """(a) the project's client round and server step in this process, one thread."""
    import torch

    from sparsyfed.config import compose_config, load_config
    from sparsyfed.core.executor import LocalExecutor
    from sparsyfed.run.session import execute, plan

    start = time.perf_counter()
    torch.set_num_threads(1)
    plain = compose_config([*overrides, "simulation.server_threads=1"])
    plain["output_dir"] = str(out)
    cfg = load_config(plain)
    execute(cfg, LocalExecutor(cfg), plan(cfg))
    return _summary("bare loop (1 thread)", out, time.perf_counter() - start)


def _timed(cmd: list[str], name: str, out: Path) -> dict:
    env = os.environ | {"FLWR_DISABLE_RUNTIME_DEPENDENCY_INSTALLATION": "1"}
    start = time.perf_counter()
    proc = subprocess.run(cmd, cwd=REPO, env=env, capture_output=True, text=True)
    wall = time.perf_counter() - start
    if proc.returncode != 0:
        raise RuntimeError(f"{name} failed ({proc.returncode}):\n{proc.stderr[-3000:]}")
    return _summary(name, out, wall)


def simulation(overrides: list[str], out: Path) -> dict:
    """(b) ``python -m sparsyfed``."""
    cmd = [sys.executable, "-m", "sparsyfed", *overrides, "simulation.server_threads=1"]
    return _timed([*cmd, f"output_dir={out}"], "python -m sparsyfed (Ray)", out)


def flwr_run(overrides: list[str], out: Path) -> dict:
    """(c) ``flwr run`` through the launcher."""
    cmd = [sys.executable, "-m", "sparsyfed.flower.launch", *overrides]
    return _timed(
        [*cmd, "simulation.server_threads=1", f"output_dir={out}"], "flwr run (launcher)", out
    )


def workers(overrides: list[str]) -> int:
    """Client workers of the simulation on this machine's CPUs."""
    from sparsyfed.config import compose_config

    sim = compose_config(overrides)["simulation"]
    cpus = sim["ray_cpus"] or os.cpu_count() or 1
    return max(1, int(cpus // sim["client_cpus"]))


def main() -> int:
    args = sys.argv[1:]
    skip_flwr = "--skip-flwr" in args
    overrides = [a for a in args if a != "--skip-flwr"]
    with tempfile.TemporaryDirectory(prefix="sparsyfed-bench-") as tmp:
        results = [bare_loop(overrides, Path(tmp) / "bare")]
        results.append(simulation(overrides, Path(tmp) / "sim"))
        if not skip_flwr:
            results.append(flwr_run(overrides, Path(tmp) / "flwr"))
    n = workers(overrides)
    ideal = results[0]["steady"] / n
    print(f"\nideal round = bare loop's round / {n} workers = {ideal:.3f} s")
    header = f"{'path':<28} {'s/round':>8} {'x ideal':>8} {'start+stop s':>13} {'wall s':>8} {'final acc':>10}"
    print(header)
    for r in results:
        print(
            f"{r['name']:<28} {r['steady']:>8.3f} {r['steady'] / ideal:>8.2f} "
            f"{r['startup']:>13.1f} {r['wall']:>8.1f} {r['accuracy']:>10.4f}"
        )
    same = all(
        (r["accuracy"], r["loss"]) == (results[0]["accuracy"], results[0]["loss"]) for r in results
    )
    print("\nsame final accuracy and loss on every path" if same else "\nDIFFERENT final results")
    return 0 if same else 1


if __name__ == "__main__":
    sys.exit(main())
