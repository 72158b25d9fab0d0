"""Build tiny copies of the published CIFAR and Speech Commands files for the tests.

The CIFAR batches are written byte for byte the way the published python-version files
are: Python 2 ``cPickle`` protocol 2 with ``str`` (here: bytes) keys and a ``uint8``
array reduced through ``numpy.core.multiarray._reconstruct``. The Speech Commands tree
has the published layout (one folder per keyword, ``_background_noise_``, the two list
files) and its archive holds the files at the top level, as the published one does.
"""

from __future__ import annotations

import io
import struct
import tarfile
import wave
from pathlib import Path

import numpy as np

CIFAR10_FOLDER = "cifar-10-batches-py"
CIFAR100_FOLDER = "cifar-100-python"
SPEECH_FOLDER = "speech_commands_v0.02"

# ---------------------------------------------------------------------------
# Python 2 style pickles (protocol 2, as cPickle wrote the CIFAR files)
# ---------------------------------------------------------------------------


def _int(value: int) -> bytes:
    if 0 <= value < 256:
        return b"K" + bytes([value])
    if 0 <= value < 65536:
        return b"M" + struct.pack("<H", value)
    return b"J" + struct.pack("<i", value)


def _string(value: bytes) -> bytes:
    if len(value) < 256:
        return b"U" + bytes([len(value)]) + value
    return b"T" + struct.pack("<i", len(value)) + value


def _tuple(items: list[bytes]) -> bytes:
    if 1 <= len(items) <= 3:
        return b"".join(items) + {1: b"\x85", 2: b"\x86", 3: b"\x87"}[len(items)]
    return b"(" + b"".join(items) + b"t"


def _ndarray(arr: np.ndarray) -> bytes:
    assert arr.dtype == np.uint8
    dtype = (
        b"cnumpy\ndtype\n"
        + _string(b"u1")
        + _int(0)
        + _int(1)
        + b"\x87R"
        + _tuple([_int(3), _string(b"|"), b"N", b"N", b"N", _int(-1), _int(-1), _int(0)])
        + b"b"
    )
    state = _tuple(
        [
            _int(1),
            _tuple([_int(n) for n in arr.shape]),
            dtype,
            b"\x89",  # not Fortran order
            _string(np.ascontiguousarray(arr).tobytes()),
        ]
    )
    return (
        b"cnumpy.core.multiarray\n_reconstruct\n"
        + b"cnumpy\nndarray\n"
        + _tuple([_int(0)])
        + _string(b"b")
        + b"\x87R"
        + state
        + b"b"
    )


def _value(obj: object) -> bytes:
    if isinstance(obj, np.ndarray):
        return _ndarray(obj)
    if isinstance(obj, bytes):
        return _string(obj)
    if isinstance(obj, bool | np.bool_):
        raise TypeError("no bools in CIFAR files")
    if isinstance(obj, int | np.integer):
        return _int(int(obj))
    if isinstance(obj, list):
        return b"](" + b"".join(_value(item) for item in obj) + b"e"
    if isinstance(obj, dict):
        return b"}(" + b"".join(_value(k) + _value(v) for k, v in obj.items()) + b"u"
    raise TypeError(f"unsupported {type(obj)}")


def py2_pickle(obj: dict) -> bytes:
    """Pickle ``obj`` (dict/list/bytes/int/uint8 arrays) as Python 2's cPickle protocol 2."""
    return b"\x80\x02" + _value(obj) + b"."


# ---------------------------------------------------------------------------
# CIFAR
# ---------------------------------------------------------------------------


def cifar_images(n: int, seed: int) -> np.ndarray:
    """Random ``uint8 (n, 3072)`` images whose first pixel row holds 0 then 255."""
    rng = np.random.default_rng(seed)
    data = rng.integers(0, 256, size=(n, 3072), dtype=np.uint8)
    data[:, 0] = 0  # red channel, pixel (0, 0)
    data[:, 1] = 255  # red channel, pixel (0, 1)
    data[:, 1024] = 128  # green channel, pixel (0, 0)
    return data


def write_cifar10(root: Path, train_sizes=(4, 5, 3, 6, 4), test_size: int = 7) -> dict:
    """Write ``root/cifar-10-batches-py``; return the raw arrays written."""
    folder = root / CIFAR10_FOLDER
    folder.mkdir(parents=True)
    xs, ys = [], []
    for i, n in enumerate(train_sizes, start=1):
        data = cifar_images(n, seed=i)
        labels = [(i + j) % 10 for j in range(n)]
        batch = {
            b"batch_label": f"training batch {i} of 5".encode(),
            b"labels": labels,
            b"data": data,
            b"filenames": [f"img_{i}_{j}.png".encode() for j in range(n)],
        }
        (folder / f"data_batch_{i}").write_bytes(py2_pickle(batch))
        xs.append(data)
        ys.extend(labels)
    test = cifar_images(test_size, seed=99)
    test_labels = [j % 10 for j in range(test_size)]
    (folder / "test_batch").write_bytes(
        py2_pickle(
            {
                b"batch_label": b"testing batch 1 of 1",
                b"labels": test_labels,
                b"data": test,
                b"filenames": [f"t_{j}.png".encode() for j in range(test_size)],
            }
        )
    )
    names = [b"airplane", b"automobile", b"bird", b"cat", b"deer"]
    names += [b"dog", b"frog", b"horse", b"ship", b"truck"]
    meta = {b"num_cases_per_batch": 10000, b"label_names": names, b"num_vis": 3072}
    (folder / "batches.meta").write_bytes(py2_pickle(meta))
    return {
        "x_train": np.concatenate(xs),
        "y_train": np.array(ys),
        "x_test": test,
        "y_test": np.array(test_labels),
    }


