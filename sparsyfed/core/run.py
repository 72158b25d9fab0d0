"""The round loop of a run, free of Flower: sample, send, collect, aggregate, evaluate, record.

:class:`FederatedRun` is a plain loop over the rounds. Clients are reached
through an :class:`~sparsyfed.core.executor.Executor` (in-process, or Flower
messages over a Grid); what a run writes and prints is done by callbacks
(:mod:`sparsyfed.callbacks`), called at the start, after every round and at
the end. A run can start from a :class:`ResumePoint` (a checkpoint) and then
continues exactly as the uninterrupted run would.
"""

from __future__ import annotations

import dataclasses
import logging
import math
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch

from sparsyfed.callbacks.base import Callback, RunInfo
from sparsyfed.config.schema import RunConfig
from sparsyfed.core.context import RoundContext
from sparsyfed.core.executor import Executor, PendingReplies, submit_train
from sparsyfed.core.faults import fault_plan
from sparsyfed.core.messages import (
    ClientFailure,
    EvaluateInstruction,
    EvaluateReply,
    TrainInstruction,
    TrainReply,
)
from sparsyfed.core.server import FederatedServer, ServerState
from sparsyfed.core.side import side_shapes, split_side, with_side
from sparsyfed.methods import ClientUpdate
from sparsyfed.metrics.efficiency import (
    final_model_columns,
    paper_cost_columns,
    paper_cost_summary,
    paper_round_cost,
)
from sparsyfed.metrics.record import downlink_columns, ratio, summarize, uplink_columns
from sparsyfed.metrics.record import uplink_metrics as uplink_client_metrics
from sparsyfed.metrics.values import Metrics, reduce_clients
from sparsyfed.upload.transport import encode_downlink
from sparsyfed.wire.codec import PayloadError
from sparsyfed.wire.message import EncodedMessage, decode_state
from sparsyfed.wire.report import PayloadReport, payload_report

LOGGER = logging.getLogger("sparsyfed")


class RoundIncomplete(RuntimeError):
    """Too few clients of a round sent a usable update (``simulation.min_completion``).

    The round is not applied; the checkpoint of the last completed round stays
    as it is, so the same command resumes the run from there.
    """


_SentRound = tuple[list[int], dict[str, np.ndarray], PayloadReport, PendingReplies]
"""A round's clients, the model they were sent, its size and their pending replies."""


@dataclass
class _Accepted:
    """A usable reply: its update, and what its size report is computed from (later)."""

    update: ClientUpdate
    decoded: dict[str, np.ndarray]
    message: EncodedMessage

    def report(self, sent: dict[str, np.ndarray]) -> PayloadReport:
        """Bytes and bounds of the upload (:func:`~sparsyfed.wire.report.payload_report`)."""
        return payload_report(self.decoded, self.message, references=sent)


class _Rejected(ValueError):
    """A reply the server cannot use, with the cause of :data:`FAILURE_CAUSES`."""

    def __init__(self, cause: str, detail: str) -> None:
        super().__init__(detail)
        self.cause = cause


@dataclass
class RunState:
    """A run after a completed round: the server's state and the loop's running totals."""

    round: int
    server: ServerState
    cumulative: dict[str, int] = field(default_factory=lambda: {"uplink": 0, "downlink": 0})


@dataclass
class ResumePoint:
    """Where a resumed run continues: the saved state and the records written so far."""

    state: RunState
    history: list[dict[str, Any]]


