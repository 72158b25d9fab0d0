"""Peak server memory against the number of clients, the data held apart.

Usage::

    python scripts/bench_memory.py [--clients 100 1000 10000] [--rounds 3] [overrides ...]

For every client count, a fresh Python process (so nothing is shared between
the counts) runs the bare loop (the project's server step and client round in
one process, :class:`~sparsyfed.core.executor.LocalExecutor`) of the default
task with ``clients_per_round=10`` and ``--rounds`` rounds, and measures its
resident set size (RSS) from ``/proc/self/status``. RSS counts every page the
process touches, so numpy arrays and torch tensors are included (tracemalloc
would miss torch's allocator):

* a warm-up: one round of 10 clients on the default 12,000 samples, so that
  lazy imports and torch's one-off set-up are not counted in the rounds
  measured (its task is dropped before the measurement; what it frees and the
  allocator keeps can be reused, a few MB at most);
* ``imports``: RSS after the warm-up, before anything of the run is built;
* ``data``: RSS after the dataset, the client partitions of both splits (the
  server's and the in-process clients') and the server's models are built,
  minus ``imports``;
* ``peak run``: the peak RSS (``VmHWM``) of the rounds minus the RSS before
  them. The peak is reset (``/proc/self/clear_refs`` = 5) just before the first
  round, so the transient peak of loading the data is not counted;
* ``retained``: RSS after the rounds (and a garbage collection) minus the RSS
  before them;
* the server's per-client objects after the rounds: how many clients have a
  persistent state (quantisation residual) and a last upload mask, and their
  bytes.

The default dataset (MNIST-1D, 12,000 samples: 9,600 train / 2,400 test) cannot
be split into 10,000 client test splits (the ``lda`` partition needs at least
one test sample per client), so the benchmark sets ``dataset.num_samples=50000``
(40,000 train / 10,000 test) for every client count: the same data for all
three, four training samples per client at 10,000 clients. ``--rounds`` rounds
of 10 clients sample at most ``10 * rounds`` distinct clients, whatever the
number of clients. Extra arguments are Hydra overrides (e.g.
``wire.values=int8 wire.error_feedback=true``). Linux only (``/proc``).
"""

from __future__ import annotations

import argparse
import gc
import json
import subprocess
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
NUM_SAMPLES = 50_000
WARM_UP_SAMPLES = 12_000
CLIENTS_PER_ROUND = 10
MB = 1024 * 1024


def _status(field: str) -> int:
    """A ``/proc/self/status`` field in bytes (``VmRSS``, ``VmHWM``)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) * 1024
    raise RuntimeError(f"/proc/self/status has no {field}")


def _reset_peak() -> None:
    """Reset the peak RSS (``VmHWM``) to the current RSS (Linux >= 4.0)."""
    Path("/proc/self/clear_refs").write_text("5")


def _mask_bytes(masks: dict[int, Any]) -> int:
    """Bytes of the server's last upload masks (packed bits per tensor)."""
    return sum(
        int(getattr(bits, "nbytes", len(bits)))
        for packed in masks.values()
        for bits, _ in packed.values()
    )


