"""Find ``conf/`` and compose the Hydra config into plain containers.

Both entry points end here: ``python -m sparsyfed`` gets its config from
``@hydra.main`` and ``flwr run .`` composes it from the ``overrides`` run-config
key with :func:`compose_config`.
"""

from __future__ import annotations

import shlex
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from sparsyfed.validation import ConfigError

GROUPS = ("dataset", "model", "method", "experiment")


def conf_dir() -> Path:
    """Return the ``conf/`` directory (installed copy first, then the checkout)."""
    here = Path(__file__).resolve().parent.parent
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


def check_override_keys(overrides: Sequence[str]) -> None:
    """Raise :class:`ConfigError` for a plain ``key=value`` override of an unknown top-level key.

    Hydra would refuse it with "Could not override" and no hint; this names the
    closest known key. ``+key`` / ``~key`` and ``hydra.*`` overrides are left to Hydra
    and to the config validation.
    """
    from sparsyfed.validation import unknown_key

    plain = [o for o in overrides if "=" in o and not o.startswith(("+", "~", "hydra."))]
    if not plain:
        return
    known = set(compose_config([])) | set(GROUPS)
    for item in plain:
        top = item.partition("=")[0].split(".", 1)[0]
        if top not in known:
            unknown_key(top, sorted(known))


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
