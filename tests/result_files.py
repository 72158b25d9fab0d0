"""Hand-made run directories (config.yaml, metrics.jsonl, summary.json) for result tests."""

from __future__ import annotations

import json
from pathlib import Path

import yaml

LAYERS = ("conv.weight", "fc.weight")


def make_run(root: Path, name: str, method: str, sparsity: float, seed: int, accuracy: float,
             *, alpha: float = 0.1, scheme: str = "lda", beta: float = 1.25, dataset: str = "mnist1d",
             rounds: int = 2, complete: bool = True, bytes_up: int = 1000,
             bytes_down: int = 4000, flops: float = 50.0) -> Path:  # fmt: skip
    """One run whose every round has the given accuracy; byte and FLOP counts per round.

    Per round: ``bytes_up`` uplink, ``bytes_down`` downlink (dense: 10000 each,
    bounds half the bytes sent), ``flops`` training FLOPs of 100 dense; layer
    sparsity ``sparsity`` in every layer, IoU 0.5, regrowth 0.01 per round.
    """
    run = root / name
    run.mkdir(parents=True)
    cfg = {"seed": seed, "rounds": rounds, "sparsity": sparsity, "beta": beta, "prox_mu": 0.0,
           "partition": {"scheme": scheme, "alpha": alpha}, "dataset": {"name": dataset},
           "model": {"name": "uniform_cnn"}, "method": {"name": method}}  # fmt: skip
    (run / "config.yaml").write_text(yaml.safe_dump(cfg))
    rows = [{"round": 0, "accuracy": 0.1, "sparsity_prunable": 0.0}]
    for r in range(1, rounds + 1):
        rows.append({
            "round": r, "accuracy": accuracy, "sparsity_prunable": sparsity,
            "layer_sparsity": dict.fromkeys(LAYERS, sparsity),
            "uplink_bytes": bytes_up, "downlink_bytes": bytes_down,
            "downlink_bound_bytes": bytes_down / 2, "train_flops": flops,
            "train_flops_dense": 100.0, "client_mask_iou": 0.5, "global_regrowth": 0.01,
        })  # fmt: skip
    (run / "metrics.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    if complete:
        summary = {"method": method, "beta": beta, "sparsity_target": sparsity or None,
                   "final_accuracy": accuracy, "layer": {"a": 1},
                   "output_dir": str(run.resolve()),
                   "uplink_bytes_total": bytes_up * rounds,
                   "downlink_bytes_total": bytes_down * rounds,
                   "uplink_dense_bytes_total": 10000 * rounds,
                   "downlink_dense_bytes_total": 10000 * rounds,
                   "uplink_bound_bytes_total": bytes_up * rounds / 2}  # fmt: skip
        (run / "summary.json").write_text(json.dumps(summary))
    return run
