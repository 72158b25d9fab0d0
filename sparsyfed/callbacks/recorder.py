"""What a run writes: resolved config, per-round metrics, summary, console progress."""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml

LOGGER_NAME = "sparsyfed"
CONFIG_FILE = "config.yaml"
METRICS_FILE = "metrics.jsonl"
SUMMARY_FILE = "summary.json"
PARTITION_FILE = "partitions.json"

MB = 1e6


def get_logger() -> logging.Logger:
    """The project logger; prints plain lines to stderr unless configured otherwise."""
    logger = logging.getLogger(LOGGER_NAME)
    if not logger.handlers:
        handler = logging.StreamHandler()
        handler.setFormatter(logging.Formatter("%(message)s"))
        logger.addHandler(handler)
        logger.setLevel(logging.INFO)
        logger.propagate = False
    return logger


class RunRecorder:
    """Writes one run's output directory and prints one line per round.

    Parameters
    ----------
    output_dir : str or Path
        The run's directory (created if missing).
    cfg : mapping
        The resolved run config, saved as ``config.yaml``.

    """

    def __init__(self, output_dir: str | Path, cfg: Mapping[str, Any]) -> None:
        self.output_dir = Path(output_dir)
        self.output_dir.mkdir(parents=True, exist_ok=True)
        self.cfg = cfg
        self.total_rounds = int(cfg["rounds"])
        self.logger = get_logger()
        self.history: list[dict[str, Any]] = []
        self._empty_layers: set[str] = set()
        self._start = self._after_first = time.perf_counter()
        (self.output_dir / CONFIG_FILE).write_text(yaml.safe_dump(dict(cfg), sort_keys=False))
        (self.output_dir / METRICS_FILE).write_text("")
        self._wandb = _start_wandb(cfg, self.output_dir)

    def write_json(self, name: str, payload: Any) -> None:
        """Write ``payload`` as JSON to ``name`` in the output directory."""
        (self.output_dir / name).write_text(json.dumps(payload, indent=1))

    def start(self, initial: Mapping[str, Any]) -> None:
        """Print the run header and the round-0 evaluation."""
        cfg = self.cfg
        self.logger.info(
            "sparsyfed: method=%s beta=%s sparsity=%s dataset=%s clients=%d/%d rounds=%d seed=%s",
            cfg["method"]["name"], cfg["beta"], cfg["sparsity"], cfg["dataset"]["name"],
            cfg["clients_per_round"], cfg["num_clients"], self.total_rounds, cfg["seed"],
        )  # fmt: skip
        self.logger.info("output: %s", self.output_dir)
        self.logger.info(
            "round   0/%d  acc %.4f  loss %.4f",
            self.total_rounds,
            initial["accuracy"],
            initial["loss"],
        )
        self.record(initial)

    def record(self, row: Mapping[str, Any]) -> None:
        """Append one round's metrics to ``metrics.jsonl`` (and W&B if enabled)."""
        self.history.append(dict(row))
        with (self.output_dir / METRICS_FILE).open("a") as fh:
            fh.write(json.dumps(row) + "\n")
        if self._wandb is not None:
            scalars = {k: v for k, v in row.items() if isinstance(v, int | float)}
            self._wandb.log(scalars, step=int(row["round"]))

    def round_done(self, row: Mapping[str, Any]) -> None:
        """Record a finished round and print its progress line."""
        self.record(row)
        self.warn_empty_layers(row)
        rnd = int(row["round"])
        # The first round also pays for starting the workers: estimate from the rest.
        if rnd == 1:
            self._after_first = time.perf_counter()
            eta = "-" if self.total_rounds > 1 else _format_seconds(0)
        else:
            per_round = (time.perf_counter() - self._after_first) / (rnd - 1)
            eta = _format_seconds(per_round * (self.total_rounds - rnd))
        self.logger.info(
            "round %3d/%d  acc %.4f  loss %.4f  sparsity %.4f  up %.3f MB  down %.3f MB  "
            "%.2f s/round  ETA %s",
            rnd, self.total_rounds, row["accuracy"], row["loss"], row["sparsity_prunable"],
            row["uplink_bytes"] / MB, row["downlink_bytes"] / MB, row["round_seconds"], eta,
        )  # fmt: skip

    def warn_empty_layers(self, row: Mapping[str, Any]) -> None:
        """Warn once per layer when a prunable layer has lost every weight."""
        for layer, sparsity in row.get("layer_sparsity", {}).items():
            if sparsity >= 1.0 and layer not in self._empty_layers:
                self._empty_layers.add(layer)
                self.logger.warning(
                    "round %d: layer %s is 100%% sparse (collapsed); see layer_sparsity in %s",
                    row["round"], layer, METRICS_FILE,
                )  # fmt: skip

    def finish(self) -> dict[str, Any]:
        """Write ``summary.json``, print the final line, and return the summary."""
        rounds = [r for r in self.history if r["round"] > 0]
        last = self.history[-1]
        tail = [r["accuracy"] for r in rounds[-3:]] or [last["accuracy"]]
        summary = {
            "method": self.cfg["method"]["name"],
            "beta": self.cfg["beta"],
            "sparsity_target": self.cfg["sparsity"],
            "seed": self.cfg["seed"],
            "dataset": self.cfg["dataset"]["name"],
            "rounds": len(rounds),
            "final_accuracy": last["accuracy"],
            "final_loss": last["loss"],
            "mean_accuracy_last3": sum(tail) / len(tail),
            "best_accuracy": max(r["accuracy"] for r in self.history),
            "final_sparsity_prunable": last.get("sparsity_prunable"),
            "final_sparsity_params": last.get("sparsity_params"),
            "uplink_bytes_total": sum(r.get("uplink_bytes", 0) for r in rounds),
            "downlink_bytes_total": sum(r.get("downlink_bytes", 0) for r in rounds),
            "uplink_dense_bytes_total": sum(r.get("uplink_dense_bytes", 0) for r in rounds),
            "downlink_dense_bytes_total": sum(r.get("downlink_dense_bytes", 0) for r in rounds),
            "uplink_bound_bytes_total": sum(r.get("uplink_bound_bytes", 0) for r in rounds),
            "uplink_cond_bound_bytes_total": sum(
                r.get("uplink_cond_bound_bytes", 0) for r in rounds
            ),
            "uplink_best_unconditional_bytes_total": sum(
                r.get("uplink_best_unconditional_bytes", 0) for r in rounds
            ),
            "wall_seconds": time.perf_counter() - self._start,
            "output_dir": str(self.output_dir),
        }
        self.write_json(SUMMARY_FILE, summary)
        self.logger.info(
            "done: final acc %.4f (mean of last 3 rounds %.4f), sparsity %.4f, up %.2f MB, "
            "down %.2f MB in %s -> %s",
            summary["final_accuracy"], summary["mean_accuracy_last3"],
            summary["final_sparsity_prunable"] or 0.0, summary["uplink_bytes_total"] / MB,
            summary["downlink_bytes_total"] / MB, _format_seconds(summary["wall_seconds"]),
            self.output_dir,
        )  # fmt: skip
        if self._wandb is not None:
            self._wandb.summary.update({k: v for k, v in summary.items() if k != "output_dir"})
            self._wandb.finish()
        return summary


def _format_seconds(seconds: float) -> str:
    seconds = round(seconds)
    minutes, sec = divmod(seconds, 60)
    return f"{minutes}m{sec:02d}s" if minutes else f"{sec}s"


def _start_wandb(cfg: Mapping[str, Any], output_dir: Path) -> Any:
    """Start a W&B run when ``wandb.mode`` is ``offline`` or ``online``."""
    wb_cfg = cfg.get("wandb") or {}
    mode = wb_cfg.get("mode", "disabled")
    if mode == "disabled":
        return None
    import wandb

    return wandb.init(
        project=wb_cfg.get("project", "sparsyfed"),
        mode=mode,
        dir=str(output_dir),
        config=dict(cfg),
        name=output_dir.name,
        reinit="finish_previous",
    )
