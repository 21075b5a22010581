"""~/describe and the lifecycle: configure loads, activate serves, deactivate refuses,
cleanup frees the model; transitions driven through the lifecycle services over DDS."""

from __future__ import annotations

import pytest
from lifecycle_msgs.msg import State, Transition
from lifecycle_msgs.srv import ChangeState, GetState
from ros_helpers import STATUS, make_goal, pusht_actions, sample_frame, wait_until_running

from dream_engine_msgs.action import Rollout
from dream_engine_ros.engine.family import family_of
from dream_engine_ros.engine.spec import get_spec
from dream_engine_ros.ros.frame_stamps import ns_to_time
from dream_engine_ros.ros.image_conversion import rgb_to_image_msg
from dream_engine_ros.ros.spinning import wait_for_future

R = Rollout.Result


def start_image():
    return rgb_to_image_msg(sample_frame(), ns_to_time(5), "cam")


class Lifecycle:
    def __init__(self, engine) -> None:
        node = engine.client.node
        base = f"{engine.namespace}/dream_engine"
        self.change = node.create_client(ChangeState, f"{base}/change_state")
        self.get = node.create_client(GetState, f"{base}/get_state")
        assert self.change.wait_for_service(timeout_sec=10) and self.get.wait_for_service(timeout_sec=10)

    def transition(self, transition_id: int) -> bool:
        request = ChangeState.Request()
        request.transition.id = transition_id
        return bool(wait_for_future(self.change.call_async(request), 60.0, "change_state").success)

    def state(self) -> int:
        return wait_for_future(self.get.call_async(GetState.Request()), 10.0, "get_state").current_state.id


def test_describe_returns_the_spec(shared_engine):
    response = shared_engine.client.describe()
    spec = get_spec("pusht-tiny")
    assert response.loaded is True
    assert response.lifecycle_state == "active"
    got = response.spec
    assert (got.name, got.family, got.height, got.width) == (spec.name, spec.family, spec.height, spec.width)
    assert (got.chunk_size, got.action_dim, got.num_steps) == (spec.chunk_size, spec.action_dim, spec.num_steps)
    assert got.fps == pytest.approx(spec.fps) and got.guidance == pytest.approx(spec.guidance)
    assert got.device == "cpu" and got.dtype == spec.dtype
    # what a generic planner reads instead of constants: the action box and whether goals carry history
    assert list(got.action_low) == pytest.approx(spec.action_low) and len(got.action_low) == spec.action_dim
    assert list(got.action_high) == pytest.approx(spec.action_high)
    assert got.reads_history is family_of(spec).reads_history
    # the node's work limits (parameter defaults)
    assert (response.max_candidates, response.max_horizon, response.max_num_steps) == (64, 480, 100)


@pytest.mark.filterwarnings("ignore:spec name 'pusht-causal' is deprecated:DeprecationWarning")
def test_a_former_spec_name_loads_the_renamed_spec(make_engine):
    """spec:=pusht-causal (the deprecated alias) describes and loads pusht-structured."""
    engine = make_engine(spec="pusht-causal", autostart=False)
    described = engine.client.describe()
    assert described.loaded is False and described.spec.name == "pusht-structured"
    life = Lifecycle(engine)
    assert life.transition(Transition.TRANSITION_CONFIGURE)
    assert engine.node.engine is not None and engine.node.engine.spec.name == "pusht-structured"
    assert engine.client.describe().spec.name == "pusht-structured"


def test_lifecycle_transitions(make_engine):
    engine = make_engine(autostart=False)
    client, life = engine.client, Lifecycle(engine)
    assert life.state() == State.PRIMARY_STATE_UNCONFIGURED
    described = client.describe()
    assert described.loaded is False and described.lifecycle_state == "unconfigured"
    assert described.spec.name == "pusht-tiny"  # from the catalog, before loading

    goal = make_goal(pusht_actions(12), start_frame=start_image(), write_video=False)
    assert client.send(goal).accepted is False  # rejected while unconfigured

    assert life.transition(Transition.TRANSITION_CONFIGURE)
    assert life.state() == State.PRIMARY_STATE_INACTIVE
    assert engine.node.engine is not None and client.describe().loaded is True
    assert client.send(goal).accepted is False  # rejected while inactive

    assert life.transition(Transition.TRANSITION_ACTIVATE)
    assert life.state() == State.PRIMARY_STATE_ACTIVE
    run = client.run(goal)
    assert run.wait().error_code == R.OK and run.status == STATUS.STATUS_SUCCEEDED

    assert life.transition(Transition.TRANSITION_DEACTIVATE)
    assert life.state() == State.PRIMARY_STATE_INACTIVE
    assert client.send(goal).accepted is False
    assert engine.node.engine is not None  # the model stays loaded while inactive

    assert life.transition(Transition.TRANSITION_CLEANUP)
    assert life.state() == State.PRIMARY_STATE_UNCONFIGURED
    assert engine.node.engine is None and client.describe().loaded is False

    # and back again: configure + activate serve goals as before
    assert life.transition(Transition.TRANSITION_CONFIGURE)
    assert life.transition(Transition.TRANSITION_ACTIVATE)
    assert client.run(goal).wait().error_code == R.OK


def test_deactivate_during_rollout_ends_goal_with_not_active(make_engine):
    engine = make_engine(max_num_steps=200)  # a long denoising loop, above the default limit
    client, life = engine.client, Lifecycle(engine)
    actions = pusht_actions(engine.spec.chunk_size)
    run = client.send(make_goal(actions, start_frame=start_image(), num_steps=200))
    wait_until_running(engine)
    assert life.transition(Transition.TRANSITION_DEACTIVATE)
    result = run.wait()
    assert run.status == STATUS.STATUS_ABORTED
    assert result.error_code == R.NOT_ACTIVE and "active" in result.error_msg
    assert engine.mp4_files() == []


def test_release_on_deactivate_frees_and_reloads(make_engine):
    engine = make_engine(release_on_deactivate=True)
    life = Lifecycle(engine)
    assert life.transition(Transition.TRANSITION_DEACTIVATE)
    assert engine.node.engine is None
    assert life.transition(Transition.TRANSITION_ACTIVATE)
    assert engine.node.engine is not None
    goal = make_goal(pusht_actions(12), start_frame=start_image(), write_video=False)
    assert engine.client.run(goal).wait().error_code == R.OK


def test_configure_fails_cleanly_on_bad_parameters(make_engine):
    engine = make_engine(autostart=False, busy_policy="sometimes")
    life = Lifecycle(engine)
    assert life.transition(Transition.TRANSITION_CONFIGURE) is False
    assert life.state() == State.PRIMARY_STATE_UNCONFIGURED
    assert engine.node.engine is None


def test_configure_fails_cleanly_on_unknown_spec(make_engine):
    engine = make_engine(autostart=False, spec="no-such-spec")
    life = Lifecycle(engine)
    assert life.transition(Transition.TRANSITION_CONFIGURE) is False
    assert life.state() == State.PRIMARY_STATE_UNCONFIGURED
    described = engine.client.describe()
    assert described.loaded is False and described.spec.name == ""  # unknown spec: nothing to describe
