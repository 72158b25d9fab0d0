"""The paper's ResNet-18 models: sizes, shapes, and one client round under every method."""

from __future__ import annotations

import copy
import functools
import math

import pytest
import torch
from helpers import round_ctx
from torch import nn

from sparsyfed.config import compose_config, group_options, load_config
from sparsyfed.core.client import layer_metrics
from sparsyfed.core.training import LocalTraining
from sparsyfed.methods import ClientUpdate, ModelSpec, build_method
from sparsyfed.models import MODELS
from sparsyfed.models import build_model as _build_model
from sparsyfed.nn.init import init_weights
from sparsyfed.nn.layers import SparseLayerMixin, prunable_layers, prunable_weight_names
from sparsyfed.sparse.topk import global_magnitude_prune_, num_to_prune
from sparsyfed.upload.steps import make_upload

# model name -> (input shape, number of classes) of the paper's datasets.
SETUPS = {
    "resnet18_cifar": ((3, 32, 32), 10),
    "resnet18_speech": ((1, 1, 8000), 35),
}
METHODS = group_options("method")
# Methods whose local training keeps every zero of a received prunable weight at zero.
ZEROS_FROZEN = {
    "sparsyfed",
    "sparsyfed_na",
    "sparsefedpp",
    "sparsyfed_spectral",
    "flash",
    "flash_spdst",
    "fedsparsify_global",
    "fedsparsify_local",
    "fedsparsify_random",
    "snip",
    "grasp",
}
RECEIVED_SPARSITY = 0.95
SPARSYFED_FAMILY = ("sparsyfed", "sparsyfed_na", "sparsefedpp", "sparsyfed_spectral")


@functools.cache
def _method_cfg(method: str) -> dict:
    overrides = ["model=resnet18_cifar", f"method={method}"]
    if method == "flash_spdst":
        overrides.append("method.stage1_epochs=1")  # 10 stage-1 epochs by default
    return compose_config(overrides)


def _cfg(model: str, method: str) -> dict:
    """The composed config of ``model=<model> method=<method>`` (composed once per method)."""
    cfg = copy.deepcopy(_method_cfg(method))
    cfg["model"] = {"name": model}  # the model group holds only the name
    return cfg


def build_model(cfg: dict, shape, classes) -> nn.Module:
    return _build_model(cfg["name"], {k: v for k, v in cfg.items() if k != "name"}, shape, classes)


def load_method(cfg: dict):
    """The method of a composed config, told the model's structure (as the Task does)."""
    method = build_method(load_config(cfg))
    shape, classes = SETUPS[cfg["model"]["name"]]

    def new_model() -> nn.Module:
        return method.prepare_model(build_model(cfg["model"], shape, classes))

    net = new_model()
    params = tuple(name for name, _ in net.named_parameters())
    method.setup(ModelSpec(tuple(prunable_weight_names(net)), params, new_model))
    return method


def _build(model: str, device: str | None = None) -> nn.Module:
    shape, classes = SETUPS[model]
    with torch.device(device or "cpu"):
        return build_model({"name": model}, shape, classes)


def _count(module: nn.Module) -> tuple[int, int]:
    params = sum(p.numel() for p in module.parameters())
    prunable = sum(layer.weight.numel() for _, layer in prunable_layers(module))
    return params, prunable


def _official_wrapped(net: nn.Module, skip_first: bool) -> set[str]:
    """The layers the official layer replacement reaches (an independent model of it).

    It looks, in every module, at the attributes ``dir(module)`` lists (sorted
    names; ``nn.Module.__dir__`` drops the numbered children of an
    ``nn.Sequential``) of type exactly ``nn.Conv2d`` / ``nn.Linear``, then recurses
    into every child. ZeroFL's version skips the first match, its "first layer"
    flag passed down by value to the children.
    """
    found: set[str] = set()

    def visit(module: nn.Module, prefix: str, first: bool) -> None:
        for attr in dir(module):
            if type(getattr(module, attr)) in (nn.Conv2d, nn.Linear):
                if skip_first and first:
                    first = False
                    continue
                found.add(prefix + attr)
        for child_name, child in module.named_children():
            visit(child, f"{prefix}{child_name}.", first)

    visit(net, "", True)
    return found


