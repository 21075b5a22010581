"""The `dream_engine_ros.cli` package: only it imports its subcommand modules, nothing imports back from
it, the exit codes live once, every subcommand is registered and `--help` stays light."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

from dream_engine_ros.cli import build_parser, exit_codes

REPO = Path(__file__).resolve().parents[2]
PACKAGE = REPO / "dream_engine_ros"
CLI = PACKAGE / "cli"
SUBCOMMANDS = {"predict", "specs", "eval", "gate", "evaluate-policy", "serve", "augment", "node", "demo", "demo-mpc",
               "pusht-sim", "mpc-planner", "pusht-mpc-planner", "train"}


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(REPO).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _imported_modules(path: Path) -> set[str]:
    """Every module a source file imports (top level or inside a function), relative imports resolved."""
    package = _module_name(path).split(".")
    if path.name != "__init__.py":
        package = package[:-1]
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom):
            base = package[:len(package) - node.level + 1] if node.level else []
            module = ".".join([*base, *([node.module] if node.module else [])])
            names.add(module)
            names.update(f"{module}.{alias.name}" for alias in node.names)
        elif isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
    return names


def test_nothing_outside_cli_imports_cli() -> None:
    offenders = {
        _module_name(path): sorted(m for m in _imported_modules(path)
                                   if m == "dream_engine_ros.cli" or m.startswith("dream_engine_ros.cli."))
        for path in PACKAGE.rglob("*.py") if CLI not in path.parents
    }
    assert {name: found for name, found in offenders.items() if found} == {}


def test_subcommand_modules_import_the_library() -> None:
    """cli/ros.py runs the node through ros/node_main.py, which (with node_args) knows nothing of the CLI."""
    assert "dream_engine_ros.ros.node_main" in _imported_modules(CLI / "ros.py")
    for module in ("node_main.py", "node_args.py"):
        assert not {m for m in _imported_modules(PACKAGE / "ros" / module) if "cli" in m.split(".")}


def test_exit_codes_are_defined_once() -> None:
    assert (exit_codes.EXIT_OK, exit_codes.EXIT_FAILURE, exit_codes.EXIT_BAD_INPUT, exit_codes.EXIT_WEIGHTS,
            exit_codes.EXIT_IO) == (0, 1, 2, 3, 4)
    defined = {}
    for path in PACKAGE.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            targets = node.targets if isinstance(node, ast.Assign) else []
            for target in targets:
                names = target.elts if isinstance(target, ast.Tuple) else [target]
                for name in names:
                    if isinstance(name, ast.Name) and name.id.startswith("EXIT_"):
                        defined.setdefault(name.id, []).append(_module_name(path))
            if isinstance(node, ast.ClassDef) and node.name == "CliError":
                defined.setdefault("CliError", []).append(_module_name(path))
    assert set(map(tuple, defined.values())) == {("dream_engine_ros.cli.exit_codes",)}


def test_every_subcommand_is_registered_with_help() -> None:
    parser = build_parser()
    sub = next(a for a in parser._actions if a.dest == "command")
    assert set(sub.choices) == SUBCOMMANDS
    helps = {action.dest: action.help for action in sub._choices_actions}
    assert set(helps) == SUBCOMMANDS and all(helps.values())
    for command in sorted(SUBCOMMANDS):
        with pytest.raises(SystemExit) as stop:
            parser.parse_args([command, "--help"])
        assert stop.value.code == 0


def test_help_imports_no_heavy_module() -> None:
    heavy = ("torch", "rclpy", "uvicorn", "starlette", "matplotlib", "av", "ray", "rosbags", "gym_pusht", "PIL")
    code = ("import sys; from dream_engine_ros.cli import main\n"
            "try:\n    main(['--help'])\nexcept SystemExit:\n    pass\n"
            f"print(sorted(m for m in {heavy!r} if m in sys.modules), file=sys.stderr)")
    proc = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert "usage: dream-engine" in proc.stdout
    assert proc.stderr.strip().splitlines()[-1] == "[]"
