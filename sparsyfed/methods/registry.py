"""Load a method from its config and validate, once, everything it declares it takes."""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from sparsyfed.methods.base import Method, MethodSettings
from sparsyfed.validation import ConfigError, check_keys, fail, require

if TYPE_CHECKING:
    from sparsyfed.config.schema import RunConfig


def load_method_class(impl: str) -> type[Method]:
    """Import the class named by ``method.impl`` (``"package.module:ClassName"``)."""
    module_name, _, class_name = impl.partition(":")
    try:
        cls = getattr(importlib.import_module(module_name), class_name)
    except (ImportError, AttributeError, ValueError) as err:
        raise ConfigError(
            f"method.impl={impl!r} cannot be loaded ({err}); it must name "
            "'package.module:ClassName' of a Method subclass"
        ) from err
    if not (isinstance(cls, type) and issubclass(cls, Method)):
        raise ConfigError(f"method.impl={impl!r} is not a subclass of sparsyfed.methods.Method")
    return cls


def method_settings(cfg: RunConfig) -> tuple[type[Method], MethodSettings, dict[str, Any]]:
    """Validate the method part of a config.

    Returns
    -------
    cls : type of Method
        The method class.
    settings : MethodSettings
        Its effective settings (``beta`` 1.0 and ``sparsity`` 0.0 when the
        method does not use them) and its checked options.
    ignored : dict
        The config values the method does not use (key -> value as given),
        for the run header and the summary.

    Raises
    ------
    ConfigError
        For an option the method does not take, a bad option value, an upload
        mode or server step it does not support.

    """
    cls = load_method_class(cfg.method.impl)
    name = cfg.method.name
    if cfg.upload not in cls.upload_modes:
        fail("upload", cfg.upload, f"method={name} supports {', '.join(cls.upload_modes)}")
    if cfg.aggregation not in cls.aggregations:
        fail(
            "aggregation",
            cfg.aggregation,
            f"method={name} supports {', '.join(cls.aggregations)} (it has its own merge)",
        )
    if not cls.server_optimizer and (cfg.server_lr != 1.0 or cfg.server_momentum != 0.0):
        raise ConfigError(
            f"method={name} merges weights on the server: it needs server_lr=1.0 and "
            f"server_momentum=0.0, got server_lr={cfg.server_lr} and "
            f"server_momentum={cfg.server_momentum}"
        )
    raw = cfg.method.options
    check_keys("method.", raw, cls.option_specs)
    options = {
        key: spec.read(f"method.{key}", require(raw, key, "method."))
        for key, spec in cls.option_specs.items()
    }
    ignored: dict[str, Any] = {}
    if not cls.uses_beta and cfg.beta != 1.0:
        ignored["beta"] = cfg.beta
    if not cls.uses_sparsity and cfg.sparsity != 0.0:
        ignored["sparsity"] = cfg.sparsity
    if not cls.uses_sparsity:  # nothing is pruned, so the prune scope changes nothing
        ignored.update({k: v for k, v in _prune_keys(cfg).items() if v != _PRUNE_DEFAULTS[k]})
    settings = MethodSettings(
        name=name,
        beta=cfg.beta if cls.uses_beta else 1.0,
        sparsity=cfg.sparsity if cls.uses_sparsity else 0.0,
        server_lr=cfg.server_lr,
        server_momentum=cfg.server_momentum,
        server_momentum_scope=cfg.server_momentum_scope,
        options=options,
        aggregation=cfg.aggregation,
        prune=cfg.prune,
    )
    cls.check_settings(settings)
    return cls, settings, ignored


_PRUNE_DEFAULTS = {"prune_scope": "global", "prune_layers": "all"}


def _prune_keys(cfg: RunConfig) -> dict[str, str]:
    return {"prune_scope": cfg.prune_scope, "prune_layers": cfg.prune_layers}


def build_method(cfg: RunConfig) -> Method:
    """Validate the method part of ``cfg`` and instantiate the method."""
    cls, settings, _ = method_settings(cfg)
    return cls(settings)
