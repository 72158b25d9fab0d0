"""Datasets and federated partitioning for sparsyfed."""

from sparsyfed.data.cifar import random_crop_flip
from sparsyfed.data.datasets import DATASETS, ArrayDataset, DatasetNotFoundError, load_dataset
from sparsyfed.data.partition import (
    PARTITION_SCHEMES,
    partition_dirichlet,
    partition_iid,
    partition_labels,
    partition_lda,
    partition_stats,
    partition_train_test,
)

__all__ = [
    "DATASETS",
    "PARTITION_SCHEMES",
    "ArrayDataset",
    "DatasetNotFoundError",
    "load_dataset",
    "partition_dirichlet",
    "partition_iid",
    "partition_labels",
    "partition_lda",
    "partition_stats",
    "partition_train_test",
    "random_crop_flip",
]
