"""The planner example's documentation names only options its parser has."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from dream_engine_ros.ros import planner_example

REPO = Path(__file__).resolve().parents[2]


def planner_help(capsys: pytest.CaptureFixture[str]) -> str:
    with pytest.raises(SystemExit) as exited:
        planner_example.main(["--help"])  # argparse answers before rclpy starts
    assert exited.value.code == 0
    return capsys.readouterr().out


def test_docstring_options_exist(capsys: pytest.CaptureFixture[str]) -> None:
    """The docstring once named --start-from-camera, which the parser never had."""
    options = set(re.findall(r"--[a-z][a-z-]+", planner_example.__doc__ or ""))
    assert "--render-start-frame" in options
    help_text = planner_help(capsys)
    assert {option for option in options if option not in help_text} == set()


def test_readme_planner_command_works_without_a_camera(capsys: pytest.CaptureFixture[str]) -> None:
    """The README's planner command must render its own start frame (no camera in a quick try)."""
    readme = (REPO / "README.md").read_text()
    commands = [line for line in readme.splitlines() if "-m dream_engine_ros.ros.planner_example" in line]
    assert commands and all("--render-start-frame" in line for line in commands)
    help_text = planner_help(capsys)
    for line in commands:
        assert {option for option in re.findall(r"--[a-z][a-z-]+", line) if option not in help_text} == set()
