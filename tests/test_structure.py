"""The layout rules: module sizes, Flower only in sparsyfed.flower, no import cycles, no outside citations."""

from __future__ import annotations

import ast
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("sparsyfed", "baselines")


def modules() -> dict[str, Path]:
    out = {}
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            parts = path.relative_to(ROOT).with_suffix("").parts
            name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
            out[name] = path
    return out


def _is_type_checking(node: ast.If) -> bool:
    test = node.test
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def imported(path: Path, package_names: set[str]) -> set[str]:
    """Project modules imported by ``path`` (anywhere, function bodies included; not for typing)."""
    tree = ast.parse(path.read_text())
    found: set[str] = set()

    def visit(node: ast.AST) -> None:
        if isinstance(node, ast.If) and _is_type_checking(node):
            return
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
            found.update(f"{node.module}.{alias.name}" for alias in node.names)
        for child in ast.iter_child_nodes(node):
            visit(child)

    visit(tree)
    return {name for name in found if name in package_names}


def test_no_module_is_over_600_lines():
    sizes = {name: len(path.read_text().splitlines()) for name, path in modules().items()}
    assert {n: s for n, s in sizes.items() if s > 600} == {}


def test_flwr_is_imported_only_inside_sparsyfed_flower():
    offenders = []
    for name, path in modules().items():
        tree = ast.parse(path.read_text())
        for node in ast.walk(tree):
            names = []
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module:
                names = [node.module]
            if any(n == "flwr" or n.startswith("flwr.") for n in names):
                if not name.startswith("sparsyfed.flower"):
                    offenders.append(name)
    assert offenders == []


def test_no_import_cycle_between_modules():
    mods = modules()
    names = set(mods)
    graph = {name: imported(path, names) - {name} for name, path in mods.items()}
    # A package's __init__ importing its own submodules is not a cycle between modules.
    for name in graph:
        graph[name] = {m for m in graph[name] if not name.startswith(f"{m}.")}
    state: dict[str, int] = {}
    cycles: list[list[str]] = []

    def dfs(node: str, stack: list[str]) -> None:
        state[node] = 1
        for nxt in sorted(graph[node]):
            if state.get(nxt) == 1:
                cycles.append([*stack[stack.index(nxt) :], nxt])
            elif nxt not in state:
                dfs(nxt, [*stack, nxt])
        state[node] = 2

    for node in sorted(graph):
        if node not in state:
            dfs(node, [node])
    assert cycles == []


def test_nothing_cites_a_file_outside_the_repository():
    tracked = subprocess.run(
        ["git", "ls-files"], cwd=ROOT, capture_output=True, text=True, check=True
    ).stdout.split()
    outside = ("../shared", "METHOD.md", "DESIGN.md", "CALIBRATION.md", "PAPER.md", "ENV.md")
    hits = []
    for rel in tracked:
        path = ROOT / rel
        if rel.startswith("tests/test_structure.py") or not path.is_file():
            continue
        if path.suffix not in (".py", ".md", ".yaml", ".sh", ".toml", ".txt"):
            continue
        text = path.read_text(errors="replace")
        hits += [f"{rel}: {word}" for word in outside if word in text]
    assert hits == []
