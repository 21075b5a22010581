"""Cancel between denoising steps and the three busy policies, over real DDS."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time

from action_msgs.msg import GoalStatusArray
from rclpy.qos import DurabilityPolicy, QoSProfile, ReliabilityPolicy
from ros_helpers import STATUS, EngineClient, make_goal, pusht_actions, sample_frame, wait_until_running

from dream_engine_msgs.action import Rollout
from dream_engine_ros.ros.frame_stamps import ns_to_time
from dream_engine_ros.ros.image_conversion import rgb_to_image_msg
from dream_engine_ros.ros.spinning import wait_until

R = Rollout.Result
SLOW_STEPS = 40  # denoising steps per chunk for goals that must still be running when we act
MAX_STEPS = 200  # one chunk with this many steps: a long denoising loop to cancel inside


def start_image():
    return rgb_to_image_msg(sample_frame(), ns_to_time(1_000_000_000), "cam")


def long_goal(engine, chunks: int = 3, seed: int = 0):
    actions = pusht_actions(chunks * engine.spec.chunk_size, seed=seed)
    return make_goal(actions, start_frame=start_image(), num_steps=SLOW_STEPS, seed=seed)


def one_long_chunk(engine, seed: int = 0):
    """A single chunk with a very long denoising loop: stopping it early proves the cancel
    check runs between denoising steps (there is no chunk boundary to stop at)."""
    actions = pusht_actions(engine.spec.chunk_size, seed=seed)
    return make_goal(actions, start_frame=start_image(), num_steps=MAX_STEPS, seed=seed)


def busy_goal(engine, seed: int = 0):
    """One chunk of SLOW_STEPS denoising steps: long enough to send goals while it runs."""
    return make_goal(
        pusht_actions(engine.spec.chunk_size, seed=seed), start_frame=start_image(), num_steps=SLOW_STEPS,
        seed=seed,
    )


def short_goal(engine, seed: int = 0):
    return make_goal(pusht_actions(engine.spec.chunk_size, seed=seed), start_frame=start_image(), seed=seed)


def test_cancel_inside_denoising_loop_leaves_no_mp4_and_next_goal_succeeds(make_engine):
    engine = make_engine(max_num_steps=MAX_STEPS)  # above the node's default limit on purpose
    client = engine.client
    run = client.send(one_long_chunk(engine))
    assert run.accepted
    wait_until_running(engine)
    time.sleep(0.5)  # inside the chunk's 200-step denoising loop
    cancel_sent = time.monotonic()
    response = run.cancel()
    assert len(response.goals_canceling) == 1
    result = run.wait()
    stopped_after = time.monotonic() - cancel_sent
    assert run.status == STATUS.STATUS_CANCELED
    assert result.error_code == R.CANCELED and "canceled by the client" in result.error_msg
    assert result.mp4_path == "" and result.num_frames == 0
    assert run.feedback == [], "the only chunk finished: cancel was not honoured between denoising steps"
    assert stopped_after < 5.0, stopped_after
    assert engine.mp4_files() == [] and engine.stray_files() == []

    after = client.run(short_goal(engine, seed=1))
    assert after.wait().error_code == R.OK
    assert after.status == STATUS.STATUS_SUCCEEDED
    assert len(engine.mp4_files()) == 1


def test_cancel_between_chunks_of_a_multi_chunk_rollout(make_engine):
    engine = make_engine()
    client = engine.client
    run = client.send(long_goal(engine, chunks=3))
    wait_until(lambda: len(run.feedback) >= 1, 120.0, "first chunk feedback")
    run.cancel()
    result = run.wait()
    assert run.status == STATUS.STATUS_CANCELED and result.error_code == R.CANCELED
    assert 1 <= len(run.feedback) < 3
    assert engine.mp4_files() == [] and engine.stray_files() == []


def test_busy_policy_reject(make_engine):
    engine = make_engine(busy_policy="reject")
    client = engine.client
    first = client.send(busy_goal(engine))
    wait_until_running(engine)
    second = client.run(short_goal(engine))
    result = second.wait()
    assert second.status == STATUS.STATUS_ABORTED
    assert result.error_code == R.BUSY and "busy_policy=reject" in result.error_msg
    assert first.wait().error_code == R.OK
    assert first.status == STATUS.STATUS_SUCCEEDED
    assert first.feedback, "the first goal finished without feedback"
    # idle again: accepted and served
    assert client.run(short_goal(engine)).wait().error_code == R.OK


def test_busy_policy_queue_runs_goals_in_order(make_engine):
    engine = make_engine(busy_policy="queue", max_queue=2)
    client = engine.client
    first = client.send(busy_goal(engine, seed=1))
    wait_until_running(engine)
    second = client.send(short_goal(engine, seed=2))
    third = client.send(short_goal(engine, seed=3))
    fourth = client.run(short_goal(engine, seed=4))  # the queue (2) is full
    assert fourth.wait().error_code == R.BUSY and "queue is full" in fourth.wait().error_msg

    results = [run.wait() for run in (first, second, third)]
    assert [r.error_code for r in results] == [R.OK, R.OK, R.OK], [r.error_msg for r in results]
    assert [r.seed for r in results] == [1, 2, 3]
    assert results[1].wait_s > 0.05 and results[2].wait_s > results[1].wait_s
    # FIFO: each queued goal's first feedback came after the previous goal's last one
    assert second.feedback_times[0] > first.feedback_times[-1]
    assert third.feedback_times[0] > second.feedback_times[-1]


class StatusLog:
    """Every GoalStatusArray the action server publishes, as {goal id: status} snapshots."""

    def __init__(self, engine) -> None:
        self._lock = threading.Lock()
        self._snapshots: list[dict[bytes, int]] = []
        qos = QoSProfile(depth=100, reliability=ReliabilityPolicy.RELIABLE,
                         durability=DurabilityPolicy.TRANSIENT_LOCAL)
        topic = f"{engine.namespace}/dream_engine/rollout/_action/status"
        engine.client.node.create_subscription(GoalStatusArray, topic, self._on_status, qos)

    def _on_status(self, msg: GoalStatusArray) -> None:
        with self._lock:
            self._snapshots.append({bytes(s.goal_info.goal_id.uuid): int(s.status) for s in msg.status_list})

    def snapshots(self) -> list[dict[bytes, int]]:
        with self._lock:
            return list(self._snapshots)

    def latest(self, run) -> int | None:
        goal_id = bytes(run.handle.goal_id.uuid)
        seen = [snapshot[goal_id] for snapshot in self.snapshots() if goal_id in snapshot]
        return seen[-1] if seen else None

    def history(self, run) -> list[int]:
        """The goal's distinct statuses in the order they were published."""
        goal_id = bytes(run.handle.goal_id.uuid)
        history: list[int] = []
        for snapshot in self.snapshots():
            if goal_id in snapshot and (not history or history[-1] != snapshot[goal_id]):
                history.append(snapshot[goal_id])
        return history