@pytest.fixture(scope="module")
def received() -> dict[str, dict[str, torch.Tensor]]:
    """Per model: a fan-in initialised global state pruned to 95% (what round >= 2 receives)."""
    states = {}
    for model in SETUPS:
        net = _build(model)
        init_weights(net, torch.Generator().manual_seed(0))
        weights = [layer.weight for _, layer in prunable_layers(net)]
        global_magnitude_prune_(weights, RECEIVED_SPARSITY)
        states[model] = {k: v.detach().clone() for k, v in net.state_dict().items()}
    return states


def test_models_are_registered_and_have_configs():
    assert set(SETUPS) <= set(MODELS)
    assert set(SETUPS) <= set(group_options("model"))
    for model in SETUPS:
        assert compose_config([f"model={model}"])["model"] == {"name": model}


@pytest.mark.parametrize(
    ("model", "shape", "classes", "params", "prunable"),
    [
        ("resnet18_cifar", (3, 32, 32), 10, 11_173_962, 11_164_352),
        ("resnet18_cifar", (3, 32, 32), 100, 11_220_132, 11_210_432),
        ("resnet18_speech", (1, 1, 8000), 35, 11_188_195, 11_178_560),
    ],
)
def test_parameter_and_prunable_counts(model, shape, classes, params, prunable):
    with torch.device("meta"):
        net = build_model({"name": model}, shape, classes)
    assert _count(net) == (params, prunable)
    assert len(list(prunable_layers(net))) == 21  # 17 3x3 convs + stem + 3 downsample + fc
    bn = sum(
        p.numel() for m in net.modules() if isinstance(m, nn.BatchNorm2d) for p in m.parameters()
    )
    assert params - prunable - bn == classes  # the fc bias is the only other parameter


def test_stems():
    cifar, speech = _build("resnet18_cifar", "meta"), _build("resnet18_speech", "meta")
    for conv, (cin, k, s, p) in ((cifar.conv1, (3, 3, 1, 1)), (speech.conv1, (1, 7, 2, 3))):
        assert type(conv) is nn.Conv2d and conv.bias is None
        assert (conv.in_channels, conv.out_channels) == (cin, 64)
        assert (conv.kernel_size, conv.stride, conv.padding) == ((k, k), (s, s), (p, p))
    assert isinstance(cifar.maxpool, nn.Identity)
    assert isinstance(speech.maxpool, nn.MaxPool2d)
    # conv1 stays the first registered conv/linear (ZeroFL keeps the first one dense).
    assert [next(prunable_layers(m))[0] for m in (cifar, speech)] == ["conv1", "conv1"]


@pytest.mark.parametrize("model", list(SETUPS))
def test_forward_shapes(model):
    shape, classes = SETUPS[model]
    net = _build(model).eval()
    seen = {}

    def hook(_module: nn.Module, _args: tuple, out: torch.Tensor) -> None:
        seen["layer4"] = tuple(out.shape)

    net.layer4.register_forward_hook(hook)
    with torch.no_grad():
        out = net(torch.randn(2, *shape))
    assert out.shape == (2, classes)
    assert torch.isfinite(out).all()
    # CIFAR: 32 -> 4 (three stride-2 stages); speech: height stays 1, 8000 -> 250.
    assert seen["layer4"] == ((2, 512, 4, 4) if model == "resnet18_cifar" else (2, 512, 1, 250))


def test_wrong_input_shape_or_options_raise():
    with pytest.raises(ValueError, match=r"resnet18_speech.*\(1, 1, 8000\).*\(3, 32, 32\)"):
        build_model({"name": "resnet18_speech"}, (3, 32, 32), 10)
    with pytest.raises(ValueError, match=r"resnet18_cifar.*\(3, 32, 32\).*\(1, 1, 8000\)"):
        build_model({"name": "resnet18_cifar"}, (1, 1, 8000), 35)
    with pytest.raises(ValueError, match=r"resnet18_cifar.*no options"):
        build_model({"name": "resnet18_cifar", "width": 64}, (3, 32, 32), 10)


