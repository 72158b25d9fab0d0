"""The runs of each reproduction preset: sweeps of Hydra overrides, expanded into jobs.

A preset is a list of sweeps; a sweep is fixed overrides plus a grid (every
combination of the grid's values is one job). Each job has a fixed directory
below the preset's output directory, named from its grid values
(``table1/sparsyfed_s0.95_a0.1_seed0``), so the same command finds the same
jobs again: complete ones are skipped, interrupted ones resume.

``smoke``
    Two methods at two sparsities and a dense reference, one seed, 3 rounds
    of a 20-client default task: every step of the pipeline in about a minute.
``small``
    The reduced-scale Table 1 on MNIST-1D (the default task at 30 rounds):
    dense, Top-K, ZeroFL, FLASH and SparsyFed at S = 0.9, 0.95, 0.99, 0.995 and
    α = 1.0, 0.1, 3 seeds; SparsyFed's ablations (NA, β = 1, spectral β) at
    S = 0.95, 0.99 and α = 0.1; FedSparsify's comparison on digits
    (``scripts/reproduce_fedsparsify.sh``'s protocol at 20 rounds, one seed,
    as FedSparsify's own runs).
``paper``
    The paper's Table 1 cells (``conf/experiment/``: ResNet-18 on CIFAR-10/100
    and Speech Commands from local files, 700 rounds) at S = 0.9 ... 0.999, and
    FedSparsify's eight environments: a GPU machine's work, resumable.
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

SEEDS = ("0", "1", "2")
PAPER_SEEDS = ("5378", "9421", "2035")
"""The SparsyFed paper's seeds (``conf/experiment/cifar10_alpha0.1.yaml``)."""
FEDSPARSIFY_SEEDS = ("1990",)
"""FedSparsify's seed (``conf/experiment/fedsparsify_fmnist_noniid_10.yaml``)."""
FEDSPARSIFY_PRUNERS = (
    "fedsparsify_global", "fedsparsify_local", "fedsparsify_random", "snip", "grasp", "topk",
)  # fmt: skip
"""FedSparsify's comparison at every sparsity (FedAvg and PruneFL run once)."""
SHORT_KEYS = {"sparsity": "s", "partition.alpha": "a", "beta": "b", "seed": "seed"}
"""Grid keys shown by a short prefix in a job's directory name (others by their last part)."""


@dataclass(frozen=True)
class Job:
    """One run: its directory (relative to the preset's output) and its overrides.

    ``seed_rank`` is the position of the job's seed in its sweep's seed list.
    """

    name: str
    overrides: tuple[str, ...]
    seed_rank: int = 0


@dataclass(frozen=True)
class Sweep:
    """Fixed overrides and a grid; every combination of the grid's values is one job."""

    name: str
    grid: Mapping[str, Sequence[str]]
    fixed: tuple[str, ...] = ()

    def jobs(self, extra: Sequence[str] = ()) -> list[Job]:
        """The sweep's jobs, with ``extra`` overrides appended to each.

        Seeds vary slowest (every cell of seed 0 first, then seed 1, ...), so an
        interrupted sweep has whole tables at fewer seeds; the other keys vary in
        grid order, and a job's name lists the keys in grid order.
        """
        keys = list(self.grid)
        order = sorted(keys, key=lambda k: k != "seed")  # seed outermost, others as given
        out = []
        for values in itertools.product(*(self.grid[k] for k in order)):
            by_key = dict(zip(order, values, strict=True))
            chosen = {k: by_key[k] for k in keys}
            overrides = (*self.fixed, *(f"{k}={v}" for k, v in chosen.items()), *extra)
            rank = list(self.grid["seed"]).index(by_key["seed"]) if "seed" in by_key else 0
            out.append(Job(f"{self.name}/{job_dir_name(chosen)}", overrides, rank))
        return out


def job_dir_name(chosen: Mapping[str, str]) -> str:
    """``method=sparsyfed sparsity=0.95 seed=0`` -> ``sparsyfed_s0.95_seed0``."""
    parts = []
    for key, value in chosen.items():
        if key in ("method", "+experiment"):
            parts.append(value)
        else:
            parts.append(f"{SHORT_KEYS.get(key, key.rsplit('.', 1)[-1])}{value}")
    return "_".join(parts)


@dataclass(frozen=True)
class Preset:
    """A named list of sweeps and what it is for."""

    name: str
    description: str
    sweeps: tuple[Sweep, ...] = field(default_factory=tuple)

    def jobs(self, extra: Sequence[str] = ()) -> list[Job]:
        """Every job of the preset: all sweeps at their first seed, then at the next, ..."""
        every = [job for sweep in self.sweeps for job in sweep.jobs(extra)]
        return sorted(every, key=lambda job: job.seed_rank)  # stable: sweep order kept


