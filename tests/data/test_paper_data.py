"""CIFAR-10/100 and Speech Commands loaders on tiny copies of the published files."""

from __future__ import annotations

import io
import os
import pickle
import shutil
import tarfile
import urllib.error
import urllib.request
from pathlib import Path

import numpy as np
import pytest
import torch
import yaml
from paper_data_fixtures import (
    CIFAR10_FOLDER,
    CIFAR100_FOLDER,
    SPEECH_CLIPS,
    SPEECH_FOLDER,
    add_tar_member,
    py2_pickle,
    tar_directory,
    write_cifar10,
    write_cifar100,
    write_speech_commands,
    write_wav,
)

from sparsyfed.config import compose_config, load_config
from sparsyfed.data import DATASETS, DatasetNotFoundError, load_dataset
from sparsyfed.data import cifar as cifar_mod
from sparsyfed.data import sources as sources_mod
from sparsyfed.data import speech as speech_mod
from sparsyfed.data.augment import random_crop_flip
from sparsyfed.data.sources import extract_tar
from sparsyfed.data.speech import SPEECH_COMMANDS_LABELS, feature_shape

CONF = Path(__file__).resolve().parents[2] / "conf" / "dataset"


def normalised(raw: np.ndarray) -> np.ndarray:
    return ((raw.astype(np.float64) / 255 - 0.5) / 0.5).reshape(-1, 3, 32, 32)


def no_network(*args: object, **kwargs: object) -> None:
    raise AssertionError("the test tried to use the network")


@pytest.fixture(autouse=True)
def offline(monkeypatch: pytest.MonkeyPatch) -> None:
    """No test may reach the network, even by accident."""
    monkeypatch.setattr(urllib.request, "urlopen", no_network)


# ---------------------------------------------------------------------------
# CIFAR
# ---------------------------------------------------------------------------


def test_registered_names_and_configs() -> None:
    for name in ("cifar10", "cifar100", "speech_commands"):
        assert name in DATASETS
        cfg = yaml.safe_load((CONF / f"{name}.yaml").read_text())
        assert cfg["name"] == name
        assert cfg["download"] is True
    assert yaml.safe_load((CONF / "cifar10.yaml").read_text())["augment"] is False
    assert yaml.safe_load((CONF / "speech_commands.yaml").read_text())["features"] == "waveform"


@pytest.mark.parametrize("name", ["cifar10", "cifar100", "speech_commands"])
def test_config_options_are_accepted(name: str, tmp_path: Path) -> None:
    options = yaml.safe_load((CONF / f"{name}.yaml").read_text())
    del options["name"]
    options["download"] = False
    with pytest.raises(DatasetNotFoundError):  # not a ValueError about the options
        load_dataset(name, data_dir=tmp_path, **options)


def test_cifar10_directory(tmp_path: Path) -> None:
    raw = write_cifar10(tmp_path)
    ds = load_dataset("cifar10", data_dir=tmp_path, download=False)
    assert ds.name == "cifar10" and ds.num_classes == 10
    assert ds.input_shape == (3, 32, 32)
    assert ds.x_train.shape == (22, 3, 32, 32) and ds.x_test.shape == (7, 3, 32, 32)
    assert ds.x_train.dtype == np.float32 and ds.y_train.dtype == np.int64
    assert ds.y_test.dtype == np.int64
    np.testing.assert_array_equal(ds.y_train, raw["y_train"])
    np.testing.assert_array_equal(ds.y_test, raw["y_test"])
    np.testing.assert_allclose(ds.x_train, normalised(raw["x_train"]), atol=1e-6)
    np.testing.assert_allclose(ds.x_test, normalised(raw["x_test"]), atol=1e-6)
    # Channel-major rows: byte 0 is red (0, 0), byte 1 red (0, 1), byte 1024 green (0, 0).
    assert (ds.x_train[:, 0, 0, 0] == -1.0).all()
    assert (ds.x_train[:, 0, 0, 1] == 1.0).all()
    np.testing.assert_allclose(ds.x_train[:, 1, 0, 0], (128 / 255 - 0.5) / 0.5, atol=1e-6)
    assert ds.augment is False
    assert load_dataset("cifar10", data_dir=tmp_path, download=False, augment=True).augment


