"""The checkpoint is written in the background, one at a time, and its errors are not lost."""

from __future__ import annotations

import threading
from types import SimpleNamespace

import pytest

from sparsyfed.callbacks import checkpoint as module
from sparsyfed.callbacks.checkpoint import CheckpointWriter


class SlowArchive:
    """Writes its round number once ``release`` is set (or raises, if asked)."""

    def __init__(self, rnd: int, release: threading.Event, fail: bool = False) -> None:
        self.rnd, self.release, self.fail = rnd, release, fail

    def write(self, path) -> None:
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
