"""The data-dependent initialisation hook: one seeded client's data, no partition kept."""

from __future__ import annotations

import torch
from helpers import make_cfg

from sparsyfed.core.task import Task


def _recording_task(cfg, seen: list):
    task = Task(cfg)
    base = task.method

    class FromClient(type(base)):
        initial_client_data = True

        def initialize_from_client(self, model, client, generator):
            seen.append(client)
            with torch.no_grad():
                for p in model.parameters():
                    p.zero_()
            return model

    method = FromClient(base.settings)
    method.setup(base.model_spec)
    task.__dict__["method"] = method
    return task


def test_initial_client_is_seeded_and_its_data_is_that_partition(tmp_path, data_dir):
    seen: list = []
    cfg = make_cfg(tmp_path, data_dir, "rounds=1")
    state = _recording_task(cfg, seen).initial_state()
    assert all(not v.any() for k, v in state.items() if k.endswith("weight"))  # hook's model kept
    again = _recording_task(cfg, seen)
    again.initial_state()
    first, second = seen
    assert first.partition_id == second.partition_id
    assert torch.equal(first.x, second.x) and torch.equal(first.y, second.y)
    assert "_splits" not in vars(again)  # computed for the call, not kept
    idx = again.partitions[first.partition_id]
    assert torch.equal(first.x, torch.from_numpy(again.dataset.x_train[idx]))
    assert first.hp.seed == again.seeds.client_training(0, first.partition_id)
    picks = set()
    for seed in range(6):  # the choice follows the run seed
        seen.clear()
        _recording_task(
            make_cfg(tmp_path / str(seed), data_dir, f"seed={seed}"), seen
        ).initial_state()
        picks.add(seen[0].partition_id)
    assert len(picks) > 1


def test_methods_without_the_flag_never_load_a_client(tmp_path, data_dir):
    task = Task(make_cfg(tmp_path, data_dir, "rounds=1"))
    task.initial_state()
    assert "_splits" not in vars(task)