def write_cifar100(root: Path, train_size: int = 12, test_size: int = 6) -> dict:
    """Write ``root/cifar-100-python``; return the raw arrays written."""
    folder = root / CIFAR100_FOLDER
    folder.mkdir(parents=True)
    out = {}
    for split, n, seed in (("train", train_size, 1), ("test", test_size, 2)):
        data = cifar_images(n, seed)
        fine = [(7 * j + seed) % 100 for j in range(n)]
        batch = {
            b"filenames": [f"{split}_{j}.png".encode() for j in range(n)],
            b"batch_label": f"{split}ing batch 1 of 1".encode(),
            b"fine_labels": fine,
            b"coarse_labels": [f // 5 for f in fine],
            b"data": data,
        }
        (folder / split).write_bytes(py2_pickle(batch))
        out[f"x_{split}"], out[f"y_{split}"] = data, np.array(fine)
    meta = {
        b"fine_label_names": [f"fine{i}".encode() for i in range(100)],
        b"coarse_label_names": [f"coarse{i}".encode() for i in range(20)],
    }
    (folder / "meta").write_bytes(py2_pickle(meta))
    return out


def tar_directory(src: Path, archive: Path, arcname: str | None) -> None:
    """Tar.gz ``src`` as ``arcname/...`` (or its contents at the top level if ``None``)."""
    with tarfile.open(archive, "w:gz") as tar:
        if arcname is not None:
            tar.add(src, arcname=arcname)
        else:
            for child in sorted(src.iterdir()):
                tar.add(child, arcname=child.name)


def add_tar_member(tar: tarfile.TarFile, name: str, payload: bytes) -> None:
    """Add a regular file ``name`` with ``payload`` to an open tar."""
    info = tarfile.TarInfo(name)
    info.size = len(payload)
    tar.addfile(info, io.BytesIO(payload))


# ---------------------------------------------------------------------------
# Speech Commands
# ---------------------------------------------------------------------------


def write_wav(
    path: Path,
    samples: np.ndarray,
    rate: int = 16000,
    channels: int = 1,
    width: int = 2,
) -> None:
    """Write int samples as a PCM wav."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with wave.open(str(path), "wb") as wav:
        wav.setnchannels(channels)
        wav.setsampwidth(width)
        wav.setframerate(rate)
        dtype = {1: np.uint8, 2: "<i2", 4: "<i4"}[width]
        wav.writeframes(np.asarray(samples).astype(dtype).tobytes())


# (relative path, number of samples at 16 kHz, constant int16 value)
SPEECH_CLIPS: tuple[tuple[str, int, int], ...] = (
    ("yes/aaa_nohash_0.wav", 16000, 16384),
    ("yes/bbb_nohash_0.wav", 8000, 16384),  # 0.5 s: padded
    ("yes/ccc_nohash_0.wav", 16000, -8192),
    ("no/aaa_nohash_1.wav", 12000, 8192),  # 0.75 s
    ("no/ddd_nohash_0.wav", 16000, 4096),
    ("backward/eee_nohash_0.wav", 17000, 16384),  # longer than 1 s: truncated
    ("backward/fff_nohash_0.wav", 16000, 0),
    ("zero/ggg_nohash_0.wav", 16000, -16384),
    ("zero/hhh_nohash_0.wav", 4000, 32767),
    ("wow/iii_nohash_0.wav", 16000, 1000),
)
SPEECH_TEST = ("no/ddd_nohash_0.wav", "yes/ccc_nohash_0.wav", "zero/hhh_nohash_0.wav")
SPEECH_VALIDATION = ("wow/iii_nohash_0.wav", "backward/fff_nohash_0.wav")


def write_speech_commands(folder: Path) -> dict:
    """Write a tiny Speech Commands v0.02 tree at ``folder``; return its expected splits."""
    for rel, n, value in SPEECH_CLIPS:
        write_wav(folder / rel, np.full(n, value))
    noise = np.random.default_rng(0).integers(-3000, 3000, size=32000)
    write_wav(folder / "_background_noise_" / "white_noise.wav", noise)
    (folder / "_background_noise_" / "README.md").write_text("noise\n")
    (folder / "testing_list.txt").write_text("\n".join(SPEECH_TEST) + "\n")
    (folder / "validation_list.txt").write_text("\n".join(SPEECH_VALIDATION) + "\n")
    (folder / "LICENSE").write_text("CC BY 4.0\n")
    listed = set(SPEECH_TEST) | set(SPEECH_VALIDATION)
    train = sorted(rel for rel, _, _ in SPEECH_CLIPS if rel not in listed)
    return {"train": train, "test": sorted(SPEECH_TEST)}