def measure(num_clients: int, rounds: int, overrides: list[str], out: Path) -> dict[str, Any]:
    """Run the bare loop for ``num_clients`` clients in this process and return its memory."""
    import torch

    from sparsyfed.config import compose_config, load_config
    from sparsyfed.core.executor import LocalExecutor
    from sparsyfed.core.run import FederatedRun
    from sparsyfed.core.task import _CACHE as _TASKS
    from sparsyfed.core.task import get_task
    from sparsyfed.run.session import build_callbacks, plan, run_header

    torch.set_num_threads(1)

    def config(clients: int, num_rounds: int, where: Path, samples: int) -> Any:
        plain = compose_config(
            [
                f"dataset.num_samples={samples}",
                *overrides,
                f"num_clients={clients}",
                f"clients_per_round={CLIENTS_PER_ROUND}",
                f"rounds={num_rounds}",
            ]
        )
        plain["output_dir"] = str(where)
        return load_config(plain)

    # Warm-up on the small default dataset: lazy imports and torch's one-off
    # set-up happen here, not in the measured rounds.
    warm = config(CLIENTS_PER_ROUND, 1, out.with_name("warm-up"), WARM_UP_SAMPLES)
    FederatedRun(warm, LocalExecutor(warm), build_callbacks(warm), run_header(warm)).run()
    _TASKS.clear()
    cfg = config(num_clients, rounds, out, NUM_SAMPLES)
    decision = plan(cfg)
    gc.collect()
    imports = _status("VmRSS")
    tracemalloc.start()
    client_task = get_task(cfg)
    client_task.partitions  # noqa: B018 (the data of the in-process clients)
    run = FederatedRun(cfg, LocalExecutor(cfg), build_callbacks(cfg), run_header(cfg))
    run.task.partitions  # noqa: B018 (the server's partitions, for partitions.json)
    gc.collect()
    before = _status("VmRSS")
    traced_before = tracemalloc.get_traced_memory()[0]
    tracemalloc.reset_peak()
    _reset_peak()
    start = time.perf_counter()
    run.run()
    seconds = time.perf_counter() - start
    peak = _status("VmHWM")
    traced_peak = tracemalloc.get_traced_memory()[1]
    gc.collect()
    after = _status("VmRSS")
    traced_after = tracemalloc.get_traced_memory()[0]
    tracemalloc.stop()
    server = run.server.snapshot()
    return {
        "num_clients": num_clients,
        "rounds": rounds,
        "imports": imports,
        "data": before - imports,
        "data_traced": traced_before,
        "peak_run": peak - before,
        "retained": after - before,
        "traced_peak_run": traced_peak - traced_before,
        "traced_retained": traced_after - traced_before,
        "client_states": len(server.client_states),
        "client_state_bytes": sum(m.nbytes for m in server.client_states.values()),
        "masks": len(server.last_masks),
        "mask_bytes": _mask_bytes(server.last_masks),
        "sampled": len({pid for row in run.history[1:] for pid in row["clients"]}),
        "seconds": seconds,
        "accuracy": run.history[-1]["accuracy"],
        "decision": decision.status.name,
    }


def _child(num_clients: int, rounds: int, overrides: list[str]) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="sparsyfed-mem-") as tmp:
        cmd = [sys.executable, __file__, "--child", str(num_clients), "--rounds", str(rounds)]
        proc = subprocess.run(
            [*cmd, "--out", str(Path(tmp) / "run"), *overrides],
            cwd=REPO,
            capture_output=True,
            text=True,
        )
    if proc.returncode != 0:
        raise RuntimeError(f"{num_clients} clients failed:\n{proc.stderr[-3000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def _table(results: list[dict[str, Any]]) -> str:
    first = results[0]
    lines = [
        "| clients | data MB (traced) | peak run MB | ratio | traced peak run MB | ratio "
        "| retained MB (traced) | sampled | client states (KB) | masks (KB) | s |",
        "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in results:
        lines.append(
            f"| {r['num_clients']} | {r['data'] / MB:.1f} ({r['data_traced'] / MB:.1f}) "
            f"| {r['peak_run'] / MB:.1f} | {r['peak_run'] / first['peak_run']:.2f} "
            f"| {r['traced_peak_run'] / MB:.2f} "
            f"| {r['traced_peak_run'] / first['traced_peak_run']:.2f} "
            f"| {r['retained'] / MB:.1f} ({r['traced_retained'] / MB:.2f}) | {r['sampled']} "
            f"| {r['client_states']} ({r['client_state_bytes'] / 1024:.1f}) "
            f"| {r['masks']} ({r['mask_bytes'] / 1024:.1f}) | {r['seconds']:.1f} |"
        )
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, nargs="+", default=[100, 1000, 10_000])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--child", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--out", type=Path, help=argparse.SUPPRESS)
    args, overrides = parser.parse_known_args()
    if args.child is not None:
        print(json.dumps(measure(args.child, args.rounds, overrides, args.out)))
        return 0
    results = [_child(n, args.rounds, overrides) for n in args.clients]
    print(
        f"dataset.num_samples={NUM_SAMPLES} clients_per_round={CLIENTS_PER_ROUND} "
        f"rounds={args.rounds} {' '.join(overrides)}".rstrip()
    )
    print(_table(results))
    for name, key in (("RSS", "peak_run"), ("traced", "traced_peak_run")):
        peaks = [r[key] for r in results]
        print(
            f"peak run memory ({name}): largest / smallest - 1 = {max(peaks) / min(peaks) - 1:.1%}"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
