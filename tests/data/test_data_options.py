"""Dataset options and partition arguments are checked with the sparsyfed.validation idiom."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from sparsyfed.data import load_dataset, partition_labels
from sparsyfed.validation import ConfigError


@pytest.mark.parametrize(
    ("name", "options", "message"),
    [
        ("imagenet", {}, "dataset.name='imagenet' is not allowed: choose one of mnist1d"),
        ("digits", {"num_samples": 10}, "dataset.num_samples=10 is not allowed: dataset 'digits'"),
        ("mnist1d", {"num_sample": 10}, "did you mean dataset.num_samples?"),
        ("mnist1d", {"num_samples": 7}, "dataset.num_samples=7 is not allowed: it must be a pos"),
        ("mnist1d", {"generator_seed": 2**32}, "dataset.generator_seed=4294967296 is not allowed"),
        ("cifar10", {"augment": "no"}, "dataset.augment='no' is not allowed: it must be true or"),
        ("cifar100", {"downlaod": False}, "did you mean dataset.download?"),
        ("speech_commands", {"features": "stft"}, "dataset.features='stft' is not allowed"),
        ("speech_commands", {"download": 1}, "dataset.download=1 is not allowed"),
        ("synthetic", {"shape": [3, 0]}, "dataset.shape=0 is not allowed"),
        ("synthetic", {"noise": -1}, "dataset.noise=-1 is not allowed: it must be >= 0"),
    ],
)
def test_option_errors_are_config_errors(
    name: str, options: dict[str, object], message: str, tmp_path: Path
) -> None:
    with pytest.raises(ConfigError) as info:
        load_dataset(name, data_dir=tmp_path, **options)
    assert message in str(info.value)
    assert list(tmp_path.iterdir()) == []  # checked before anything is read or written


def test_none_options_mean_the_default(tmp_path: Path) -> None:
    ds = load_dataset("mnist1d", data_dir=tmp_path, num_samples=100, generator_seed=None)
    assert ds.num_train == 80


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ((5, "pathological", 0.5, 0), "partition.scheme='pathological' is not allowed: choose"),
        ((5, "shards", 0.5, 0, {"classes_per_client": 11}), "classes_per_client=11 is not"),
        ((5, "lda", -1.0, 0), "partition.alpha=-1.0 is not allowed"),
        ((0, "iid", 0.5, 0), "num_clients=0 is not allowed"),
        ((5, "iid", 0.5, -2), "seed=-2 is not allowed"),
    ],
)
def test_partition_argument_errors_are_config_errors(args: tuple, message: str) -> None:
    with pytest.raises(ConfigError) as info:
        partition_labels(np.arange(100) % 10, *args[:4], **(args[4:] or [{}])[0])
    assert message in str(info.value)
