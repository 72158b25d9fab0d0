"""Mask overlap, regrowth and FLOP metrics on hand-made tensors and small models."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from torch import nn
from torch.utils.flop_counter import FlopCounterMode

from sparsyfed.metrics import (
    deactivated,
    dense_training_flops,
    global_regrowth,
    iou,
    layer_forward_flops,
    local_regrowth,
    mean_pairwise_iou,
    model_forward_flops,
    pack_masks,
    packed_nbytes,
    pairwise_iou_matrix,
    readmission,
    support,
    training_flops,
    unpack_masks,
)
from sparsyfed.metrics import flops as flops_mod
from sparsyfed.metrics import masks as masks_mod
from sparsyfed.models import build_model
from sparsyfed.nn.layers import prunable_layers, wrap_layers

DEFAULT_MODEL = {
    "name": "uniform_cnn",
    "width": 64,
    "depth": 6,
    "kernel_size": 5,
    "pool_layers": 3,
    "pool_start": 1,
}
MATMUL_OPS = {"aten.convolution", "aten.convolution_backward", "aten.mm", "aten.addmm", "aten.bmm"}


def _t(values) -> torch.Tensor:
    return torch.tensor(values, dtype=torch.float32)


def _clone(state):
    return {k: v.clone() for k, v in state.items()}


def _assert_same(a, b):
    assert a.keys() == b.keys()
    for k in a:
        assert torch.equal(a[k], b[k])


# --------------------------------------------------------------------------- masks


def test_support_is_nonzero_mask_of_given_keys():
    state = {"w": _t([0.0, -1.0, 2.0]), "b": _t([0.0, 0.0])}
    out = support(state, ["w"])
    assert list(out) == ["w"]
    assert out["w"].dtype == torch.bool
    assert out["w"].tolist() == [False, True, True]
    assert set(support(state)) == {"w", "b"}


def test_iou_hand_computed_over_common_keys():
    a = {"x": _t([1, 1, 0, 0]), "y": _t([[1, 0], [0, 0]]), "only_a": _t([1.0])}
    b = {"x": _t([1, 0, 1, 0]), "y": _t([[1, 1], [0, 0]])}
    # x: inter 1, union 3; y: inter 1, union 2 -> 2 / 5 (only_a ignored)
    assert iou(support(a), support(b)) == pytest.approx(2 / 5)
    assert iou(a, b) == pytest.approx(2 / 5)
    assert iou(a, a) == 1.0
    empty = {"x": torch.zeros(4, dtype=torch.bool)}
    assert iou(empty, empty) == 1.0
    assert iou(empty, {"x": _t([1, 0, 0, 0])}) == 0.0


def test_iou_rejects_shape_mismatch():
    with pytest.raises(ValueError, match="shapes"):
        iou({"x": torch.ones(3, dtype=torch.bool)}, {"x": torch.ones(4, dtype=torch.bool)})


def _random_masks(k: int, seed: int):
    g = torch.Generator().manual_seed(seed)
    shapes = {"conv.weight": (6, 3, 5), "fc.weight": (7, 11), "tiny": (2,)}
    out = []
    for i in range(k):
        density = 0.1 + 0.8 * i / max(1, k - 1)
        out.append({n: torch.rand(s, generator=g) < density for n, s in shapes.items()})
    return out


@pytest.mark.parametrize("chunk", [7, 1 << 20])
def test_pairwise_iou_matches_brute_force(monkeypatch, chunk):
    monkeypatch.setattr(masks_mod, "_IOU_CHUNK", chunk)
    masks = _random_masks(6, seed=0)
    matrix = pairwise_iou_matrix(masks)
    k = len(masks)
    assert matrix.shape == (k, k)
    pairs = []
    for i in range(k):
        assert matrix[i, i] == 1.0
        for j in range(k):
            assert matrix[i, j] == pytest.approx(iou(masks[i], masks[j]), abs=1e-12)
            if i < j:
                pairs.append(iou(masks[i], masks[j]))
    assert len(pairs) == k * (k - 1) // 2
    assert mean_pairwise_iou(masks) == pytest.approx(sum(pairs) / len(pairs), abs=1e-12)


def test_mean_pairwise_iou_edge_cases():
    assert math.isnan(mean_pairwise_iou([]))
    assert math.isnan(mean_pairwise_iou(_random_masks(1, seed=1)))
    empty = {"x": torch.zeros(5, dtype=torch.bool)}
    assert mean_pairwise_iou([empty, empty, empty]) == 1.0
    a, b = {"x": _t([1, 0, 1, 0])}, {"x": _t([0, 1, 0, 1])}
    assert mean_pairwise_iou([a, b]) == 0.0


def test_local_regrowth_hand_computed_and_inputs_untouched():
    received = {"w": _t([0, 0, 1, 2, 0]), "v": _t([[0, 3], [0, 0]])}
    trained = {"w": _t([5, 0, 1, 0, 7]), "v": _t([[1, 3], [0, 0]])}
    pruned = {"w": _t([5, 0, 0, 0, 0]), "v": _t([[0, 3], [0, 0]])}
    saved = [_clone(received), _clone(trained), _clone(pruned)]
    # after training: w positions 0 and 4, v position (0, 0)
    assert local_regrowth(received, trained, ["w", "v"]) == 3
    # second call against the same received model: only w position 0
    assert local_regrowth(received, pruned, ["w", "v"]) == 1
    assert local_regrowth(received, trained, ["v"]) == 1
    assert deactivated(received, trained, ["w", "v"]) == 1  # w position 3
    assert deactivated(trained, pruned, ["w", "v"]) == 3  # w 2, w 4, v (0, 0)
    for before, now in zip(saved, [received, trained, pruned], strict=True):
        _assert_same(before, now)


def test_global_regrowth_hand_computed():
    prev = {"w": _t([0, 1, 0, 1]), "bn": _t([0.0, 0.0])}
    new = {"w": _t([1, 1, 0, 0]), "bn": _t([1.0, 1.0])}
    saved = [_clone(prev), _clone(new)]
    assert global_regrowth(prev, new, ["w"]) == 1
    assert global_regrowth(prev, new, ["w", "bn"]) == 3
    assert global_regrowth(new, prev, ["w"]) == 1
    _assert_same(saved[0], prev)
    _assert_same(saved[1], new)


def test_readmission_against_packed_previous_mask():
    last_upload = {"w": _t([[0, 2, 0], [3, 0, 0]])}
    previous_mask = unpack_masks(pack_masks(support(last_upload, ["w"])))
    current = {"w": _t([[1, 2, 0], [0, 0, 4]])}
    saved = _clone(current), _clone(previous_mask)
    # (0, 0) and (1, 2) are new; (0, 1) was already in the mask
    assert readmission(previous_mask, current, ["w"]) == 2
    _assert_same(saved[0], current)
    _assert_same(saved[1], previous_mask)


def test_pack_unpack_round_trip_is_exact():
    g = torch.Generator().manual_seed(3)
    masks = {
        "a": torch.rand(13, 7, 3, generator=g) < 0.3,  # 273 bits, not a multiple of 8
        "b": torch.zeros(5, dtype=torch.bool),
        "c": torch.ones(1, dtype=torch.bool),
        "d": torch.randn(4, 4) * (torch.rand(4, 4, generator=g) < 0.5),  # float -> != 0
    }
    packed = pack_masks(masks)
    assert packed_nbytes(packed) == math.ceil(273 / 8) + 1 + 1 + 2
    assert all(isinstance(bits, np.ndarray) for bits, _ in packed.values())
    out = unpack_masks(packed)
    for k, m in masks.items():
        assert out[k].dtype == torch.bool
        assert out[k].shape == m.shape
        assert torch.equal(out[k], m != 0)


# --------------------------------------------------------------------------- FLOPs


def _small_conv2d() -> nn.Module:
    return nn.Sequential(
        nn.Conv2d(3, 8, 3, padding=1),
        nn.ReLU(),
        nn.Conv2d(8, 16, 3, stride=2, bias=False),
        nn.BatchNorm2d(16),
        nn.ReLU(),
        nn.Flatten(),
        nn.Linear(16 * 3 * 3, 10),
    )


def _default_model() -> nn.Module:
    options = {k: v for k, v in DEFAULT_MODEL.items() if k != "name"}
    return build_model(DEFAULT_MODEL["name"], options, (1, 40), 10)


def test_layer_forward_flops_hand_computed_small_net():
    model = _small_conv2d()
    model.train()
    layer = layer_forward_flops(model, (3, 8, 8))
    assert list(layer) == ["0", "2", "6"]
    assert layer["0"] == 2 * (3 * 3 * 3) * 8 * (8 * 8)
    assert layer["2"] == 2 * (8 * 3 * 3) * 16 * (3 * 3)
    assert layer["6"] == 2 * 144 * 10
    assert model.training  # mode restored
    assert model_forward_flops(model, (3, 8, 8)) == sum(layer.values())


def test_layer_forward_flops_default_model_hand_computed():
    model = wrap_layers(_default_model(), beta=1.25, act_pruning=True)
    layer = layer_forward_flops(model, (1, 40))
    # 1-D conv, kernel 5, width 64; pooling after blocks 1, 2, 3: lengths 40, 40, 20, 10, 5, 5
    lengths = [40, 40, 20, 10, 5, 5]
    expected = [2 * 1 * 5 * 64 * lengths[0]] + [2 * 64 * 5 * 64 * n for n in lengths[1:]]
    convs = [v for k, v in layer.items() if k.startswith("features")]
    assert convs == expected
    assert layer["classifier"] == 2 * 64 * 10
    assert model_forward_flops(model, (1, 40)) == sum(layer.values())


def _flop_counter_per_layer(model: nn.Module, input_shape) -> dict[str, int]:
    """Each conv/linear layer's FLOPs as FlopCounterMode counts them in one eval forward."""
    counter = FlopCounterMode(display=False)
    per_layer, start, handles = {}, {}, []
    for name, module in prunable_layers(model):
        per_layer[name] = 0
        handles.append(
            module.register_forward_pre_hook(
                lambda _m, _a, n=name: start.__setitem__(n, counter.get_total_flops())
            )
        )
        handles.append(
            module.register_forward_hook(
                lambda _m, _a, _o, n=name: per_layer.__setitem__(
                    n, per_layer[n] + counter.get_total_flops() - start[n]
                )
            )
        )
    model.eval()
    with torch.no_grad(), counter:
        model(torch.zeros(1, *input_shape))
    for handle in handles:
        handle.remove()
    return per_layer


