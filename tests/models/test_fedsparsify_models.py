"""FedSparsify's FC and CNN models: exact sizes, shapes, FLOPs, wrapping, one federated round."""

from __future__ import annotations

import math

import pytest
import torch
from helpers import make_cfg, read_rows
from inprocess_grid import run_inprocess
from torch import nn

from sparsyfed.config import compose_config, group_options, load_config
from sparsyfed.methods import build_method
from sparsyfed.metrics.flops import layer_forward_flops, model_forward_flops
from sparsyfed.models import MODELS, build_model
from sparsyfed.nn.layers import SparseLayerMixin, prunable_layers, prunable_weight_names

NAMES = ("fedsparsify_fc", "fedsparsify_cnn")


def _counts(net: nn.Module) -> tuple[int, int]:
    """(trainable parameters, prunable conv/linear weights)."""
    params = sum(p.numel() for p in net.parameters() if p.requires_grad)
    prunable = sum(net.get_parameter(k).numel() for k in prunable_weight_names(net))
    return params, prunable


def test_models_are_registered_and_have_name_only_configs():
    assert set(NAMES) <= set(MODELS) and set(NAMES) <= set(group_options("model"))
    for name in NAMES:
        assert compose_config([f"model={name}"])["model"] == {"name": name}


@pytest.mark.parametrize(
    ("name", "shape", "params", "prunable"),
    [
        # The paper's counts (FashionMNIST FC, CIFAR-10 CNN).
        ("fedsparsify_fc", (1, 28, 28), 118_282, 118_016),
        ("fedsparsify_fc", (28, 28), 118_282, 118_016),
        ("fedsparsify_cnn", (3, 32, 32), 1_609_930, 1_608_384),
    ],
)
def test_paper_parameter_counts_are_exact(name, shape, params, prunable):
    assert _counts(build_model(name, {}, shape, 10)) == (params, prunable)


def test_fc_flattens_any_input_and_its_count_follows_the_input_size():
    for shape in [(1, 40), (3, 32, 32), (1, 8, 8), (7,)]:
        net = build_model("fedsparsify_fc", {}, shape, 5)
        d = math.prod(shape)
        assert _counts(net)[0] == (d * 128 + 128) + (128 * 128 + 128) + (128 * 5 + 5)
        assert net(torch.randn(3, *shape)).shape == (3, 5)
    # Only the linear layers are parameterised (no BatchNorm).
    net = build_model("fedsparsify_fc", {}, (1, 28, 28), 10)
    assert [type(m) for _, m in prunable_layers(net)] == [nn.Linear] * 3


def test_cnn_layer_order_matches_the_keras_original():
    net = build_model("fedsparsify_cnn", {}, (3, 32, 32), 10)
    kinds = [type(m).__name__ for m in net.features]
    assert kinds == [
        *["Conv2d", "ReLU"] * 2,
        *["MaxPool2d", "BatchNorm2d"],
        *["Conv2d", "ReLU"] * 2,
        *["MaxPool2d", "BatchNorm2d"],
        *["Conv2d", "ReLU"] * 2,
        "MaxPool2d",
    ]
    convs = [m for m in net.features if isinstance(m, nn.Conv2d)]
    assert [c.out_channels for c in convs] == [64, 64, 128, 128, 128, 128]
    assert all(c.kernel_size == (3, 3) and c.padding == (1, 1) for c in convs)
    assert all(c.bias is not None for c in convs)
    dropout = [m for m in net.classifier if isinstance(m, nn.Dropout)]
    assert len(dropout) == 1 and dropout[0].p == 0.2
    linears = [m for _, m in prunable_layers(net) if isinstance(m, nn.Linear)]
    assert [(m.in_features, m.out_features) for m in linears] == [(2048, 512), (512, 10)]


@pytest.mark.parametrize(
    ("shape", "flat"),
    [((3, 32, 32), 2048), ((1, 28, 28), 1152), ((1, 8, 8), 128), ((3, 9, 17), 256)],
)
def test_cnn_builds_for_other_images_and_gives_logits(shape, flat):
    net = build_model("fedsparsify_cnn", {}, shape, 7)
    assert net.classifier[1].in_features == flat
    net.eval()
    with torch.no_grad():
        out = net(torch.randn(2, *shape))
    assert out.shape == (2, 7) and torch.isfinite(out).all()


