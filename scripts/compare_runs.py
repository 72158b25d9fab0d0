"""Compare the per-round records of two runs, key by key, ignoring timing fields.

Usage::

    python scripts/compare_runs.py RUN_A RUN_B [--keys accuracy,loss] [--model]

Prints, for every key whose value differs in some round, the first round it
differs in and the two values; exits 0 when every compared value is equal
(``==`` on the parsed JSON, so floats are compared exactly). ``--keys``
restricts the comparison; ``--model`` also compares the two ``model.sfa``
files byte for byte. A refactor that should not change results is checked
with this script on runs of the same seed before and after it.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

TIMING = {"round_seconds", "wall_seconds"}


def rows(run: Path) -> list[dict]:
    with (run / "metrics.jsonl").open() as fh:
        return [json.loads(line) for line in fh]


def compare(a: Path, b: Path, keys: list[str] | None = None) -> list[str]:
    """The differences between two runs' records (empty when they agree)."""
    ra, rb = rows(a), rows(b)
    out = []
    if len(ra) != len(rb):
        out.append(f"number of rounds: {len(ra)} vs {len(rb)}")
    seen: set[str] = set()
    for x, y in zip(ra, rb, strict=False):
        names = keys or sorted((set(x) | set(y)) - TIMING)
        for key in names:
            if key in seen:
                continue
            if x.get(key, "(missing)") != y.get(key, "(missing)"):
                seen.add(key)
                va, vb = (json.dumps(v.get(key, "(missing)"))[:120] for v in (x, y))
                out.append(f"{key}: round {x['round']}: {va} vs {vb}")
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("run_a", type=Path)
    parser.add_argument("run_b", type=Path)
    parser.add_argument("--keys", help="comma-separated keys to compare (default: all)")
    parser.add_argument("--model", action="store_true", help="also compare model.sfa bytes")
    args = parser.parse_args()
    keys = args.keys.split(",") if args.keys else None
    diffs = compare(args.run_a, args.run_b, keys)
    if args.model:
        ma, mb = (p / "model.sfa" for p in (args.run_a, args.run_b))
        if ma.read_bytes() != mb.read_bytes():
            diffs.append("model.sfa: the files differ")
    for line in diffs:
        print(line)
    print("identical" if not diffs else f"{len(diffs)} differing keys")
    return 0 if not diffs else 1


if __name__ == "__main__":
    sys.exit(main())
