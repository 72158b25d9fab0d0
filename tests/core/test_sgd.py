"""PlainSGD gives torch.optim.SGD's parameters bit for bit, without importing torch._dynamo."""

from __future__ import annotations

import subprocess
import sys

import pytest
import torch
from torch import nn
from torch.nn import functional as F

from sparsyfed.core.sgd import PlainSGD


def _model(seed: int) -> nn.Module:
    torch.manual_seed(seed)
    return nn.Sequential(
        nn.Conv1d(1, 8, 5, padding=2),
        nn.BatchNorm1d(8),
        nn.ReLU(),
        nn.Flatten(),
        nn.Linear(8 * 40, 10),
    )


def _train(model: nn.Module, optimizer, steps: int, frozen_at: int) -> None:
    gen = torch.Generator().manual_seed(1)
    last = list(model.parameters())[-1]
    for step in range(steps):
        x = torch.randn(16, 1, 40, generator=gen)
        y = torch.randint(0, 10, (16,), generator=gen)
        optimizer.zero_grad(**({} if isinstance(optimizer, PlainSGD) else {"set_to_none": True}))
        F.cross_entropy(model(x), y).backward()
        if step == frozen_at:
            last.grad = None  # a parameter without a gradient at one step is left alone
        optimizer.step()


@pytest.mark.parametrize(("momentum", "weight_decay"), [(0.0, 1e-3), (0.9, 5e-4), (0.0, 0.0)])
def test_the_parameters_equal_torch_sgd_bit_for_bit(momentum, weight_decay):
    ours, theirs = _model(0), _model(0)
    lr = 0.05
    _train(ours, PlainSGD(ours.parameters(), lr, momentum, weight_decay), 12, frozen_at=4)
    reference = torch.optim.SGD(
        theirs.parameters(), lr=lr, momentum=momentum, weight_decay=weight_decay
    )
    _train(theirs, reference, 12, frozen_at=4)
    moved = 0
    states = (ours.state_dict(), theirs.state_dict(), _model(0).state_dict())
    for a, b, start in zip(*(s.values() for s in states), strict=True):
        assert torch.equal(a, b)
        moved += int(not torch.equal(a, start))
    assert moved >= 4  # the training did change the weights


def test_local_training_does_not_import_torch_dynamo():
    code = (
        "import sys, torch\n"
        "from sparsyfed.core.training import LocalTraining, train_sgd\n"
        "m = torch.nn.Sequential(torch.nn.Linear(4, 3))\n"
        "train_sgd(m, torch.randn(8, 4), torch.randint(0, 3, (8,)), LocalTraining(lr=0.1))\n"
        "print('torch._dynamo' in sys.modules)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