class FederatedRun:
    """One federated training run.

    Parameters
    ----------
    cfg : RunConfig
        The run config.
    executor : Executor
        How instructions reach the clients.
    callbacks : sequence of Callback
        Called at the start, after every round and at the end, in order.
    header : dict
        What identifies the run in its summary (method, effective beta and
        sparsity, ignored keys, ...).
    resume : ResumePoint, optional
        Continue after a saved round instead of starting at round 0.

    """

    def __init__(
        self,
        cfg: RunConfig,
        executor: Executor,
        callbacks: Sequence[Callback] = (),
        header: dict[str, Any] | None = None,
        resume: ResumePoint | None = None,
    ) -> None:
        self.cfg = cfg
        self.executor = executor
        self.callbacks = list(callbacks)
        self.header = dict(header or {})
        self.server = FederatedServer(cfg)
        self.task = self.server.task
        self.history: list[dict[str, Any]] = []
        self.round = 0
        self.cumulative = {"uplink": 0, "downlink": 0}
        self._encoded: tuple[Any, dict[str, np.ndarray], EncodedMessage, PayloadReport] | None = (
            None
        )
        self._next: _SentRound | None = None  # the next round, already sent
        self._sampler_before_next: list[Any] = []
        if resume is not None:
            self.server.restore(resume.state.server)
            self.round = resume.state.round
            self.cumulative = dict(resume.state.cumulative)
            self.history = [dict(row) for row in resume.history]

    def snapshot(self) -> RunState:
        """The state after the last completed round (what a checkpoint saves).

        When the next round's clients are already sampled (:meth:`train_round`),
        the sampler is saved as it was before, so a resumed run samples them again.
        """
        server = self.server.snapshot()
        if self._next is not None:
            server = dataclasses.replace(server, sampler=self._sampler_before_next)
        return RunState(self.round, server, dict(self.cumulative))

    def run(self) -> dict[str, Any]:
        """Run the remaining rounds and return the run summary."""
        start = time.perf_counter()
        info = RunInfo(self.cfg, self.header, self.round, self.history, self.task)
        for callback in self.callbacks:
            callback.on_run_start(info)
        try:
            if self.round == 0:
                if self.cfg.rounds >= 1:  # round 1 trains while the server evaluates round 0
                    self._send_next(1)
                self._record({"round": 0, **self.server.evaluate(), **self.server.sparsity()})
            for rnd in range(self.round + 1, self.cfg.rounds + 1):
                self.round = rnd
                self._record(self.train_round(self.task.round_context(rnd)))
            summary = summarize(self.history, self.header) | self._efficiency_summary()
            summary |= {
                "wall_seconds": time.perf_counter() - start,
                "output_dir": self.cfg.output_dir,
            }
            for callback in self.callbacks:
                callback.on_run_end(summary, self)
        finally:
            for callback in self.callbacks:
                callback.on_run_stop()
        return summary

    def _efficiency_summary(self) -> dict[str, Any]:
        """The paper's cost totals and the final model's size (its downlink encoding)."""
        state, _, report = self._downlink()
        entries = sum(value.size for value in state.values())
        rounds = [row for row in self.history if row["round"] > 0]
        return paper_cost_summary(rounds) | final_model_columns(report, entries)

    def _record(self, row: dict[str, Any]) -> None:
        self.history.append(row)
        for callback in self.callbacks:
            callback.on_round_end(row, self)

    # ----------------------------------------------------------------- rounds
    def train_round(self, ctx: RoundContext) -> dict[str, Any]:
        """Run one round: sample, train, aggregate, evaluate; return its record.

        Once the round's updates are aggregated (and the federated evaluation
        is done), the next round's instructions are sent before the server
        measures the uploads and masks and evaluates the new model, so that an
        executor that can (a local process grid) trains the next round's
        clients meanwhile. Nothing the server measures changes those
        instructions, so the records are the same.
        """
        t0 = time.perf_counter()
        sent_round = self._next if self._next is not None else self._send(ctx)
        self._next = None
        clients, sent, down, pending = sent_round
        side_keys = self.task.method.upload_side_keys(ctx)
        accepted, failures = self._collect(pending.result(), clients, sent, side_keys)
        self._check_completion(len(accepted), len(clients))
        applied = None
        if accepted:
            applied = self.server.aggregate(ctx, [item.update for item in accepted])
        federated = self._federated_evaluation(ctx)
        if ctx.round < self.cfg.rounds:
            self._send_next(ctx.round + 1)
        server_metrics = {} if applied is None else self.server.mask_metrics(applied)
        reports: list[tuple[int, Metrics]] = []
        for item in accepted:
            pid, upload = item.update.partition_id, uplink_client_metrics(item.report(sent))
            reports += [(pid, item.update.metrics), (pid, upload)]
        row: dict[str, Any] = {"round": ctx.round, "clients": clients}
        row |= self.server.evaluate()
        row |= federated
        row |= self.server.sparsity()
        reduced = reduce_clients(reports)
        row |= uplink_columns(reduced)
        self.cumulative["uplink"] += row["uplink_bytes"]
        self.cumulative["downlink"] += down.bytes * len(clients)
        row["uplink_bytes_cum"] = self.cumulative["uplink"]
        row |= downlink_columns(down, len(clients))
        row["downlink_bytes_cum"] = self.cumulative["downlink"]
        row |= self._paper_cost(down, sent, len(clients), reduced)
        row |= {"num_updates": len(accepted), "client_failures": [_as_record(f) for f in failures]}
        row |= server_metrics
        row["lr"] = ctx.lr
        row |= {k: v for k, v in reduced.items() if not k.startswith("uplink_")}
        if "train_flops" in row:
            row["train_flops_ratio"] = ratio(row["train_flops"], row["train_flops_dense"])
        row["round_seconds"] = time.perf_counter() - t0
        return row

    def _paper_cost(
        self,
        down: PayloadReport,
        sent: dict[str, np.ndarray],
        clients: int,
        reduced: dict[str, Any],
    ) -> dict[str, Any]:
        """The paper's communication cost of the round (docs/methods.md section 17.6)."""
        cost = paper_round_cost(
            down.nnz,
            list(reduced.get("uplink_nnz_per_client", {}).values()),
            clients,
            sum(value.size for value in sent.values()),
            self.task.method.exchanges_masks,
        )
        previous = self.history[-1].get("paper_params_exchanged_cum", 0) if self.history else 0
        return paper_cost_columns(cost, previous)

    def _send_next(self, server_round: int) -> None:
        """Send round ``server_round``'s instructions ahead of the loop reaching it."""
        self._sampler_before_next = self.server.sampler.state()
        self._next = self._send(self.task.round_context(server_round))

    def _send(self, ctx: RoundContext) -> _SentRound:
        """Sample the round's clients and send them their instructions."""
        clients = self.server.sample_clients()
        sent, model, down = self._downlink()
        faults = fault_plan(self.cfg.faults, ctx.seeds, ctx.round, clients)
        instructions = [
            TrainInstruction(ctx, pid, model, self.server.client_states.get(pid), faults.get(pid))
            for pid in clients
        ]
        return clients, sent, down, submit_train(self.executor, instructions)

    def _downlink(self) -> tuple[dict[str, np.ndarray], EncodedMessage, PayloadReport]:
        """The global model, its encoding and its size, encoded once per model version.

        Federated evaluation sends the new model at the end of a round and the
        next round's training sends the same one, so it is encoded once for both.
        The method's downlink side tensors (asked once per model version) travel
        in the same message (:mod:`sparsyfed.core.side`).
        """
        if self._encoded is None or self._encoded[0] is not self.server.state:
            side = self.task.method.downlink_side()
            arrays = {k: v.detach().cpu().numpy() for k, v in side.items()}
            state = with_side(self.server.global_arrays(), arrays)
            message = encode_downlink(state, self.cfg.wire)
            report = payload_report(state, message)
            self._encoded = (self.server.state, state, message, report)
        _, state, message, report = self._encoded
        return state, message, report

    def _collect(
        self,
        replies: Iterable[TrainReply | ClientFailure],
        clients: Sequence[int],
        sent: dict[str, np.ndarray],
        side_keys: Sequence[str] = (),
    ) -> tuple[list[_Accepted], list[ClientFailure]]:
        """Decode and check the replies; drop the unusable ones and the missing ones.

        Each reply is decoded as it arrives (while other clients may still
        train); the usable ones are then put in partition order, so the result
        does not depend on the order of arrival (of two replies from one
        partition, the first to arrive counts). Every failure (a client that
        raised, did not answer within the round time-out, or sent an unusable
        reply) is logged once, in partition order.
        """
        accepted: list[_Accepted] = []
        failures: list[ClientFailure] = []
        expected = set(clients)
        answered: set[int | None] = set()
        for reply in replies:
            pid = reply.partition_id
            if isinstance(reply, ClientFailure):
                answered.add(pid)
                failures.append(reply)
                continue
            try:
                if pid not in expected or pid in answered:
                    raise _Rejected("invalid", "reply from a partition that was not asked to train")
                answered.add(pid)
                item = self._decode(reply, sent, side_keys)
            except _Rejected as err:
                failures.append(ClientFailure(pid, str(err), err.cause))
                continue
            except PayloadError as err:
                failures.append(ClientFailure(pid, f"undecodable update: {err}", "malformed"))
                continue
            except (ValueError, KeyError, TypeError) as err:
                failures.append(ClientFailure(pid, f"{type(err).__name__}: {err}", "invalid"))
                continue
            accepted.append(item)
        accepted.sort(key=lambda item: item.update.partition_id)
        failures += self._missing(expected - answered)
        failures.sort(key=_partition_order)
        for failure in failures:
            _log_failure(self.round, "train", failure)
        if not accepted:
            LOGGER.warning("round %d: no usable update; model unchanged", self.round)
        return accepted, failures

    def _missing(self, partitions: set[int | None]) -> list[ClientFailure]:
        """A time-out failure for every partition that did not answer."""
        reason = f"no reply within simulation.round_timeout={self.cfg.simulation.round_timeout:g} s"
        return [ClientFailure(pid, reason, "timeout") for pid in sorted(partitions)]  # type: ignore[type-var]

    def _check_completion(self, usable: int, sampled: int) -> None:
        """Stop the run (:class:`RoundIncomplete`) when too few updates are usable."""
        share = self.cfg.simulation.min_completion
        needed = math.ceil(share * sampled - 1e-9)
        if usable >= needed:
            return
        message = (
            f"round {self.round}: {usable} of {sampled} sampled clients sent a usable update, "
            f"simulation.min_completion={share:g} needs {needed}; the run stops before applying "
            f"the round; the same command resumes after round {self.round - 1}"
        )
        raise RoundIncomplete(message)

    def _decode(
        self, reply: TrainReply, sent: dict[str, np.ndarray], side_keys: Sequence[str] = ()
    ) -> _Accepted:
        if reply.num_examples <= 0:
            raise _Rejected("invalid", f"num-examples={reply.num_examples} must be positive")
        shapes = self.server.shapes
        expected = shapes | side_shapes(shapes, side_keys)
        state = decode_state(reply.update, expected=expected, references=sent)
        for key, value in state.items():
            if value.dtype.kind == "f" and not np.isfinite(value).all():
                raise _Rejected("non-finite", f"{key}: non-finite values")
        if reply.client_state is not None:
            self.server.client_states[reply.partition_id] = reply.client_state
        model, side = split_side({k: torch.from_numpy(v) for k, v in state.items()})
        pid = int(reply.partition_id)
        update = ClientUpdate(pid, model, reply.num_examples, reply.metrics, side)
        return _Accepted(update, state, reply.update)

    def _federated_evaluation(self, ctx: RoundContext) -> dict[str, Any]:
        """Evaluate the new global model on sampled clients' test splits (if enabled).

        A failed evaluation is logged once and recorded in ``fed_eval_failures``.
        """
        sampler = self.server.eval_sampler
        if sampler is None:
            return {}
        clients = sampler.sample()
        _, model, report = self._downlink()
        instructions = [EvaluateInstruction(ctx, pid, model) for pid in clients]
        results: list[tuple[int, float, float]] = []
        failures: list[ClientFailure] = []
        answered: set[int | None] = set()
        for reply in sorted(self.executor.evaluate(instructions), key=_partition_order):
            answered.add(reply.partition_id)
            try:
                n, loss, acc = _check_evaluation(reply, clients)
            except (ValueError, TypeError) as err:
                cause = reply.cause if isinstance(reply, ClientFailure) else "invalid"
                failures.append(ClientFailure(reply.partition_id, str(err), cause))
                continue
            results.append((n, loss, acc))
        failures += self._missing(set(clients) - answered)
        failures.sort(key=_partition_order)
        for failure in failures:
            _log_failure(ctx.round, "evaluate", failure)
        row: dict[str, Any] = {
            "fed_eval_clients": clients,
            "fed_eval_failures": [_as_record(f) for f in failures],
            "fed_eval_downlink_bytes": model.nbytes * len(clients),
            "fed_eval_downlink_dense_bytes": report.dense_bytes * len(clients),
        }
        if results:
            total = sum(n for n, _, _ in results)
            row["fed_loss"] = sum(n * loss for n, loss, _ in results) / total
            row["fed_accuracy"] = sum(n * acc for n, _, acc in results) / total
            row["fed_eval_examples"] = total
        return row


def _log_failure(server_round: int, stage: str, failure: ClientFailure) -> None:
    LOGGER.warning(
        "round %d: %s of partition %s failed (%s): %s",
        server_round,
        stage,
        failure.partition_id,
        failure.cause,
        failure.reason,
    )


def _as_record(failure: ClientFailure) -> dict[str, Any]:
    """A failure as a row of ``metrics.jsonl``."""
    return {"partition": failure.partition_id, "cause": failure.cause, "reason": failure.reason}


def _partition_order(reply: Any) -> tuple[int, int]:
    pid = reply.partition_id
    return (1, 0) if pid is None else (0, int(pid))


def _check_evaluation(
    reply: EvaluateReply | ClientFailure, clients: Sequence[int]
) -> tuple[int, float, float]:
    if isinstance(reply, ClientFailure):
        raise ValueError(reply.reason)
    if reply.partition_id not in clients:
        raise ValueError("reply from a partition that was not asked to evaluate")
    n, loss, acc = int(reply.num_examples), float(reply.loss), float(reply.accuracy)
    if n <= 0 or not (np.isfinite(loss) and 0.0 <= acc <= 1.0):
        raise ValueError(f"implausible metrics n={n} loss={loss} accuracy={acc}")
    return n, loss, acc
