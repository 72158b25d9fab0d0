"""Every method's client round and server step on a device other than the CPU (no GPU needed).

The stand-in device of :mod:`fake_device` computes on the CPU but refuses what
CUDA refuses (tensors of two devices in one operation, ``.numpy()`` of a device
tensor, a CPU generator drawing on the device), so a device bug fails here; and
since the arithmetic is the CPU's, the results must equal the CPU run bit for bit.
"""

from __future__ import annotations

import numpy as np
import pytest
from device_rounds import all_finite, client_round, server_step, uploads
from fake_device import FAKE, DeviceMismatch, FakeDevice
from helpers import make_cfg

from sparsyfed.config.compose import group_options

METHODS = group_options("method")
SHORTER = {"prunefl": ("method.initial_reconfigurations=2", "method.initial_epochs=1")}
"""Options that shorten a method's set-up without skipping any of its code (PruneFL: 50 epochs)."""


def _on(monkeypatch, device) -> None:
    monkeypatch.setattr("sparsyfed.core.task.resolve_device", lambda name: device)


@pytest.mark.parametrize("method", METHODS)
def test_client_round_and_server_step_are_device_correct(tmp_path, data_dir, monkeypatch, method):
    cfg = make_cfg(tmp_path, data_dir, f"method={method}", *SHORTER.get(method, ()))
    cpu_upload, cpu_metrics = client_round(cfg)
    sent = uploads(cfg)
    cpu_server = server_step(cfg, "cpu", sent)
    _on(monkeypatch, FAKE)
    with FakeDevice() as fake:
        upload, metrics = client_round(cfg)
        server = server_step(cfg, FAKE, sent)
        assert all(fake.on_device(t) for t in server.on_device)
    assert all_finite(upload) and all_finite(server.state)
    assert upload.keys() == cpu_upload.keys()
    assert all(np.array_equal(upload[k], cpu_upload[k]) for k in upload), method
    assert metrics == cpu_metrics
    assert all(np.array_equal(server.state[k], cpu_server.state[k]) for k in server.state)
    assert server.metrics == cpu_server.metrics and server.evaluation == cpu_server.evaluation


@pytest.mark.parametrize(
    "overrides",
    [
        ["wire.values=int8", "wire.error_feedback=true"],
        ["upload=delta_topk", "server_momentum=0.9", "server_lr=0.5"],
        ["aggregation=nz_mean", "prune_scope=layerwise", "prune_layers=skip_first_last"],
        ["prox_mu=0.1", "momentum=0.9"],
    ],
    ids=["int8-ef", "delta-momentum", "nz-mean-layerwise", "prox-momentum"],
)
def test_options_are_device_correct(tmp_path, data_dir, monkeypatch, overrides):
    cfg = make_cfg(tmp_path, data_dir, "method=sparsyfed", *overrides)
    cpu_upload, _ = client_round(cfg)
    sent = uploads(cfg)
    cpu_server = server_step(cfg, "cpu", sent)
    _on(monkeypatch, FAKE)
    with FakeDevice():
        upload, _ = client_round(cfg)
        server = server_step(cfg, FAKE, sent)
    assert all(np.array_equal(upload[k], cpu_upload[k]) for k in upload)
    assert all(np.array_equal(server.state[k], cpu_server.state[k]) for k in server.state)


def test_the_stand_in_device_refuses_what_cuda_refuses():
    import torch

    with FakeDevice() as fake:
        layer = torch.nn.Linear(3, 2).to(FAKE)
        assert layer.weight.device == FAKE and fake.on_device(layer.weight)
        x = torch.randn(4, 3)
        with pytest.raises(DeviceMismatch):
            layer(x)  # input left on the CPU
        out = layer(x.to(FAKE))
        with pytest.raises(DeviceMismatch):
            out.detach().numpy()
        assert out.detach().cpu().numpy().shape == (4, 2)
        with pytest.raises(DeviceMismatch):
            torch.randperm(4, generator=torch.Generator(), device=FAKE)
        out * torch.tensor(2.0)  # a zero-dimensional CPU tensor is a scalar, as on CUDA
        out[torch.tensor([0, 1])]  # CPU indices may index a device tensor, as on CUDA
        with pytest.raises(DeviceMismatch):
            x[torch.tensor([0, 1]).to(FAKE)]
