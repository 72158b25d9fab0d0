"""Per-round uplink accounting of finished runs: conditional codec vs the best unconditional one.

Usage::

    python scripts/wire_report.py RUN_DIR [RUN_DIR ...]

For each run directory (``metrics.jsonl`` of ``python -m sparsyfed`` or
``flwr run .``) prints one Markdown row per round: mean uplink bytes per client,
the best codec that ignores the received model (same values), the gain, the
position bits of the tensors coded against the received support (``support``
and ``joint`` codecs) over ``log2 C(m, k)`` (the code itself, and with the zero
bits that pad each bit stream and each joint block to whole bytes), the share of
those tensors coded in the joint block, and the sent bytes over both bounds. A
last line checks the two properties the conditional codec promises from round 2
on. Nothing is re-run.
"""

from __future__ import annotations

import argparse
import json
import statistics
from pathlib import Path


def load_rows(run_dir: Path) -> list[dict]:
    lines = (run_dir / "metrics.jsonl").read_text().splitlines()
    return [row for row in map(json.loads, lines) if row["round"] > 0]


def report(run_dir: Path) -> bool:
    rows = load_rows(run_dir)
    print(f"\n### {run_dir}\n")
    print(
        "| round | uplink B/client | best unconditional B/client | gain | log2 C(m,k) bits "
        "| position code ÷ log2 C(m,k) | with byte padding | joint tensors | sent ÷ bound "
        "| sent ÷ conditional bound |"
    )
    print("|---|---|---|---|---|---|---|---|---|---|")
    ok_bytes = ok_positions = True
    for r in rows:
        # Per-client values are keyed by partition id, in the order of `clients`.
        sent = list(r["uplink_bytes_per_client"].values())
        best = [
            r["uplink_best_unconditional_bytes_per_client"][p] for p in r["uplink_bytes_per_client"]
        ]
        pos_bound = r["uplink_support_position_bound_bits"]
        code = r["uplink_support_position_code_bits"]
        padded = r["uplink_support_position_bits"]
        codecs = r["uplink_codecs"]
        joint, support = codecs.get("joint", 0), codecs.get("support", 0)
        code_ratio = code / pos_bound if pos_bound else float("nan")
        padded_ratio = padded / pos_bound if pos_bound else float("nan")
        if r["round"] >= 2:
            ok_bytes &= all(s < b for s, b in zip(sent, best, strict=True))
            ok_positions &= pos_bound > 0 and code_ratio <= 1.05
        print(
            f"| {r['round']} | {statistics.mean(sent):,.0f} | {statistics.mean(best):,.0f} "
            f"| {sum(best) / sum(sent):.3f}x | {pos_bound:,.0f} | {code_ratio:.4f} "
            f"| {padded_ratio:.4f} | {joint}/{joint + support} "
            f"| {r['uplink_bytes'] / r['uplink_bound_bytes']:.4f} "
            f"| {r['uplink_bytes'] / r['uplink_cond_bound_bytes']:.4f} |"
        )
    total_sent = sum(r["uplink_bytes"] for r in rows)
    total_best = sum(r["uplink_best_unconditional_bytes"] for r in rows)
    pos = sum(r["uplink_support_position_bits"] for r in rows)
    code = sum(r["uplink_support_position_code_bits"] for r in rows)
    pos_bound = sum(r["uplink_support_position_bound_bits"] for r in rows)
    pos_uncond = sum(r["uplink_support_unconditional_position_bits"] for r in rows)
    print(
        f"\ntotal uplink {total_sent / 1e6:.3f} MB vs {total_best / 1e6:.3f} MB with the best "
        f"unconditional codec ({total_best / total_sent:.3f}x); position code "
        f"{code / pos_bound if pos_bound else float('nan'):.4f}x log2 C(m,k) "
        f"({pos / pos_bound if pos_bound else float('nan'):.4f}x with byte padding) and "
        f"{pos / pos_uncond if pos_uncond else float('nan'):.3f}x the position bits of the best "
        f"unconditional codec on the same tensors ({pos / 8e6:.3f} MB vs {pos_uncond / 8e6:.3f} MB)"
    )
    print(
        f"from round 2: every client below the best unconditional codec: {ok_bytes}; "
        f"position code within 1.05x of log2 C(m,k) every round: {ok_positions}"
    )
    return ok_bytes and ok_positions


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("runs", nargs="+", type=Path)
    args = parser.parse_args()
    results = [report(run) for run in args.runs]
    raise SystemExit(0 if all(results) else 1)


if __name__ == "__main__":
    main()
