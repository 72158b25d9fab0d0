"""Helpers shared by the end-to-end tests."""

from __future__ import annotations

import json

from sparsyfed.config import compose_config, load_config

# A run small enough for seconds: 1,500 MNIST-1D samples, 8 clients, a 4-layer CNN of width 16.
TINY = [
    "dataset.num_samples=1500",
    "num_clients=8",
    "clients_per_round=3",
    "model.width=16",
    "model.depth=4",
    "partition.alpha=0.5",
]


def make_plain(tmp_path, data_dir, *overrides: str, base: list[str] = TINY) -> dict:
    """Compose (not validate) a run config writing to ``tmp_path / 'run'``."""
    plain = compose_config([*base, f"data_dir={data_dir}", *overrides])
    plain["output_dir"] = str(tmp_path / "run")
    return plain


def make_cfg(tmp_path, data_dir, *overrides: str, base: list[str] = TINY):
    """Compose and validate a run config writing to ``tmp_path / 'run'``."""
    return load_config(make_plain(tmp_path, data_dir, *overrides, base=base))


def read_rows(cfg) -> list[dict]:
    """The per-round metrics a run wrote (round 0 first)."""
    with open(f"{cfg.output_dir}/metrics.jsonl") as fh:
        return [json.loads(line) for line in fh]


def round_ctx(server_round: int, total_rounds: int = 10, lr: float = 0.1, seed: int = 0):
    """A round context for calling method hooks directly."""
    from sparsyfed.core.context import RoundContext
    from sparsyfed.core.seeds import SeedStreams

    return RoundContext(server_round, total_rounds, lr, SeedStreams(seed))


def client_updates(server, pids, server_round: int) -> list:
    """Run real client rounds for ``pids`` on the server's current model (no wire).

    The downlink carries the method's side tensors, the updates its upload side tensors.
    """
    import torch

    from sparsyfed.core.client import run_client_round
    from sparsyfed.core.side import split_side, with_side
    from sparsyfed.core.task import get_task
    from sparsyfed.methods import ClientUpdate

    task = get_task(server.cfg)
    ctx = task.round_context(server_round)
    side = {k: v.detach().cpu().numpy() for k, v in server.method.downlink_side().items()}
    received = with_side(server.global_arrays(), side)
    updates = []
    for pid in pids:
        upload, num_examples, metrics = run_client_round(task, ctx, pid, received)
        state, side = split_side({k: torch.from_numpy(v) for k, v in upload.items()})
        updates.append(ClientUpdate(pid, state, num_examples, metrics, side))
    return updates


def run_main(args: list[str], cwd, monkeypatch, capsys) -> tuple[int, str]:
    """``python -m sparsyfed ARGS`` in this process from ``cwd``: its exit code and stderr."""
    import pytest

    from sparsyfed.run import cli as entry

    monkeypatch.chdir(cwd)
    monkeypatch.setattr("sys.argv", ["sparsyfed", *args])
    with pytest.raises(SystemExit) as exited:
        entry.main()
    return exited.value.code, capsys.readouterr().err
