"""Find, compose and validate the Hydra config (the one source of defaults: ``conf/``).

Both entry points end here: ``python -m sparsyfed`` gets its config from
``@hydra.main`` and ``flwr run .`` composes it from the ``overrides`` run-config
key with :func:`compose_config`. Either way :func:`validate` checks it before
any work starts and raises one :class:`ConfigError` naming the key, the value
and what is allowed.
"""

from __future__ import annotations

import math
import shlex
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from sparsyfed.core.training import LR_SCHEDULES
from sparsyfed.data.partition import PARTITION_SCHEMES
from sparsyfed.upload.steps import UPLOAD_MODES
from sparsyfed.validation import ConfigError

GROUPS = ("dataset", "model", "method", "experiment")
SPECTRAL_BETA = -1.0  # sentinel of the hyper-parameter-free variant (METHOD.md section 8)
WANDB_MODES = ("disabled", "offline", "online")


def conf_dir() -> Path:
    """Return the ``conf/`` directory (installed copy first, then the checkout)."""
    here = Path(__file__).resolve().parent
    for candidate in (here / "conf", here.parent / "conf"):
        if (candidate / "config.yaml").is_file():
            return candidate
    raise FileNotFoundError(f"no conf/config.yaml next to {here} or its parent")


def group_options(group: str) -> list[str]:
    """Names of the YAML files of a config group, e.g. ``method`` -> ``['fedavg', ...]``."""
    return sorted(p.stem for p in (conf_dir() / group).glob("*.yaml"))


def check_group_choices(overrides: Sequence[str]) -> None:
    """Raise :class:`ConfigError` for an override that selects a missing group option.

    Handles ``group=a`` and multirun lists ``group=a,b`` (with ``+``/``~`` prefixes).
    """
    for item in overrides:
        key, sep, value = item.lstrip("+~").partition("=")
        if not sep or key not in GROUPS:
            continue
        allowed = group_options(key)
        for choice in value.split(","):
            if choice and choice not in allowed:
                raise ConfigError(f"{key}={choice!r} is not known; allowed: {', '.join(allowed)}")


def compose_config(overrides: Sequence[str] | str = ()) -> dict[str, Any]:
    """Compose ``conf/config.yaml`` with Hydra overrides into a plain dict (not validated).

    Parameters
    ----------
    overrides : sequence of str or str
        Hydra overrides such as ``["method=fedavg", "rounds=5"]``, or one
        string that is split like a shell command line.

    """
    from hydra import compose, initialize_config_dir
    from hydra.core.global_hydra import GlobalHydra
    from omegaconf import OmegaConf

    if isinstance(overrides, str):
        overrides = shlex.split(overrides)
    overrides = list(overrides)
    check_group_choices(overrides)
    if GlobalHydra.instance().is_initialized():
        GlobalHydra.instance().clear()
    with initialize_config_dir(config_dir=str(conf_dir()), version_base=None):
        cfg = compose(config_name="config", overrides=overrides)
    return to_plain(cfg, OmegaConf)


def to_plain(cfg: Any, omegaconf: Any = None) -> dict[str, Any]:
    """Resolve an OmegaConf config into plain containers without the ``hydra`` node."""
    if omegaconf is None:
        from omegaconf import OmegaConf as omegaconf
    plain = omegaconf.to_container(cfg, resolve=False)
    plain.pop("hydra", None)
    return omegaconf.to_container(omegaconf.create(plain), resolve=True)


def _fail(key: str, value: Any, allowed: str) -> None:
    raise ConfigError(f"{key}={value!r} is not allowed: {allowed}")


def _lookup(cfg: Mapping[str, Any], key: str) -> Any:
    node: Any = cfg
    for part in key.split("."):
        if not isinstance(node, Mapping) or part not in node:
            raise ConfigError(f"{key} is missing from the config")
        node = node[part]
    return node


def _number(cfg: Mapping[str, Any], key: str) -> float:
    value = _lookup(cfg, key)
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        _fail(key, value, "it must be a finite number")
    return float(value)


def _integer(cfg: Mapping[str, Any], key: str, minimum: int) -> int:
    value = _number(cfg, key)
    if value != int(value) or value < minimum:
        _fail(key, _lookup(cfg, key), f"it must be an integer >= {minimum}")
    return int(value)


