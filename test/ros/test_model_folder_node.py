"""The engine node runs a model folder named by its `spec` parameter (`spec:=DIR`)."""

from __future__ import annotations

from ros_helpers import STATUS, make_goal, pusht_actions, sample_frame

from dream_engine_msgs.action import Rollout
from dream_engine_ros.ros.frame_stamps import ns_to_time
from dream_engine_ros.ros.image_conversion import rgb_to_image_msg


def test_spec_parameter_takes_a_model_folder(make_engine, model_folder) -> None:
    folder = model_folder("pusht-tiny", "my-tiny")
    engine = make_engine(spec=str(folder), weights="")
    assert engine.spec.name == "my-tiny"
    start = rgb_to_image_msg(sample_frame(), ns_to_time(1_000_000_000), "camera")
    run = engine.client.run(make_goal(pusht_actions(12), start_frame=start, seed=1, write_video=False))
    result = run.wait()
    assert run.status == STATUS.STATUS_SUCCEEDED and result.error_code == Rollout.Result.OK, result.error_msg
    assert result.spec == "my-tiny" and result.num_frames == 13


def test_the_node_serves_a_block_diffusion_model_folder_and_streams_each_chunk(make_engine,
                                                                               block_model_folder) -> None:
    """A folder as `dream-engine train` writes one: same frames as the engine itself, one feedback per chunk."""
    import numpy as np

    from dream_engine_ros.engine.runner import DreamEngine
    from dream_engine_ros.ros.image_conversion import image_msg_to_rgb
    from dream_engine_ros.ros.spinning import wait_until

    folder = block_model_folder("my-block")
    node = make_engine(spec=str(folder), weights="", predicted_rate_hz=-1.0)
    assert node.spec.name == "my-block" and node.spec.family == "block-diffusion"
    node.client.clear_predicted()
    frame = sample_frame()
    actions = np.random.default_rng(5).uniform(0.0, 10.0, size=(6, 2)).astype(np.float32)
    start = rgb_to_image_msg(frame, ns_to_time(1_000_000_000), "camera")
    run = node.client.run(make_goal(actions, start_frame=start, seed=3, num_steps=2, write_video=False,
                                    publish_frames=True))
    result = run.wait()
    assert run.status == STATUS.STATUS_SUCCEEDED and result.error_code == Rollout.Result.OK, result.error_msg
    assert result.spec == "my-block" and result.num_frames == 7
    assert [(f.chunks_done, f.chunks_total) for f in run.feedback] == [(1, 3), (2, 3), (3, 3)]
    direct = DreamEngine.load(str(folder), device="cpu").predict(frame, actions, seed=3, num_steps=2).frames
    wait_until(lambda: len(node.client.predicted_frames()) >= 7, 30.0, "every predicted frame")
    streamed = [image_msg_to_rgb(message) for _, message in node.client.predicted_frames()]
    assert np.array_equal(np.stack(streamed), direct)


def test_a_block_diffusion_folder_plans_with_the_default_cost(make_engine, block_model_folder) -> None:
    """RolloutBatch with only start frame, candidates and goal image: the cost defaults to the
    decode-free 'latent-goal' (scores equal the in-process cost, nothing drawn), and search mode
    runs the CEM over it as the planner does in process."""
    import math

    import numpy as np

    from dream_engine_msgs.action import RolloutBatch
    from dream_engine_ros.engine.runner import DreamEngine
    from dream_engine_ros.planning.cem import CEMConfig, CrossEntropyPlanner
    from dream_engine_ros.planning.costs import get_cost

    folder = block_model_folder("my-block")
    node = make_engine(spec=str(folder), weights="")
    frame, goal_rgb = sample_frame(), sample_frame()[::-1].copy()
    candidates = np.random.default_rng(6).uniform(0.0, 10.0, size=(5, 4, 2)).astype(np.float32)

    def goal_of(actions: np.ndarray) -> RolloutBatch.Goal:
        goal = RolloutBatch.Goal()
        goal.start_frame = rgb_to_image_msg(frame, ns_to_time(1_000_000_000), "camera")
        goal.goal_image = rgb_to_image_msg(goal_rgb, ns_to_time(0), "camera")
        goal.actions = actions.reshape(-1).tolist()
        goal.num_candidates, goal.horizon, goal.action_dim = actions.shape
        goal.seed, goal.guidance = 3, math.nan
        return goal

    scored = node.client.run(goal_of(candidates), batch=True).wait()
    assert scored.error_code == RolloutBatch.Result.OK, scored.error_msg
    local = DreamEngine.load(str(folder), device="cpu")
    cost = get_cost("latent-goal")
    expected = cost.score_frameless(local, frame, candidates, goal_rgb)
    np.testing.assert_allclose(scored.scores, expected, rtol=1e-6)
    assert scored.best_index == int(np.argmin(expected)) and list(scored.mp4_paths) == []

    config = CEMConfig(horizon=4, hold=2, samples=12, elites=3, iterations=3)
    planner = CrossEntropyPlanner(config, np.zeros(2), np.full(2, 10.0))
    search = goal_of(candidates[:1])
    search.plan_iterations, search.plan_samples, search.plan_elites = config.iterations, config.samples, config.elites
    search.plan_hold, search.plan_init_std, search.plan_min_std = config.hold, config.init_std, config.min_std
    search.plan_action_low, search.plan_action_high = planner.low.tolist(), planner.high.tolist()
    planned = node.client.run(search, batch=True).wait()
    assert planned.error_code == RolloutBatch.Result.OK, planned.error_msg
    in_process = planner.search(lambda c: cost.score_frameless(local, frame, c, goal_rgb),
                                candidates[0, ::2].astype(np.float64), seed=3)
    assert np.array_equal(np.asarray(planned.plan_actions, np.float32).reshape(4, 2), in_process.actions)
    np.testing.assert_allclose(planned.plan_best_cost_per_iteration, in_process.best_cost_per_iteration, rtol=1e-6)
