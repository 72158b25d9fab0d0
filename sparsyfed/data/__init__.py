"""Datasets and federated partitioning for sparsyfed.

* :mod:`~sparsyfed.data.base`: :class:`ArrayDataset`, :class:`DatasetNotFoundError`,
  the data directory and option checking, shared by every loader;
* :mod:`~sparsyfed.data.registry`: :func:`load_dataset` and :data:`DATASETS`, which
  import the loader modules (``mnist1d``, ``digits``, ``cifar``, ``speech``,
  ``fashion_mnist``, ...) lazily;
* :mod:`~sparsyfed.data.sources`: downloads, archives, pickles and caches;
* :mod:`~sparsyfed.data.augment`: :func:`random_crop_flip`;
* :mod:`~sparsyfed.data.partition`: federated partitioning of the labels
  (:mod:`~sparsyfed.data.lda`: the official LDA procedure; :mod:`~sparsyfed.data.shards`:
  exactly ``k`` classes per client; :mod:`~sparsyfed.data.checks`: argument checks).
"""

from sparsyfed.data.augment import random_crop_flip
from sparsyfed.data.base import ArrayDataset, DatasetNotFoundError
from sparsyfed.data.partition import (
    PARTITION_SCHEMES,
    partition_dirichlet,
    partition_iid,
    partition_inner_dirichlet,
    partition_labels,
    partition_lda,
    partition_stats,
    partition_train_test,
)
from sparsyfed.data.registry import DATASETS, load_dataset
from sparsyfed.data.shards import partition_shards

__all__ = [
    "DATASETS",
    "PARTITION_SCHEMES",
    "ArrayDataset",
    "DatasetNotFoundError",
    "load_dataset",
    "partition_dirichlet",
    "partition_iid",
    "partition_inner_dirichlet",
    "partition_labels",
    "partition_lda",
    "partition_shards",
    "partition_stats",
    "partition_train_test",
    "random_crop_flip",
]
