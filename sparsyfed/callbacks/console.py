"""Console progress: the run header, one line per round with an ETA, warnings, the final line."""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from sparsyfed.callbacks.base import Callback, RunInfo

if TYPE_CHECKING:
    from sparsyfed.core.run import FederatedRun

LOGGER_NAME = "sparsyfed"
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


def format_seconds(seconds: float) -> str:
    """``1m05s`` or ``42s``."""
    seconds = round(seconds)
    minutes, sec = divmod(seconds, 60)
    return f"{minutes}m{sec:02d}s" if minutes else f"{sec}s"


class ConsoleProgress(Callback):
    """Prints what a run does; warns once per layer when a prunable layer collapses."""

    def __init__(self) -> None:
        self.logger = get_logger()
        self.total_rounds = 0
        self.first_round = 1
        self._empty_layers: set[str] = set()
        self._after_first = time.perf_counter()
        self.output_dir = ""

    def on_run_start(self, info: RunInfo) -> None:
        """Print the header (and where a resumed run continues)."""
        cfg, header = info.cfg, info.header
        self.total_rounds = cfg.rounds
        self.first_round = info.start_round + 1
        self.output_dir = str(cfg.output_dir)
        self.logger.info(
            "sparsyfed: method=%s beta=%s sparsity=%s dataset=%s clients=%d/%d rounds=%d seed=%s",
            header["method"], header["beta"], header["sparsity_target"], cfg.dataset.name,
            cfg.clients_per_round, cfg.num_clients, cfg.rounds, cfg.seed,
        )  # fmt: skip
        for key, value in dict(header.get("ignored") or {}).items():
            self.logger.info(
                "note: method=%s does not use %s=%s; it is recorded as not applied",
                header["method"], key, value,
            )  # fmt: skip
        for key, entry in dict(header.get("departures") or {}).items():
            self.logger.info(
                "note: %s=%s is not the official behaviour (official: %s; docs/methods.md 18.1)",
                key, entry["value"], entry["official"],
            )  # fmt: skip
        self.logger.info("output: %s", self.output_dir)
        if info.resumed:
            self.logger.info("resuming after round %d/%d", info.start_round, cfg.rounds)
            for row in info.history:
                self._warn_empty_layers(row, quiet=True)

    def on_round_end(self, row: Mapping[str, Any], run: FederatedRun) -> None:
        """Print one round's line."""
        rnd = int(row["round"])
        if rnd == 0:
            self.logger.info(
                "round   0/%d  acc %.4f  loss %.4f", self.total_rounds, row["accuracy"], row["loss"]
            )
            return
        self._warn_empty_layers(row)
        # The first round also pays for starting the workers: estimate from the rest.
        if rnd == self.first_round:
            self._after_first = time.perf_counter()
            eta = "-" if rnd < self.total_rounds else format_seconds(0)
        else:
            per_round = (time.perf_counter() - self._after_first) / (rnd - self.first_round)
            eta = format_seconds(per_round * (self.total_rounds - rnd))
        self.logger.info(
            "round %3d/%d  acc %.4f  loss %.4f  sparsity %.4f  up %.3f MB  down %.3f MB  "
            "%.2f s/round  ETA %s",
            rnd, self.total_rounds, row["accuracy"], row["loss"], row["sparsity_prunable"],
            row["uplink_bytes"] / MB, row["downlink_bytes"] / MB, row["round_seconds"], eta,
        )  # fmt: skip

    def _warn_empty_layers(self, row: Mapping[str, Any], quiet: bool = False) -> None:
        for layer, sparsity in row.get("layer_sparsity", {}).items():
            if sparsity >= 1.0 and layer not in self._empty_layers:
                self._empty_layers.add(layer)
                if not quiet:
                    self.logger.warning(
                        "round %d: layer %s is 100%% sparse (collapsed); see layer_sparsity "
                        "in metrics.jsonl",
                        row["round"], layer,
                    )  # fmt: skip

    def on_run_end(self, summary: Mapping[str, Any], run: FederatedRun) -> None:
        """Print the final line."""
        self.logger.info(
            "done: final acc %.4f (mean of last 3 rounds %.4f), sparsity %.4f, up %.2f MB, "
            "down %.2f MB in %s -> %s",
            summary["final_accuracy"], summary["mean_accuracy_last3"],
            summary["final_sparsity_prunable"] or 0.0, summary["uplink_bytes_total"] / MB,
            summary["downlink_bytes_total"] / MB, format_seconds(summary["wall_seconds"]),
            self.output_dir,
        )  # fmt: skip
