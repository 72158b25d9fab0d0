"""Every method's client round and server step on CUDA, against the CPU (skipped without CUDA).

Run on a CUDA machine with ``pytest -m gpu`` (``scripts/gpu_check.sh`` does).
TF32 is switched off so that CUDA's float32 arithmetic is comparable with the
CPU's; the results are finite and close to the CPU results, not equal (other
summation orders, and a Top-K may keep a different entry at a tie within
rounding).
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
from device_rounds import all_finite, client_round, server_step, uploads
from helpers import make_cfg

from sparsyfed.config.compose import group_options

pytestmark = [
    pytest.mark.gpu,
    pytest.mark.skipif(
        not torch.cuda.is_available(),
        reason="needs a CUDA device (torch.cuda.is_available() is False)",
    ),
]

METHODS = group_options("method")


@pytest.fixture
def cuda(monkeypatch):
    """Tasks on ``cuda`` and TF32 off for the test."""
    monkeypatch.setattr(torch.backends.cuda.matmul, "allow_tf32", False)
    monkeypatch.setattr(torch.backends.cudnn, "allow_tf32", False)
    device = torch.device("cuda")
    monkeypatch.setattr("sparsyfed.core.task.resolve_device", lambda name: device)
    return device


def _support_iou(a: dict[str, np.ndarray], b: dict[str, np.ndarray]) -> float:
    inter = sum(int(((a[k] != 0) & (b[k] != 0)).sum()) for k in a)
    union = sum(int(((a[k] != 0) | (b[k] != 0)).sum()) for k in a)
    return inter / union if union else 1.0


def _close(a: dict[str, np.ndarray], b: dict[str, np.ndarray], rtol: float, atol: float) -> None:
    """Values close where both hold the entry; the supports agree almost everywhere."""
    assert a.keys() == b.keys()
    assert _support_iou(a, b) >= 0.99
    for key in a:
        both = (a[key] != 0) & (b[key] != 0)
        np.testing.assert_allclose(a[key][both], b[key][both], rtol=rtol, atol=atol, err_msg=key)


@pytest.mark.parametrize("method", METHODS)
def test_client_round_on_cuda_is_finite_and_close_to_the_cpu(tmp_path, data_dir, method, request):
    cfg = make_cfg(tmp_path, data_dir, f"method={method}")
    cpu_upload, cpu_metrics = client_round(cfg)
    request.getfixturevalue("cuda")
    upload, metrics = client_round(cfg)
    assert all_finite(upload)
    _close(upload, cpu_upload, rtol=1e-3, atol=1e-4)
    assert metrics["train_loss"] == pytest.approx(cpu_metrics["train_loss"], rel=1e-3)


@pytest.mark.parametrize("method", METHODS)
def test_server_step_on_cuda_is_finite_and_close_to_the_cpu(tmp_path, data_dir, method, request):
    cfg = make_cfg(tmp_path, data_dir, f"method={method}")
    sent = uploads(cfg)
    cpu = server_step(cfg, "cpu", sent)
    device = request.getfixturevalue("cuda")
    result = server_step(cfg, device, sent)
    assert all(t.device.type == "cuda" for t in result.on_device)
    assert all_finite(result.state)
    _close(result.state, cpu.state, rtol=1e-5, atol=1e-6)
    assert result.evaluation["loss"] == pytest.approx(cpu.evaluation["loss"], rel=1e-4)
    assert result.evaluation["accuracy"] == pytest.approx(cpu.evaluation["accuracy"], abs=0.01)
