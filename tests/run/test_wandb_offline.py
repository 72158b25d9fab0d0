"""W&B offline: the run files hold the metrics of ``metrics.jsonl``; a resumed run keeps its id.

A real ``python -m sparsyfed`` run with ``wandb.mode=offline`` is stopped by
Ctrl-C (SIGINT) after a round and resumed by the same command. The W&B files
(``<output_dir>/wandb/offline-run-*/run-<id>.wandb``) are read back record by
record: their history steps and values must be the rounds of ``metrics.jsonl``.
"""

from __future__ import annotations

import json
import os
import signal
import struct
import subprocess
from pathlib import Path

import pytest
from real_runs import REPO, ROUNDS, default_sigint, python_m, wait_for_round

BLOCK = 32 * 1024
HEADER = 7  # crc32 (4), length (2), record type (1): the log format of W&B's datastore


def wandb_records(path: Path) -> list[bytes]:
    """The records of a ``.wandb`` file (a LevelDB-style log after a 7-byte file header)."""
    data = path.read_bytes()
    assert data[:4] == b":W&B", "not a W&B datastore file"
    records, pending, pos = [], b"", HEADER
    while pos + HEADER <= len(data):
        room = BLOCK - pos % BLOCK
        if room < HEADER:  # the block's tail is padding
            pos += room
            continue
        _, length, kind = struct.unpack("<IHB", data[pos : pos + HEADER])
        if kind == 0 and length == 0:
            break
        chunk = data[pos + HEADER : pos + HEADER + length]
        pos += HEADER + length
        pending = chunk if kind in (1, 2) else pending + chunk
        if kind in (1, 4):  # full or last
            records.append(pending)
            pending = b""
    return records


def history(path: Path) -> tuple[str, dict[int, dict[str, float]]]:
    """The run id and ``{step: {metric: value}}`` of one offline W&B run file."""
    from wandb.proto import wandb_internal_pb2 as pb

    run_id, steps = "", {}
    for raw in wandb_records(path):
        record = pb.Record()
        record.ParseFromString(raw)
        if record.HasField("run"):
            run_id = record.run.run_id
        if record.HasField("history"):
            items = {i.key or "/".join(i.nested_key): json.loads(i.value_json)
                     for i in record.history.item}  # fmt: skip
            steps[int(record.history.step.num)] = {
                k: v for k, v in items.items() if not k.startswith("_")
            }
    return run_id, steps


@pytest.mark.slow
def test_offline_wandb_holds_the_metrics_of_metrics_jsonl_and_a_resume_keeps_the_run(tmp_path):
    data_dir, out = tmp_path / "data", tmp_path / "run"
    command = python_m(data_dir, out, "wandb.mode=offline")
    env = os.environ | {"WANDB_SILENT": "true", "WANDB_DISABLE_GIT": "true"}
    proc = subprocess.Popen(command, cwd=REPO, env=env, stderr=subprocess.DEVNULL,
                            stdout=subprocess.DEVNULL, preexec_fn=default_sigint)  # fmt: skip
    try:
        wait_for_round(proc, out, 2)
        proc.send_signal(signal.SIGINT)
        assert proc.wait(timeout=120) in (130, -signal.SIGINT)  # the shell shows 130 for both
    finally:
        if proc.poll() is None:
            proc.kill()
    done = subprocess.run(command, cwd=REPO, env=env, capture_output=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]

    files = sorted((out / "wandb").glob("offline-run-*/run-*.wandb"))
    assert len(files) == 2, files  # one per session of the run
    (first_id, first), (second_id, second) = (history(f) for f in files)
    assert first_id == second_id and first_id.startswith("sf-")
    rows = [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]
    assert [r["round"] for r in rows] == list(range(ROUNDS + 1))
    # Ctrl-C after round 2's record: the checkpoint holds round 2, or round 1 when the signal
    # came before round 2's checkpoint was written; the second session goes on from there.
    resumed_at = min(second)
    assert 2 <= resumed_at <= 3 and max(first) >= resumed_at - 1
    logged = {**first, **second}  # a round re-run after the checkpoint is logged again
    assert sorted(logged) == [r["round"] for r in rows]
    for row in rows:
        scalars = {k: v for k, v in row.items() if isinstance(v, int | float)}
        assert logged[row["round"]] == scalars, row["round"]
