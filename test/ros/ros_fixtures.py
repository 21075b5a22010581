"""Fixtures for the ROS tests (a pytest plug-in of the root conftest): real rclpy + FastDDS, isolated per run.

The environment is set before rclpy is imported anywhere: localhost-only discovery, a
random domain id per run (parallel runs on one machine do not see each other) and a
temporary log directory.
"""

from __future__ import annotations

import os
import random
import sys
import tempfile
from pathlib import Path

os.environ["ROS_AUTOMATIC_DISCOVERY_RANGE"] = "LOCALHOST"
os.environ["ROS_DOMAIN_ID"] = str(random.SystemRandom().randint(1, 100))
os.environ["ROS_LOG_DIR"] = tempfile.mkdtemp(prefix="dream_engine_ros_test_log_")
os.environ.setdefault("RMW_IMPLEMENTATION", "rmw_fastrtps_cpp")
os.environ.setdefault("SDL_VIDEODRIVER", "dummy")

sys.path.insert(0, str(Path(__file__).resolve().parent))

import pytest  # noqa: E402


@pytest.fixture(scope="session")
def ros_context():
    """One rclpy context for the whole session (init/shutdown are slow-ish)."""
    import rclpy
    from rclpy.context import Context

    context = Context()
    rclpy.init(context=context)
    yield context
    rclpy.try_shutdown(context=context)


@pytest.fixture
def make_engine(ros_context, tmp_path_factory):
    """Factory: a configured + active engine node spun in its own thread, torn down after."""
    from ros_helpers import EngineUnderTest

    created: list[EngineUnderTest] = []

    def factory(**params) -> EngineUnderTest:
        output_dir = tmp_path_factory.mktemp("rollouts")
        engine = EngineUnderTest.start(ros_context, output_dir=output_dir, **params)
        created.append(engine)
        return engine

    yield factory
    for engine in reversed(created):
        engine.stop()


@pytest.fixture(scope="module")
def shared_engine(ros_context, tmp_path_factory):
    """A module-wide engine (busy_policy=reject) to save model loads across tests."""
    from ros_helpers import EngineUnderTest

    engine = EngineUnderTest.start(ros_context, output_dir=tmp_path_factory.mktemp("rollouts"))
    yield engine
    engine.stop()
