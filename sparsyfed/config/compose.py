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
    """Raise :class:`ConfigError` for an override of a key the config does not have.

    Hydra would refuse a mistyped ``key=value`` with "Could not override" and no
    hint, and would accept ``+key=value`` only to have the validation refuse it
    after Hydra created its run directory. Every level of the key's path must
    exist in the config composed with the override's group choices (with a
    multirun list, in the config of any of its choices); the error names the
    closest known key. Group choices themselves are checked by
    :func:`check_group_choices`; ``hydra.*`` and ``hydra/*`` overrides are left to Hydra.
    """
    from sparsyfed.validation import unknown_key

    items = [o for o in overrides if "=" in o or o.startswith("~")]
    items = [o for o in items if not o.lstrip("+~").startswith(("hydra.", "hydra/"))]
    keys = [o.lstrip("+~").partition("=")[0] for o in items]
    if all(k in GROUPS for k in keys):
        return
    try:
        configs = [compose_config(choices) for choices in _choice_sets(items)]
    except ConfigError:
        raise
    except Exception as err:  # Hydra's composition errors, as one line
        raise ConfigError("; ".join(str(err).strip().splitlines())) from err
    for key in keys:
        if key in GROUPS:
            continue
        parts = key.split(".")
        for depth in range(1, len(parts) + 1):
            levels = [_node(c, parts[: depth - 1]) for c in configs]
            known = set().union(*(set(n) for n in levels if isinstance(n, dict)))
            if not known:
                break  # below a plain value: Hydra reports it
            if depth == 1:
                known |= set(GROUPS)
            if parts[depth - 1] not in known:
                unknown_key(".".join(parts[:depth]), known)


def _choice_sets(items: Sequence[str]) -> list[list[str]]:
    """Group choices to compose with: the first of every list, then each other one alone."""
    choices = [
        (k, v.split(","))
        for k, _, v in (o.partition("=") for o in items)
        if k.lstrip("+~") in GROUPS
    ]
    base = [f"{k}={values[0]}" for k, values in choices]
    sets = [base]
    for i, (key, values) in enumerate(choices):
        for value in values[1:]:
            sets.append([*base[:i], f"{key}={value}", *base[i + 1 :]])
    return sets


def _node(config: Any, path: Sequence[str]) -> Any:
    for part in path:
        if not isinstance(config, dict) or part not in config:
            return None
        config = config[part]
    return config


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
