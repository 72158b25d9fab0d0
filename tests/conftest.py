"""Shared fixtures: one torch thread, one generated dataset per session."""

from __future__ import annotations

import pytest
import torch


@pytest.fixture(autouse=True)
def one_thread():
    """Tiny tensors: one intra-op thread (as the ClientApp sets) avoids oversubscription."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture(scope="session")
def data_dir(tmp_path_factory):
    """One generated MNIST-1D cache for the whole session."""
    return tmp_path_factory.mktemp("data")