@pytest.mark.parametrize("method", METHODS)
def test_prepare_model_keeps_state_dict_keys(method):
    for model in SETUPS:
        plain = _build(model, "meta")
        keys = {k: tuple(v.shape) for k, v in plain.state_dict().items()}
        prepared = load_method(_cfg(model, method)).prepare_model(plain)
        assert {k: tuple(v.shape) for k, v in prepared.state_dict().items()} == keys
        wrapped = [name for name, m in prepared.named_modules() if isinstance(m, SparseLayerMixin)]
        downsample = {f"layer{i}.0.downsample.0" for i in (2, 3, 4)}
        if method.startswith(("sparsyfed", "sparsefedpp")):
            # The official set: every conv/linear but the three downsample convs.
            assert set(wrapped) == _official_wrapped(_build(model, "meta"), skip_first=False)
            assert len(wrapped) == 18 and not downsample & set(wrapped)
        elif method == "zerofl":  # all but the stem and the downsample convs (section 8)
            assert set(wrapped) == _official_wrapped(_build(model, "meta"), skip_first=True)
            assert len(wrapped) == 17 and not ({"conv1"} | downsample) & set(wrapped)
            assert type(prepared.conv1) is nn.Conv2d
            assert all(
                prepared.get_submodule(n).weight_keep == pytest.approx(0.05) for n in wrapped
            )
        else:
            assert wrapped == []


@pytest.mark.parametrize("model", list(SETUPS))
def test_initialize_overrides_torchvision_init(model):
    """SparsyFed's fan-in init (with the inverse power) reaches every layer of the ResNet."""
    method = load_method(_cfg(model, "sparsyfed"))
    net = method.prepare_model(_build(model))
    method.initialize(net, torch.Generator().manual_seed(0))
    for name, layer in prunable_layers(net):
        fan_in = layer.weight[0].numel()
        sigma = math.sqrt(1.0 / fan_in) / 0.87962566
        # Plain (downsample) convs store w itself; no inverse power (the official init).
        w = layer.effective_weight() if isinstance(layer, SparseLayerMixin) else layer.weight
        w = w.detach()
        assert float(w.abs().max()) <= 2 * sigma * (1 + 1e-5), name
        # The truncated normal has standard deviation sqrt(1 / fan_in).
        assert float(w.std()) == pytest.approx(math.sqrt(1.0 / fan_in), rel=0.15), name
    assert float(net.fc.bias.detach().abs().max()) == 0.0
    for bn in (m for m in net.modules() if isinstance(m, nn.BatchNorm2d)):
        assert bool((bn.weight == 1).all()) and bool((bn.bias == 0).all())


def _client_round(
    model: str, method_name: str, state: dict | None, server_round: int, samples: int = 2
):
    """Build, load ``state`` (None: initialise), train at batch size 2, make the upload."""
    shape, classes = SETUPS[model]
    cfg = _cfg(model, method_name)
    method = load_method(cfg)
    net = method.prepare_model(build_model(cfg["model"], shape, classes))
    if state is None:  # round 1 from the method's own initial model
        method.initialize(net, torch.Generator().manual_seed(1))
        state = {k: v.detach().clone() for k, v in net.state_dict().items()}
    else:
        net.load_state_dict(state)
    g = torch.Generator().manual_seed(2)
    x = torch.randn(samples, *shape, generator=g)
    y = torch.randint(0, classes, (samples,), generator=g)
    hp = LocalTraining(lr=0.05, batch_size=2, seed=3)
    ctx = round_ctx(server_round, total_rounds=40)
    metrics = method.train(net, x, y, hp, ctx)
    metrics.update(layer_metrics(net))
    trained = {k: v.detach().clone() for k, v in net.state_dict().items()}
    keys = prunable_weight_names(net)
    upload = make_upload(net.state_dict(), state, method.upload_sparsity(ctx), keys, "weights")
    return method, ctx, state, metrics, trained, upload, keys


def _check_upload(method, ctx, trained, upload, keys):
    assert set(upload) == set(trained)
    target = method.upload_sparsity(ctx)
    numel = sum(upload[k].numel() for k in keys)
    zeros = sum(int((upload[k] == 0).sum()) for k in keys)
    if target > 0:
        # Zeros already present count toward the target (docs/methods.md section 4).
        already = sum(int((trained[k] == 0).sum()) for k in keys)
        assert zeros == max(num_to_prune(numel, target), already)
        for k in keys:  # the upload only zeroes entries, it never changes the kept ones
            kept = upload[k] != 0
            assert torch.equal(upload[k][kept], trained[k][kept])
    else:
        assert all(torch.equal(upload[k], trained[k]) for k in keys)
    for k in set(upload) - set(keys):  # BatchNorm, biases and statistics are never pruned
        assert torch.equal(upload[k], trained[k]), k


