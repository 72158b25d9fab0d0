"""End a command-line process without the interpreter's teardown.

Once ``import torch`` has run, the interpreter's own teardown (freeing every
module and running the C++ static destructors of torch's libraries) takes
most of a second on a 2-core machine, paid again by every job of a sweep.
:func:`exit_now` does what a normal exit does that matters (waits for the
non-daemon threads, runs the ``atexit`` handlers, flushes the standard
streams) and then ends the process at once.

Only for ``__main__``-style entry points: called from a library or a test
it would end the caller's process.
"""

from __future__ import annotations

import atexit
import os
import sys
import threading
from collections.abc import Callable


def exit_code(code: object) -> int:
    """The process exit code of ``SystemExit(code)`` (a message prints, as Python does)."""
    if code is None:
        return 0
    if isinstance(code, int):
        return code
    print(code, file=sys.stderr)
    return 1


def exit_now(code: int) -> None:
    """Wait for the non-daemon threads, run the ``atexit`` handlers, flush, and end the process."""
    for thread in threading.enumerate():
        if thread is not threading.main_thread() and not thread.daemon:
            thread.join()
    atexit._run_exitfuncs()  # logging.shutdown, multiprocessing, W&B, Ray, temporary files
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError):  # closed or gone: nothing left to write
            pass
    os._exit(code)


def run_and_exit(main: Callable[[], object]) -> None:
    """Run ``main`` (a console entry point) and end the process with its exit code.

    ``main`` ends by returning (exit code 0, or the int it returns) or by
    ``SystemExit``. Any other exception propagates as usual (traceback, exit 1).
    """
    try:
        returned = main()
    except SystemExit as exc:
        exit_now(exit_code(exc.code))
    exit_now(returned if isinstance(returned, int) else 0)
