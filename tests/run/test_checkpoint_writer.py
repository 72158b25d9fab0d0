"""The checkpoint is written in the background, one at a time, and its errors are not lost."""

from __future__ import annotations

import threading
from types import SimpleNamespace

import pytest
from helpers import make_cfg

from sparsyfed.callbacks import checkpoint as module
from sparsyfed.callbacks.checkpoint import CheckpointWriter
from sparsyfed.core.executor import LocalExecutor
from sparsyfed.core.run import FederatedRun
from sparsyfed.run import archive as archive_module
from sparsyfed.run.archive import Archive, CompressedBlobs
from sparsyfed.run.checkpoint import checkpoint_archive


class SlowArchive:
    """Writes its round number once ``release`` is set (or raises, if asked)."""

    def __init__(self, rnd: int, release: threading.Event, fail: bool = False) -> None:
        self.rnd, self.release, self.fail = rnd, release, fail

    def write(self, path, cache=None) -> None:
        self.release.wait(10)
        if self.fail:
            raise OSError(28, "No space left on device")
        path.write_text(str(self.rnd))


def writer(tmp_path, monkeypatch, release, fail_round=None) -> CheckpointWriter:
    monkeypatch.setattr(
        module, "checkpoint_archive", lambda state: SlowArchive(state, release, state == fail_round)
    )
    w = CheckpointWriter(tmp_path, every=1)
    w.total_rounds = 10
    return w


RUN = SimpleNamespace(snapshot=lambda: RUN.round)


def test_the_round_does_not_wait_for_its_checkpoint_and_the_stop_does(tmp_path, monkeypatch):
    release = threading.Event()
    w = writer(tmp_path, monkeypatch, release)
    RUN.round = 1
    w.on_round_end({"round": 1}, RUN)  # returns with the write still pending
    assert not (tmp_path / "checkpoint.sfa").exists()
    release.set()
    w.on_run_stop()
    assert (tmp_path / "checkpoint.sfa").read_text() == "1"


def test_a_failed_write_is_raised_by_the_next_checkpoint(tmp_path, monkeypatch):
    release = threading.Event()
    release.set()
    w = writer(tmp_path, monkeypatch, release, fail_round=1)
    RUN.round = 1
    w.on_round_end({"round": 1}, RUN)
    RUN.round = 2
    with pytest.raises(OSError, match="No space left"):
        w.on_round_end({"round": 2}, RUN)


def test_a_cached_checkpoint_has_the_same_bytes_and_compresses_only_what_changed(
    tmp_path, data_dir, monkeypatch
):
    cfg = make_cfg(tmp_path, data_dir, "num_clients=12", "clients_per_round=3")
    run = FederatedRun(cfg, LocalExecutor(cfg))
    cache = CompressedBlobs()
    compressed: list[int] = []
    real = archive_module.zlib.compress
    monkeypatch.setattr(
        archive_module.zlib,
        "compress",
        lambda b, level: compressed.append(len(b)) or real(b, level),
    )
    for rnd in (1, 2, 3):
        run.round = rnd
        row = run.train_round(run.task.round_context(rnd))
        archive = checkpoint_archive(run.snapshot())
        compressed.clear()
        cached = archive.to_bytes(cache)
        calls = len(compressed)
        assert cached == archive.to_bytes()  # the bytes of an archive written without a cache
        assert Archive.from_bytes(cached).blobs == archive.blobs
        # Compressed again: the masks of this round's clients only (one blob per layer each).
        layers = len(run.task.prunable_keys)
        assert calls == layers * len(row["clients"])
        assert len(archive.compressed) > calls or rnd == 1
