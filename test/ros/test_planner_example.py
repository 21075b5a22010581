"""The planner example: its documentation names only options its parser has, and it ends
on SIGTERM even when the engine node is gone."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from dream_engine_ros.ros import planner_example
from dream_engine_ros.ros.spinning import wait_until

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


def planner_process(node_name: str, tmp_path: Path, *extra: str) -> subprocess.Popen[str]:
    env = dict(os.environ, SDL_VIDEODRIVER="dummy", PYTHONUNBUFFERED="1", ROS_LOG_DIR=str(tmp_path / "log"))
    command = [sys.executable, "-m", "dream_engine_ros.ros.planner_example", "--node", node_name, *extra]
    return subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def finish(process: subprocess.Popen[str], timeout_s: float) -> tuple[int, str]:
    try:
        out, err = process.communicate(timeout=timeout_s)
    except subprocess.TimeoutExpired:
        process.kill()
        out, err = process.communicate()
        return -9, out + err
    return process.returncode, out + err


def test_sigterm_ends_a_planner_waiting_for_a_node_that_is_not_there(tmp_path: Path) -> None:
    process = planner_process("/nobody_here/dream_engine", tmp_path, "--timeout", "300")
    time.sleep(3.0)  # well inside its wait for the action server
    assert process.poll() is None
    sent = time.monotonic()
    process.send_signal(signal.SIGTERM)
    code, output = finish(process, 10.0)
    print(f"planner exited {code} {time.monotonic() - sent:.2f} s after SIGTERM")
    assert code == 128 + signal.SIGTERM, output
    assert "SIGTERM" in output and "Traceback" not in output


def test_sigterm_ends_a_planner_whose_node_went_away_mid_goal(make_engine, tmp_path: Path) -> None:
    """The goal is running when the node is destroyed; the planner waits for a result that
    never comes, and SIGTERM must still end it."""
    engine = make_engine()
    process = planner_process(
        f"{engine.namespace}/dream_engine", tmp_path, "--render-start-frame", "--horizon", "240"
    )
    wait_until(lambda: engine.node.goal_running, 120.0, "the planner's goal running")
    engine.stop()  # executor stopped first, then the node: the goal's result is never sent
    time.sleep(1.0)
    sent = time.monotonic()
    process.send_signal(signal.SIGTERM)
    code, output = finish(process, 10.0)
    print(f"planner exited {code} {time.monotonic() - sent:.2f} s after SIGTERM")
    assert code == 128 + signal.SIGTERM, output
    assert "Traceback" not in output