@pytest.mark.parametrize(
    ("name", "input_shape", "classes"),
    [
        ("resnet18_cifar", (3, 32, 32), 100),
        ("resnet18_speech", (1, 1, 8000), 35),
        ("fedsparsify_cnn", (3, 32, 32), 10),
        ("fedsparsify_fc", (1, 28, 28), 10),
        ("uniform_cnn", (1, 40), 10),
    ],
)
def test_layer_flops_from_shapes_equal_what_flop_counter_mode_counts(name, input_shape, classes):
    model = wrap_layers(build_model(name, {}, input_shape, classes), beta=1.25, act_pruning=True)
    layer = layer_forward_flops(model, input_shape)
    assert layer == _flop_counter_per_layer(model, input_shape)
    assert all(v > 0 for v in layer.values())


def _measured_training_step(model: nn.Module, input_shape, batch: int) -> int:
    """FLOPs of conv/linear ops in one real forward + backward, by FlopCounterMode."""
    model.train()
    x = torch.randn(batch, *input_shape)
    y = torch.randint(0, 10, (batch,))
    counter = FlopCounterMode(display=False)
    with counter:
        loss = nn.functional.cross_entropy(model(x), y)
        loss.backward()
    counts = counter.get_flop_counts()["Global"]
    return sum(v for op, v in counts.items() if str(op) in MATMUL_OPS)


