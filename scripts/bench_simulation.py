"""What the framework adds to a round: the bare loop, the simulation and ``flwr run``, side by side.

Usage::

    python scripts/bench_simulation.py [hydra overrides ...] [--resnet18] [--skip-ray] [--skip-flwr]

Runs the same seeded work four ways in one invocation and prints, for each,
the steady-state seconds per round (median over rounds 2..N of the records'
``round_seconds``), the start-up plus tear-down (wall time minus the run
loop's ``wall_seconds`` of ``summary.json``; the first round's wait for the
workers is inside the loop), the wall time, and the ratios to the ideal:

(a) the bare loop: the project's own client round and server step in this
    process (``LocalExecutor``: no Flower, no Ray), one torch thread;
(b) the simulation: ``python -m sparsyfed`` on its default single-machine
    backend, local worker processes (``simulation.backend=processes``);
(c) the same on Ray (``simulation.backend=ray``, workers through ``run_simulation``);
(d) ``flwr run``: the ``sparsyfed-flwr`` launcher (a managed local SuperLink, Ray).

The ideal round is the bare loop's 1-thread round divided by the number of
client workers (``2 CPUs / simulation.client_cpus`` here). It also checks that
every path writes the same records as the bare loop, bit for bit (timings aside;
exit code 1 if not).
The default task is the default run (40 rounds); pass e.g. ``rounds=10`` for a
quicker look. ``--resnet18`` runs the CIFAR-shaped ResNet-18 workload instead
(:data:`RESNET18`: synthetic 3x32x32 tensors, 8 clients, 4 per round, 5 steps
each, 3 rounds), to which the given overrides are added.
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
sys.path.insert(0, str(REPO / "scripts"))
from compare_runs import compare  # noqa: E402

RESNET18 = [
    "dataset=synthetic",
    "model=resnet18_cifar",
    "dataset.num_train=640",
    "dataset.num_test=256",
    "num_clients=8",
    "clients_per_round=4",
    "rounds=3",
]
"""The CIFAR-shaped workload: ResNet-18 on synthetic tensors, few clients, few steps."""


def _rows(out: Path) -> list[dict]:
    return [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]


def _summary(name: str, out: Path, wall: float) -> dict:
    rows = _rows(out)
    rounds = [r["round_seconds"] for r in rows[1:]]
    steady = statistics.median(rounds[1:] if len(rounds) > 1 else rounds)
    loop = json.loads((out / "summary.json").read_text())["wall_seconds"]
    return {"name": name, "out": out, "steady": steady, "startup": wall - loop, "wall": wall}


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


def simulation(overrides: list[str], out: Path, backend: str) -> dict:
    """(b, c) ``python -m sparsyfed`` on ``backend``."""
    cmd = [sys.executable, "-m", "sparsyfed", *overrides, "simulation.server_threads=1"]
    cmd += [f"simulation.backend={backend}", f"output_dir={out}"]
    return _timed(cmd, f"python -m sparsyfed ({backend})", out)


def flwr_run(overrides: list[str], out: Path) -> dict:
    """(d) ``flwr run`` through the launcher."""
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
    if {"-h", "--help"} & set(args):
        print(__doc__)
        return 0
    flags = {a for a in args if a.startswith("--")}
    unknown = flags - {"--resnet18", "--skip-ray", "--skip-flwr"}
    if unknown:
        print(
            f"bench_simulation: unknown option {sorted(unknown)[0]}; allowed: --resnet18, "
            "--skip-ray, --skip-flwr, -h/--help, or Hydra overrides",
            file=sys.stderr,
        )
        return 2
    overrides = [a for a in args if not a.startswith("--")]
    if "--resnet18" in flags:
        overrides = [*RESNET18, *overrides]
    with tempfile.TemporaryDirectory(prefix="sparsyfed-bench-") as tmp:
        results = [bare_loop(overrides, Path(tmp) / "bare")]
        results.append(simulation(overrides, Path(tmp) / "processes", "processes"))
        if "--skip-ray" not in flags:
            results.append(simulation(overrides, Path(tmp) / "ray", "ray"))
        if "--skip-flwr" not in flags:
            results.append(flwr_run(overrides, Path(tmp) / "flwr"))
        same = all(not compare(r["out"], results[0]["out"]) for r in results[1:])
    n = workers(overrides)
    ideal = results[0]["steady"] / n
    print(f"\nideal round = bare loop's round / {n} workers = {ideal:.3f} s")
    print(f"{'path':<30} {'s/round':>8} {'x ideal':>8} {'start+stop s':>13} {'wall s':>8}")
    for r in results:
        print(
            f"{r['name']:<30} {r['steady']:>8.3f} {r['steady'] / ideal:>8.2f} "
            f"{r['startup']:>13.1f} {r['wall']:>8.1f}"
        )
    print("\nevery path wrote the bare loop's records" if same else "\nDIFFERENT records")
    return 0 if same else 1


if __name__ == "__main__":
    sys.exit(main())
