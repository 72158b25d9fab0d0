"""The presets' jobs: fixed unique names, the documented sizes, seeds varying slowest."""

from __future__ import annotations

from sparsyfed.reproduce.presets import Sweep, presets


def test_every_preset_has_unique_job_names_and_the_documented_size():
    sizes = {name: len(preset.jobs()) for name, preset in presets().items()}
    assert sizes == {"smoke": 5, "small": 146, "paper": 586}
    for preset in presets().values():
        names = [job.name for job in preset.jobs()]
        assert len(set(names)) == len(names)


def test_seeds_vary_slowest_and_names_keep_the_grid_order():
    sweep = Sweep("t", {"method": ["a", "b"], "seed": ["0", "1"]}, ("rounds=3",))
    jobs = sweep.jobs(("x=1",))
    assert [j.name for j in jobs] == ["t/a_seed0", "t/b_seed0", "t/a_seed1", "t/b_seed1"]
    assert jobs[1].overrides == ("rounds=3", "method=b", "seed=0", "x=1")
    small = presets()["small"].jobs()
    ranks = [job.seed_rank for job in small]
    assert ranks == sorted(ranks) and ranks.count(0) == 66
    assert small[0].name == "dense/fedavg_a1.0_seed0"
    assert small[65].name == "fedsparsify/prunefl_seed0"