@pytest.mark.parametrize(
    ("make", "input_shape", "wrap"),
    [
        (_default_model, (1, 40), False),
        (_default_model, (1, 40), True),
        (_small_conv2d, (3, 8, 8), False),
        (_small_conv2d, (3, 8, 8), True),
    ],
)
def test_dense_training_formula_matches_flop_counter(make, input_shape, wrap):
    torch.manual_seed(0)
    model = make()
    if wrap:
        wrap_layers(model, beta=1.25, act_pruning=True)
    batch = 8
    layer = layer_forward_flops(model, input_shape)
    measured = _measured_training_step(model, input_shape, batch)
    predicted = dense_training_flops(layer, batch)
    assert predicted == pytest.approx(measured, rel=0.01)
    first = next(iter(layer))
    # without the first-layer correction the formula is 3 x forward
    assert dense_training_flops(layer, batch, no_input_grad=()) == 3 * batch * sum(layer.values())
    assert dense_training_flops(layer, batch, no_input_grad=()) - predicted == batch * layer[first]


def test_training_flops_scales_with_densities():
    layer = {"a": 100, "b": 200}
    w = {"a": 0.5, "b.weight": 0.1}  # module name or weight key
    act = {"b": 0.3}
    # a: 100*0.5 + (no input grad) + 100*1.0 = 150; b: 20 + 20 + 60 = 100
    assert training_flops(layer, w, act, num_samples=4) == pytest.approx(4 * 250)
    assert training_flops(layer, w, act, 4, no_input_grad=()) == pytest.approx(4 * 300)
    assert training_flops(layer, w, act, 4, no_input_grad=["b"]) == pytest.approx(4 * 280)
    assert training_flops(layer) == dense_training_flops(layer) == 100 * 2 + 200 * 3
    with pytest.raises(ValueError, match="density"):
        training_flops(layer, {"a": 1.5})


def test_weight_and_activation_densities_of_a_model():
    model = wrap_layers(_small_conv2d(), beta=1.0, act_pruning=True)
    with torch.no_grad():
        model[0].weight.zero_()
        model[6].weight[:5].zero_()
    w = flops_mod.weight_densities(model)
    assert w == {"0": 0.0, "2": 1.0, "6": 0.5}
    assert flops_mod.activation_densities(model) == {"0": 1.0, "2": 1.0, "6": 1.0}
    layer = layer_forward_flops(model, (3, 8, 8))
    expected = layer["0"] * (0 + 0 + 1) + layer["2"] * 3 + layer["6"] * (0.5 + 0.5 + 1)
    assert training_flops(layer, w) == pytest.approx(expected)
