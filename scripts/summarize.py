"""Summarise run directories into a Markdown table (mean ± std over seeds).

Usage::

    python scripts/summarize.py DIR [DIR ...] [--from-round 10] [--compact | --fedsparsify]

Every directory below DIR holding ``summary.json``, ``metrics.jsonl`` and
``config.yaml`` (one run of ``python -m sparsyfed`` or ``flwr run .``) is read;
runs that differ only in ``seed`` form one row. Nothing is re-run.
"""

from __future__ import annotations

import argparse
import json
import statistics
from collections import defaultdict
from pathlib import Path

import yaml


def load_runs(roots: list[Path]) -> list[dict]:
    runs = []
    for root in roots:
        for summary_path in sorted(root.rglob("summary.json")):
            run_dir = summary_path.parent
            rows = [
                json.loads(line) for line in (run_dir / "metrics.jsonl").read_text().splitlines()
            ]
            cfg = yaml.safe_load((run_dir / "config.yaml").read_text())
            runs.append({"summary": json.loads(summary_path.read_text()), "rows": rows, "cfg": cfg})
    return runs


def _mean_std(values: list[float], fmt: str = ".3f") -> str:
    if len(values) == 1:
        return f"{values[0]:{fmt}}"
    return f"{statistics.mean(values):{fmt}} ± {statistics.stdev(values):{fmt}}"


def run_stats(run: dict, from_round: int) -> dict:
    rows = [r for r in run["rows"] if r["round"] > 0]
    target = run["summary"]["sparsity_target"] or 0.0  # None: the method does not prune
    late = [r for r in rows if r["round"] >= from_round] or rows
    up = sum(r["uplink_bytes"] for r in rows)
    up_dense = sum(r["uplink_dense_bytes"] for r in rows)
    down = sum(r["downlink_bytes"] for r in rows)
    down_dense = sum(r["downlink_dense_bytes"] for r in rows)
    return {
        "acc_last3": run["summary"]["mean_accuracy_last3"],
        "acc_final": run["summary"]["final_accuracy"],
        "sparsity_final": rows[-1]["sparsity_prunable"],
        "max_gap": max(abs(r["sparsity_prunable"] - target) for r in late),
        "up_mb": up / 1e6,
        "down_mb": down / 1e6,
        "up_ratio": up_dense / up,
        "down_ratio": down_dense / down,
        "bound_ratio": up / sum(r["uplink_bound_bytes"] for r in rows),
        "seconds": run["summary"]["wall_seconds"],
        "flops_ratio": (
            sum(r["train_flops"] for r in rows) / sum(r["train_flops_dense"] for r in rows)
            if all("train_flops" in r for r in rows)
            else float("nan")
        ),
    }


def print_compact(groups: dict[tuple, list[dict]]) -> None:
    print(
        "| method | S | accuracy (mean of last 3 rounds) | global prunable sparsity, last round "
        "| uplink MB (dense ÷ sent) | downlink MB (dense ÷ sent) | training FLOPs ÷ dense |"
    )
    print("|---|---|---|---|---|---|---|")
    for key in sorted(groups, key=lambda k: (k[3], k[1])):
        st = groups[key]

        def mean(name: str, st: list[dict] = st) -> float:
            return statistics.mean(x[name] for x in st)

        print(
            f"| {key[1]} | {key[3]} | {_mean_std([x['acc_last3'] for x in st])} "
            f"| {mean('sparsity_final'):.4f} | {mean('up_mb'):.2f} ({mean('up_ratio'):.1f}x) "
            f"| {mean('down_mb'):.2f} ({mean('down_ratio'):.1f}x) | {mean('flops_ratio'):.3f} |"
        )


def run_label(run: dict) -> str:
    """The method's name, ``fedprox`` for FedAvg with a proximal term."""
    name = run["summary"]["method"]
    if name == "fedavg" and float(run["cfg"].get("prox_mu") or 0.0) > 0:
        return "fedprox"
    return name


def print_fedsparsify(runs: list[dict]) -> None:
    """FedSparsify's comparison layout: rows method, columns S, cells final accuracy."""
    cells: dict[tuple[str, float], list[float]] = defaultdict(list)
    for run in runs:
        target = run["summary"]["sparsity_target"] or 0.0
        cells[(run_label(run), target)].append(run["summary"]["final_accuracy"])
    levels = sorted({s for _, s in cells})
    methods = sorted({m for m, _ in cells})
    print("| method | " + " | ".join(f"S = {s}" for s in levels) + " |")
    print("|---|" + "---|" * len(levels))
    for method in methods:
        row = [_mean_std(cells[(method, s)]) if (method, s) in cells else "" for s in levels]
        print(f"| {method} | " + " | ".join(row) + " |")
    print_efficiency(runs)


