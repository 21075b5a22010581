"""The scene renders headless, the hand follows its velocity commands, and it pushes the cube."""

from __future__ import annotations

import numpy as np
import pytest

from dream_engine_ros.envs.panda_push.scene import DT, MAX_SPEED, PUSH_HEIGHT, PandaPushScene, limit_speed


def test_reset_renders_a_96_pixel_rgb_frame_without_a_display(panda_scene: PandaPushScene) -> None:
    frame = panda_scene.reset(0)
    assert frame.shape == (96, 96, 3) and frame.dtype == np.uint8
    assert len(np.unique(frame.reshape(-1, 3), axis=0)) > 20  # table, floor, arm and cube, shaded
    assert np.array_equal(panda_scene.render(), frame)  # rendering does not step the world


def test_the_hand_follows_a_velocity_command_and_the_frames_change(panda_scene: PandaPushScene) -> None:
    first = panda_scene.reset(1, cube_xy=np.array([0.1, 0.1]), hand_xy=np.array([-0.15, -0.1]))
    start = panda_scene.hand_position()
    assert abs(start[2] - PUSH_HEIGHT) < 0.005
    for _ in range(5):
        panda_scene.step(np.array([0.2, 0.0]))
    moved = panda_scene.hand_position() - start
    assert 0.05 < moved[0] < 0.2 * 5 * DT + 0.01 and abs(moved[1]) < 0.01  # along +x, no faster than asked
    after = panda_scene.render()
    assert np.abs(after.astype(int) - first).sum(axis=-1).astype(bool).sum() > 50  # the arm moved in the picture


def test_a_zero_command_keeps_the_scene_still(panda_scene: PandaPushScene) -> None:
    panda_scene.reset(2)
    hand, cube, frame = panda_scene.hand_position(), panda_scene.cube_position(), panda_scene.render()
    for _ in range(3):
        panda_scene.step(np.zeros(2))
    assert np.linalg.norm(panda_scene.hand_position() - hand) < 0.003
    assert np.linalg.norm(panda_scene.cube_position() - cube) < 1e-3
    # sub-millimetre settling flips a few edge pixels (the renderer does not anti-alias), nothing more
    assert np.abs(panda_scene.render().astype(int) - frame).max(axis=-1).astype(bool).sum() < 40


def test_pushing_into_the_cube_moves_it(panda_scene: PandaPushScene) -> None:
    panda_scene.reset(3, cube_xy=np.array([0.0, 0.0]), hand_xy=np.array([-0.12, 0.0]))
    cube = panda_scene.cube_position()
    for _ in range(15):
        panda_scene.step(np.array([0.2, 0.0]))
    shift = panda_scene.cube_position() - cube
    assert shift[0] > 0.05 and abs(shift[2]) < 0.005  # slid forward along +x, still on the table


def test_commands_are_limited_to_the_top_speed() -> None:
    assert np.allclose(limit_speed(np.array([0.1, -0.1])), [0.1, -0.1])
    fast = limit_speed(np.array([3.0, 4.0]))
    assert np.isclose(np.linalg.norm(fast), MAX_SPEED) and np.allclose(fast / MAX_SPEED, [0.6, 0.8])


def test_a_hand_placed_against_the_cube_is_refused(panda_scene: PandaPushScene) -> None:
    with pytest.raises(ValueError, match="inside or against the cube"):
        panda_scene.reset(0, cube_xy=np.array([0.0, 0.0]), hand_xy=np.array([0.03, 0.0]))
