"""The run config: compose it from ``conf/`` (Hydra), validate it once, type it.

- :func:`compose_config` composes ``conf/config.yaml`` with overrides;
- :func:`load_config` validates the composed config into a frozen
  :class:`RunConfig`: every key, the names of the dataset and the model, and
  everything the method declares it takes (its options, upload modes, server
  step). The first bad value raises one :class:`ConfigError` naming the key,
  the value and what is allowed.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sparsyfed.config.compose import (
    GROUPS,
    check_group_choices,
    check_override_keys,
    compose_config,
    conf_dir,
    group_options,
    to_plain,
)
from sparsyfed.config.schema import SPECTRAL_BETA, RunConfig, WireOptions
from sparsyfed.validation import ConfigError, fail

__all__ = [
    "GROUPS",
    "SPECTRAL_BETA",
    "ConfigError",
    "RunConfig",
    "WireOptions",
    "check_group_choices",
    "check_override_keys",
    "compose_config",
    "conf_dir",
    "group_options",
    "load_config",
    "to_plain",
]


def load_config(plain: Mapping[str, Any]) -> RunConfig:
    """Validate a composed config (plain containers) and return the typed config."""
    from sparsyfed.data import DATASETS
    from sparsyfed.methods import method_settings
    from sparsyfed.models import MODELS

    cfg = RunConfig.from_dict(plain)
    if cfg.dataset.name not in DATASETS:
        fail("dataset", cfg.dataset.name, f"choose one of {', '.join(DATASETS)}")
    if cfg.model.name not in MODELS:
        fail("model.name", cfg.model.name, f"choose one of {', '.join(MODELS)}")
    method_settings(cfg)
    return cfg
