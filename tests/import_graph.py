"""The imports between the project's own modules, read from the source: the graph behind the layer tests.

Every import counts, wherever it stands: at the top, inside a function (a lazy import defers a loop, it
does not remove it), ``importlib.import_module("...")`` and ``__import__("...")`` with a constant name, or
with a loop variable over a module-level tuple of constant names (``for name in COMMAND_MODULES``).

Package ``__init__`` files: a module node ``pkg`` stands for ``pkg/__init__.py``. An edge goes to it only
when code imports the package itself (``import pkg``, ``from pkg import name`` where ``name`` is not a
submodule); ``import pkg.sub`` and ``from pkg import sub`` are edges to ``pkg.sub`` alone. Python does run
``pkg/__init__.py`` first, but a package's ``__init__`` is its facade (``dashboard`` re-exports
``create_app``, ``dashboard.api`` gathers its views on one blueprint): it imports its own submodules, and
counting the implicit parent import would call every facade a loop. A real loop through a facade (a
submodule importing its own package's ``__init__`` by name) is still an edge, and still found.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

PROJECT_PACKAGES = ("attendance", "camera_agent", "dashboard", "models")
PROJECT_SCRIPTS = ("enroll_faces.py",)
DYNAMIC_IMPORTERS = {"import_module", "__import__"}


def project_modules(root: Path) -> dict[str, Path]:
    """Every module of the project by dotted name (``dashboard.web.pages``; a package by its own name)."""
    found = {}
    for package in PROJECT_PACKAGES:
        for path in sorted((root / package).rglob("*.py")):
            parts = list(path.relative_to(root).with_suffix("").parts)
            if parts[-1] == "__init__":
                parts.pop()
            found[".".join(parts)] = path
    for script in PROJECT_SCRIPTS:
        found[Path(script).stem] = root / script
    return found


def imported_names(path: Path, module: str) -> Iterator[str]:
    """Every dotted name ``path`` imports (relative imports resolved), in any form listed in the docstring."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    is_package = path.name == "__init__.py"
    constants = _module_level_name_tuples(tree)
    loop_values = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.For) and isinstance(node.target, ast.Name) and isinstance(node.iter, ast.Name):
            loop_values[node.target.id] = constants.get(node.iter.id, ())
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = _resolve(module, is_package, node.level, node.module)
            # ``from pkg import name`` lands on ``pkg.name`` when that is a module, else on ``pkg`` itself
            yield from (base if alias.name == "*" else f"{base}.{alias.name}" for alias in node.names)
        elif isinstance(node, ast.Call) and _callee_name(node.func) in DYNAMIC_IMPORTERS and node.args:
            argument = node.args[0]
            if isinstance(argument, ast.Constant) and isinstance(argument.value, str):
                yield argument.value
            elif isinstance(argument, ast.Name):
                yield from loop_values.get(argument.id, ())


def build_graph(root: Path) -> dict[str, set[str]]:
    """Module -> the project modules it imports (itself excluded)."""
    modules = project_modules(root)
    graph = {}
    for module, path in modules.items():
        targets = set()
        for name in imported_names(path, module):
            target = _project_target(name, modules)
            if target and target != module:
                targets.add(target)
        graph[module] = targets
    return graph


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One import loop as ``[a, b, ..., a]``, or None when the graph is acyclic."""
    state: dict[str, int] = {}  # 1: on the current path, 2: done
    path: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        path.append(node)
        for target in sorted(graph.get(node, ())):
            if state.get(target) == 1:
                return path[path.index(target):] + [target]
            if target not in state:
                cycle = visit(target)
                if cycle:
                    return cycle
        path.pop()
        state[node] = 2
        return None

    for start in sorted(graph):
        if start not in state:
            cycle = visit(start)
            if cycle:
                return cycle
    return None


def _project_target(name: str, modules: dict[str, Path]) -> str | None:
    """The project module a dotted import name lands on: itself if it is a module, else the nearest
    module above it (``from pkg.mod import function`` lands on ``pkg.mod``); None outside the project.
    ``pkg.sub`` never lands on ``pkg``'s ``__init__`` unless ``pkg.sub`` is not a module."""
    if name.split(".")[0] not in PROJECT_PACKAGES + tuple(Path(s).stem for s in PROJECT_SCRIPTS):
        return None
    parts = name.split(".")
    while parts:
        candidate = ".".join(parts)
        if candidate in modules:
            return candidate
        parts.pop()
    return None


def _resolve(module: str, is_package: bool, level: int, name: str | None) -> str:
    if level == 0:
        return name or ""
    base = module.split(".")
    if not is_package:
        base.pop()
    base = base[: len(base) - (level - 1)]
    return ".".join(base + ([name] if name else []))


def _callee_name(func: ast.expr) -> str:
    if isinstance(func, ast.Name):
        return func.id
    if isinstance(func, ast.Attribute):
        return func.attr
    return ""


def _module_level_name_tuples(tree: ast.Module) -> dict[str, tuple[str, ...]]:
    """Module-level ``NAME = ("a.b", "c.d")`` (tuple or list of string constants)."""
    found = {}
    for node in tree.body:
        if isinstance(node, ast.Assign) and len(node.targets) == 1 and isinstance(node.targets[0], ast.Name):
            value = node.value
            if not isinstance(value, (ast.Tuple, ast.List)):
                continue
            names = [e.value for e in value.elts if isinstance(e, ast.Constant) and isinstance(e.value, str)]
            if names and len(names) == len(value.elts):
                found[node.targets[0].id] = tuple(names)
    return found
