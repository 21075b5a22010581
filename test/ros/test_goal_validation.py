"""Pure tests of goal -> engine input checks, error codes, busy-policy bookkeeping,
frame stamps and video naming."""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest

from dream_engine_msgs.action import Rollout, RolloutBatch
from dream_engine_ros.engine.errors import InputError
from dream_engine_ros.ros.busy_policy import Decision, RolloutSlots, Ticket
from dream_engine_ros.ros.error_codes import ErrorCode, GoalFailure
from dream_engine_ros.ros.frame_stamps import ns_to_time, predicted_frame_stamp, time_to_ns
from dream_engine_ros.ros.goal_validation import (
    WorkLimits,
    actions_array,
    check_work_limits,
    failure_from_input_error,
    sampling_overrides,
    work_limits_as_set,
)
from dream_engine_ros.ros.video_output import rollout_video_path, write_rollout_video


@dataclass
class Spec:
    name: str = "toy"
    chunk_size: int = 4
    action_dim: int = 2
    num_steps: int = 8
    guidance: float = 0.0


SPEC = Spec()


@pytest.mark.parametrize("action", [Rollout, RolloutBatch])
def test_error_codes_mirror_the_action_constants(action):
    for code in ErrorCode:
        assert getattr(action.Result, code.name) == code.value


def test_actions_reshaped_row_major():
    flat = np.arange(16, dtype=np.float32)
    actions = actions_array(flat.tolist(), 8, 2)
    assert actions.shape == (8, 2) and actions.dtype == np.float32
    np.testing.assert_array_equal(actions[1], [2, 3])
    batch = actions_array(np.arange(48, dtype=np.float32), 8, 2, num_candidates=3)
    assert batch.shape == (3, 8, 2) and batch[1, 0, 0] == 16


def test_only_the_flat_size_is_checked_here():
    with pytest.raises(GoalFailure) as caught:
        actions_array(np.zeros(7), 4, 2)
    assert caught.value.code is ErrorCode.INVALID_GOAL
    assert caught.value.message == "actions: actions has 7 values, expected horizon*action_dim = 4 x 2 = 8"
    # the values are the engine validator's business (one place per rule): NaN passes the reshape
    assert np.isnan(actions_array([np.nan] * 8, 4, 2)[0, 0])


@pytest.mark.parametrize(
    ("horizon", "action_dim", "needle"),
    [(13, 2, "horizon 13 is not a multiple of chunk_size 12"), (0, 2, "horizon must be at least one chunk of 12"),
     (12, 3, "action_dim 3 does not match the spec's action_dim 2")],
)
def test_request_rules_come_from_the_engine_validator(horizon, action_dim, needle):
    """What the node answers for a bad request is the engine's InputError, mapped to INVALID_GOAL."""
    from dream_engine_ros.engine.spec import get_spec
    from dream_engine_ros.engine.validation import RequestValidator

    actions = actions_array(np.zeros(horizon * action_dim), horizon, action_dim)
    with pytest.raises(InputError) as caught:
        RequestValidator(get_spec("pusht-tiny")).actions(actions)
    failure = failure_from_input_error(caught.value)
    assert failure.code is ErrorCode.INVALID_GOAL and needle in failure.message


def test_candidate_count_rules():
    with pytest.raises(GoalFailure, match="num_candidates 0 must be >= 1"):
        actions_array(np.zeros(8), 4, 2, num_candidates=0)
    with pytest.raises(GoalFailure, match="num_candidates\\*horizon\\*action_dim = 2 x 4 x 2 = 16"):
        actions_array(np.zeros(8), 4, 2, num_candidates=2)


LIMITS = WorkLimits(max_candidates=8, max_horizon=16, max_num_steps=10)


@pytest.mark.parametrize(
    ("horizon", "num_steps", "num_candidates", "message"),
    [
        (4, 0, 9, "num_candidates: num_candidates 9 exceeds the node's limit max_candidates=8"),
        (20, 0, 1, "horizon: horizon 20 exceeds the node's limit max_horizon=16"),
        (4, 11, 1, "num_steps: num_steps 11 exceeds the node's limit max_num_steps=10"),
    ],
)
def test_work_beyond_a_limit_is_refused_naming_the_parameter(horizon, num_steps, num_candidates, message):
    with pytest.raises(GoalFailure) as caught:
        check_work_limits(LIMITS, SPEC, horizon, num_steps, num_candidates)
    assert caught.value.code is ErrorCode.INVALID_GOAL and caught.value.message == message


def test_work_at_the_limits_passes_and_spec_default_steps_are_bounded():
    check_work_limits(LIMITS, SPEC, 16, 10, 8)  # every bound is inclusive
    check_work_limits(LIMITS, SPEC, 16, 0, 8)  # 0 = spec default (8 steps) <= 10
    with pytest.raises(GoalFailure, match=r"num_steps 8 \(spec toy default\) exceeds .* max_num_steps=5"):
        check_work_limits(WorkLimits(8, 16, 5), SPEC, 4, 0)


