"""Run sparsyfed on Flower's deployment engine on this machine (a SuperLink + N SuperNodes).

Usage::

    python scripts/deployment.py [--port P] [--flwr-home DIR] [hydra overrides ...]

e.g. ``python scripts/deployment.py rounds=2 num_clients=4 clients_per_round=2``.
Starts ``flower-superlink`` and one ``flower-supernode`` per client on
127.0.0.1 (insecure), runs the app with ``flwr run . deployment --stream``,
and stops every process it started (by PID). Exit code 0 only when the run
completed and wrote ``summary.json``; see ``docs/deployment.md``.
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # this checkout's package

from sparsyfed.flower.deployment import main

if __name__ == "__main__":
    sys.exit(main())