def test_queued_goal_stays_accepted_until_the_running_goal_ends(make_engine):
    """busy_policy=queue is decided in the accepted callback: a waiting goal is ACCEPTED, not
    EXECUTING, until the running goal has its terminal state, and then runs; a queued goal
    canceled while waiting ends CANCELED without ever showing EXECUTING."""
    engine = make_engine(busy_policy="queue", max_queue=2)
    log = StatusLog(engine)
    client = engine.client
    first = client.send(long_goal(engine, chunks=3, seed=1))
    wait_until_running(engine)
    queued = client.send(short_goal(engine, seed=2))
    doomed = client.send(short_goal(engine, seed=3))
    wait_until(lambda: len(first.feedback) >= 1, 120.0, "first goal's first chunk")
    wait_until(lambda: None not in (log.latest(queued), log.latest(doomed)), 10.0, "the queued goals' statuses")
    assert log.latest(first) == STATUS.STATUS_EXECUTING
    assert log.latest(queued) == STATUS.STATUS_ACCEPTED
    assert log.latest(doomed) == STATUS.STATUS_ACCEPTED
    doomed.cancel()
    assert doomed.wait().error_code == R.CANCELED and doomed.status == STATUS.STATUS_CANCELED

    assert first.wait().error_code == R.OK
    queued_result = queued.wait()
    assert queued_result.error_code == R.OK, queued_result.error_msg
    assert queued_result.wait_s > 0.05
    assert queued.feedback_times[0] > first.feedback_times[-1]

    wait_until(lambda: log.latest(queued) == STATUS.STATUS_SUCCEEDED, 10.0, "queued goal's final status")
    assert log.history(queued)[0] == STATUS.STATUS_ACCEPTED
    doomed_history = log.history(doomed)
    assert doomed_history[0] == STATUS.STATUS_ACCEPTED and doomed_history[-1] == STATUS.STATUS_CANCELED
    assert STATUS.STATUS_EXECUTING not in doomed_history, doomed_history
    first_id, queued_id = bytes(first.handle.goal_id.uuid), bytes(queued.handle.goal_id.uuid)
    overlapping = [
        snapshot for snapshot in log.snapshots()
        if snapshot.get(queued_id) == STATUS.STATUS_EXECUTING
        and snapshot.get(first_id) in (STATUS.STATUS_ACCEPTED, STATUS.STATUS_EXECUTING)
    ]
    assert overlapping == [], "the queued goal showed EXECUTING while the first goal was still running"