# Full method grid on the CIFAR model; on the speech model (one step costs twice as much) one
# method per distinct client code path: sparsyfed_na / sparsefedpp are SparsyFed options,
# fedsparsify_global trains as fedsparsify_local, fedavg / fedavgm(_official) train as topk.
SPEECH_METHODS = [
    "sparsyfed",
    "sparsyfed_spectral",
    "topk",
    "zerofl",
    "flash",
    "flash_spdst",
    "fedsparsify_local",
]
GRID = [("resnet18_cifar", m) for m in METHODS] + [("resnet18_speech", m) for m in SPEECH_METHODS]


@pytest.mark.parametrize(("model", "method_name"), GRID)
def test_client_round_on_a_sparse_received_model(model, method_name, received):
    """Round 2: one SGD step on a 95%-sparse global model, then the upload."""
    method, hp, state, metrics, trained, upload, keys = _client_round(
        model, method_name, received[model], server_round=2
    )
    assert math.isfinite(metrics.value("train_loss"))
    changed = sum(int((trained[k] != state[k]).sum()) for k in keys)
    assert changed > 0
    regrown = {k: int(((state[k] == 0) & (trained[k] != 0)).sum()) for k in keys}
    # The SparsyFed family leaves the downsample convs plain (official), so they train dense.
    plain = {k for k in keys if "downsample" in k and method_name in SPARSYFED_FAMILY}
    if method_name == "sparsyfed_spectral":
        # A layer the global prune emptied (three layer4 convs at 95%, docs/methods.md section 4.5) gets the
        # fallback exponent 1.0, as in the official code, so its zeros get gradients.
        emptied = {k for k in keys if not state[k].any()}
        assert emptied and all(regrown[k] == 0 for k in keys if k not in emptied | plain)
    elif method_name == "flash_spdst":  # the mask covers the conv weights; fc trains freely
        assert all(regrown[k] == 0 for k in method.server_mask_keys())
    elif method_name in ZEROS_FROZEN:
        assert sum(regrown[k] for k in keys if k not in plain) == 0
    if plain:  # ... so their pruned weights regrow, as in the official code
        assert sum(regrown[k] for k in plain) > 0
    elif method_name in ("topk", "fedavg", "fedavgm", "fedavgm_official"):
        assert sum(regrown.values()) > 0  # plain dense SGD: pruned weights get gradients
    if method_name.startswith(("sparsyfed", "sparsefedpp")) and method_name != "sparsyfed_na":
        keeps = list(metrics.value("act_keep_fraction").values())
        assert len(keeps) == 18 and max(keeps) < 1.0  # activations pruned in every wrapped layer
    if method_name == "zerofl":  # stem and downsample convs dense, the 17 others under Top-K
        dens = metrics.value("forward_weight_density")
        assert len(dens) == 17 and "conv1" not in dens
        assert max(dens.values()) <= 1.0 - method.sparsity + 1e-3
    _check_upload(method, hp, trained, upload, keys)
    if method_name == "fedsparsify_global":  # no client purge; the received mask is kept
        zeros = sum(int((upload[k] == 0).sum()) for k in keys)
        assert zeros >= sum(int((state[k] == 0).sum()) for k in keys)


@pytest.mark.parametrize(
    ("model", "method_name"),
    [
        ("resnet18_cifar", "flash"),
        ("resnet18_cifar", "flash_spdst"),
        ("resnet18_speech", "flash_spdst"),
    ],
)
def test_client_round_one_from_the_initial_model(model, method_name):
    """Round 1 of FLASH (warm-up under the received zeros) and of SPDST (dynamic sparse training), 2 steps."""
    method, hp, state, metrics, trained, upload, keys = _client_round(
        model, method_name, None, server_round=1, samples=4
    )
    assert math.isfinite(metrics.value("train_loss"))
    assert any(not torch.equal(trained[k], state[k]) for k in keys)
    if method_name == "flash_spdst":
        # Dynamic sparse training leaves at most 1 - S of the weights; the upload may hold
        # fewer (regrown weights start at 0, and on the speech model two of every three
        # kernel rows never see data, so they never leave 0).
        # The mask (and the target density) covers the conv weights only; fc stays dense.
        masked = method.server_mask_keys()
        assert "fc.weight" not in masked and len(masked) == len(keys) - 1
        numel = sum(upload[k].numel() for k in masked)
        zeros = sum(int((upload[k] == 0).sum()) for k in masked)
        assert zeros >= num_to_prune(numel, method.sparsity)
        assert bool(upload["fc.weight"].ne(0).all())
        assert metrics.value("dst_mask_updates") >= 1
    else:
        _check_upload(method, hp, trained, upload, keys)


