"""The paper's Table 1 experiment configs: composition, a run on small files, the missing-data error."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from helpers import read_rows, run_main
from inprocess_grid import run_inprocess
from paper_data_fixtures import write_cifar10

from sparsyfed.config import compose_config, group_options, load_config

ROOT = Path(__file__).resolve().parents[1]
EXPECTED = {
    "cifar10": ("cifar10", "resnet18_cifar", 700, 0.01, 1.25),
    "cifar100": ("cifar100", "resnet18_cifar", 700, 0.01, 1.25),
    "speech": ("speech_commands", "resnet18_speech", 500, 0.001, 1.15),
}


def test_every_table1_family_has_a_config_with_the_paper_hyperparameters():
    names = [n for n in group_options("experiment") if not n.startswith("fedsparsify_")]
    assert sorted(names) == sorted(f"{d}_alpha{a}" for d in EXPECTED for a in ("1.0", "0.1"))
    for name in names:
        family, alpha = name.split("_alpha")
        dataset, model, rounds, lr_final, beta = EXPECTED[family]
        for method, method_beta in (("sparsyfed", beta), ("topk", 1.0), ("zerofl", 1.0)):
            cfg = compose_config([f"+experiment={name}", f"method={method}", "sparsity=0.99"])
            assert cfg["dataset"]["name"] == dataset and cfg["model"]["name"] == model
            assert cfg["partition"] == {
                "scheme": "lda",
                "alpha": float(alpha),
                "classes_per_client": 2,
            }
            assert (cfg["rounds"], cfg["lr"]["final"], cfg["lr"]["initial"]) == (
                rounds,
                lr_final,
                0.5,
            )
            assert (cfg["num_clients"], cfg["clients_per_round"], cfg["batch_size"]) == (
                100,
                10,
                16,
            )
            assert cfg["beta"] == method_beta and cfg["sparsity"] == 0.99
            assert cfg["fed_eval_clients"] == 10 and cfg["seed"] == 5378
            cfg["output_dir"] = "unused"
            load_config(cfg)


@pytest.fixture(scope="module")
def small_cifar(tmp_path_factory) -> Path:
    """200 training and 100 test images in the published CIFAR-10 python layout."""
    root = tmp_path_factory.mktemp("cifar")
    write_cifar10(root, train_sizes=(40, 40, 40, 40, 40), test_size=100)
    return root


def test_cifar10_cell_runs_end_to_end_on_small_files(tmp_path, small_cifar):
    # The cell's config with fewer clients per round, to keep the suite fast; the full
    # command (10 + 10 clients per round) is run in the README and the issue note.
    cfg = compose_config(
        [
            "+experiment=cifar10_alpha0.1",
            f"data_dir={small_cifar}",
            "rounds=1",
            "clients_per_round=2",
            "fed_eval_clients=2",
        ]
    )
    cfg["output_dir"] = str(tmp_path / "run")
    cfg = load_config(cfg)
    summary = run_inprocess(cfg)
    rows = read_rows(cfg)
    assert summary["rounds"] == 1 and summary["dataset"] == "cifar10"
    assert rows[1]["num_updates"] == 2 and 0.0 <= rows[1]["fed_accuracy"] <= 1.0
    assert rows[1]["sparsity_prunable"] == pytest.approx(0.95, abs=0.01)
    stats = json.loads((tmp_path / "run" / "partitions.json").read_text())
    assert stats["sizes"] == [2] * 100 and stats["test"]["sample_counts"] == [1] * 100


def test_missing_dataset_is_one_clear_error_and_a_nonzero_exit(tmp_path, monkeypatch, capsys):
    empty = tmp_path / "nothing-here"
    empty.mkdir()
    args = ["+experiment=cifar10_alpha0.1", f"data_dir={empty}", "dataset.download=false"]
    code, err = run_main(
        [*args, "rounds=2", f"output_dir={tmp_path / 'out'}"], tmp_path, monkeypatch, capsys
    )
    assert code == 2
    assert "Traceback" not in err
    assert not (tmp_path / "out").exists() and not (tmp_path / "outputs").exists()
    message = err.strip()
    assert message.startswith("error: Dataset 'cifar10' not found")
    assert str(empty) in message and "cifar-10-batches-py" in message
    assert "cifar-10-python.tar.gz" in message and "data_dir=" in message


def test_unknown_experiment_is_rejected_before_hydra_runs(tmp_path, monkeypatch, capsys):
    code, err = run_main(["+experiment=cifar11_alpha0.1"], tmp_path, monkeypatch, capsys)
    assert code == 2
    assert "experiment='cifar11_alpha0.1' is not known" in err
    assert "cifar10_alpha0.1" in err
    assert list(tmp_path.iterdir()) == []