def _smoke() -> Preset:
    task = ("rounds=3", "num_clients=20", "clients_per_round=4")
    return Preset(
        "smoke",
        "2 methods x 2 sparsities + dense, 1 seed, 3 rounds of a 20-client default task",
        (
            Sweep("dense", {"method": ["fedavg"], "seed": ["0"]}, task),
            Sweep(
                "table1",
                {"method": ["topk", "sparsyfed"], "sparsity": ["0.9", "0.99"], "seed": ["0"]},
                task,
            ),
        ),
    )


SMALL_ROUNDS = "30"
FEDSPARSIFY_TASK = (
    "dataset=digits", "model=fedsparsify_fc", "partition.scheme=shards",
    "partition.classes_per_client=2", "num_clients=10", "clients_per_round=10", "rounds=20",
    "local_epochs=4", "batch_size=32", "lr.initial=0.02", "lr.schedule=constant",
    "weight_decay=0.0", "momentum=0.0",
)  # fmt: skip


def _small() -> Preset:
    task = (f"rounds={SMALL_ROUNDS}",)
    alphas = ["1.0", "0.1"]
    levels = ["0.9", "0.95", "0.99", "0.995"]
    table1 = {"method": ["topk", "zerofl", "flash", "sparsyfed"], "sparsity": levels}
    return Preset(
        "small",
        "reduced-scale Table 1 on MNIST-1D, SparsyFed's ablations, FedSparsify's comparison",
        (
            Sweep("dense", {"method": ["fedavg"], "partition.alpha": alphas, "seed": SEEDS}, task),
            Sweep("table1", table1 | {"partition.alpha": alphas, "seed": SEEDS}, task),
            Sweep(
                "ablation",
                {
                    "method": ["sparsyfed_na", "sparsyfed_spectral"],
                    "sparsity": ["0.95", "0.99"],
                    "partition.alpha": ["0.1"],
                    "seed": SEEDS,
                },
                task,
            ),
            Sweep(
                "ablation",
                {
                    "method": ["sparsyfed"],
                    "beta": ["1.0"],
                    "sparsity": ["0.95", "0.99"],
                    "partition.alpha": ["0.1"],
                    "seed": SEEDS,
                },
                task,
            ),
            Sweep(
                "fedsparsify",
                {
                    "method": FEDSPARSIFY_PRUNERS,
                    "sparsity": ["0.8", "0.9", "0.95", "0.99"],
                    "seed": SEEDS[:1],
                },
                FEDSPARSIFY_TASK,
            ),
            Sweep(
                "fedsparsify",
                {"method": ["fedavg", "prunefl"], "seed": SEEDS[:1]},
                FEDSPARSIFY_TASK,
            ),
        ),
    )


PAPER_CELLS = (
    "cifar10_alpha1.0", "cifar10_alpha0.1", "cifar100_alpha1.0", "cifar100_alpha0.1",
    "speech_alpha1.0", "speech_alpha0.1",
)  # fmt: skip
FEDSPARSIFY_CELLS = tuple(
    f"fedsparsify_{data}_{split}_{clients}"
    for data in ("fmnist", "cifar10")
    for split in ("iid", "noniid")
    for clients in ("10", "100")
)


def _paper() -> Preset:
    levels = ["0.9", "0.95", "0.99", "0.995", "0.999"]
    return Preset(
        "paper",
        "the paper's Table 1 cells and FedSparsify's environments (local data; GPU work)",
        (
            Sweep("dense", {"+experiment": PAPER_CELLS, "method": ["fedavg"], "seed": PAPER_SEEDS}),
            Sweep(
                "table1",
                {
                    "+experiment": PAPER_CELLS,
                    "method": ["topk", "zerofl", "flash", "sparsyfed"],
                    "sparsity": levels,
                    "seed": PAPER_SEEDS,
                },
            ),
            Sweep(
                "fedsparsify",
                {
                    "+experiment": FEDSPARSIFY_CELLS,
                    "method": FEDSPARSIFY_PRUNERS,
                    "sparsity": ["0.8", "0.9", "0.95", "0.99"],
                    "seed": FEDSPARSIFY_SEEDS,
                },
            ),
            Sweep(
                "fedsparsify",
                {
                    "+experiment": FEDSPARSIFY_CELLS,
                    "method": ["fedavg", "prunefl"],
                    "seed": FEDSPARSIFY_SEEDS,
                },
            ),
        ),
    )


def presets() -> dict[str, Preset]:
    """Every preset by name."""
    return {p.name: p for p in (_smoke(), _small(), _paper())}
