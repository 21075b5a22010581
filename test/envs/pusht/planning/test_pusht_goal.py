"""The PushT goal cost: read from pixels like the simulator states it, zero at the goal."""

from __future__ import annotations

import numpy as np
import pytest

from dream_engine_ros.engine.errors import InputError
from dream_engine_ros.envs.pusht.evaluation.episodes import generate
from dream_engine_ros.envs.pusht.evaluation.reader import SceneReadings, classify, classify_many, read_scenes
from dream_engine_ros.envs.pusht.planning.goal import GoalCost, SceneGoal, rollout_costs, states_to_scenes
from dream_engine_ros.planning.costs import frameless_cost_names, get_cost, score_rollouts


@pytest.fixture(scope="module")
def episodes() -> list:
    return generate("push", 3, 24, seed=11) + generate("walk", 2, 24, seed=11)


def test_batch_reader_matches_the_simulator(episodes: list) -> None:
    frames = np.stack([e.frames for e in episodes])
    truth = states_to_scenes(np.stack([e.states for e in episodes]))
    read = read_scenes(frames)
    agent = np.hypot(*np.moveaxis(read.agent - truth.agent, -1, 0))
    block = np.hypot(*np.moveaxis(read.block - truth.block, -1, 0))
    angle = np.degrees(np.abs((read.angle - truth.angle + np.pi) % (2 * np.pi) - np.pi))
    assert agent.mean() < 1.0 and agent.max() < 3.0  # world units (one pixel = 5.3 units); measured 0.65 / 1.9
    assert block.mean() < 1.5 and block.max() < 4.0  # measured 1.07 / 2.7
    assert angle.mean() < 2.0 and angle.max() < 6.0  # degrees; measured 1.2 / 4.3
    assert np.array_equal(classify_many(frames[0, 5]), classify(frames[0, 5]))


def test_cost_is_lowest_at_the_goal_and_grows_with_distance(episodes: list) -> None:
    episode = episodes[0]
    goal = SceneGoal.from_image(episode.frames[-1])
    from_state = SceneGoal.from_state(episode.states[-1])
    assert np.hypot(*(goal.block - from_state.block)) < 4.0 and abs(goal.angle - from_state.angle) < 0.1
    per_frame = GoalCost().per_frame(read_scenes(episode.frames[None]), goal)[0]
    only_min = rollout_costs(episode.frames[None], goal, GoalCost(mean_weight=0.0), every=1)
    assert only_min[0] == pytest.approx(per_frame[1:].min())
    costs = rollout_costs(episode.frames[None], goal, GoalCost(), every=1)
    assert costs[0] == pytest.approx(per_frame[1:].min() + per_frame[1:].mean())
    assert per_frame[-1] < 0.3 and per_frame[0] > 2.0  # the pushed block moved by more than the tolerance
    blank = np.full_like(episode.frames[:1], 255)
    assert GoalCost().per_frame(read_scenes(blank[None]), goal)[0, 0] == GoalCost().missing_cost


def test_the_cost_prefers_arriving_early_to_arriving_at_the_end() -> None:
    goal = SceneGoal(np.array([100.0, 100.0]), np.array([300.0, 300.0]), 0.0)
    far = SceneGoal(np.array([100.0, 180.0]), np.array([300.0, 300.0]), 0.0)  # agent 4 tolerances off

    def readings(scenes: list[SceneGoal]) -> SceneReadings:
        return SceneReadings(np.stack([s.agent for s in scenes])[None], np.stack([s.block for s in scenes])[None],
                             np.array([[s.angle for s in scenes]]), np.full((1, len(scenes)), -1))

    early = readings([far, goal, goal, goal])
    late = readings([far, far, far, goal])
    assert GoalCost()(early, goal)[0] < GoalCost()(late, goal)[0]
    # the minimum alone cannot tell them apart: this is why a replanning planner postponed
    assert GoalCost(mean_weight=0.0)(early, goal)[0] == GoalCost(mean_weight=0.0)(late, goal)[0]


def test_named_costs_and_their_errors(episodes: list) -> None:
    assert get_cost("").name == "last-frame" and not get_cost("").frameless
    assert get_cost("pusht-pose").name == "pusht-pose" and not get_cost("pusht-pose").frameless
    assert sorted(frameless_cost_names()) == ["latent-goal", "pusht-state"]
    with pytest.raises(InputError, match="not one of"):
        get_cost("psnr")
    with pytest.raises(InputError, match="decode-free"):
        score_rollouts(None, "pusht-state", np.stack([e.frames for e in episodes[:2]]), episodes[0].frames[-1])
    frames = np.stack([e.frames for e in episodes[:2]])
    with pytest.raises(InputError, match="no agent or no T"):
        score_rollouts(None, "pusht-pose", frames, np.full((96, 96, 3), 255, np.uint8))
    with pytest.raises(InputError, match="resolution"):
        score_rollouts(None, "pusht-pose", frames, np.full((64, 64, 3), 255, np.uint8))
    scores = score_rollouts(None, "pusht-pose", frames, episodes[0].frames[-1])
    assert scores.shape == (2,) and scores[0] < scores[1]
