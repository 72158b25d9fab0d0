"""FedSparsify's experiment configs: the paper's settings in every cell, a CIFAR-10 run on small files."""

from __future__ import annotations

from pathlib import Path

import pytest
from helpers import read_rows
from inprocess_grid import run_inprocess
from paper_data_fixtures import write_cifar10

from sparsyfed.config import compose_config, group_options, load_config
from sparsyfed.run.session import run_header

ROOT = Path(__file__).resolve().parents[1]
# key -> (dataset, model, lr, momentum, classes per client under non-IID)
FAMILIES = {
    "fmnist": ("fashion_mnist", "fedsparsify_fc", 0.02, 0.0, 2),
    "cifar10": ("cifar10", "fedsparsify_cnn", 0.005, 0.75, 5),
}
CELLS = [f"fedsparsify_{k}_{d}_{n}" for k in FAMILIES for d in ("iid", "noniid") for n in (10, 100)]


def _skip_unless_available(family: str, dist: str) -> None:
    """Skip a cell whose dataset config or partition scheme is not in this tree yet."""
    from sparsyfed.data.partition import PARTITION_SCHEMES

    if family == "fmnist" and not (ROOT / "conf/dataset/fashion_mnist.yaml").exists():
        pytest.skip("conf/dataset/fashion_mnist.yaml is not in this tree yet")
    if dist == "noniid" and "shards" not in PARTITION_SCHEMES:
        pytest.skip("partition.scheme=shards is not known to the schema yet")


def test_the_eight_cells_exist():
    assert sorted(n for n in group_options("experiment") if n.startswith("fedsparsify_")) == sorted(
        CELLS
    )


@pytest.mark.parametrize("name", CELLS)
def test_cell_has_the_paper_settings(name):
    _, family, dist, clients = name.split("_")
    if family == "fmnist" and not (ROOT / "conf/dataset/fashion_mnist.yaml").exists():
        pytest.skip("conf/dataset/fashion_mnist.yaml is not in this tree yet")
    dataset, model, lr, momentum, classes = FAMILIES[family]
    cfg = compose_config([f"+experiment={name}"])
    assert cfg["dataset"]["name"] == dataset and cfg["model"] == {"name": model}
    assert (cfg["num_clients"], cfg["clients_per_round"]) == (int(clients), 10)
    assert (cfg["rounds"], cfg["local_epochs"], cfg["batch_size"]) == (200, 4, 32)
    assert cfg["lr"] == {"initial": lr, "final": lr, "schedule": "constant", "warmup_rounds": 0}
    assert (cfg["momentum"], cfg["weight_decay"], cfg["prox_mu"]) == (momentum, 0.0, 0.001)
    assert (cfg["server_lr"], cfg["server_momentum"], cfg["seed"]) == (1.0, 0.0, 1990)
    fedavgm = compose_config([f"+experiment={name}", "method=fedavgm"])
    assert (fedavgm["server_lr"], fedavgm["server_momentum"]) == (0.1, 0.9)  # its own settings
    method = cfg["method"]
    assert method["name"] == "fedsparsify_global" and cfg["beta"] == 1.0
    schedule = ("start_round", "initial_sparsity", "frequency", "schedule_exponent")
    assert tuple(method[k] for k in schedule) == (1, 0.0, 1, 3)  # t0, S_0, F, n
    if dist == "iid":
        assert cfg["partition"]["scheme"] == "iid"
    else:
        assert cfg["partition"]["scheme"] == "shards"
        assert cfg["partition"]["classes_per_client"] == classes
    assert cfg["dataset"].get("augment", False) is (family == "cifar10")
    _skip_unless_available(family, dist)
    if clients != "10":  # the 100-client cells differ only in the client counts checked above
        return
    # Every method runs in the cell, officially but for FedSparsify's partition scheme.
    scheme = cfg["partition"]["scheme"]
    for method in group_options("method"):
        header = run_header(
            load_config(compose_config([f"+experiment={name}", f"method={method}"]))
        )
        departures = header["departures"]
        if method == "fedavgm":  # keeps BatchNorm statistics out of the momentum (as everywhere)
            assert departures.pop("server_momentum_scope")["official"] == "all"
        assert departures == {"partition.scheme": {"value": scheme, "official": "lda"}}, method


def test_cifar10_cell_runs_and_purges_on_small_files(tmp_path):
    # The cell with 3 clients (all taking part, as in the 10-client cells) on 50 training / 20
    # test images, 2 rounds of 1 epoch: round 2 purges to S_T. Kept small for the suite's time.
    write_cifar10(tmp_path / "data", train_sizes=(10, 10, 10, 10, 10), test_size=20)
    cfg = compose_config(
        [
            "+experiment=fedsparsify_cifar10_iid_10",
            f"data_dir={tmp_path / 'data'}",
            "rounds=2",
            "local_epochs=1",
            "num_clients=3",
            "clients_per_round=3",
            "sparsity=0.8",
        ]
    )
    cfg["output_dir"] = str(tmp_path / "run")
    cfg = load_config(cfg)
    summary = run_inprocess(cfg)
    rows = read_rows(cfg)
    assert summary["rounds"] == 2 and summary["dataset"] == "cifar10"
    assert [r["num_updates"] for r in rows[1:]] == [3, 3]
    assert rows[1]["sparsity_prunable"] == 0.0  # t0 = 1: the first purge is in round 2
    assert rows[2]["sparsity_prunable"] == pytest.approx(0.8, abs=1e-5)
    assert 0.0 <= rows[2]["accuracy"] <= 1.0
