"""RolloutBatch: K candidates in one fused pass, scored against a goal image."""

from __future__ import annotations

import math

import numpy as np
from ros_helpers import STATUS, pusht_actions, sample_frame

from dream_engine_msgs.action import RolloutBatch
from dream_engine_ros.ros.frame_stamps import ns_to_time
from dream_engine_ros.ros.image_conversion import rgb_to_image_msg
from dream_engine_ros.video import read_mp4


def batch_goal(engine, num_candidates: int, goal_rgb=None, write_video: bool = False) -> RolloutBatch.Goal:
    spec = engine.spec
    horizon = spec.chunk_size
    candidates = np.stack([pusht_actions(horizon, seed=k) for k in range(num_candidates)])
    goal = RolloutBatch.Goal()
    goal.start_frame = rgb_to_image_msg(sample_frame(), ns_to_time(42), "cam")
    goal.actions = candidates.reshape(-1).tolist()
    goal.num_candidates, goal.horizon, goal.action_dim = num_candidates, horizon, spec.action_dim
    goal.seed = 11
    goal.guidance = math.nan
    goal.write_video = write_video
    if goal_rgb is not None:
        goal.goal_image = rgb_to_image_msg(goal_rgb, ns_to_time(0), "cam")
    return goal


def test_batch_scores_candidates_against_goal_image(shared_engine):
    client = shared_engine.client
    run = client.run(batch_goal(shared_engine, 3, goal_rgb=sample_frame(96, 96), write_video=True), batch=True)
    result = run.wait()
    assert result.error_code == RolloutBatch.Result.OK, result.error_msg
    assert run.status == STATUS.STATUS_SUCCEEDED
    assert len(result.scores) == 3 and all(math.isfinite(s) for s in result.scores)
    assert result.best_index == int(np.argmin(result.scores))
    assert result.num_frames == shared_engine.spec.chunk_size + 1
    assert len(result.mp4_paths) == 3 and len(set(result.mp4_paths)) == 3
    for path in result.mp4_paths:
        frames, _ = read_mp4(path)
        assert frames.shape[0] == result.num_frames
    assert [f.chunks_done for f in run.feedback] == [1]


def test_batch_without_goal_image_has_no_scores(shared_engine):
    result = shared_engine.client.run(batch_goal(shared_engine, 2), batch=True).wait()
    assert result.error_code == RolloutBatch.Result.OK, result.error_msg
    assert list(result.scores) == [] and result.best_index == -1 and list(result.mp4_paths) == []


def planning_goal(frames: list[np.ndarray], candidates: np.ndarray, goal_rgb: np.ndarray,
                  history: int = 2) -> RolloutBatch.Goal:
    """A planner's scoring goal: fused, PushT pose cost, best frames back, the frames before."""
    goal = RolloutBatch.Goal()
    goal.start_frame = rgb_to_image_msg(frames[-1], ns_to_time(10_000_000_000), "pusht_camera")
    goal.actions = candidates.reshape(-1).tolist()
    goal.num_candidates, goal.horizon, goal.action_dim = candidates.shape
    goal.seed = 5
    goal.guidance = math.nan
    goal.goal_image = rgb_to_image_msg(goal_rgb, ns_to_time(0), "pusht_camera")
    goal.cost, goal.fused, goal.return_best_frames = "pusht-pose", True, True
    goal.history_frames = [rgb_to_image_msg(f, ns_to_time(0), "pusht_camera") for f in frames[-1 - history:-1]]
    return goal


def moving_robot(candidates: int, seed: int) -> tuple[list[np.ndarray], np.ndarray, np.ndarray, np.ndarray]:
    """A held-out task's robot after two pushes: its frames, the two targets, the goal image and
    `candidates` plans of 12 steps (knots held 3 steps) around where it started."""
    from dream_engine_ros.envs.pusht.planning.robot import PushTRobot
    from dream_engine_ros.envs.pusht.planning.tasks import reach_tasks

    task = reach_tasks(1, seed=7)[0]
    robot = PushTRobot()
    frames = [robot.reset(task.start)]
    pushed = np.array([task.start[:2] + [20.0 * (k + 1), 10.0] for k in range(2)], np.float32)
    for target in pushed:
        frames.append(robot.step(target))
    goal_rgb = PushTRobot().reset(task.goal)
    rng = np.random.default_rng(seed)
    plans = np.repeat(np.clip(task.start[:2] + rng.normal(0, 60, (candidates, 4, 2)), 0, 512), 3, axis=1)
    return frames, pushed, goal_rgb, plans.astype(np.float32)


