"""``python -m sparsyfed [hydra overrides]``: compose, validate, decide, simulate (also ``-m`` sweeps).

This module imports almost nothing: it starts the client workers' fork server
(when the run will likely use local worker processes), so that its imports of
torch and the task code run beside this process's own, then runs
:func:`sparsyfed.run.cli.main` and ends the process without the interpreter's
slow teardown (:mod:`sparsyfed.run.process_exit`).
"""

from __future__ import annotations

import sys


def console() -> None:
    """Console entry point (``sparsyfed``, ``python -m sparsyfed``)."""
    from sparsyfed.flower.fork_server import start_early
    from sparsyfed.run.process_exit import run_and_exit

    start_early(sys.argv[1:])
    from sparsyfed.run.cli import main

    run_and_exit(main)


if __name__ == "__main__":
    console()
