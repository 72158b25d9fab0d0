"""The dataset registry: dataset names to loader functions, imported only when used.

Every dataset has one loader module (:mod:`sparsyfed.data.mnist1d`,
:mod:`sparsyfed.data.digits`, :mod:`sparsyfed.data.cifar`, :mod:`sparsyfed.data.speech`,
:mod:`sparsyfed.data.fashion_mnist`, ...)
exposing a function ``loader(data_dir=None, **options) -> ArrayDataset``.
:data:`LOADERS` names that function as ``"<module>:<function>"``; :func:`load_dataset`
imports the module with :mod:`importlib` on first use, so importing :mod:`sparsyfed.data`
pulls in no loader (and none of their heavy dependencies).

The published datasets are read from their files in ``data_dir`` (downloaded only when
missing and ``download`` is true); missing files raise
:class:`~sparsyfed.data.base.DatasetNotFoundError`.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping
from pathlib import Path
from types import MappingProxyType
from typing import Any

from sparsyfed.data.base import ArrayDataset
from sparsyfed.validation import as_choice

__all__ = ["DATASETS", "LOADERS", "get_loader", "load_dataset"]

LOADERS: Mapping[str, str] = MappingProxyType(
    {
        "mnist1d": "sparsyfed.data.mnist1d:load_mnist1d",
        "digits": "sparsyfed.data.digits:load_digits",
        "cifar10": "sparsyfed.data.cifar:load_cifar10",
        "cifar100": "sparsyfed.data.cifar:load_cifar100",
        "speech_commands": "sparsyfed.data.speech:load_speech_commands",
        "synthetic": "sparsyfed.data.synthetic:load_synthetic",
        "fashion_mnist": "sparsyfed.data.fashion_mnist:load_fashion_mnist",
    }
)
"""Dataset name to its loader, ``"<module>:<function>"``."""

DATASETS: tuple[str, ...] = tuple(LOADERS)
"""Names accepted by :func:`load_dataset`."""


def get_loader(name: str) -> Callable[..., ArrayDataset]:
    """Import and return the loader function of a dataset.

    Parameters
    ----------
    name : str
        One of :data:`DATASETS`.

    Returns
    -------
    callable
        ``loader(data_dir=None, **options) -> ArrayDataset``.

    Raises
    ------
    sparsyfed.validation.ConfigError
        If ``name`` is not a registered dataset (key ``dataset.name``).

    """
    as_choice("dataset.name", name, DATASETS)
    module, _, function = LOADERS[name].partition(":")
    return getattr(importlib.import_module(module), function)


def load_dataset(name: str, data_dir: str | Path | None = None, **options: Any) -> ArrayDataset:
    """Load (or generate) a dataset by name.

    Parameters
    ----------
    name : str
        One of :data:`DATASETS`: ``"mnist1d"``, ``"digits"``, ``"cifar10"``,
        ``"cifar100"`` or ``"speech_commands"``.
    data_dir : str or Path or None, optional
        Directory of the published dataset files and of the caches (digits uses
        none). Defaults to ``~/.cache/sparsyfed``.
    **options
        Dataset-specific options; ``None`` values mean "use the default".
        ``mnist1d`` accepts ``num_samples`` (default 12000, a positive multiple
        of 10; 80 % train / 20 % test) and ``generator_seed`` (default 42, the
        ``mnist1d`` package default). ``digits`` accepts no options.
        ``cifar10``/``cifar100`` accept ``augment`` (default false) and ``download``
        (default true); see :func:`sparsyfed.data.cifar.load_cifar`.
        ``speech_commands`` accepts ``features`` (``waveform`` (default), ``mfcc`` or
        ``logmel``) and ``download``; see
        :func:`sparsyfed.data.speech.load_speech_commands`. ``fashion_mnist`` accepts
        ``download`` (default true); see
        :func:`sparsyfed.data.fashion_mnist.load_fashion_mnist`.

    Returns
    -------
    ArrayDataset
        The dataset with ``float32`` inputs and ``int64`` labels.

    Raises
    ------
    sparsyfed.validation.ConfigError
        If ``name`` is unknown, or an option is unknown or has an invalid value (the
        message names the key ``dataset.<option>``; a ``ValueError``).
    ValueError
        If a dataset file is corrupt (the message names the file).
    DatasetNotFoundError
        If the files of a published dataset are missing and could not be downloaded.

    """
    loader = get_loader(name)
    opts = {key: value for key, value in options.items() if value is not None}
    return loader(data_dir, **opts)