def test_cifar100_directory_and_archive(tmp_path: Path) -> None:
    raw = write_cifar100(tmp_path / "dir")
    ds = load_dataset("cifar100", data_dir=tmp_path / "dir", download=False)
    assert ds.num_classes == 100 and ds.input_shape == (3, 32, 32)
    assert ds.x_train.shape == (12, 3, 32, 32) and ds.x_test.shape == (6, 3, 32, 32)
    np.testing.assert_array_equal(ds.y_train, raw["y_train"])  # the fine labels
    np.testing.assert_array_equal(ds.y_test, raw["y_test"])
    np.testing.assert_allclose(ds.x_test, normalised(raw["x_test"]), atol=1e-6)

    archive_dir = tmp_path / "tar"
    archive_dir.mkdir()
    tar_directory(
        tmp_path / "dir" / CIFAR100_FOLDER, archive_dir / "cifar-100-python.tar.gz", CIFAR100_FOLDER
    )
    ds2 = load_dataset("cifar100", data_dir=archive_dir, download=False)
    np.testing.assert_array_equal(ds2.x_train, ds.x_train)
    np.testing.assert_array_equal(ds2.y_test, ds.y_test)
    assert sorted(p.name for p in (archive_dir / CIFAR100_FOLDER).iterdir()) == [
        "meta",
        "test",
        "train",
    ]


def test_cifar10_archive_extracts_only_expected_members(tmp_path: Path) -> None:
    src = tmp_path / "src"
    write_cifar10(src)
    (src / CIFAR10_FOLDER / "readme.html").write_text("<html></html>")
    data_dir = tmp_path / "data"
    data_dir.mkdir()
    tar_directory(src / CIFAR10_FOLDER, data_dir / "cifar-10-python.tar.gz", CIFAR10_FOLDER)
    ds = load_dataset("cifar10", data_dir=data_dir, download=False)
    ref = load_dataset("cifar10", data_dir=src, download=False)
    np.testing.assert_array_equal(ds.x_train, ref.x_train)
    np.testing.assert_array_equal(ds.y_train, ref.y_train)
    extracted = sorted(p.name for p in (data_dir / CIFAR10_FOLDER).iterdir())
    assert extracted == sorted(
        [*(f"data_batch_{i}" for i in range(1, 6)), "test_batch", "batches.meta"]
    )
    assert not [p for p in data_dir.iterdir() if p.name.endswith(".partial")]


def test_cifar_cache_reused_and_rebuilt(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    write_cifar10(tmp_path)
    first = load_dataset("cifar10", data_dir=tmp_path, download=False)
    caches = list(tmp_path.glob("cifar10-*.npz"))
    assert len(caches) == 1

    def fail(*args: object, **kwargs: object) -> None:
        raise AssertionError("batch files re-read")

    with monkeypatch.context() as patch:
        patch.setattr(cifar_mod, "safe_unpickle", fail)
        second = load_dataset("cifar10", data_dir=tmp_path, download=False)
    np.testing.assert_array_equal(second.x_train, first.x_train)
    np.testing.assert_array_equal(second.y_test, first.y_test)

    # A changed batch file makes the cache stale.
    batch = tmp_path / CIFAR10_FOLDER / "test_batch"
    obj = pickle.loads(batch.read_bytes(), encoding="bytes")
    obj[b"labels"] = [9] * len(obj[b"labels"])
    batch.write_bytes(py2_pickle(obj))
    os.utime(batch, ns=(1, 1))
    assert (load_dataset("cifar10", data_dir=tmp_path, download=False).y_test == 9).all()

    # A corrupt cache is rebuilt.
    caches[0].write_bytes(b"not a zip file")
    third = load_dataset("cifar10", data_dir=tmp_path, download=False)
    np.testing.assert_array_equal(third.x_train, first.x_train)

    # With the source files gone, a matching cache is still used.
    for path in (tmp_path / CIFAR10_FOLDER).iterdir():
        path.unlink()
    (tmp_path / CIFAR10_FOLDER).rmdir()
    assert load_dataset("cifar10", data_dir=tmp_path, download=False).num_train == 22


def test_cifar_python3_pickles_load(tmp_path: Path) -> None:
    raw = write_cifar10(tmp_path)
    folder = tmp_path / CIFAR10_FOLDER
    for protocol, fname in ((2, "data_batch_1"), (4, "data_batch_2"), (5, "test_batch")):
        obj = pickle.loads((folder / fname).read_bytes(), encoding="bytes")
        obj = {key.decode(): value for key, value in obj.items()}  # str keys, as Python 3
        (folder / fname).write_bytes(pickle.dumps(obj, protocol=protocol))
    ds = load_dataset("cifar10", data_dir=tmp_path, download=False)
    np.testing.assert_array_equal(ds.y_train, raw["y_train"])
    np.testing.assert_allclose(ds.x_train, normalised(raw["x_train"]), atol=1e-6)


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("cifar10", ["cifar-10-batches-py", "data_batch_1", "test_batch", "batches.meta"]),
        ("cifar100", ["cifar-100-python", "train", "meta", "cifar-100-python.tar.gz"]),
        ("speech_commands", ["SpeechCommands", "testing_list.txt", "validation_list.txt"]),
    ],
)
def test_missing_files_error(name: str, expected: list[str], tmp_path: Path) -> None:
    with pytest.raises(DatasetNotFoundError) as info:
        load_dataset(name, data_dir=tmp_path, download=False)
    assert isinstance(info.value, FileNotFoundError)
    msg = str(info.value)
    assert repr(name) in msg and str(tmp_path) in msg
    for item in expected:
        assert item in msg
    assert "download=false" in msg and "data_dir=" in msg and "download=true" in msg
    assert list(tmp_path.iterdir()) == []