def print_efficiency(runs: list[dict]) -> None:
    """Per method and S: the paper's parameters exchanged, our encoded bytes, the final model."""
    groups: dict[tuple[str, float], list[dict]] = defaultdict(list)
    for run in runs:
        groups[(run_label(run), run["summary"]["sparsity_target"] or 0.0)].append(run["summary"])
    print(
        "\n| method | S | parameters exchanged (paper's count, M) | dense ÷ exchanged "
        "| bytes sent up + down (MB, encoded) | dense ÷ bytes | final model non-zeros "
        "| final model KB (encoded) | dense ÷ final model |"
    )
    print("|---|---|---|---|---|---|---|---|---|")
    for (method, target), summaries in sorted(groups.items()):

        def mean(key: str, rows: list[dict] = summaries) -> float:
            return statistics.mean(float(r[key]) for r in rows)

        sent = mean("uplink_bytes_total") + mean("downlink_bytes_total")
        dense = mean("uplink_dense_bytes_total") + mean("downlink_dense_bytes_total")
        print(
            f"| {method} | {target} | {mean('paper_params_exchanged_total') / 1e6:.3f} "
            f"| {mean('paper_params_dense_ratio'):.2f}x | {sent / 1e6:.2f} | {dense / sent:.2f}x "
            f"| {mean('final_model_nnz'):,.0f} | {mean('final_model_bytes') / 1e3:.1f} "
            f"| {mean('final_model_dense_ratio'):.2f}x |"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("dirs", nargs="+", type=Path)
    parser.add_argument(
        "--from-round", type=int, default=10, help="first round of the sparsity-gap column"
    )
    parser.add_argument(
        "--compact", action="store_true", help="fewer columns (the README's methods table)"
    )
    parser.add_argument(
        "--fedsparsify",
        action="store_true",
        help="FedSparsify's layout: method x S, final accuracy",
    )
    args = parser.parse_args()
    if args.fedsparsify:
        print_fedsparsify(load_runs(args.dirs))
        return
    groups: dict[tuple, list[dict]] = defaultdict(list)
    for run in load_runs(args.dirs):
        s, cfg = run["summary"], run["cfg"]
        values = (cfg.get("wire") or {}).get("values", "raw")
        method = s["method"] if values == "raw" else f"{s['method']} ({values} uplink)"
        key = (s["dataset"], method, s["beta"], s["sparsity_target"] or 0.0,
               cfg["partition"]["alpha"], cfg["rounds"])  # fmt: skip
        groups[key].append(run_stats(run, args.from_round))
    if args.compact:
        print_compact(groups)
        return
    print(
        "| dataset | method | β | S | α | rounds | seeds | accuracy (mean of last 3 rounds) | final accuracy "
        f"| global prunable sparsity | max \\|sparsity − S\\| from round {args.from_round} "
        "| uplink MB (total) | dense ÷ uplink | downlink MB (total) | dense ÷ downlink | uplink ÷ bound "
        "| training FLOPs ÷ dense | s/run |"
    )
    print("|" + "---|" * 18)
    for key in sorted(groups):
        st = groups[key]

        def col(name: str, fmt: str = ".3f", st: list[dict] = st) -> str:
            return _mean_std([x[name] for x in st], fmt)

        def mean(name: str, st: list[dict] = st) -> float:
            return statistics.mean(x[name] for x in st)

        print(
            f"| {key[0]} | {key[1]} | {key[2]} | {key[3]} | {key[4]} | {key[5]} | {len(st)} | {col('acc_last3')} "
            f"| {col('acc_final')} | {col('sparsity_final', '.4f')} | {col('max_gap', '.4f')} | {col('up_mb', '.2f')} "
            f"| {mean('up_ratio'):.1f}x | {col('down_mb', '.2f')} | {mean('down_ratio'):.1f}x "
            f"| {mean('bound_ratio'):.3f} | {mean('flops_ratio'):.3f} | {mean('seconds'):.0f} |"
        )


if __name__ == "__main__":
    main()
