"""A sweep run serially and with ``hydra/launcher=parallel``, side by side: wall times and records.

Usage::

    python scripts/bench_sweep.py [sweep overrides ...]

The default sweep is 12 jobs of the default task (``seed=0,1,2,3,4,5
sparsity=0.9,0.95``, 40 rounds each). It runs the sweep twice in one
invocation, first with Hydra's serial launcher, then with the parallel one
(default jobs at once), prints both wall times and their ratio, and checks
that every job wrote the same records and model in both (exit code 1 if not).
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "scripts"))
from compare_runs import compare  # noqa: E402

DEFAULT_SWEEP = ["seed=0,1,2,3,4,5", "sparsity=0.9,0.95"]


def run_sweep(overrides: list[str], sweep_dir: Path, parallel: bool) -> float:
    """Run the sweep into ``sweep_dir``; return its wall time in seconds."""
    cmd = [sys.executable, "-m", "sparsyfed", "-m", *overrides, f"hydra.sweep.dir={sweep_dir}"]
    if parallel:
        cmd.append("hydra/launcher=parallel")
    env = os.environ | {"FLWR_DISABLE_RUNTIME_DEPENDENCY_INSTALLATION": "1"}
    start = time.perf_counter()
    proc = subprocess.run(cmd, cwd=REPO, env=env, capture_output=True, text=True)
    wall = time.perf_counter() - start
    if proc.returncode != 0:
        raise RuntimeError(f"sweep failed ({proc.returncode}):\n{proc.stderr[-3000:]}")
    return wall


def main() -> int:
    if {"-h", "--help"} & set(sys.argv[1:]):
        print(__doc__)
        return 0
    overrides = sys.argv[1:] or DEFAULT_SWEEP
    with tempfile.TemporaryDirectory(prefix="sparsyfed-sweep-") as tmp:
        serial_dir, parallel_dir = Path(tmp) / "serial", Path(tmp) / "parallel"
        serial = run_sweep(overrides, serial_dir, parallel=False)
        parallel = run_sweep(overrides, parallel_dir, parallel=True)
        jobs = sorted(p.name for p in serial_dir.iterdir() if p.is_dir())
        differing = [
            job
            for job in jobs
            if compare(serial_dir / job, parallel_dir / job)
            or (serial_dir / job / "model.sfa").read_bytes()
            != (parallel_dir / job / "model.sfa").read_bytes()
        ]
    print(f"sweep: {' '.join(overrides)} ({len(jobs)} jobs, {os.cpu_count()} CPUs)")
    print(f"serial launcher    {serial:8.1f} s")
    print(f"parallel launcher  {parallel:8.1f} s   {serial / parallel:.2f}x faster")
    if differing:
        print(f"DIFFERENT records in {len(differing)} jobs: {', '.join(differing)}")
        return 1
    print(f"every job wrote the same records and model in both sweeps ({len(jobs)} jobs)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
