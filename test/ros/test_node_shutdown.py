"""`dream-engine node` ends cleanly on SIGINT, SIGINT twice (ros2 launch forwards Ctrl-C,
ros2/launch#830) and SIGTERM: idle, during a Rollout and during a RolloutBatch."""

from __future__ import annotations

import math
import signal
import time

import numpy as np
import pytest
from node_process import DREAM_ENGINE, UNCLEAN_MARKERS, NodeProcess
from ros_helpers import EngineClient, GoalRun, make_goal, pusht_actions, sample_frame

from dream_engine_msgs.action import Rollout, RolloutBatch
from dream_engine_ros.ros.frame_stamps import ns_to_time
from dream_engine_ros.ros.image_conversion import rgb_to_image_msg
from dream_engine_ros.ros.spinning import wait_for_future, wait_until

SIGNALS = {
    "sigint": [signal.SIGINT],
    "sigint-twice": [signal.SIGINT, signal.SIGINT],
    "sigterm": [signal.SIGTERM],
}
EXIT_WITHIN_S = 15.0  # model work stops within ~1 s; the rest is rclpy/DDS teardown


def start_image():
    return rgb_to_image_msg(sample_frame(), ns_to_time(1_000_000_000), "cam")


def rollout_goal() -> Rollout.Goal:
    """4 chunks, streamed: the worker publishes frames when the signal comes."""
    return make_goal(pusht_actions(48), start_frame=start_image(), num_steps=4, publish_frames=True)


def batch_goal() -> RolloutBatch.Goal:
    candidates = np.stack([pusht_actions(24, seed=k) for k in range(6)])
    goal = RolloutBatch.Goal()
    goal.start_frame = start_image()
    goal.actions = candidates.reshape(-1).tolist()
    goal.num_candidates, goal.horizon, goal.action_dim = 6, 24, 2
    goal.num_steps = 4
    goal.guidance = math.nan
    goal.write_video = True
    return goal


def start_work(client: EngineClient, work: str) -> GoalRun | None:
    if work == "idle":
        return None
    run = client.send(rollout_goal() if work == "rollout" else batch_goal(), batch=work == "batch")
    assert run.accepted
    wait_until(lambda: len(run.feedback) >= 1, 120.0, "first chunk feedback")
    return run


@pytest.mark.parametrize("signals", list(SIGNALS), ids=list(SIGNALS))
@pytest.mark.parametrize("work", ["idle", "rollout", "batch"])
def test_node_exits_cleanly_on_signals(ros_context, tmp_path, work: str, signals: str) -> None:
    assert DREAM_ENGINE.exists(), f"{DREAM_ENGINE} is missing: run scripts/bootstrap.sh"
    node = NodeProcess.start(tmp_path, f"shutdown_{work}")
    client = EngineClient(ros_context, node.namespace)
    try:
        client.wait_ready(timeout_s=120.0)
        run = start_work(client, work)
        result_future = run.handle.get_result_async() if run is not None else None  # asked before the signal
        signalled = time.monotonic()
        node.send(SIGNALS[signals])
        code, output = node.finish(EXIT_WITHIN_S)
        exit_s = time.monotonic() - signalled
        if result_future is not None:  # the running goal got its result before the node went away
            result = wait_for_future(result_future, 5.0, "result").result
            assert result.error_code == Rollout.Result.NOT_ACTIVE, result.error_msg
            assert "shutting down" in result.error_msg
    finally:
        client.close()
        node.kill()
    print(f"{work} {signals}: exit {code} after {exit_s:.2f} s")
    assert code == 0, output
    assert [marker for marker in UNCLEAN_MARKERS if marker in output] == [], output
    assert "shutting down" in output
    assert list((tmp_path / "videos").glob("*.mp4")) == [] if (tmp_path / "videos").exists() else True