def test_failed_download_is_reported(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    calls = []

    def refuse(url: str, timeout: float) -> None:
        calls.append((url, timeout))
        raise urllib.error.URLError("Temporary failure in name resolution")

    monkeypatch.setattr(urllib.request, "urlopen", refuse)
    with pytest.raises(DatasetNotFoundError) as info:
        load_dataset("cifar10", data_dir=tmp_path)
    assert calls == [("https://www.cs.toronto.edu/~kriz/cifar-10-python.tar.gz", 15.0)]
    msg = str(info.value)
    assert "Temporary failure in name resolution" in msg and "cifar-10-python.tar.gz" in msg
    assert list(tmp_path.iterdir()) == []  # no partial download left

    with pytest.raises(DatasetNotFoundError, match=r"speech_commands_v0\.02\.tar\.gz"):
        load_dataset("speech_commands", data_dir=tmp_path)
    assert calls[-1][0] == "http://download.tensorflow.org/data/speech_commands_v0.02.tar.gz"


class FakeResponse(io.BytesIO):
    def __init__(self, payload: bytes) -> None:
        super().__init__(payload)
        self.headers = {"Content-Length": str(len(payload))}


def test_download_then_extract(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    src = tmp_path / "src"
    write_cifar10(src)
    tar_directory(src / CIFAR10_FOLDER, tmp_path / "published.tar.gz", CIFAR10_FOLDER)
    payload = (tmp_path / "published.tar.gz").read_bytes()
    monkeypatch.setattr(urllib.request, "urlopen", lambda url, timeout: FakeResponse(payload))
    data_dir = tmp_path / "data"
    ds = load_dataset("cifar10", data_dir=data_dir)
    assert ds.num_train == 22
    assert (data_dir / "cifar-10-python.tar.gz").read_bytes() == payload

    # A short read leaves nothing behind.
    short = FakeResponse(payload[:100])
    short.headers["Content-Length"] = str(len(payload))
    monkeypatch.setattr(urllib.request, "urlopen", lambda url, timeout: short)
    with pytest.raises(DatasetNotFoundError, match="incomplete download"):
        load_dataset("cifar100", data_dir=data_dir)
    assert not list(data_dir.glob("cifar-100*"))


def test_corrupt_cifar_files(tmp_path: Path) -> None:
    write_cifar10(tmp_path)
    folder = tmp_path / CIFAR10_FOLDER
    batch = folder / "data_batch_3"
    good = batch.read_bytes()

    batch.write_bytes(good[: len(good) // 2])  # truncated pickle
    with pytest.raises(ValueError, match="data_batch_3"):
        load_dataset("cifar10", data_dir=tmp_path, download=False)

    batch.write_bytes(b"garbage that is not a pickle")
    with pytest.raises(ValueError, match="data_batch_3"):
        load_dataset("cifar10", data_dir=tmp_path, download=False)

    obj = pickle.loads(good, encoding="bytes")
    obj[b"data"] = obj[b"data"][:, :100]
    batch.write_bytes(py2_pickle(obj))
    with pytest.raises(ValueError, match=r"data_batch_3.*shape"):
        load_dataset("cifar10", data_dir=tmp_path, download=False)

    obj = pickle.loads(good, encoding="bytes")
    obj[b"labels"] = obj[b"labels"][:-1]
    batch.write_bytes(py2_pickle(obj))
    with pytest.raises(ValueError, match=r"data_batch_3.*labels"):
        load_dataset("cifar10", data_dir=tmp_path, download=False)


class Exploit:
    def __reduce__(self) -> tuple:
        return (os.system, ("echo pwned > /dev/null",))


def test_unpickling_refuses_other_globals(tmp_path: Path) -> None:
    write_cifar10(tmp_path)
    batch = tmp_path / CIFAR10_FOLDER / "data_batch_1"
    batch.write_bytes(pickle.dumps({b"data": Exploit(), b"labels": []}, protocol=2))
    with pytest.raises(ValueError, match=r"data_batch_1.*(posix|os)\.system is not allowed"):
        load_dataset("cifar10", data_dir=tmp_path, download=False)


def test_truncated_archive(tmp_path: Path) -> None:
    src = tmp_path / "src"
    write_cifar10(src)
    data_dir = tmp_path / "data"
    data_dir.mkdir()
    archive = data_dir / "cifar-10-python.tar.gz"
    tar_directory(src / CIFAR10_FOLDER, archive, CIFAR10_FOLDER)
    archive.write_bytes(archive.read_bytes()[:-300])
    with pytest.raises(ValueError, match=r"cifar-10-python\.tar\.gz.*(corrupt|truncated)"):
        load_dataset("cifar10", data_dir=data_dir, download=False)
    assert sorted(p.name for p in data_dir.iterdir()) == ["cifar-10-python.tar.gz"]

    archive.write_bytes(b"\x1f\x8b not really gzip")
    with pytest.raises(ValueError, match=r"cifar-10-python\.tar\.gz"):
        load_dataset("cifar10", data_dir=data_dir, download=False)


def test_archive_without_expected_members(tmp_path: Path) -> None:
    with tarfile.open(tmp_path / "cifar-10-python.tar.gz", "w:gz") as tar:
        add_tar_member(tar, "cifar-10-batches-py/data_batch_1", b"x")
    with pytest.raises(ValueError, match=r"lacks.*test_batch"):
        load_dataset("cifar10", data_dir=tmp_path, download=False)


@pytest.mark.parametrize(
    "member",
    [
        "../evil",
        "cifar-10-batches-py/../../evil",
        "/tmp/sparsyfed-evil-absolute",
        "./../evil",
    ],
)
def test_tar_path_traversal_refused(member: str, tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    data_dir.mkdir()
    with tarfile.open(data_dir / "cifar-10-python.tar.gz", "w:gz") as tar:
        add_tar_member(tar, "cifar-10-batches-py/batches.meta", b"meta")
        add_tar_member(tar, member, b"pwned")
    with pytest.raises(ValueError, match=r"Refusing to extract.*unsafe member") as info:
        load_dataset("cifar10", data_dir=data_dir, download=False)
    assert "cifar-10-python.tar.gz" in str(info.value)
    assert not (tmp_path / "evil").exists() and not Path("/tmp/sparsyfed-evil-absolute").exists()
    assert sorted(p.name for p in data_dir.iterdir()) == ["cifar-10-python.tar.gz"]


def test_tar_links_refused(tmp_path: Path) -> None:
    archive = tmp_path / "a.tar.gz"
    with tarfile.open(archive, "w:gz") as tar:
        info = tarfile.TarInfo("top/link")
        info.type = tarfile.SYMTYPE
        info.linkname = "/etc/passwd"
        tar.addfile(info)
    with pytest.raises(ValueError, match="not a regular file"):
        extract_tar(archive, tmp_path / "out", lambda name: name)
    assert not (tmp_path / "out").exists()
    # Unselected members are skipped, but still checked.
    extract_tar(archive, tmp_path / "out2", lambda name: None)
    assert list((tmp_path / "out2").iterdir()) == []


def test_cifar_bad_options(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match=r"dataset\.download"):
        load_dataset("cifar10", data_dir=tmp_path, download="yes")
    with pytest.raises(ValueError, match=r"dataset\.bogus"):
        load_dataset("cifar100", data_dir=tmp_path, bogus=1)


def test_random_crop_flip() -> None:
    x = torch.arange(2 * 3 * 32 * 32, dtype=torch.float32).reshape(2, 3, 32, 32)
    gen = torch.Generator().manual_seed(0)
    out = random_crop_flip(x, generator=gen)
    assert out.shape == x.shape and out.dtype == x.dtype
    again = random_crop_flip(x, generator=torch.Generator().manual_seed(0))
    torch.testing.assert_close(out, again)
    # Every output is a 32x32 window of the padded (and possibly flipped) image.
    padded = torch.nn.functional.pad(x, (4, 4, 4, 4), value=-1.0)
    for i in range(2):
        windows = [
            img[:, r : r + 32, c : c + 32]
            for img in (padded[i], padded[i].flip(-1))
            for r in range(9)
            for c in range(9)
        ]
        assert any(torch.equal(out[i], w) for w in windows)
    # Without padding only flips remain.
    flips = random_crop_flip(x, generator=gen, padding=0)
    for i in range(2):
        assert torch.equal(flips[i], x[i]) or torch.equal(flips[i], x[i].flip(-1))


# ---------------------------------------------------------------------------
# Speech Commands
# ---------------------------------------------------------------------------


def clip_value(rel: str) -> tuple[int, int]:
    return next((n, v) for name, n, v in SPEECH_CLIPS if name == rel)


def expected_waveform(rel: str) -> np.ndarray:
    import torchaudio.functional as AF

    n, value = clip_value(rel)
    clip = np.zeros(16000, dtype=np.float32)
    clip[: min(n, 16000)] = value / 32768
    return AF.resample(torch.from_numpy(clip)[None], 16000, 8000)[0].numpy()


@pytest.fixture
def speech_dir(tmp_path: Path) -> tuple[Path, dict]:
    """data_dir with torchaudio's layout SpeechCommands/speech_commands_v0.02/."""
    splits = write_speech_commands(tmp_path / "SpeechCommands" / SPEECH_FOLDER)
    return tmp_path, splits


def test_speech_directory(speech_dir: tuple[Path, dict]) -> None:
    data_dir, splits = speech_dir
    ds = load_dataset("speech_commands", data_dir=data_dir, download=False)
    assert ds.name == "speech_commands" and ds.num_classes == 35
    assert ds.input_shape == (1, 1, 8000)
    assert ds.x_train.shape == (5, 1, 1, 8000) and ds.x_test.shape == (3, 1, 1, 8000)
    assert ds.x_train.dtype == np.float32 and ds.y_train.dtype == np.int64
    # Train = neither list; test = testing_list.txt; validation and noise dropped.
    assert splits["train"] == [
        "backward/eee_nohash_0.wav",
        "no/aaa_nohash_1.wav",
        "yes/aaa_nohash_0.wav",
        "yes/bbb_nohash_0.wav",
        "zero/ggg_nohash_0.wav",
    ]
    label = SPEECH_COMMANDS_LABELS.index
    assert ds.y_train.tolist() == [label(r.split("/")[0]) for r in splits["train"]]
    assert ds.y_train.tolist() == [0, 18, 33, 33, 34]
    assert ds.y_test.tolist() == [label("no"), label("yes"), label("zero")]
    for x, files in ((ds.x_train, splits["train"]), (ds.x_test, splits["test"])):
        for row, rel in enumerate(files):
            np.testing.assert_allclose(x[row, 0, 0], expected_waveform(rel), atol=1e-6)
    yes_full = ds.x_train[2, 0, 0]  # 1 s of 16384 / 32768
    np.testing.assert_allclose(yes_full[100:-100], 0.5, atol=2e-3)
    yes_half = ds.x_train[3, 0, 0]  # 0.5 s: zero padded
    np.testing.assert_allclose(yes_half[100:3900], 0.5, atol=2e-3)
    np.testing.assert_allclose(yes_half[4100:], 0.0, atol=1e-6)
    backward_long = ds.x_train[0, 0, 0]  # 17,000 samples: truncated to 1 s
    np.testing.assert_allclose(backward_long[100:-100], 0.5, atol=2e-3)
    np.testing.assert_allclose(ds.x_train[4, 0, 0, 100:-100], -0.5, atol=2e-3)
    zero_short = ds.x_test[2, 0, 0]  # 0.25 s of 32767
    np.testing.assert_allclose(zero_short[100:1900], 32767 / 32768, atol=3e-3)
    np.testing.assert_allclose(zero_short[2100:], 0.0, atol=1e-6)


def test_speech_plain_layout_and_archive(speech_dir: tuple[Path, dict], tmp_path: Path) -> None:
    data_dir, _ = speech_dir
    ref = load_dataset("speech_commands", data_dir=data_dir, download=False)
    tree = data_dir / "SpeechCommands" / SPEECH_FOLDER

    plain = tmp_path / "plain"
    plain.mkdir()
    tree.rename(plain / SPEECH_FOLDER)
    ds = load_dataset("speech_commands", data_dir=plain, download=False)
    np.testing.assert_array_equal(ds.x_train, ref.x_train)
    np.testing.assert_array_equal(ds.y_test, ref.y_test)

    packed = tmp_path / "packed"
    packed.mkdir()
    # The published archive has the files at its top level, no enclosing folder.
    tar_directory(plain / SPEECH_FOLDER, packed / "speech_commands_v0.02.tar.gz", None)
    with tarfile.open(packed / "speech_commands_v0.02.tar.gz") as tar:
        names = tar.getnames()
    assert "testing_list.txt" in names and "yes/aaa_nohash_0.wav" in names
    ds = load_dataset("speech_commands", data_dir=packed, download=False)
    np.testing.assert_array_equal(ds.x_train, ref.x_train)
    np.testing.assert_array_equal(ds.x_test, ref.x_test)
    np.testing.assert_array_equal(ds.y_train, ref.y_train)
    extracted = packed / SPEECH_FOLDER
    assert (extracted / "validation_list.txt").is_file()
    assert not (extracted / "_background_noise_").exists()


def test_speech_cache_reused_and_rebuilt(
    speech_dir: tuple[Path, dict], monkeypatch: pytest.MonkeyPatch
) -> None:
    data_dir, _ = speech_dir
    first = load_dataset("speech_commands", data_dir=data_dir, download=False)
    assert len(list(data_dir.glob("speech_commands-*.npz"))) == 1

    def fail(path: Path) -> None:
        raise AssertionError(f"re-read {path}")

    with monkeypatch.context() as patch:
        patch.setattr(speech_mod, "_read_wav", fail)
        second = load_dataset("speech_commands", data_dir=data_dir, download=False)
    np.testing.assert_array_equal(second.x_train, first.x_train)
    np.testing.assert_array_equal(second.y_train, first.y_train)

    # A new clip makes the cache stale.
    tree = data_dir / "SpeechCommands" / SPEECH_FOLDER
    write_wav(tree / "cat" / "zzz_nohash_0.wav", np.full(16000, 100))
    third = load_dataset("speech_commands", data_dir=data_dir, download=False)
    assert third.num_train == 6 and SPEECH_COMMANDS_LABELS.index("cat") in third.y_train

    # With the tree deleted, the cache still serves the dataset.
    for path in sorted(tree.rglob("*"), reverse=True):
        path.rmdir() if path.is_dir() else path.unlink()
    fourth = load_dataset("speech_commands", data_dir=data_dir, download=False)
    np.testing.assert_array_equal(fourth.x_train, third.x_train)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"width": 1}, "8-bit"),
        ({"channels": 2}, "2 channel"),
        ({"rate": 44100}, "44100 Hz"),
    ],
)
def test_speech_rejects_other_wav_formats(
    speech_dir: tuple[Path, dict], kwargs: dict, match: str
) -> None:
    data_dir, _ = speech_dir
    bad = data_dir / "SpeechCommands" / SPEECH_FOLDER / "yes" / "aaa_nohash_0.wav"
    samples = np.full(16000 * kwargs.get("channels", 1), 100)
    write_wav(bad, samples, **kwargs)
    with pytest.raises(ValueError, match=rf"aaa_nohash_0\.wav is not 16-bit mono.*{match}"):
        load_dataset("speech_commands", data_dir=data_dir, download=False)


def test_speech_corrupt_files(speech_dir: tuple[Path, dict]) -> None:
    data_dir, _ = speech_dir
    tree = data_dir / "SpeechCommands" / SPEECH_FOLDER
    wav = tree / "no" / "aaa_nohash_1.wav"
    good = wav.read_bytes()
    wav.write_bytes(b"RIFF garbage")
    with pytest.raises(ValueError, match=r"aaa_nohash_1\.wav"):
        load_dataset("speech_commands", data_dir=data_dir, download=False)
    wav.write_bytes(good[:-1000])  # truncated samples
    with pytest.raises(ValueError, match=r"aaa_nohash_1\.wav is truncated"):
        load_dataset("speech_commands", data_dir=data_dir, download=False)
    wav.write_bytes(good)
    (tree / "testing_list.txt").write_text("yes/missing_nohash_0.wav\n")
    with pytest.raises(ValueError, match=r"testing_list\.txt names yes/missing"):
        load_dataset("speech_commands", data_dir=data_dir, download=False)


def test_speech_features(speech_dir: tuple[Path, dict]) -> None:
    data_dir, _ = speech_dir
    for features in ("mfcc", "logmel"):
        ds = load_dataset("speech_commands", data_dir=data_dir, download=False, features=features)
        assert ds.input_shape == feature_shape(features) == (1, 40, 101)
        assert ds.x_train.shape == (5, 1, 40, 101) and ds.x_test.shape == (3, 1, 40, 101)
        assert ds.x_train.dtype == np.float32 and np.isfinite(ds.x_train).all()
    assert len(list(data_dir.glob("speech_commands-*.npz"))) == 2  # one cache per setting
    with pytest.raises(ValueError, match=r"dataset\.features"):
        load_dataset("speech_commands", data_dir=data_dir, download=False, features="stft")


def test_speech_archive_traversal_refused(tmp_path: Path) -> None:
    with tarfile.open(tmp_path / "speech_commands_v0.02.tar.gz", "w:gz") as tar:
        add_tar_member(tar, "testing_list.txt", b"")
        add_tar_member(tar, "yes/../../evil.wav", b"pwned")
    with pytest.raises(ValueError, match="unsafe member"):
        load_dataset("speech_commands", data_dir=tmp_path, download=False)
    assert not (tmp_path.parent / "evil.wav").exists()
    assert not (tmp_path / SPEECH_FOLDER).exists()


def test_sources_module_constants() -> None:
    # (That importing sparsyfed.data pulls in no torch/torchaudio/urllib is in test_data.py.)
    assert sources_mod.DOWNLOAD_TIMEOUT == 15.0
    assert issubclass(DatasetNotFoundError, FileNotFoundError)


@pytest.mark.parametrize("name", ["cifar10", "cifar100", "speech_commands"])
def test_hydra_config_group(name: str) -> None:
    cfg = compose_config([f"dataset={name}"])
    load_config(cfg)
    assert cfg["dataset"]["name"] == name and cfg["dataset"]["download"] is True


def test_concurrent_extraction_uses_the_finished_copy(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    archive = tmp_path / "a.tar.gz"
    with tarfile.open(archive, "w:gz") as tar:
        add_tar_member(tar, "top/file", b"payload")
    dest = tmp_path / "out"
    real_rename = os.rename

    def racing_rename(src: str, dst: str) -> None:
        shutil.copytree(src, dst)  # another process finished first ...
        real_rename(src, dst)  # ... so ours fails (directory not empty)

    monkeypatch.setattr(sources_mod.os, "rename", racing_rename)
    assert extract_tar(archive, dest, lambda name: name) == ["top/file"]
    assert (dest / "top" / "file").read_bytes() == b"payload"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.tar.gz", "out"]