def test_planning_mode_matches_the_engine_in_process(make_engine):
    """What the MPC planner asks over ROS equals the in-process fused rollout + PushT cost."""
    from dream_engine_ros.envs.pusht.planning.goal import SceneGoal, rollout_costs

    engine = make_engine(spec="pusht-structured")
    frames, pushed, goal_rgb, candidates = moving_robot(4, seed=0)
    goal = planning_goal(frames, candidates, goal_rgb)
    goal.history_actions = pushed.reshape(-1).tolist()
    result = engine.client.run(goal, batch=True).wait()
    assert result.error_code == RolloutBatch.Result.OK, result.error_msg

    local = engine.node.engine.predict_batch(frames[-1], candidates, seeds=5, fused=True,
                                             history_frames=np.stack(frames[:2]), history_actions=pushed)
    costs = rollout_costs(local.frames, SceneGoal.from_image(goal_rgb))
    np.testing.assert_allclose(result.scores, costs, rtol=1e-6)
    assert result.best_index == int(np.argmin(costs))
    best = np.stack([np.frombuffer(bytes(image.data), np.uint8).reshape(96, 96, 3) for image in result.best_frames])
    assert np.array_equal(best, local.frames[result.best_index])
    assert list(result.mp4_paths) == []


def test_scene_state_scoring_matches_the_engine_in_process(make_engine):
    """cost "pusht-state": no candidate is drawn; the scores equal the in-process scene-state
    rollout's, and the best candidate's frames equal its full-model rollout (same seed, history)."""
    from dream_engine_ros.planning.costs import get_cost

    engine = make_engine(spec="pusht-structured")
    frames, pushed, goal_rgb, candidates = moving_robot(16, seed=1)
    goal = planning_goal(frames, candidates, goal_rgb)
    goal.cost = "pusht-state"
    goal.history_actions = pushed.reshape(-1).tolist()
    result = engine.client.run(goal, batch=True).wait()
    assert result.error_code == RolloutBatch.Result.OK, result.error_msg

    local = engine.node.engine
    history = (np.stack(frames[:2]), pushed)
    costs = get_cost("pusht-state").score_frameless(local, frames[-1], candidates, goal_rgb, history)
    np.testing.assert_allclose(result.scores, costs, rtol=1e-6)
    assert result.best_index == int(np.argmin(costs)) and result.num_frames == 13
    best = np.stack([np.frombuffer(bytes(image.data), np.uint8).reshape(96, 96, 3) for image in result.best_frames])
    drawn = local.predict_batch(frames[-1], candidates[result.best_index:result.best_index + 1],
                                seeds=[5 + result.best_index], history_frames=history[0], history_actions=pushed)
    assert np.array_equal(best, drawn.frames[0])


def search_goal(frames: list[np.ndarray], pushed: np.ndarray, goal_rgb: np.ndarray, start: np.ndarray,
                planner) -> RolloutBatch.Goal:
    """A search-mode goal: the engine runs `planner`'s search from `start` (12, 2)."""
    goal = planning_goal(frames, start[None], goal_rgb)
    goal.cost = "pusht-state"
    goal.history_actions = pushed.reshape(-1).tolist()
    cfg = planner.config
    goal.plan_iterations, goal.plan_samples, goal.plan_elites = cfg.iterations, cfg.samples, cfg.elites
    goal.plan_hold, goal.plan_init_std, goal.plan_min_std = cfg.hold, cfg.init_std, cfg.min_std
    goal.plan_action_low, goal.plan_action_high = planner.low.tolist(), planner.high.tolist()
    return goal


def test_search_mode_plans_as_the_planner_in_process(make_engine):
    """plan_iterations > 0: one goal runs the whole CEM next to the model; the plan, its cost per
    iteration and its drawing equal the in-process search with the same seed over the same scores."""
    from dream_engine_ros.planning.cem import CEMConfig, CrossEntropyPlanner
    from dream_engine_ros.planning.costs import get_cost

    engine = make_engine(spec="pusht-structured")
    frames, pushed, goal_rgb, candidates = moving_robot(1, seed=2)
    config = CEMConfig(horizon=12, hold=3, samples=16, elites=4, iterations=3)  # the candidates' 12 steps
    planner = CrossEntropyPlanner(config, np.zeros(2), np.full(2, 512.0))
    result = engine.client.run(search_goal(frames, pushed, goal_rgb, candidates[0], planner), batch=True).wait()
    assert result.error_code == RolloutBatch.Result.OK, result.error_msg

    local = engine.node.engine
    history = (np.stack(frames[:2]), pushed)
    cost = get_cost("pusht-state")
    expected = planner.search(lambda c: cost.score_frameless(local, frames[-1], c, goal_rgb, history),
                              candidates[0, ::3].astype(np.float64), seed=5)
    assert np.array_equal(np.asarray(result.plan_actions, np.float32).reshape(12, 2), expected.actions)
    np.testing.assert_allclose(result.plan_best_cost_per_iteration, expected.best_cost_per_iteration, rtol=1e-6)
    assert result.plan_candidates_scored == 48 and math.isclose(result.plan_cost, expected.cost, rel_tol=1e-6)
    assert list(result.scores) == [result.plan_cost] and result.best_index == 0
    best = np.stack([np.frombuffer(bytes(image.data), np.uint8).reshape(96, 96, 3) for image in result.best_frames])
    drawn = local.predict_batch(frames[-1], expected.actions[None], seeds=[5], history_frames=history[0],
                                history_actions=pushed)
    assert np.array_equal(best, drawn.frames[0])


