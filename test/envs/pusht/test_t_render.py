"""Drawing the T as gym-pusht draws it, and fitting that drawing to frames (envs/pusht/t_render.py)."""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import pytest
import torch

from dream_engine_ros.envs.pusht import t_render
from dream_engine_ros.envs.pusht.contact_model import block_pose_from_matte
from dream_engine_ros.envs.pusht.evaluation import reader as reader
from dream_engine_ros.envs.pusht.geometry import world_to_pixels
from dream_engine_ros.envs.pusht.planning.goal import block_centroid
from dream_engine_ros.envs.pusht.planning.robot import PushTRobot
from dream_engine_ros.envs.pusht.scene_layers import AGENT, AGENT_RIM, SceneLayers, classify

FILL = np.array([143.0, 163.0, 184.0])
OUTLINE = np.array([119.0, 136.0, 153.0])


@pytest.fixture(scope="module")
def robot() -> Iterator[PushTRobot]:
    sim = PushTRobot()
    yield sim
    sim.close()


def random_states(count: int, seed: int) -> list[np.ndarray]:
    """T poses clear of the walls, agent in a corner (away from the T)."""
    rng = np.random.default_rng(seed)
    return [np.array([40.0, 40.0, *rng.uniform(150.0, 360.0, 2), rng.uniform(-np.pi, np.pi)]) for _ in range(count)]


def drawn_over_white(body: np.ndarray) -> np.ndarray:
    fill, outline = t_render.draw_shares(body, 96)
    image = (1.0 - fill - outline)[..., None] * 255.0 + fill[..., None] * FILL + outline[..., None] * OUTLINE
    return np.clip(image + 0.5, 0, 255).astype(np.uint8)


def iou(a: np.ndarray, b: np.ndarray) -> float:
    return float((a & b).sum() / (a | b).sum())


def test_centroid_and_body_poses_convert_both_ways() -> None:
    for state in random_states(5, 0):
        pixels = t_render.centroid_from_body(state[2:], 96)
        np.testing.assert_allclose(pixels[:2], world_to_pixels(block_centroid(state[2:4], state[4]), 96), atol=1e-9)
        np.testing.assert_allclose(t_render.body_from_centroid(pixels, 96), state[2:], atol=1e-9)


def test_the_t_drawn_at_the_simulators_pose_covers_the_simulators_t_pixels(robot: PushTRobot) -> None:
    overlaps = []
    for state in random_states(12, 1):
        truth = reader.block_mask(robot.reset(state))
        overlaps.append(iou(reader.block_mask(drawn_over_white(state[2:])), truth))
    # the start frame's T moved by the exact motion overlapped ~0.91: the rims are what differ
    assert min(overlaps) >= 0.93 and float(np.mean(overlaps)) >= 0.96, overlaps


def test_the_drawing_is_the_fill_inside_an_outline_band() -> None:
    fill, outline = t_render.draw_shares(np.array([256.0, 200.0, 0.0]), 96)
    assert 0.0 <= float((fill + outline).min()) and float((fill + outline).max()) <= 1.0 + 1e-6
    # pixel area: the T is 6300 world units^2 plus a 2-unit band around its 480-unit outline
    expected = (6300.0 + 2 * 480.0) * (96 / 512) ** 2
    assert abs(float((fill + outline).sum()) - expected) < 0.06 * expected
    assert float(outline.sum()) < float(fill.sum())


def test_fitting_the_drawing_reads_the_pose_closer_than_the_moments(robot: PushTRobot) -> None:
    moment_errors, fitted_errors, turn_errors = [], [], []
    for state in random_states(10, 2):
        frame = robot.reset(state)
        layers = SceneLayers.from_start(torch.from_numpy(frame).permute(2, 0, 1).float()[None])
        matte = layers.block_alpha[0, 0].numpy()
        centre, angle = block_pose_from_matte(matte)
        labels = classify(torch.from_numpy(frame).permute(2, 0, 1).float()[None])[0].numpy()
        seen = (labels != AGENT) & (labels != AGENT_RIM)
        fitted = t_render.fit_pose(matte, seen, np.array([centre[0], centre[1], angle]))
        truth = world_to_pixels(block_centroid(state[2:4], state[4]), 96)
        moment_errors.append(float(np.hypot(*(centre - truth))))
        fitted_errors.append(float(np.hypot(*(fitted[:2] - truth))))
        turn_errors.append(abs(float((fitted[2] - state[4] + np.pi) % (2 * np.pi) - np.pi)))
    assert np.median(fitted_errors) < 0.15 and np.median(fitted_errors) < np.median(moment_errors)
    assert max(fitted_errors) < 0.35 and max(turn_errors) < 0.03


