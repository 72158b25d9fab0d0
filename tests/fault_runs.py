"""A seeded run with every kind of injected fault, and what its records must show.

Shared by the in-process fault tests and the real-cluster test: the same
faults through Ray must give the records of the bare loop.
"""

from __future__ import annotations

import dataclasses

from helpers import TINY, make_cfg, read_rows

from sparsyfed.core.faults import CLIENT_FAULTS, fault_plan
from sparsyfed.core.seeds import SeedStreams
from sparsyfed.core.server import FederatedServer

CAUSE = {
    "raise": "error",
    "timeout": "timeout",
    "nonfinite": "non-finite",
    "malformed": "malformed",
}
"""The failure cause the server records for each injected fault."""


def covering_seed(cfg) -> int:
    """A ``faults.seed`` whose faulty clients act out every fault kind within the run."""
    server = FederatedServer(cfg)
    sampled = [server.sample_clients() for _ in range(cfg.rounds)]
    for seed in range(200):
        faults = dataclasses.replace(cfg.faults, seed=seed)
        plans = [fault_plan(faults, SeedStreams(cfg.seed), r + 1, c) for r, c in enumerate(sampled)]
        if {k for p in plans for k in p.values()} == set(CLIENT_FAULTS):
            return seed
    raise AssertionError("no faults.seed in 0..199 covers every kind")


def every_fault_args(tmp_path, data_dir, round_timeout: float) -> list[str]:
    """Overrides of a 2-round run (5 of 10 clients, 2 faulty each round) with all four kinds."""
    args = [
        "num_clients=10", "clients_per_round=5", "rounds=2", "faults.kind=mix",
        "faults.fraction=0.4", f"simulation.round_timeout={round_timeout:g}",
        "simulation.server_threads=1",
    ]  # fmt: skip
    probe = make_cfg(tmp_path / "probe", data_dir, *args)
    return [*args, f"faults.seed={covering_seed(probe)}"]


def command_line(args: list[str], data_dir) -> list[str]:
    """The overrides of :func:`helpers.make_cfg` as a command line."""
    return [*TINY, f"data_dir={data_dir}", *args]


def assert_every_fault_met(cfg, console: str) -> None:
    """Every round completed without its seeded faulty clients, each failure logged once."""
    rows = read_rows(cfg)
    assert len(rows) == cfg.rounds + 1
    kinds = set()
    for row in rows[1:]:
        plan = fault_plan(cfg.faults, SeedStreams(cfg.seed), row["round"], row["clients"])
        kinds |= set(plan.values())
        failures = row["client_failures"]
        assert [f["partition"] for f in failures] == sorted(plan)
        assert [f["cause"] for f in failures] == [CAUSE[plan[p]] for p in sorted(plan)]
        assert row["num_updates"] == len(row["clients"]) - len(plan)
        for pid, kind in plan.items():
            line = f"round {row['round']}: train of partition {pid} failed ({CAUSE[kind]}): "
            assert console.count(line) == 1, console[-2000:]
    assert kinds == set(CLIENT_FAULTS)
    assert "Traceback" not in console
