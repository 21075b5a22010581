"""Static checks of the ROS packaging that has no runtime test on this machine
(package.xml files, the launch file's arguments, entry points, rviz topics)."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import yaml
from catkin_pkg.package import parse_package

REPO = Path(__file__).resolve().parents[2]


def test_package_manifests_are_valid_format_3():
    main = parse_package(str(REPO / "package.xml"))
    assert (main.name, main.package_format) == ("dream_engine_ros", 3)
    assert main.get_build_type() == "ament_python"
    assert "dream_engine_msgs" in {dep.name for dep in main.exec_depends}
    msgs = parse_package(str(REPO / "msg" / "package.xml"))
    assert (msgs.name, msgs.package_format, msgs.get_build_type()) == ("dream_engine_msgs", 3, "ament_cmake")
    assert "rosidl_interface_packages" in {group.name for group in msgs.member_of_groups}


def test_interfaces_listed_in_cmake_exist():
    cmake = (REPO / "msg" / "CMakeLists.txt").read_text()
    listed = re.findall(r'"((?:msg|srv|action)/\w+\.(?:msg|srv|action))"', cmake)
    assert sorted(listed) == sorted(
        ["msg/ModelSpec.msg", "msg/PushTState.msg", "srv/DescribeModel.srv", "srv/ResetPushT.srv",
         "srv/SetPushTGoal.srv", "action/Rollout.action", "action/RolloutBatch.action", "action/ReachGoal.action"]
    )
    for relative in listed:
        assert (REPO / "msg" / relative).is_file()


def test_launch_file_declares_the_documented_arguments_and_runs_the_entry_point():
    source = (REPO / "launch" / "engine.launch.py").read_text()
    tree = ast.parse(source)
    declared = {
        node.args[0].value
        for node in ast.walk(tree)
        if isinstance(node, ast.Call) and getattr(node.func, "id", "") == "DeclareLaunchArgument"
    }
    assert declared == {"params_file", "spec", "weights", "device", "camera_topic", "namespace"}
    assert 'executable="dream_engine_node"' in source
    setup = (REPO / "setup.py").read_text()
    assert "dream_engine_node = dream_engine_ros.ros.node_main:main" in setup
    assert "dream-engine = dream_engine_ros.cli:main" in setup
    # the generic planner is `mpc_planner`; the PushT one `pusht_mpc_planner`
    assert "mpc_planner = dream_engine_ros.ros.mpc_planner:main" in setup
    assert "pusht_mpc_planner = dream_engine_ros.envs.pusht.ros.mpc_planner_node:main" in setup


def test_rviz_config_shows_camera_and_predicted_stream():
    config = yaml.safe_load((REPO / "rviz" / "dream_engine.rviz").read_text())
    topics = {display["Topic"]["Value"] for display in config["Visualization Manager"]["Displays"]}
    assert topics == {"/image", "/dream_engine/predicted/image"}


def test_mpc_rviz_config_shows_the_robot_goal_and_dreamed_plan():
    """The README's MPC commands run the three nodes in /robot; the config shows their topics."""
    config = yaml.safe_load((REPO / "rviz" / "mpc.rviz").read_text())
    displays = {d["Topic"]["Value"]: d["Topic"] for d in config["Visualization Manager"]["Displays"]}
    assert set(displays) == {"/robot/image", "/robot/goal_image", "/robot/mpc_planner/dreamed_plan"}
    assert displays["/robot/goal_image"]["Durability Policy"] == "Transient Local"  # the goal is latched


def test_setup_builds_without_package_warnings_and_ships_the_weights(tmp_path):
    """setup.py once warned that dream_engine_ros.weights was missing from `packages`.

    The build runs on a copy of the tree so no build/ or egg-info lands in the checkout.
    """
    import shutil
    import subprocess
    import sys

    tree = tmp_path / "tree"
    tree.mkdir()
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc")
    for name in ("setup.py", "setup.cfg", "pyproject.toml", "package.xml"):
        shutil.copy2(REPO / name, tree / name)
    for name in ("resource", "config", "launch", "rviz", "dream_engine_ros"):
        shutil.copytree(REPO / name, tree / name, ignore=ignore)
    build = subprocess.run(
        [sys.executable, "setup.py", "build", "--build-base", str(tmp_path / "build")],
        cwd=tree, capture_output=True, text=True, timeout=120, check=False,
    )
    assert build.returncode == 0, build.stderr[-2000:]
    output = build.stdout + build.stderr
    assert "absent from the `packages` configuration" not in output, output[-2000:]
    shipped = sorted(path.name for path in (tmp_path / "build" / "lib" / "dream_engine_ros" / "weights").iterdir())
    in_repo = sorted(path.name for path in (REPO / "dream_engine_ros" / "weights").iterdir()
                     if path.suffix in (".safetensors", ".json"))
    assert shipped == in_repo and any(name.endswith(".safetensors") for name in shipped)
    assert (tmp_path / "build" / "lib" / "dream_engine_ros" / "py.typed").is_file()  # PEP 561 marker ships
