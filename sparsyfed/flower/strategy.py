"""The Flower strategy: sparse payloads both ways, seeded sampling, central and federated evaluation.

All algorithmic work is delegated to :class:`sparsyfed.core.server.FederatedServer`
(and through it to the method); this module only turns it into Flower messages.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterable, Mapping
from typing import Any

import numpy as np
import torch
from flwr.app import ArrayRecord, ConfigRecord, Message, MessageType, MetricRecord, RecordDict
from flwr.serverapp import Grid
from flwr.serverapp.strategy import Strategy

from sparsyfed.callbacks.recorder import RunRecorder
from sparsyfed.core.server import FederatedServer
from sparsyfed.flower.records import blobs_to_record, record_to_blobs
from sparsyfed.methods import ClientUpdate
from sparsyfed.upload.transport import WireOptions, encode_downlink
from sparsyfed.wire.codec import PayloadError
from sparsyfed.wire.payload import decode_state, payload_report

NODE_WAIT_SECONDS = 60.0
# Client metrics logged per round as their mean over the round's clients.
CLIENT_MEAN_METRICS = (
    "train_loss",
    "train_accuracy",
    "local_regrowth",
    "local_regrowth_after_prune",
    "train_flops",
    "train_flops_dense",
)


class SparseFedStrategy(Strategy):
    """FedAvg of pseudo-gradients decoded from sparse payloads.

    Parameters
    ----------
    server : FederatedServer
        Global model, sampler and method of the run.
    recorder : RunRecorder
        Where per-round metrics go.

    """

    def __init__(self, server: FederatedServer, recorder: RunRecorder) -> None:
        self.server = server
        self.recorder = recorder
        self.cfg = server.cfg
        self.wire = WireOptions.from_config(self.cfg)
        self.run_config_json = json.dumps(self.cfg)
        self.partition_to_node: dict[int, int] = {}
        self._round_clients: list[int] = []
        self._eval_clients: list[int] = []
        self._downlink: dict[str, Any] = {}
        self._sent_state: dict[str, np.ndarray] = {}  # the server's side information
        self._encoded: tuple | None = None  # (state object, arrays, payloads) of the global model
        self._cumulative = {"uplink": 0, "downlink": 0}
        self._last_train: tuple = ([], [], [], {})

    # ------------------------------------------------------------- discovery
    def discover_partitions(self, grid: Grid, timeout: float) -> dict[int, int]:
        """Ask every node for its partition id; return partition id -> node id."""
        num_clients = int(self.cfg["num_clients"])
        deadline = time.monotonic() + NODE_WAIT_SECONDS
        node_ids = list(grid.get_node_ids())
        while len(node_ids) < num_clients and time.monotonic() < deadline:
            time.sleep(0.5)
            node_ids = list(grid.get_node_ids())
        if len(node_ids) < num_clients:
            raise RuntimeError(
                f"num_clients={num_clients} but the federation has {len(node_ids)} nodes; "
                f"start it with at least {num_clients} (flwr run: --federation-config "
                f'"num-supernodes={num_clients}")'
            )
        queries = [
            Message(RecordDict({"config": ConfigRecord({})}), dst_node_id=nid, message_type=MessageType.QUERY)
            for nid in node_ids
        ]  # fmt: skip
        mapping: dict[int, int] = {}
        for reply in grid.send_and_receive(queries, timeout=timeout):
            if reply.has_error():
                continue
            pid = int(reply.content["node"]["partition-id"])
            if pid < num_clients:
                mapping[pid] = reply.metadata.src_node_id
        missing = sorted(set(range(num_clients)) - set(mapping))
        if missing:
            raise RuntimeError(f"no node answered for partition ids {missing[:10]}")
        return mapping

    # --------------------------------------------------------------- training
    def configure_train(
        self, server_round: int, arrays: ArrayRecord, config: ConfigRecord, grid: Grid
    ) -> Iterable[Message]:
        """One train message per sampled partition, all carrying the encoded global model."""
        self._round_clients = self.server.sample_clients()
        return self._messages(self._round_clients, arrays, config, MessageType.TRAIN, server_round)

    def _messages(
        self,
        partitions: list[int],
        arrays: ArrayRecord,
        config: ConfigRecord,
        message_type: str,
        server_round: int,
    ) -> list[Message]:
        """One message of ``message_type`` per partition, all carrying the same content."""
        content = RecordDict({"arrays": arrays, "config": config})
        return [
            Message(
                content,
                dst_node_id=self.partition_to_node[pid],
                message_type=message_type,
                group_id=str(server_round),
            )
            for pid in partitions
        ]

    def aggregate_train(
        self, server_round: int, replies: Iterable[Message]
    ) -> tuple[ArrayRecord | None, MetricRecord | None]:
        """Decode the replies, drop the unusable ones, and update the global model."""
        updates: list[ClientUpdate] = []
        uplink: list[dict[str, Any]] = []
        dropped: list[str] = []
        expected_nodes = {self.partition_to_node[pid]: pid for pid in self._round_clients}
        for reply in replies:
            node = reply.metadata.src_node_id
            if reply.has_error():
                dropped.append(f"node {node}: {reply.error.reason[-300:]}")
                continue
            try:
                update, blobs = self._parse_reply(reply, expected_nodes.get(node))
            except (PayloadError, ValueError, KeyError, TypeError) as err:
                dropped.append(f"node {node} (partition {expected_nodes.get(node)}): {err}")
                continue
            uplink.append(
                payload_report(update.state, blobs, references=self._sent_state)
                | {"partition_id": update.partition_id}
            )
            update.state = {k: torch.from_numpy(v) for k, v in update.state.items()}
            updates.append(update)
        for reason in dropped:
            self.recorder.logger.warning("round %d: dropped update from %s", server_round, reason)
        if not updates:
            self.recorder.logger.warning(
                "round %d: no usable update; model unchanged", server_round
            )
            return None, None
        server_metrics = self.server.apply_updates(server_round, updates)
        self._last_train = (updates, uplink, dropped, server_metrics)
        return None, MetricRecord({"num-updates": len(updates)})

    def _parse_reply(self, reply: Message, partition_id: int | None) -> tuple[ClientUpdate, dict]:
        """Validate and decode one reply; raise on anything that cannot be aggregated."""
        if partition_id is None:
            raise ValueError("reply from a node that was not asked to train")
        metrics = {k: float(v) for k, v in reply.content["metrics"].items()}
        if int(metrics.pop("partition-id")) != partition_id:
            raise ValueError("reply names another partition than its node holds")
        num_examples = int(metrics.pop("num-examples"))
        if num_examples <= 0:
            raise ValueError(f"num-examples={num_examples} must be positive")
        blobs = record_to_blobs(reply.content["arrays"])
        state = decode_state(blobs, expected=self.server.shapes, references=self._sent_state)
        for key, value in state.items():
            if value.dtype.kind == "f" and not np.isfinite(value).all():
                raise ValueError(f"{key}: non-finite values")
        return ClientUpdate(partition_id, state, num_examples, metrics), blobs

    # ------------------------------------------------------------- evaluation
    def configure_evaluate(
        self, server_round: int, arrays: ArrayRecord, config: ConfigRecord, grid: Grid
    ) -> Iterable[Message]:
        """Send the global model to ``fed_eval_clients`` sampled clients (none when 0)."""
        if self.server.eval_sampler is None:
            self._eval_clients = []
            return []
        self._eval_clients = self.server.eval_sampler.sample()
        return self._messages(
            self._eval_clients, arrays, config, MessageType.EVALUATE, server_round
        )

    def aggregate_evaluate(
        self, server_round: int, replies: Iterable[Message]
    ) -> MetricRecord | None:
        """Sample-weighted loss and accuracy over the clients' test splits."""
        expected = {self.partition_to_node[pid]: pid for pid in self._eval_clients}
        results: list[tuple[int, float, float]] = []
        for reply in replies:
            node = reply.metadata.src_node_id
            try:
                if reply.has_error():
                    raise ValueError(reply.error.reason[-300:])
                metrics = reply.content["metrics"]
                if int(metrics["partition-id"]) != expected.get(node):
                    raise ValueError("reply names another partition than its node holds")
                n, loss, acc = (
                    int(metrics["num-examples"]),
                    float(metrics["loss"]),
                    float(metrics["accuracy"]),
                )
                if n <= 0 or not (np.isfinite(loss) and 0.0 <= acc <= 1.0):
                    raise ValueError(f"implausible metrics n={n} loss={loss} accuracy={acc}")
            except (ValueError, KeyError, TypeError) as err:
                self.recorder.logger.warning(
                    "round %d: dropped evaluation from node %s: %s", server_round, node, err
                )
                continue
            results.append((n, loss, acc))
        if not results:
            return None
        total = sum(n for n, _, _ in results)
        return MetricRecord(
            {
                "fed_loss": sum(n * loss for n, loss, _ in results) / total,
                "fed_accuracy": sum(n * acc for n, _, acc in results) / total,
                "fed_eval_examples": total,
                "fed_eval_clients": len(results),
            }
        )

    def summary(self) -> None:
        """Nothing to log: the recorder prints the run header."""

    # ------------------------------------------------------------------ loop
    def start(self, grid: Grid, timeout: float = 86400.0, **_: Any) -> dict[str, Any]:  # type: ignore[override]
        """Run every round and return the run summary."""
        self.partition_to_node = self.discover_partitions(grid, timeout)
        self.recorder.write_json("partitions.json", self.server.task.partition_report())
        self.recorder.start({"round": 0, **self.server.evaluate(), **_flat_sparsity(self.server)})
        for rnd in range(1, int(self.cfg["rounds"]) + 1):
            t0 = time.perf_counter()
            arrays = self._encode_downlink()
            config = ConfigRecord({"server-round": rnd, "run-config": self.run_config_json})
            replies = grid.send_and_receive(
                self.configure_train(rnd, arrays, config, grid), timeout=timeout
            )
            _, agg = self.aggregate_train(rnd, replies)
            row: dict[str, Any] = {"round": rnd, "clients": self._round_clients}
            row |= self.server.evaluate()
            row |= self._federated_evaluation(rnd, config, grid, timeout)
            row |= _flat_sparsity(self.server)
            row |= self._communication_metrics(agg is not None)
            row["round_seconds"] = time.perf_counter() - t0
            self.recorder.round_done(row)
        return self.recorder.finish()

    def _federated_evaluation(
        self, server_round: int, config: ConfigRecord, grid: Grid, timeout: float
    ) -> dict[str, Any]:
        """Evaluate the new global model on sampled clients' test splits (if enabled)."""
        if self.server.eval_sampler is None:
            return {}
        _, blobs = self._encoded_global()
        messages = self.configure_evaluate(server_round, blobs_to_record(blobs), config, grid)
        replies = grid.send_and_receive(messages, timeout=timeout)
        result = self.aggregate_evaluate(server_round, replies)
        eval_bytes = sum(len(b) for b in blobs.values()) * len(self._eval_clients)
        row: dict[str, Any] = {"fed_eval_clients": self._eval_clients}
        row["fed_eval_downlink_bytes"] = eval_bytes
        if result is not None:
            row |= {k: v for k, v in result.items() if k != "fed_eval_clients"}
        return row

    def _encoded_global(self) -> tuple[dict[str, np.ndarray], dict[str, bytes]]:
        """The global model and its downlink payloads, encoded once per model version.

        Federated evaluation sends the new model at the end of a round and the next
        round's training sends the same one, so it is encoded once for both.
        """
        if self._encoded is None or self._encoded[0] is not self.server.state:
            state = self.server.global_arrays()
            self._encoded = (self.server.state, state, encode_downlink(state, self.wire))
        return self._encoded[1], self._encoded[2]

    def _encode_downlink(self) -> ArrayRecord:
        state, blobs = self._encoded_global()
        self._downlink = payload_report(state, blobs)
        self._sent_state = {k: v.copy() for k, v in state.items()}
        return blobs_to_record(blobs)

    def _communication_metrics(self, trained: bool) -> dict[str, Any]:
        updates, uplink, dropped, server_metrics = self._last_train if trained else ([], [], [], {})
        self._last_train = ([], [], [], {})
        clients = len(self._round_clients)
        down = self._downlink
        row = _uplink_metrics(uplink)
        self._cumulative["uplink"] += row["uplink_bytes"]
        self._cumulative["downlink"] += down["bytes"] * clients
        row |= {
            "uplink_bytes_cum": self._cumulative["uplink"],
            "downlink_bytes_per_client": down["bytes"],
            "downlink_bytes": down["bytes"] * clients,
            "downlink_bytes_cum": self._cumulative["downlink"],
            "downlink_bound_bytes": down["bound_bytes"] * clients,
            "downlink_dense_bytes": down["dense_bytes"] * clients,
            "downlink_dense_ratio": _ratio(down["dense_bytes"], down["bytes"]),
            "downlink_bound_ratio": _ratio(down["bytes"], down["bound_bytes"]),
            "downlink_codecs": down["codecs"],
            "downlink_codec_per_tensor": down["codec_per_tensor"],
            "num_updates": len(updates),
            "dropped_updates": dropped,
        }
        row |= server_metrics
        if updates:
            row["lr"] = updates[0].metrics.get("lr")
            for key in CLIENT_MEAN_METRICS:
                values = [u.metrics[key] for u in updates if key in u.metrics]
                if values:
                    row[key] = float(np.mean(values))
            if row.get("train_flops_dense"):
                row["train_flops_ratio"] = row["train_flops"] / row["train_flops_dense"]
            for prefix, name in (
                ("act_keep/", "act_keep_fraction"),
                ("act_density/", "act_density"),
                ("weight_density/", "forward_weight_density"),
            ):
                per_layer = _mean_prefixed(updates, prefix)
                if per_layer:
                    row[name] = per_layer
        return row


