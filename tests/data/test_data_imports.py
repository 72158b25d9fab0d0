"""The import structure of sparsyfed.data, read from the source (ast), not by importing it.

* the import graph of the ``sparsyfed.data.*`` modules is acyclic;
* no module imports a ``_private`` name (or module) from another project module;
* each loader imports, within the package, only ``base`` and ``sources``; no module
  imports a loader statically (the registry imports them lazily by name).
"""

from __future__ import annotations

import ast
import graphlib
from pathlib import Path

import pytest

from sparsyfed.data.registry import DATASETS, LOADERS, get_loader

PACKAGE = "sparsyfed.data"
PACKAGE_DIR = Path(__file__).resolve().parents[2] / "sparsyfed" / "data"
SHARED = {f"{PACKAGE}.base", f"{PACKAGE}.sources"}


def module_name(path: Path) -> str:
    return PACKAGE if path.stem == "__init__" else f"{PACKAGE}.{path.stem}"


MODULES = {module_name(path): path for path in sorted(PACKAGE_DIR.glob("*.py"))}
LOADER_MODULES = {target.partition(":")[0] for target in LOADERS.values()}


def imports(name: str) -> list[tuple[str, str | None]]:
    """``(module, imported name or None)`` for every import statement of module ``name``.

    Imports inside functions count too. Relative imports are resolved against the package.
    """
    path = MODULES[name]
    package = name if path.stem == "__init__" else name.rpartition(".")[0]
    found: list[tuple[str, str | None]] = []
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            found.extend((alias.name, None) for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parts = package.split(".")
                anchor = ".".join(parts[: len(parts) - node.level + 1])
                base = f"{anchor}.{base}" if base else anchor
            found.extend((base, alias.name) for alias in node.names)
    return found


def data_edges(name: str) -> set[str]:
    """The ``sparsyfed.data`` modules that module ``name`` imports."""
    edges: set[str] = set()
    for module, imported in imports(name):
        if imported is not None and f"{module}.{imported}" in MODULES:
            edges.add(f"{module}.{imported}")  # ``from sparsyfed.data import cifar``
        elif module in MODULES:
            edges.add(module)
    edges.discard(name)
    return edges


GRAPH = {name: data_edges(name) for name in MODULES}


def test_every_module_is_parsed() -> None:
    assert {f"{PACKAGE}.{m}" for m in ("base", "registry", "sources", "augment")} <= set(MODULES)
    assert {f"{PACKAGE}.{m}" for m in ("mnist1d", "digits", "cifar", "speech")} <= set(MODULES)
    assert LOADER_MODULES <= set(MODULES)


def test_import_graph_is_acyclic() -> None:
    try:
        order = list(graphlib.TopologicalSorter(GRAPH).static_order())
    except graphlib.CycleError as exc:
        pytest.fail(f"import cycle in {PACKAGE}: {' -> '.join(exc.args[1])}")
    assert set(order) == set(MODULES)
    # Submodules never import the package itself (its __init__ imports them).
    assert {name for name, edges in GRAPH.items() if PACKAGE in edges} == set()


def test_no_private_names_imported_from_project_modules() -> None:
    offences = []
    for name in MODULES:
        for module, imported in imports(name):
            if module.split(".")[0] != "sparsyfed":
                continue
            private_module = any(part.startswith("_") for part in module.split("."))
            if private_module or (imported is not None and imported.startswith("_")):
                offences.append(f"{name}: from {module} import {imported}")
    assert offences == []


@pytest.mark.parametrize("loader", sorted(LOADER_MODULES))
def test_loaders_import_only_the_shared_modules(loader: str) -> None:
    assert GRAPH[loader] <= SHARED, GRAPH[loader] - SHARED


def test_no_module_imports_a_loader_statically() -> None:
    importers = {name: GRAPH[name] & LOADER_MODULES for name in MODULES}
    assert {name: found for name, found in importers.items() if found} == {}


def test_shared_modules_import_no_loader_or_registry() -> None:
    assert GRAPH[f"{PACKAGE}.base"] == set()
    assert GRAPH[f"{PACKAGE}.sources"] <= {f"{PACKAGE}.base"}
    assert GRAPH[f"{PACKAGE}.augment"] == set()


@pytest.mark.parametrize("name", DATASETS)
def test_registry_targets_exist(name: str) -> None:
    module, _, function = LOADERS[name].partition(":")
    loader = get_loader(name)
    assert callable(loader)
    assert (loader.__module__, loader.__name__) == (module, function)