def test_search_mode_errors_name_the_field(make_engine):
    from dream_engine_ros.planning.cem import CEMConfig, CrossEntropyPlanner

    engine = make_engine(spec="pusht-structured")
    frames, pushed, goal_rgb, candidates = moving_robot(2, seed=3)
    config = CEMConfig(horizon=12, hold=3, samples=8, elites=2, iterations=2)
    planner = CrossEntropyPlanner(config, np.zeros(2), np.full(2, 512.0))

    def goal_with(**fields):
        goal = search_goal(frames, pushed, goal_rgb, candidates[0], planner)
        for name, value in fields.items():
            setattr(goal, name, value)
        return goal

    two = goal_with(num_candidates=2, actions=candidates.reshape(-1).tolist())
    cases = [
        (goal_with(cost="pusht-pose"), "frameless cost"),
        (two, "num_candidates = 1"),
        (goal_with(plan_action_low=[0.0]), "action_dim = 2 values"),
        (goal_with(plan_action_low=[600.0, 0.0]), "below plan_action_high"),
        (goal_with(plan_action_high=[512.0, 900.0]), "leaves the spec's action bounds"),
        (goal_with(plan_elites=9), "elites 9"),
        (goal_with(plan_hold=5), "multiple of hold 5"),
        (goal_with(plan_init_std=0.0), "init_std"),
        (goal_with(plan_samples=100_000), "max_candidates"),
    ]
    for goal, message in cases:
        result = engine.client.run(goal, batch=True).wait()
        assert result.error_code == RolloutBatch.Result.INVALID_GOAL, (message, result.error_msg)
        assert message in result.error_msg, (message, result.error_msg)
    assert engine.client.run(goal_with(), batch=True).wait().error_code == RolloutBatch.Result.OK


def test_planning_goal_errors_name_the_field(make_engine, shared_engine):
    engine = make_engine(spec="pusht-structured")
    frames = [sample_frame(96, 96)] * 3
    candidates = np.stack([pusht_actions(12, seed=k) for k in range(2)])
    cases = []
    bad_cost = planning_goal(frames, candidates, pusht_goal_frame())
    bad_cost.cost = "psnr"
    bad_cost.history_actions = [100.0] * 4
    cases.append((engine, bad_cost, "cost"))
    no_goal = planning_goal(frames, candidates, pusht_goal_frame())
    no_goal.goal_image = RolloutBatch.Goal().goal_image
    no_goal.history_actions = [100.0] * 4
    cases.append((engine, no_goal, "return_best_frames needs a goal_image"))
    short = planning_goal(frames, candidates, pusht_goal_frame())
    short.history_actions = [100.0] * 3
    cases.append((engine, short, "history_actions has 3 values"))
    blank_goal = planning_goal(frames, candidates, np.full((96, 96, 3), 255, np.uint8))
    blank_goal.history_actions = [100.0] * 4
    cases.append((engine, blank_goal, "no agent or no T"))
    latent = planning_goal(frames, candidates, pusht_goal_frame())
    latent.history_actions = [100.0] * 4
    cases.append((shared_engine, latent, "reads no history"))
    frameless_video = planning_goal(frames, candidates, pusht_goal_frame())
    frameless_video.cost, frameless_video.write_video = "pusht-state", True
    frameless_video.history_actions = [100.0] * 4
    cases.append((engine, frameless_video, "draws no candidate frames"))
    frameless_no_goal = planning_goal(frames, candidates, pusht_goal_frame())
    frameless_no_goal.cost, frameless_no_goal.return_best_frames = "pusht-state", False
    frameless_no_goal.goal_image = RolloutBatch.Goal().goal_image
    frameless_no_goal.history_actions = [100.0] * 4
    cases.append((engine, frameless_no_goal, "scores against a goal_image"))
    tiny_state = planning_goal(frames, candidates, pusht_goal_frame())
    tiny_state.cost, tiny_state.history_frames, tiny_state.return_best_frames = "pusht-state", [], False
    cases.append((shared_engine, tiny_state, "rolls out decode-free"))
    for target, goal, message in cases:
        result = target.client.run(goal, batch=True).wait()
        assert result.error_code == RolloutBatch.Result.INVALID_GOAL, (message, result.error_msg)
        assert message in result.error_msg
    ok = planning_goal(frames, candidates, pusht_goal_frame())
    ok.history_actions = [100.0] * 4
    assert engine.client.run(ok, batch=True).wait().error_code == RolloutBatch.Result.OK  # the node kept serving



def pusht_goal_frame() -> np.ndarray:
    from dream_engine_ros.envs.pusht.planning.robot import PushTRobot

    return PushTRobot().reset(np.array([100.0, 100.0, 300.0, 300.0, 0.5]))
