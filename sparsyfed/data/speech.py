"""Google Speech Commands v0.02 (35 keywords) from the published files.

``data_dir`` holds one of:

* ``SpeechCommands/speech_commands_v0.02/`` (torchaudio's layout) or
  ``speech_commands_v0.02/``: one folder per keyword with 16 kHz mono 16-bit PCM wavs,
  ``validation_list.txt`` and ``testing_list.txt``;
* ``speech_commands_v0.02.tar.gz``, the published archive (files at its top level),
  extracted safely into ``data_dir/speech_commands_v0.02/`` (keyword wavs and the list
  files only).

When none is present and ``download`` is true the archive is fetched from the official
address. Splits follow the paper: train = every wav in neither list file, test = the
files of ``testing_list.txt`` (the validation split is dropped). ``_background_noise_``
is ignored. Labels are indices into :data:`SPEECH_COMMANDS_LABELS` (sorted keywords).

Preprocessing (once, then cached in ``<data_dir>/speech_commands-<hash>.npz``): wavs are
read with the stdlib :mod:`wave` module (``torchaudio.load`` needs torchcodec), zero
padded or truncated to 16,000 samples, scaled by 1/32768 and resampled to 8 kHz with
``torchaudio.functional.resample``. Features (option ``features``):

* ``waveform`` (default, the paper's input): ``(N, 1, 1, 8000)``, the "image" the
  speech ResNet-18 takes;
* ``mfcc``: ``torchaudio.transforms.MFCC`` with 40 coefficients at 8 kHz (FFT 256,
  25 ms windows, 10 ms hop, 40 mel bands): ``(N, 1, 40, 101)``;
* ``logmel``: ``log(MelSpectrogram + 1e-6)`` with the same 40 bands: ``(N, 1, 40, 101)``.
"""

from __future__ import annotations

import os
import wave
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from sparsyfed.data.base import (
    ArrayDataset,
    DatasetNotFoundError,
    check_options,
    resolve_data_dir,
)
from sparsyfed.data.sources import (
    cache_path,
    download_file,
    extract_tar,
    file_signature,
    not_found_error,
    read_cache,
    write_cache,
)
from sparsyfed.validation import as_bool, as_choice

__all__ = [
    "FEATURES",
    "SPEECH_COMMANDS_LABELS",
    "SPEECH_COMMANDS_URL",
    "feature_shape",
    "load_speech_commands",
]

SPEECH_COMMANDS_LABELS: tuple[str, ...] = (
    "backward", "bed", "bird", "cat", "dog", "down", "eight", "five", "follow", "forward",
    "four", "go", "happy", "house", "learn", "left", "marvin", "nine", "no", "off", "on",
    "one", "right", "seven", "sheila", "six", "stop", "three", "tree", "two", "up",
    "visual", "wow", "yes", "zero",
)  # fmt: skip
"""The 35 keywords of v0.02, sorted; a clip's label is its keyword's index here."""

SPEECH_COMMANDS_URL = "http://download.tensorflow.org/data/speech_commands_v0.02.tar.gz"
"""Official download address of the v0.02 archive."""

FEATURES: tuple[str, ...] = ("waveform", "mfcc", "logmel")
"""Values of the ``features`` option."""

_NAME = "speech_commands"
_FOLDER = "speech_commands_v0.02"
_ARCHIVE = "speech_commands_v0.02.tar.gz"
_LISTS = ("validation_list.txt", "testing_list.txt")
_EXTRA_FILES = ("LICENSE", "README.md")
_SOURCE_RATE = 16_000
_TARGET_RATE = 8_000
_CLIP = 16_000  # samples at 16 kHz (1 s)
_N_FFT = 256
_WIN = 200  # 25 ms at 8 kHz
_HOP = 80  # 10 ms at 8 kHz
_N_MELS = 40
_N_MFCC = 40
_LOG_EPS = 1e-6
_CHUNK = 1024  # clips resampled / featurised at once
_CACHE_FORMAT = 1
_OPTIONS = ("features", "download")


