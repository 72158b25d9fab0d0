"""Shared fixtures: one torch thread, one generated dataset per session."""

from __future__ import annotations

import pytest
import torch


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Test files with ``slow`` tests first, the rest after, each file's order kept.

    ``--dist loadfile`` hands out whole files in this order: the long real-run files
    then start at once and the short ones fill the gaps, instead of a long file
    starting last and running alone (longest first).
    """
    slow_files = {item.path for item in items if item.get_closest_marker("slow")}
    order = {path: i for i, path in enumerate(dict.fromkeys(item.path for item in items))}
    items.sort(key=lambda item: (item.path not in slow_files, order[item.path]))


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