def validate(cfg: Mapping[str, Any]) -> None:
    """Check a composed config; raise :class:`ConfigError` on the first bad value."""
    from sparsyfed.data import DATASETS
    from sparsyfed.models import MODELS

    method = cfg.get("method") or {}
    if not isinstance(method, Mapping) or not method.get("impl"):
        _fail("method", method, f"choose one of {', '.join(group_options('method'))}")
    dataset = (cfg.get("dataset") or {}).get("name")
    if dataset not in DATASETS:
        _fail("dataset", dataset, f"choose one of {', '.join(DATASETS)}")
    model = (cfg.get("model") or {}).get("name")
    if model not in MODELS:
        _fail("model.name", model, f"choose one of {', '.join(MODELS)}")

    sparsity = _number(cfg, "sparsity")
    if not 0.0 <= sparsity < 1.0:
        _fail("sparsity", sparsity, "it must lie in [0, 1)")
    beta = _number(cfg, "beta")
    if beta < 1.0 and beta != SPECTRAL_BETA:
        _fail(
            "beta",
            beta,
            f"use beta >= 1 (1 = no Powerprop), or {SPECTRAL_BETA} for the spectral variant",
        )

    num_clients = _integer(cfg, "num_clients", 1)
    per_round = _integer(cfg, "clients_per_round", 1)
    if per_round > num_clients:
        _fail("clients_per_round", per_round, f"it must be <= num_clients={num_clients}")
    _integer(cfg, "rounds", 1)
    if _integer(cfg, "fed_eval_clients", 0) > num_clients:
        _fail(
            "fed_eval_clients", cfg["fed_eval_clients"], f"it must be <= num_clients={num_clients}"
        )
    _integer(cfg, "local_epochs", 1)
    _integer(cfg, "batch_size", 1)
    _integer(cfg, "eval_batch_size", 1)
    _integer(cfg, "seed", 0)
    for key in ("weight_decay", "momentum"):
        if _number(cfg, key) < 0:
            _fail(key, cfg[key], "it must be >= 0")
    if _number(cfg, "server_lr") <= 0:
        _fail("server_lr", cfg["server_lr"], "it must be > 0")
    if not 0 <= _number(cfg, "server_momentum") < 1:
        _fail("server_momentum", cfg["server_momentum"], "it must lie in [0, 1)")
    if _number(cfg, "prox_mu") < 0:
        _fail("prox_mu", cfg["prox_mu"], "it must be >= 0")
    if cfg.get("upload") not in UPLOAD_MODES:
        _fail("upload", cfg.get("upload"), f"choose one of {', '.join(UPLOAD_MODES)}")

    schedule = cfg["lr"].get("schedule")
    if schedule not in LR_SCHEDULES:
        _fail("lr.schedule", schedule, f"choose one of {', '.join(LR_SCHEDULES)}")
    if _number(cfg, "lr.initial") <= 0:
        _fail("lr.initial", cfg["lr"]["initial"], "it must be > 0")
    if schedule == "exponential" and _number(cfg, "lr.final") <= 0:
        _fail("lr.final", cfg["lr"]["final"], "it must be > 0 for an exponential schedule")
    _integer(cfg, "lr.warmup_rounds", 0)

    scheme = cfg["partition"].get("scheme")
    if scheme not in PARTITION_SCHEMES:
        _fail("partition.scheme", scheme, f"choose one of {', '.join(PARTITION_SCHEMES)}")
    if _number(cfg, "partition.alpha") <= 0:
        _fail(
            "partition.alpha", cfg["partition"]["alpha"], "the Dirichlet concentration must be > 0"
        )
    _validate_wire(cfg)
    wandb_mode = (cfg.get("wandb") or {}).get("mode", "disabled")
    if wandb_mode not in WANDB_MODES:
        _fail("wandb.mode", wandb_mode, f"choose one of {', '.join(WANDB_MODES)}")
    _validate_method_options(method)
    _check_method_builds(cfg)


def _validate_wire(cfg: Mapping[str, Any]) -> None:
    from dataclasses import fields

    from sparsyfed.upload.transport import WIRE_CODECS, WireOptions
    from sparsyfed.wire.codec import VALUE_FORMATS

    if "codec" in cfg:
        raise ConfigError(f"codec={cfg['codec']!r} moved: use wire.codec (one of {WIRE_CODECS})")
    allowed = [f.name for f in fields(WireOptions)]
    wire = _lookup(cfg, "wire")
    if not isinstance(wire, Mapping):
        _fail("wire", wire, f"it must be a mapping with {', '.join(allowed)}")
    unknown = sorted(set(wire) - set(allowed))
    if unknown:
        _fail(f"wire.{unknown[0]}", wire[unknown[0]], f"unknown key; allowed: {', '.join(allowed)}")
    if wire.get("codec") not in WIRE_CODECS:
        _fail("wire.codec", wire.get("codec"), f"choose one of {', '.join(WIRE_CODECS)}")
    if wire.get("values") not in VALUE_FORMATS:
        _fail("wire.values", wire.get("values"), f"choose one of {', '.join(VALUE_FORMATS)}")
    for key in ("conditional", "joint", "error_feedback"):
        if not isinstance(wire.get(key), bool):
            _fail(f"wire.{key}", wire.get(key), "it must be true or false")


def _check_method_builds(cfg: Mapping[str, Any]) -> None:
    """Build the method once so its own option checks run before any work starts."""
    from sparsyfed.methods import load_method

    try:
        load_method(cfg)
    except ConfigError:
        raise
    except ValueError as err:
        raise ConfigError(str(err)) from err


def _validate_method_options(method: Mapping[str, Any]) -> None:
    from sparsyfed.nn.layers import ACT_THRESHOLD_MODES

    if "act_threshold" in method and method["act_threshold"] not in ACT_THRESHOLD_MODES:
        _fail(
            "method.act_threshold",
            method["act_threshold"],
            f"choose one of {', '.join(ACT_THRESHOLD_MODES)}",
        )
    if "act_keep_floor" in method:
        floor = _number({"method": method}, "method.act_keep_floor")
        if not 0.0 < floor <= 1.0:
            _fail("method.act_keep_floor", floor, "it must lie in (0, 1]")