def feature_shape(features: str = "waveform") -> tuple[int, ...]:
    """Return the per-clip input shape of a ``features`` setting.

    Parameters
    ----------
    features : str, optional
        One of :data:`FEATURES`.

    Returns
    -------
    tuple of int
        ``(1, 1, 8000)`` for ``waveform``; ``(1, 40, 101)`` for ``mfcc`` and ``logmel``.

    Raises
    ------
    sparsyfed.validation.ConfigError
        If ``features`` is not one of :data:`FEATURES` (key ``dataset.features``).

    """
    as_choice("dataset.features", features, FEATURES)
    if features == "waveform":
        return (1, 1, _TARGET_RATE)
    return (1, _N_MELS if features == "logmel" else _N_MFCC, _TARGET_RATE // _HOP + 1)


def _find_root(data_dir: Path) -> Path | None:
    """Return the first candidate directory that holds both list files."""
    for root in (data_dir / "SpeechCommands" / _FOLDER, data_dir / _FOLDER):
        if all((root / name).is_file() for name in _LISTS):
            return root
    return None


def _select(member: str) -> str | None:
    """Map an archive member to its path in the extracted tree (``None``: skip)."""
    if member in _LISTS or member in _EXTRA_FILES:
        return member
    parts = member.split("/")
    if len(parts) == 2 and parts[0] in SPEECH_COMMANDS_LABELS and parts[1].endswith(".wav"):
        return member
    return None


def _ensure_root(data_dir: Path, download: bool) -> Path:
    """Return the dataset directory, extracting or downloading the archive if needed."""
    root = _find_root(data_dir)
    if root is not None:
        return root
    archive = data_dir / _ARCHIVE
    failure: str | None = None
    if not archive.is_file() and download:
        try:
            download_file(SPEECH_COMMANDS_URL, archive)
        except OSError as exc:
            failure = str(exc) or type(exc).__name__
    if not archive.is_file():
        layout = [
            f"SpeechCommands/{_FOLDER}/ (torchaudio's layout) or {_FOLDER}/, holding one "
            f"folder of wavs per keyword ({', '.join(SPEECH_COMMANDS_LABELS[:3])}, ..., "
            f"{SPEECH_COMMANDS_LABELS[-1]}), {_LISTS[0]} and {_LISTS[1]}",
            f"{_ARCHIVE} (the published archive, files at its top level)",
        ]
        raise not_found_error(
            _NAME, data_dir, layout, _ARCHIVE, SPEECH_COMMANDS_URL, failure if download else None
        )
    dest = data_dir / _FOLDER
    if dest.exists():
        raise DatasetNotFoundError(
            f"Dataset {_NAME!r}: directory {dest} exists but lacks {' or '.join(_LISTS)}. "
            f"Complete it, or remove it so that {archive} is extracted there."
        )
    written = set(extract_tar(archive, dest, _select))
    absent = [name for name in _LISTS if name not in written]
    if absent:
        raise ValueError(
            f"Archive {archive} lacks {', '.join(absent)} at its top level; it is not the "
            f"published {_ARCHIVE} (delete {dest} and the archive and download it again)"
        )
    return dest


def _signature(root: Path) -> list[list[Any]]:
    """Cheap fingerprint of the tree: list files and each keyword folder's entries."""
    sig = file_signature([root / name for name in _LISTS])
    for label in SPEECH_COMMANDS_LABELS:
        folder = root / label
        try:
            st = folder.stat()
            count = sum(1 for _ in os.scandir(folder))
        except OSError:
            sig.append([label, None, None])
        else:
            sig.append([label, count, st.st_mtime_ns])
    return sig


def _read_list(path: Path) -> list[str]:
    """Return the relative wav paths named in a list file (one per line)."""
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise ValueError(f"{path} is not a text list of wav files ({exc})") from None
    return [line.strip() for line in text.splitlines() if line.strip()]


def _splits(root: Path) -> tuple[list[str], list[str]]:
    """Return the sorted relative paths of the train and test wavs."""
    listed: dict[str, set[str]] = {}
    for name in _LISTS:
        entries = _read_list(root / name)
        for entry in entries:
            parts = entry.split("/")
            if (
                len(parts) != 2
                or parts[0] not in SPEECH_COMMANDS_LABELS
                or not parts[1].endswith(".wav")
            ):
                raise ValueError(
                    f"{root / name} names {entry!r}, which is not <keyword>/<file>.wav "
                    f"for one of the 35 v0.02 keywords"
                )
            if not (root / entry).is_file():
                raise ValueError(
                    f"{root / name} names {entry}, which does not exist under {root} "
                    f"(incomplete copy or extraction?)"
                )
        listed[name] = set(entries)
    train: list[str] = []
    for label in SPEECH_COMMANDS_LABELS:
        folder = root / label
        if not folder.is_dir():
            continue
        for fname in sorted(os.listdir(folder)):
            rel = f"{label}/{fname}"
            if fname.endswith(".wav") and not any(rel in names for names in listed.values()):
                train.append(rel)
    return train, sorted(listed["testing_list.txt"])


def _read_wav(path: Path) -> np.ndarray:
    """Read a 16-bit PCM mono 16 kHz wav as ``int16`` samples."""
    try:
        with wave.open(str(path), "rb") as wav:
            params = wav.getparams()
            if (params.sampwidth, params.nchannels, params.framerate) != (2, 1, _SOURCE_RATE):
                raise ValueError(
                    f"{path} is not 16-bit mono {_SOURCE_RATE} Hz PCM: it has "
                    f"{8 * params.sampwidth}-bit samples, {params.nchannels} channel(s) "
                    f"at {params.framerate} Hz"
                )
            frames = wav.readframes(params.nframes)
    except (wave.Error, EOFError) as exc:
        raise ValueError(f"{path} is not a readable PCM wav file ({exc})") from None
    if len(frames) != 2 * params.nframes:
        raise ValueError(
            f"{path} is truncated: header says {params.nframes} samples, found {len(frames) // 2}"
        )
    return np.frombuffer(frames, dtype="<i2")


def _waveforms(root: Path, files: Sequence[str]) -> np.ndarray:
    """Read, pad/truncate, scale and resample ``files`` to ``float32 (N, 8000)``."""
    import torch
    import torchaudio.functional as AF

    out = np.empty((len(files), _TARGET_RATE), dtype=np.float32)
    for start in range(0, len(files), _CHUNK):
        names = files[start : start + _CHUNK]
        clips = np.zeros((len(names), _CLIP), dtype=np.float32)
        for row, rel in enumerate(names):
            samples = _read_wav(root / rel)[:_CLIP]
            clips[row, : samples.shape[0]] = samples
        clips /= np.float32(32768.0)
        with torch.no_grad():
            low = AF.resample(torch.from_numpy(clips), _SOURCE_RATE, _TARGET_RATE)
        out[start : start + len(names)] = low.numpy()
    return out


def _featurise(waves: np.ndarray, features: str) -> np.ndarray:
    """Turn ``(N, 8000)`` waveforms into the ``features`` arrays ``(N, *feature_shape)``."""
    shape = feature_shape(features)
    if features == "waveform":
        return waves.reshape(-1, *shape)
    import torch
    import torchaudio.transforms as T

    mel_kwargs = {"n_fft": _N_FFT, "win_length": _WIN, "hop_length": _HOP, "n_mels": _N_MELS}
    if features == "mfcc":
        transform: torch.nn.Module = T.MFCC(
            sample_rate=_TARGET_RATE, n_mfcc=_N_MFCC, melkwargs=mel_kwargs
        )
    else:
        transform = T.MelSpectrogram(sample_rate=_TARGET_RATE, **mel_kwargs)
    out = np.empty((waves.shape[0], *shape), dtype=np.float32)
    with torch.no_grad():
        for start in range(0, waves.shape[0], _CHUNK):
            feats = transform(torch.from_numpy(waves[start : start + _CHUNK]))
            if features == "logmel":
                feats = torch.log(feats + _LOG_EPS)
            out[start : start + feats.shape[0]] = feats.reshape(-1, *shape).numpy()
    return out


def load_speech_commands(data_dir: str | Path | None = None, **options: Any) -> ArrayDataset:
    """Load Speech Commands v0.02 (35 keywords) from the published files.

    Parameters
    ----------
    data_dir : str or Path or None, optional
        Directory holding ``SpeechCommands/speech_commands_v0.02/``,
        ``speech_commands_v0.02/`` or ``speech_commands_v0.02.tar.gz``; the cache file is
        written there too. Defaults to ``~/.cache/sparsyfed``.
    **options
        ``features`` (``"waveform"`` (default), ``"mfcc"`` or ``"logmel"``; see
        :func:`feature_shape`) and ``download`` (bool, default true: fetch the archive
        from the official address, 15 s socket timeout, when the files are missing).

    Returns
    -------
    ArrayDataset
        ``float32`` inputs of shape ``(N, *feature_shape(features))`` (waveforms at
        8 kHz in ``[-1, 1)``), ``int64`` labels in ``[0, 35)``.

    Raises
    ------
    DatasetNotFoundError
        If the files are missing and could not be downloaded.
    sparsyfed.validation.ConfigError
        If an option is unknown or has an invalid value (a ``ValueError``).
    ValueError
        If a file is corrupt or not 16-bit mono 16 kHz PCM (the message names the file).

    """
    check_options(_NAME, options, _OPTIONS)
    features = as_choice("dataset.features", options.get("features", "waveform"), FEATURES)
    shape = feature_shape(features)
    download = as_bool("dataset.download", options.get("download", True))
    base = resolve_data_dir(data_dir)
    key = {
        "dataset": _NAME,
        "format": _CACHE_FORMAT,
        "features": features,
        "rates": [_SOURCE_RATE, _TARGET_RATE],
        "stft": [_N_FFT, _WIN, _HOP, _N_MELS, _N_MFCC],
    }
    cache = cache_path(base, _NAME, key)
    root = _find_root(base)
    source = None if root is None else _signature(root)
    expected = {
        "x_train": ((None, *shape), np.float32),
        "y_train": ((None,), np.int64),
        "x_test": ((None, *shape), np.float32),
        "y_test": ((None,), np.int64),
    }
    arrays = read_cache(cache, key, source, expected)
    if arrays is not None and not all(
        arrays[f"x_{s}"].shape[0] == arrays[f"y_{s}"].shape[0] for s in ("train", "test")
    ):
        arrays = None
    if arrays is None:
        root = _ensure_root(base, download)
        train, test = _splits(root)
        arrays = {}
        for split, files in (("train", train), ("test", test)):
            waves = _waveforms(root, files)
            arrays[f"x_{split}"] = _featurise(waves, features)
            arrays[f"y_{split}"] = np.array(
                [SPEECH_COMMANDS_LABELS.index(rel.split("/")[0]) for rel in files],
                dtype=np.int64,
            )
        write_cache(cache, key, _signature(root), arrays)
    return ArrayDataset(
        name=_NAME,
        x_train=arrays["x_train"],
        y_train=arrays["y_train"],
        x_test=arrays["x_test"],
        y_test=arrays["y_test"],
        num_classes=len(SPEECH_COMMANDS_LABELS),
        input_shape=shape,
    )