def _flat_sparsity(server: FederatedServer) -> dict[str, Any]:
    report = server.sparsity()
    return {
        "sparsity_prunable": report["sparsity_prunable"],
        "sparsity_params": report["sparsity_params"],
        "nnz_prunable": report["nnz_prunable"],
        "layer_sparsity": report["layer_sparsity"],
    }


def _ratio(numerator: float, denominator: float) -> float | None:
    return numerator / denominator if denominator else None


def _uplink_metrics(uplink: list[dict[str, Any]]) -> dict[str, Any]:
    """Per-round uplink accounting from the clients' payload reports."""

    def total(key: str) -> float:
        return sum(u[key] for u in uplink)

    sent, dense = total("bytes"), total("dense_bytes")
    per_tensor: dict[str, dict[str, int]] = {}
    for u in uplink:
        for key, codec in u["codec_per_tensor"].items():
            counts = per_tensor.setdefault(key, {})
            counts[codec] = counts.get(codec, 0) + 1
    return {
        "uplink_bytes": sent,
        "uplink_bytes_per_client": [u["bytes"] for u in uplink],
        "uplink_dense_bytes": dense,
        "uplink_dense_ratio": _ratio(dense, sent),
        "uplink_bound_bytes": total("bound_bytes"),
        "uplink_bound_ratio": _ratio(sent, total("bound_bytes")),
        "uplink_cond_bound_bytes": total("cond_bound_bytes"),
        "uplink_cond_bound_ratio": _ratio(sent, total("cond_bound_bytes")),
        "uplink_best_unconditional_bytes": total("best_unconditional_bytes"),
        "uplink_best_unconditional_bytes_per_client": [
            u["best_unconditional_bytes"] for u in uplink
        ],
        "uplink_position_bits": total("position_bits"),
        "uplink_support_position_bits": total("support_position_bits"),
        "uplink_support_position_code_bits": total("support_position_code_bits"),
        "uplink_support_position_bound_bits": total("support_position_bound_bits"),
        "uplink_support_unconditional_position_bits": total("support_unconditional_position_bits"),
        "uplink_nnz_per_client": [u["nnz"] for u in uplink],
        "uplink_codecs": _merge_counts(u["codecs"] for u in uplink),
        "uplink_codec_per_tensor": per_tensor,
    }


def _merge_counts(counts: Iterable[Mapping[str, int]]) -> dict[str, int]:
    merged: dict[str, int] = {}
    for c in counts:
        for k, v in c.items():
            merged[k] = merged.get(k, 0) + v
    return merged


def _mean_prefixed(updates: list[ClientUpdate], prefix: str) -> dict[str, float]:
    keys = sorted({k for u in updates for k in u.metrics if k.startswith(prefix)})
    return {
        k[len(prefix) :]: float(np.mean([u.metrics[k] for u in updates if k in u.metrics]))
        for k in keys
    }
