"""FashionMNIST on tiny IDX files written here (gzipped and raw, every layout)."""

from __future__ import annotations

import gzip
import shutil
import struct
from pathlib import Path

import numpy as np
import pytest

from sparsyfed.data import DatasetNotFoundError, load_dataset
from sparsyfed.data import fashion_mnist as fm
from sparsyfed.data.fashion_mnist import FASHION_MNIST_FILES, FASHION_MNIST_URL, read_idx
from sparsyfed.validation import ConfigError

NAMES = tuple(FASHION_MNIST_FILES.values())


def idx_bytes(array: np.ndarray, type_code: int = 0x08) -> bytes:
    """An IDX file: 0, 0, type code, ndim, big-endian uint32 dims, then the bytes."""
    header = struct.pack(">BBBB", 0, 0, type_code, array.ndim)
    header += struct.pack(f">{array.ndim}I", *array.shape)
    return header + array.astype(np.uint8).tobytes()


def write_fashion(folder: Path, *, gz: bool, n_train: int = 12, n_test: int = 5) -> dict:
    """Write the four files into ``folder``; return the arrays written."""
    rng = np.random.default_rng(n_train)
    arrays = {
        "x_train": rng.integers(0, 256, (n_train, 28, 28), dtype=np.uint8),
        "y_train": rng.permutation(np.arange(n_train) % 10).astype(np.uint8),
        "x_test": rng.integers(0, 256, (n_test, 28, 28), dtype=np.uint8),
        "y_test": rng.permutation(np.arange(n_test) % 10).astype(np.uint8),
    }
    arrays["x_train"][0, 0, :2] = (0, 255)  # both ends of the pixel range
    folder.mkdir(parents=True, exist_ok=True)
    for key, name in FASHION_MNIST_FILES.items():
        payload = idx_bytes(arrays[key])
        if gz:
            (folder / name).write_bytes(gzip.compress(payload))
        else:
            (folder / name.removesuffix(".gz")).write_bytes(payload)
    return arrays


def assert_round_trip(ds, arrays: dict) -> None:
    assert ds.name == "fashion_mnist" and ds.num_classes == 10
    assert ds.input_shape == (1, 28, 28)
    for split in ("train", "test"):
        x, y = getattr(ds, f"x_{split}"), getattr(ds, f"y_{split}")
        assert x.dtype == np.float32 and x.shape == (len(arrays[f"y_{split}"]), 1, 28, 28)
        np.testing.assert_array_equal(x[:, 0], arrays[f"x_{split}"].astype(np.float32) / 256)
        assert y.dtype == np.int64
        np.testing.assert_array_equal(y, arrays[f"y_{split}"])
    assert ds.x_train[0, 0, 0, 0] == 0.0 and ds.x_train[0, 0, 0, 1] == np.float32(255 / 256)


@pytest.mark.parametrize("gz", [True, False])
@pytest.mark.parametrize("layout", [".", "fashion_mnist", "FashionMNIST/raw"])
def test_every_layout_gz_and_raw_round_trips(tmp_path: Path, layout: str, gz: bool) -> None:
    arrays = write_fashion(tmp_path / layout, gz=gz)
    assert_round_trip(load_dataset("fashion_mnist", data_dir=tmp_path, download=False), arrays)


def test_torchvision_raw_folder_with_both_copies_reads_the_uncompressed_one(tmp_path) -> None:
    folder = tmp_path / "FashionMNIST" / "raw"
    write_fashion(folder, gz=True, n_train=7)
    arrays = write_fashion(folder, gz=False, n_train=9)
    found = fm.find_files(tmp_path)
    assert found is not None and all(p.suffix != ".gz" for p in found.values())
    assert_round_trip(load_dataset("fashion_mnist", data_dir=tmp_path, download=False), arrays)


def test_first_complete_directory_wins(tmp_path: Path) -> None:
    (tmp_path / NAMES[0]).write_bytes(b"partial copy")  # data_dir itself is incomplete
    arrays = write_fashion(tmp_path / "fashion_mnist", gz=True)
    assert_round_trip(load_dataset("fashion_mnist", data_dir=tmp_path, download=False), arrays)


def test_not_found_names_the_files_every_place_and_the_download_address(tmp_path) -> None:
    (tmp_path / "fashion_mnist").mkdir()
    (tmp_path / "fashion_mnist" / NAMES[1]).write_bytes(b"")
    with pytest.raises(DatasetNotFoundError) as info:
        load_dataset("fashion_mnist", data_dir=tmp_path, download=False)
    msg = str(info.value)
    assert all(name in msg for name in NAMES) and "without .gz" in msg
    for folder in (tmp_path, tmp_path / "fashion_mnist", tmp_path / "FashionMNIST" / "raw"):
        assert f"  - {folder}" in msg
    assert f"(has only {NAMES[1]})" in msg and "torchvision" in msg
    assert FASHION_MNIST_URL in msg and "dataset.download=false" in msg


def test_download_fetches_the_missing_gz_files(tmp_path, monkeypatch) -> None:
    source = tmp_path / "mirror"
    arrays = write_fashion(source, gz=True)
    fetched = []

    def fake_download(url: str, dest: Path, timeout: float = 15.0) -> None:
        fetched.append(url)
        dest.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(source / url.rpartition("/")[2], dest)

    monkeypatch.setattr(fm, "download_file", fake_download)
    data_dir = tmp_path / "data"
    ds = load_dataset("fashion_mnist", data_dir=data_dir)
    assert fetched == [FASHION_MNIST_URL + name for name in NAMES]
    assert all((data_dir / "fashion_mnist" / name).is_file() for name in NAMES)
    assert_round_trip(ds, arrays)