def test_a_moved_t_is_drawn_afresh_and_a_resting_one_keeps_its_start_pixels(robot: PushTRobot) -> None:
    frames = [robot.reset(state) for state in random_states(2, 3)]
    scene = SceneLayers.from_start(torch.from_numpy(np.stack(frames)).permute(0, 3, 1, 2).float(), fit_drawing=True)
    alpha, colour = scene.block_alpha.clone(), scene.block_colour.clone()
    moved = scene.block_pose.clone()
    moved[1] += torch.tensor([1.5, -0.5, 0.1], dtype=moved.dtype)
    scene.block_pose = moved
    drawn_alpha, drawn_colour = scene._draw_moved_block(alpha, colour, 96)
    torch.testing.assert_close(drawn_alpha[0], alpha[0], rtol=0, atol=0)
    torch.testing.assert_close(drawn_colour[0], colour[0], rtol=0, atol=0)
    start = scene.block_pose_drawn_start[1].numpy()
    fill, outline = t_render.draw_shares(t_render.body_from_centroid(start + np.array([1.5, -0.5, 0.1]), 96), 96)
    np.testing.assert_allclose(drawn_alpha[1, 0].numpy(), fill + outline, atol=1e-6)


def test_drawing_the_moved_t_is_a_spec_option_off_by_default_and_checked() -> None:
    import dataclasses

    from dream_engine_ros.engine.spec import spec_problems
    from dream_engine_ros.envs.pusht.layers_plugin import DRAW_MOVED_T
    from dream_engine_ros.envs.pusht.specs import PUSHT_STRUCTURED

    assert PUSHT_STRUCTURED.frame_model is not None and DRAW_MOVED_T not in PUSHT_STRUCTURED.frame_model.layer_options
    drawn = dataclasses.replace(PUSHT_STRUCTURED.frame_model, layer_options=(DRAW_MOVED_T,))
    assert spec_problems(dataclasses.replace(PUSHT_STRUCTURED, frame_model=drawn)) == []
    flow_fitted = dataclasses.replace(drawn, layers="pusht")
    with pytest.raises(ValueError, match="not options of layers 'pusht'"):
        dataclasses.replace(PUSHT_STRUCTURED, frame_model=flow_fitted,
                            weights=dataclasses.replace(PUSHT_STRUCTURED.weights,
                                                        files={"frame_model": "f.safetensors"}))
    with pytest.raises(ValueError, match="not options of layers 'pusht-contact'"):
        dataclasses.replace(PUSHT_STRUCTURED, frame_model=dataclasses.replace(drawn, layer_options=("draw-moved-x",)))


def test_the_physics_evaluation_runs_the_option_and_it_changes_pushed_t_frames(
        capsys: pytest.CaptureFixture[str]) -> None:
    import dataclasses

    from dream_engine_ros.engine.runner import DreamEngine
    from dream_engine_ros.envs.pusht.evaluation import evaluate_physics
    from dream_engine_ros.envs.pusht.evaluation.episodes import generate
    from dream_engine_ros.envs.pusht.specs import PUSHT_STRUCTURED

    assert evaluate_physics.main(["--draw-moved-t", "--kinds", "push", "--episodes", "1", "--steps", "12"]) == 0
    assert "| push | pusht-structured (T drawn) |" in capsys.readouterr().out
    assert PUSHT_STRUCTURED.frame_model is not None
    drawn_spec = dataclasses.replace(PUSHT_STRUCTURED, frame_model=dataclasses.replace(
        PUSHT_STRUCTURED.frame_model, layer_options=("draw-moved-t",)))
    episode = generate("push", 1, 12, 2468)[0]
    default = DreamEngine.load(PUSHT_STRUCTURED, device="cpu").predict(episode.frames[0], episode.actions,
                                                                       seed=0).frames
    drawn = DreamEngine.load(drawn_spec, device="cpu").predict(episode.frames[0], episode.actions, seed=0).frames
    assert np.array_equal(default[0], drawn[0]) and not np.array_equal(default[-1], drawn[-1])
