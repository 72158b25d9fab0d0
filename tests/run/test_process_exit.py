"""Ending a command-line process quickly: what a normal exit does that matters still happens."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import pytest

SCRIPT = textwrap.dedent(
    """
    import atexit, sys, threading, time
    from pathlib import Path
    from sparsyfed.run.process_exit import run_and_exit

    out = Path(sys.argv[1])

    def late_writer():
        time.sleep(0.3)
        (out / "thread.txt").write_text("joined")

    def main():
        atexit.register(lambda: (out / "atexit.txt").write_text("ran"))
        threading.Thread(target=late_writer).start()  # not a daemon: waited for
        sys.stdout.write("buffered, no newline")  # flushed before the end
        how = sys.argv[2]
        if how == "return":
            return 4
        if how == "message":
            sys.exit("a message")
        sys.exit(int(how))

    run_and_exit(main)
    raise AssertionError("not reached")
    """
)


@pytest.mark.parametrize(("how", "code"), [("0", 0), ("3", 3), ("return", 4), ("message", 1)])
def test_exit_code_atexit_handlers_threads_and_output_survive(tmp_path, how, code):
    script = tmp_path / "entry.py"
    script.write_text(SCRIPT)
    proc = subprocess.run(
        [sys.executable, str(script), str(tmp_path), how], capture_output=True, text=True
    )
    assert proc.returncode == code, proc.stderr
    assert proc.stdout == "buffered, no newline"
    assert (tmp_path / "atexit.txt").read_text() == "ran"
    assert (tmp_path / "thread.txt").read_text() == "joined"
    assert ("a message" in proc.stderr) == (how == "message")