def test_received_state_is_not_modified(received):
    """The grid above shares one received state per model; training must work on copies."""
    fresh = copy.deepcopy(received["resnet18_cifar"])
    _client_round("resnet18_cifar", "zerofl", received["resnet18_cifar"], server_round=2)
    assert all(torch.equal(fresh[k], v) for k, v in received["resnet18_cifar"].items())


# One method per distinct server rule (the base FedAvg serves sparsyfed, topk, zerofl, fedavg).
SERVER_METHODS = ["sparsyfed", "fedavgm", "flash", "flash_spdst", "fedsparsify_global"]
SERVER_METHODS += ["fedsparsify_local"]


@pytest.mark.parametrize("method_name", SERVER_METHODS)
def test_server_hooks_on_resnet_states(method_name, received):
    """Aggregation and post-processing of two CIFAR ResNet uploads in rounds 1 and 2."""
    model = "resnet18_cifar"
    method = load_method(_cfg(model, method_name))
    net = method.prepare_model(_build(model))
    g0 = received[model]
    g = torch.Generator().manual_seed(4)
    other = {
        k: v * (1 + 0.1 * torch.rand(v.shape, generator=g)) if v.is_floating_point() else v
        for k, v in g0.items()
    }
    ups = [ClientUpdate(0, g0, 3), ClientUpdate(1, other, 1)]
    keys = prunable_weight_names(net)
    numel = sum(g0[k].numel() for k in keys)
    for server_round in (1, 2):
        ctx = round_ctx(server_round, total_rounds=40)
        g1 = method.after_aggregate(method.aggregate(g0, ups, ctx), ctx)
        assert set(g1) == set(g0)
        assert all(g1[k].dtype == g0[k].dtype and g1[k].shape == g0[k].shape for k in g0)
        assert all(bool(torch.isfinite(v.float()).all()) for v in g1.values())
        # Both uploads share one 95% mask, so the global model keeps exactly that sparsity
        # (SPDST draws a new random mask of the same size; FedSparsify purges to s_t < 95%).
        if method_name == "flash_spdst" and server_round == 1:  # conv mask, dense fc
            masked = method.server_mask_keys()
            zeros = sum(int((g1[k] == 0).sum()) for k in masked)
            assert zeros == num_to_prune(sum(g0[k].numel() for k in masked), method.sparsity)
            assert bool(g1["fc.weight"].ne(0).all())
        else:
            zeros = sum(int((g1[k] == 0).sum()) for k in keys)
            assert zeros == num_to_prune(numel, RECEIVED_SPARSITY)
        g0 = g1


@pytest.mark.parametrize(("method_name", "plain"), [("sparsyfed", 0), ("zerofl", 1)])
def test_wrap_downsample_wraps_the_downsample_convs_too(method_name, plain):
    from sparsyfed.nn.layers import sparse_layers

    for wrap in (True, False):
        cfg = _cfg("resnet18_cifar", method_name)
        cfg["method"]["wrap_downsample"] = wrap
        method = load_method(cfg)
        model = method.prepare_model(build_model(cfg["model"], (3, 32, 32), 10))
        wrapped = [name for name, _ in sparse_layers(model)]
        # 21 conv/linear layers, minus ZeroFL's plain stem, minus the downsample convs.
        assert len(wrapped) == 21 - plain - (0 if wrap else 3)
        assert sum("downsample" in name for name in wrapped) == (3 if wrap else 0)
        # Plain or not, all 21 weights stay in the global upload Top-K.
        assert len(prunable_weight_names(model)) == 21