def test_failed_download_is_in_the_error(tmp_path, monkeypatch) -> None:
    def no_network(url: str, dest: Path, timeout: float = 15.0) -> None:
        raise OSError("URLError: no network")

    monkeypatch.setattr(fm, "download_file", no_network)
    with pytest.raises(DatasetNotFoundError, match="no network") as info:
        load_dataset("fashion_mnist", data_dir=tmp_path)
    assert f"Downloading from {FASHION_MNIST_URL} failed: {NAMES[0]}" in str(info.value)


def test_corrupt_magic_names_the_file(tmp_path: Path) -> None:
    write_fashion(tmp_path, gz=False)
    path = tmp_path / "train-labels-idx1-ubyte"
    data = bytearray(path.read_bytes())
    data[3] = 3  # a labels file claiming 3 dimensions
    path.write_bytes(bytes(data))
    with pytest.raises(ValueError, match="0x00000803, expected 0x00000801") as info:
        load_dataset("fashion_mnist", data_dir=tmp_path, download=False)
    assert str(path) in str(info.value)
    path.write_bytes(b"\x50\x4b\x03\x04 not idx")
    with pytest.raises(ValueError, match=r"is not an IDX file: its magic number is 0x504b0304"):
        read_idx(path)


@pytest.mark.parametrize(
    ("payload", "match"),
    [
        (idx_bytes(np.zeros((2, 28, 28)))[:-1], "truncated or corrupt"),
        (idx_bytes(np.zeros((2, 28, 28))) + b"\0", "truncated or corrupt"),
        (b"\0\0\x08\x03\0\0", "shorter than its header"),
        (idx_bytes(np.zeros((2, 27, 28))), r"shape \(27, 28\)"),
        (
            gzip.compress(idx_bytes(np.zeros((2, 28, 28))), mtime=0)[:-6],
            "corrupt or truncated gzip",
        ),
    ],
    ids=["short", "long", "no-dims", "27x28", "bad-gzip"],
)
def test_malformed_image_files_are_refused(tmp_path: Path, payload: bytes, match: str) -> None:
    write_fashion(tmp_path, gz=False)
    (tmp_path / "t10k-images-idx3-ubyte").write_bytes(payload)
    with pytest.raises(ValueError, match=match):
        load_dataset("fashion_mnist", data_dir=tmp_path, download=False)


def test_labels_must_match_images_and_lie_below_ten(tmp_path: Path) -> None:
    write_fashion(tmp_path, gz=False, n_test=5)
    labels = tmp_path / "t10k-labels-idx1-ubyte"
    labels.write_bytes(idx_bytes(np.zeros(4)))
    with pytest.raises(ValueError, match=r"5 images but .* 4 labels"):
        load_dataset("fashion_mnist", data_dir=tmp_path, download=False)
    labels.write_bytes(idx_bytes(np.full(5, 10)))
    with pytest.raises(ValueError, match=r"\[0, 10\), got max 10"):
        load_dataset("fashion_mnist", data_dir=tmp_path, download=False)


def test_read_idx_parses_other_types_big_endian(tmp_path: Path) -> None:
    values = (np.arange(6).reshape(2, 3) - 2).astype(">i4")
    path = tmp_path / "ints.idx"
    path.write_bytes(struct.pack(">BBBBII", 0, 0, 0x0C, 2, 2, 3) + values.tobytes())
    out = read_idx(path)
    assert out.dtype == np.dtype("int32") and out.dtype.isnative
    np.testing.assert_array_equal(out, values)


def test_unknown_option_names_the_key(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"dataset\.augmnt"):
        load_dataset("fashion_mnist", data_dir=tmp_path, augmnt=True)


@pytest.mark.parametrize("scheme", ["shards", "iid"])
def test_a_run_config_partitions_fashion_mnist(tmp_path: Path, scheme: str) -> None:
    from sparsyfed.config import compose_config, load_config
    from sparsyfed.core.task import Task
    from sparsyfed.run.preflight import check_task

    arrays = write_fashion(tmp_path / "FashionMNIST" / "raw", gz=True, n_train=200, n_test=60)
    overrides = ["dataset=fashion_mnist", "dataset.download=false", f"data_dir={tmp_path}"]
    overrides += ["num_clients=4", "clients_per_round=2", "model.width=8", "model.depth=3"]
    overrides += [f"partition.scheme={scheme}", "partition.classes_per_client=3"]
    plain = compose_config(overrides)
    plain["output_dir"] = str(tmp_path / "run")
    task = Task(load_config(plain))
    check_task(task)  # the model takes (1, 28, 28) inputs and gives 10 logits
    report = task.partition_report()
    assert report["scheme"] == scheme and report["classes_per_client"] == 3
    if scheme == "shards":
        assert report["train"]["num_classes_present"] == [3] * 4
        for tr, te in zip(task.partitions, task.test_partitions, strict=True):
            assert set(arrays["y_train"][tr]) == set(arrays["y_test"][te])
    else:
        assert report["train"]["sample_counts"] == [50] * 4


def test_classes_per_client_above_the_classes_stops_the_run(tmp_path, monkeypatch, capsys) -> None:
    from helpers import run_main

    write_fashion(tmp_path / "data", gz=False, n_train=40, n_test=20)
    args = ["dataset=fashion_mnist", "dataset.download=false", f"data_dir={tmp_path / 'data'}"]
    args += ["num_clients=4", "clients_per_round=2", "partition.scheme=shards"]
    args += ["partition.classes_per_client=11"]
    args += [f"output_dir={tmp_path / 'run'}"]
    code, err = run_main(args, tmp_path, monkeypatch, capsys)
    assert code == 2
    assert "partition.classes_per_client=11 is not allowed: it must be an integer in [1, 10]" in err