def test_busy_policy_queue_cancel_while_queued(make_engine):
    engine = make_engine(busy_policy="queue")
    client = engine.client
    first = client.send(busy_goal(engine))
    wait_until_running(engine)
    queued = client.send(short_goal(engine, seed=9))
    queued.cancel()
    result = queued.wait()
    assert queued.status == STATUS.STATUS_CANCELED
    assert result.error_code == R.CANCELED and "queued" in result.error_msg
    assert queued.feedback == []
    assert first.wait().error_code == R.OK


def test_busy_policy_preempt_aborts_running_goal(make_engine):
    engine = make_engine(busy_policy="preempt", max_num_steps=MAX_STEPS)
    client = engine.client
    first = client.send(one_long_chunk(engine))
    wait_until_running(engine)
    second = client.send(short_goal(engine, seed=5))
    first_result = first.wait()
    assert first.status == STATUS.STATUS_ABORTED  # abort: canceled() is only legal from CANCELING
    assert first_result.error_code == R.PREEMPTED and "preempted" in first_result.error_msg
    assert first_result.mp4_path == ""
    second_result = second.wait()
    assert second_result.error_code == R.OK, second_result.error_msg
    assert second.status == STATUS.STATUS_SUCCEEDED
    assert [p.name for p in engine.mp4_files()] == [second_result.mp4_path.rsplit("/", 1)[-1]]


LEAVING_CLIENT = """
import math, sys, numpy as np, rclpy
from rclpy.action import ActionClient
from dream_engine_msgs.action import RolloutBatch
from dream_engine_ros.ros.frame_stamps import ns_to_time
from dream_engine_ros.ros.image_conversion import rgb_to_image_msg
from dream_engine_ros.ros.spinning import wait_for_future
rclpy.init()
node = rclpy.create_node("leaving_planner")
client = ActionClient(node, RolloutBatch, sys.argv[1] + "/dream_engine/rollout_batch")
assert client.wait_for_server(timeout_sec=20.0)
goal = RolloutBatch.Goal(num_candidates=16, horizon=48, action_dim=2, seed=1, num_steps=100, guidance=math.nan,
                         write_video=True)
goal.start_frame = rgb_to_image_msg(np.full((96, 96, 3), 200, np.uint8), ns_to_time(0), "cam")
goal.actions = np.full(16 * 48 * 2, 256.0, np.float32).tolist()
future = client.send_goal_async(goal)
rclpy.spin_until_future_complete(node, future, timeout_sec=20.0)
assert future.result().accepted
print("accepted", flush=True)
node.destroy_node()
rclpy.shutdown()  # the planner exits without canceling its goal (minutes of work on this CPU)
"""


def test_goal_of_a_client_that_went_away_stops_and_frees_the_node(make_engine, tmp_path):
    """A planner process that exits without canceling: nobody will read the result, so the goal
    must not hold the node busy until its rollout ends."""
    engine = make_engine(max_num_steps=MAX_STEPS)
    engine.client.close()
    engine.client.rollout.destroy()  # the fixture's own action clients would keep the feedback
    engine.client.batch.destroy()  # topics subscribed: nobody but the leaving planner may listen
    env = dict(os.environ, ROS_LOG_DIR=str(tmp_path / "log"))
    done = subprocess.run([sys.executable, "-c", LEAVING_CLIENT, engine.namespace], env=env, capture_output=True,
                          text=True, timeout=60.0)
    assert done.returncode == 0 and "accepted" in done.stdout, done.stdout + done.stderr
    exited = time.monotonic()
    wait_until(lambda: not engine.node.goal_running, 15.0, "the orphaned goal to stop")
    assert time.monotonic() - exited < 10.0
    assert engine.node.goals_orphaned == 1  # it ran and was stopped for this reason, not another
    assert engine.mp4_files() == []  # stopped, not finished: a finished goal leaves its mp4s
    engine.client = EngineClient(engine.node.context, engine.namespace)  # a new client finds the node free
    engine.client.wait_ready()
    result = engine.client.run(short_goal(engine)).wait()
    assert result.error_code == R.OK, result.error_msg
