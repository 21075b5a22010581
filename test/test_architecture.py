"""The package's layout rules, checked on the source: generic code names no environment, no
module imports itself back through others, and no private name is reached across modules."""

from __future__ import annotations

import ast
import re
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "dream_engine_ros"


def _modules() -> dict[str, Path]:
    found = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
        name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        found[name] = path
    return found


def _is_type_checking(node: ast.If) -> bool:
    test = node.test
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING")


def _imports(path: Path, name: str, modules: dict[str, Path]) -> set[str]:
    """Package modules `name` imports at run time (module level or inside functions)."""
    tree = ast.parse(path.read_text())
    skipped = {id(n) for node in ast.walk(tree) if isinstance(node, ast.If) and _is_type_checking(node)
               for child in node.body for n in ast.walk(child)}
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    targets: set[str] = set()
    for node in ast.walk(tree):
        if id(node) in skipped:
            continue
        if isinstance(node, ast.Import):
            targets.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[:len(package.split(".")) - node.level + 1]
                base = ".".join(anchor + ([base] if base else []))
            for alias in node.names:
                full = f"{base}.{alias.name}"
                targets.add(full if full in modules else base)
    return {t for t in targets if t in modules and t != name}


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for nxt in graph[node]:
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on_stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in graph:
        if node not in index:
            visit(node)
    return found


def _graph() -> dict[str, set[str]]:
    modules = _modules()
    graph = {name: _imports(path, name, modules) for name, path in modules.items()}
    # a package's __init__ is imported with any of its modules: an edge a -> pkg.mod implies a -> pkg
    return graph


def test_the_engine_names_no_environment() -> None:
    offenders = [f"{path.relative_to(PACKAGE.parent)}:{number}: {line.strip()}"
                 for path in sorted((PACKAGE / "engine").rglob("*.py"))
                 for number, line in enumerate(path.read_text().splitlines(), 1)
                 if re.search(r"pusht|gr1|gym", line, re.IGNORECASE)]
    assert offenders == []


def test_generic_code_imports_no_environment_module() -> None:
    """Only the environments themselves (and the registry's list of built-in plug-ins) import envs/."""
    graph = _graph()
    generic = [name for name in graph if not name.startswith("dream_engine_ros.envs")
               and not name.startswith("dream_engine_ros.cli")]
    leaks = sorted(f"{name} -> {target}" for name in generic for target in graph[name]
                   if target.startswith("dream_engine_ros.envs"))
    assert leaks == []


def test_no_import_cycles() -> None:
    assert _cycles(_graph()) == []


def test_the_cycle_check_can_fail() -> None:
    assert _cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]


# Private methods of other packages that have no public equivalent.
THIRD_PARTY_PRIVATE = {
    "_exit": "os._exit: a node that got a second signal ends at once",
    "_get_coverage": "gym-pusht's PushTEnv: the task's coverage (no public method)",
    "_setup": "gym-pusht's PushTEnv: rebuild the space for a restored snapshot",
    "_render": "gym-pusht's PushTEnv: a frame without stepping",
}


def test_no_private_name_is_reached_across_modules() -> None:
    """`other._name` calls and `from x import _name` tie a module to another's internals."""
    offenders = []
    for path in sorted(PACKAGE.rglob("*.py")):
        tree = ast.parse(path.read_text())
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("dream_engine_ros"):
                offenders += [f"{path.name}: from {node.module} import {a.name}" for a in node.names
                              if a.name.startswith("_") and not a.name.startswith("__")]
            if (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
                    and node.func.attr.startswith("_") and not node.func.attr.startswith("__")
                    and node.func.attr not in THIRD_PARTY_PRIVATE
                    and not (isinstance(node.func.value, ast.Name) and node.func.value.id in ("self", "cls"))
                    and not (isinstance(node.func.value, ast.Call) and isinstance(node.func.value.func, ast.Name)
                             and node.func.value.func.id == "super")):
                offenders.append(f"{path.name}:{node.lineno}: .{node.func.attr}(...)")
    assert offenders == []
