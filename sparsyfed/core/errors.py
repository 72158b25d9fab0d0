"""A client's exception as the one line the server logs (standard library only).

The ClientApp imports this before anything heavy, so a node answers its
partition query without importing torch.
"""

from __future__ import annotations

import os
import sys
import traceback
from pathlib import Path


def failure_reason(err: BaseException) -> str:
    """One line: the exception and the innermost file:line outside installed libraries."""
    frames = traceback.extract_tb(err.__traceback__)
    libraries = ("site-packages", "dist-packages", sys.base_prefix + os.sep)
    own = [f for f in frames if not any(part in f.filename for part in libraries)]
    where = (own or frames)[-1] if frames else None
    at = f" at {Path(where.filename).name}:{where.lineno}" if where else ""
    return f"{type(err).__name__}: {err}"[:300] + at