def re_shape(shape: tuple[int, ...]) -> str:
    """``shape`` as a regular expression matching its repr."""
    return str(tuple(shape)).replace("(", r"\(").replace(")", r"\)")


@pytest.mark.parametrize("shape", [(1, 40), (1, 1, 8000), (3, 7, 32), (3, 32)])
def test_cnn_refuses_shapes_it_cannot_pool(shape):
    with pytest.raises(ValueError, match=r"fedsparsify_cnn.*" + re_shape(shape)):
        build_model("fedsparsify_cnn", {}, shape, 10)


@pytest.mark.parametrize("name", NAMES)
def test_unknown_options_are_refused(name):
    with pytest.raises(ValueError, match=rf"{name}.*no options.*width"):
        build_model(name, {"width": 16}, (3, 32, 32), 10)


def test_flops_are_twice_the_macs_of_every_conv_and_linear():
    fc = layer_forward_flops(build_model("fedsparsify_fc", {}, (1, 28, 28), 10), (1, 28, 28))
    assert list(fc.values()) == [2 * 784 * 128, 2 * 128 * 128, 2 * 128 * 10]
    cnn_net = build_model("fedsparsify_cnn", {}, (3, 32, 32), 10)
    cnn = layer_forward_flops(cnn_net, (3, 32, 32))
    # (c_in, c_out, output side) of each 3x3 conv; "same" padding keeps the side until a pool.
    convs = [(3, 64, 32), (64, 64, 32), (64, 128, 16), (128, 128, 16), (128, 128, 8), (128, 128, 8)]
    expected = [2 * ci * co * 9 * s * s for ci, co, s in convs] + [2 * 2048 * 512, 2 * 512 * 10]
    assert list(cnn.values()) == expected
    assert model_forward_flops(cnn_net, (3, 32, 32)) == sum(expected)


@pytest.mark.parametrize("name", NAMES)
def test_sparsyfed_prepare_model_wraps_every_layer_and_keeps_keys(name):
    cfg = compose_config([f"model={name}", "method=sparsyfed", "dataset=synthetic"])
    cfg["output_dir"] = "unused"
    method = build_method(load_config(cfg))
    plain = build_model(name, {}, (3, 32, 32), 10)
    keys = {k: tuple(v.shape) for k, v in plain.state_dict().items()}
    names = [n for n, _ in prunable_layers(plain)]
    prepared = method.prepare_model(plain)
    assert {k: tuple(v.shape) for k, v in prepared.state_dict().items()} == keys
    layers = dict(prunable_layers(prepared))
    assert list(layers) == names
    assert all(isinstance(m, SparseLayerMixin) and m.beta == 1.25 for m in layers.values())
    prepared.train()
    loss = prepared(torch.randn(4, 3, 32, 32)).logsumexp(1).mean()
    loss.backward()
    assert all(torch.isfinite(m.weight.grad).all() for m in layers.values())


# Small runs: 8 clients, 2 per round, one round.
SMALL = ["num_clients=8", "clients_per_round=2", "rounds=1", "sparsity=0.9"]
RUNS = {
    "fedsparsify_fc": ["dataset.num_samples=1500", "partition.alpha=0.5"],  # MNIST-1D (1, 40)
    "fedsparsify_cnn": ["dataset=digits", "partition.scheme=iid"],  # (1, 8, 8) images
}


@pytest.mark.parametrize("method", ["sparsyfed", "fedsparsify_global"])
@pytest.mark.parametrize("name", NAMES)
def test_one_federated_round_runs(tmp_path, data_dir, name, method):
    overrides = [f"model={name}", f"method={method}", *RUNS[name]]
    cfg = make_cfg(tmp_path, data_dir, *overrides, base=SMALL)
    summary = run_inprocess(cfg)
    rows = read_rows(cfg)
    assert summary["rounds"] == 1 and [r["round"] for r in rows] == [0, 1]
    assert rows[1]["num_updates"] == 2 and 0.0 <= rows[1]["accuracy"] <= 1.0
    # SparsyFed uploads at the target; FedSparsify-Global purges from round t0 + 1 = 2 on.
    expected = 0.9 if method == "sparsyfed" else 0.0
    assert rows[1]["sparsity_prunable"] == pytest.approx(expected, abs=0.01)