def test_limits_as_set_read_only_positive_integers():
    assert work_limits_as_set(8, 16, 10) == WorkLimits(8, 16, 10)
    # before configure checks them, a bad value (bool, float, string, <= 0) reads as 0
    assert work_limits_as_set(True, 16.0, "10") == WorkLimits(0, 0, 0)
    assert work_limits_as_set(0, -3, 1) == WorkLimits(0, 0, 1)


def test_sampling_overrides_encoding():
    assert sampling_overrides(0, math.nan).num_steps is None
    assert sampling_overrides(0, math.nan).guidance is None
    chosen = sampling_overrides(12, 0.0)
    assert chosen.num_steps == 12 and chosen.guidance == 0.0
    assert sampling_overrides(0, math.inf).guidance == math.inf  # refused by the engine validator, not here


def test_engine_input_error_maps_to_invalid_goal():
    failure = failure_from_input_error(InputError("num_steps", 0, "num_steps 0 must be >= 1"))
    assert failure.code is ErrorCode.INVALID_GOAL and failure.message == "num_steps: num_steps 0 must be >= 1"


# ---------------------------------------------------------------- busy policy
def test_reject_policy():
    slots = RolloutSlots("reject", 4)
    a, b = Ticket("a"), Ticket("b")
    assert slots.admit(a) == (Decision.RUN, [])
    assert slots.admit(b) == (Decision.REJECT, [])
    assert slots.release(a) is None and not slots.busy
    assert slots.admit(b)[0] is Decision.RUN


def test_queue_policy_is_fifo_and_bounded():
    slots = RolloutSlots("queue", 2)
    a, b, c, d = (Ticket(n) for n in "abcd")
    assert slots.admit(a)[0] is Decision.RUN
    assert slots.admit(b)[0] is Decision.WAIT and slots.admit(c)[0] is Decision.WAIT
    assert slots.admit(d)[0] is Decision.REJECT
    assert slots.release(a) is b and slots.running is b
    assert slots.release(c) is None  # c left the queue (canceled) before its turn
    assert slots.release(b) is None and not slots.busy


def test_preempt_policy_marks_running_and_queued_victims():
    slots = RolloutSlots("preempt", 4)
    a, b, c = Ticket("a"), Ticket("b"), Ticket("c")
    slots.admit(a)
    decision, victims = slots.admit(b)
    assert decision is Decision.WAIT and victims == [a] and a.preempted and not b.preempted
    decision, victims = slots.admit(c)
    assert victims == [a, b] and b.preempted and list(slots.queue) == [c]
    assert slots.release(a) is c and not c.preempted


def test_drain_and_bad_policy():
    slots = RolloutSlots("queue", 3)
    a, b = Ticket("a"), Ticket("b")
    slots.admit(a)
    slots.admit(b)
    assert slots.drain() == [a, b] and not slots.busy
    with pytest.raises(ValueError, match="busy_policy"):
        RolloutSlots("sometimes", 1)


# ---------------------------------------------------------------- stamps and videos
def test_predicted_frame_stamps():
    start = time_to_ns(ns_to_time(1_234_567_890_999_999_999))
    assert start == 1_234_567_890_999_999_999
    assert time_to_ns(predicted_frame_stamp(start, 0, 10.0)) == start
    assert time_to_ns(predicted_frame_stamp(start, 3, 10.0)) == start + 300_000_000
    assert time_to_ns(predicted_frame_stamp(start, 1, 3.0)) == start + 333_333_333


def test_video_paths_are_unique_per_goal_and_candidate(tmp_path):
    one = rollout_video_path(tmp_path, bytes(range(16)))
    other = rollout_video_path(tmp_path, bytes(range(1, 17)))
    assert one != other and one.suffix == ".mp4" and one.parent == tmp_path
    assert rollout_video_path(tmp_path, bytes(16), candidate=2).stem.endswith("_k2")


def test_failed_video_write_is_io_error_and_leaves_nothing(tmp_path):
    target = tmp_path / "v.mp4"
    with pytest.raises(GoalFailure) as caught:
        write_rollout_video(target, np.zeros((2, 8, 8), np.uint8), 10.0)  # not (N, H, W, 3)
    assert caught.value.code is ErrorCode.IO_ERROR and str(target) in caught.value.message
    assert list(tmp_path.iterdir()) == []
    blocker = tmp_path / "file"
    blocker.write_text("x")
    with pytest.raises(GoalFailure, match="could not write"):
        write_rollout_video(blocker / "sub" / "v.mp4", np.zeros((2, 8, 8, 3), np.uint8), 10.0)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["file"]


def test_video_written_atomically(tmp_path):
    path = write_rollout_video(tmp_path / "ok.mp4", np.zeros((3, 16, 16, 3), np.uint8), 10.0)
    assert path.is_file() and [p.name for p in tmp_path.iterdir()] == ["ok.mp4"]
    assert Path(path).stat().st_size > 0
