"""The one way a config value is checked: read it, convert it, or fail naming key, value, allowed.

Every layer that reads user input (the run config, a method's options, a
dataset's or model's options, the wire block) uses these helpers, so every bad
input ends in the same one-line :class:`ConfigError`::

    sparsity=1.5 is not allowed: it must lie in [0, 1)
    method.act_keep_floor=0 is not allowed: a number in (0, 1]
    sparsty is not a known key; did you mean sparsity?

This module imports nothing from the project (and nothing heavy), so any
module may use it.
"""

from __future__ import annotations

import difflib
import math
import operator
from collections.abc import Callable, Iterable, Mapping
from typing import Any, NoReturn


class ConfigError(ValueError):
    """A config value is invalid; the message names the key, the value and what is allowed."""


def fail(key: str, value: Any, allowed: str) -> NoReturn:
    """Raise ``ConfigError("<key>=<value!r> is not allowed: <allowed>")``."""
    raise ConfigError(f"{key}={value!r} is not allowed: {allowed}")


def closest(name: str, candidates: Iterable[str]) -> str | None:
    """The candidate most similar to ``name`` (``None`` when nothing is close)."""
    found = difflib.get_close_matches(name, list(candidates), n=1, cutoff=0.6)
    return found[0] if found else None


def unknown_key(key: str, known: Iterable[str]) -> NoReturn:
    """Raise the error for a key that is not in ``known``, suggesting the closest one."""
    known = sorted(known)
    leaf = key.rpartition(".")[2]
    prefix = key[: len(key) - len(leaf)]
    guess = closest(leaf, known)
    hint = f"did you mean {prefix}{guess}?" if guess else f"known keys: {', '.join(known)}"
    raise ConfigError(f"{key} is not a known key; {hint}")


def check_keys(prefix: str, mapping: Mapping[str, Any], known: Iterable[str]) -> None:
    """Reject the first key of ``mapping`` that is not in ``known`` (with a suggestion)."""
    known = set(known)
    for key in mapping:
        if key not in known:
            unknown_key(f"{prefix}{key}", known)


def require(mapping: Mapping[str, Any], key: str, where: str = "") -> Any:
    """``mapping[key]``, or a ConfigError saying that ``where + key`` is missing."""
    if key not in mapping:
        raise ConfigError(f"{where}{key} is missing from the config")
    return mapping[key]


def as_bool(key: str, value: Any) -> bool:
    """A real boolean (``true``/``false`` in YAML), nothing else."""
    if not isinstance(value, bool):
        fail(key, value, "it must be true or false")
    return value


def as_int(key: str, value: Any, minimum: int | None = None, maximum: int | None = None) -> int:
    """An integer (floats with an integral value such as ``5.0`` included, bools excluded)."""
    number = value
    if isinstance(value, float) and math.isfinite(value) and value == int(value):
        number = int(value)
    try:
        if isinstance(number, bool):
            raise TypeError
        result = operator.index(number)
    except TypeError:
        fail(key, value, _int_range(minimum, maximum))
    if (minimum is not None and result < minimum) or (maximum is not None and result > maximum):
        fail(key, value, _int_range(minimum, maximum))
    return result


def _int_range(minimum: int | None, maximum: int | None) -> str:
    if minimum is not None and maximum is not None:
        return f"it must be an integer in [{minimum}, {maximum}]"
    if minimum is not None:
        return f"it must be an integer >= {minimum}"
    return "it must be an integer"


def as_number(
    key: str,
    value: Any,
    check: Callable[[float], bool] | None = None,
    allowed: str = "it must be a finite number",
) -> float:
    """A finite real number, optionally passing ``check`` (else ``allowed`` says why)."""
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        fail(key, value, allowed)
    if check is not None and not check(float(value)):
        fail(key, value, allowed)
    return float(value)


def as_choice(key: str, value: Any, choices: Iterable[Any]) -> Any:
    """One of ``choices`` (the message lists them)."""
    choices = tuple(choices)
    if value not in choices or isinstance(value, bool) != any(isinstance(c, bool) for c in choices):
        fail(key, value, f"choose one of {', '.join(str(c) for c in choices)}")
    return value


def as_str(key: str, value: Any) -> str:
    """A string."""
    if not isinstance(value, str):
        fail(key, value, "it must be a string")
    return value


def as_mapping(key: str, value: Any) -> Mapping[str, Any]:
    """A mapping (a YAML block)."""
    if not isinstance(value, Mapping):
        fail(key, value, "it must be a mapping (a block of keys)")
    return value
