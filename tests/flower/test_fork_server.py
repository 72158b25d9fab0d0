"""The guess that lets ``python -m sparsyfed`` start its workers' imports before its own."""

from __future__ import annotations

import pytest

from sparsyfed.flower.fork_server import will_use_processes


@pytest.mark.parametrize(
    "argv",
    [
        [],
        ["method=topk", "sparsity=0.99"],
        ["simulation.backend=processes"],
        ["simulation.client_gpus=0"],
        ["simulation.ray_address=null"],
        ["-m", "seed=0,1,2"],  # a serial sweep: its jobs share this process's fork server
    ],
)
def test_local_runs_start_it(argv):
    assert will_use_processes(argv, {})


@pytest.mark.parametrize(
    "argv",
    [
        ["simulation.backend=ray"],
        ["simulation.ray_address=10.0.0.1:6379"],
        ["simulation.client_gpus=0.5"],
        ["simulation.client_gpus=abc"],
        ["-m", "seed=0,1", "hydra/launcher=parallel"],  # each job is its own process
        ["--help"],
        ["--cfg", "job"],
    ],
)
def test_ray_parallel_sweeps_and_flags_do_not(argv):
    assert not will_use_processes(argv, {})


def test_a_ray_address_in_the_environment_does_not():
    assert not will_use_processes([], {"RAY_ADDRESS": "10.0.0.1:6379"})
