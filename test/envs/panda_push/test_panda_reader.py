"""The pixel reader finds the cube where the simulator puts it, through the camera, and follows it."""

from __future__ import annotations

import numpy as np

from dream_engine_ros.envs.panda_push.camera import DEFAULT_CAMERA
from dream_engine_ros.envs.panda_push.reader import read_cube, read_cubes
from dream_engine_ros.envs.panda_push.scene import PandaPushScene


def test_a_red_square_on_white_is_read_at_its_centre() -> None:
    frame = np.full((96, 96, 3), 230, np.uint8)
    frame[10:16, 40:46] = (200, 20, 20)
    frame[80, 5] = (200, 20, 20)  # a speck: not the cube
    reading = read_cube(frame)
    assert reading.visible and reading.area == 36 and reading.blobs == 1
    assert np.allclose(reading.xy, [43.0, 13.0])  # pixel centres at +0.5


def test_no_red_means_no_cube() -> None:
    frame = np.full((96, 96, 3), 230, np.uint8)
    frame[10:16, 40:46] = (120, 120, 130)  # the arm's grey
    assert not read_cube(frame).visible


def test_the_reading_matches_the_simulator_projected_through_the_camera(panda_scene: PandaPushScene) -> None:
    errors = []
    for i, cube in enumerate([(0.0, 0.0), (0.1, -0.1), (-0.12, 0.1), (0.08, 0.1), (-0.14, -0.1)]):
        frame = panda_scene.reset(i, cube_xy=np.array(cube), hand_xy=np.array([-0.25, 0.0 if cube[1] else 0.15]))
        reading = read_cube(frame)
        assert reading.visible and reading.blobs == 1
        errors.append(np.linalg.norm(reading.xy - DEFAULT_CAMERA.project(panda_scene.cube_position())))
    assert max(errors) < 1.5, errors  # the visible faces' centroid sits near the projected centre


def test_the_reading_follows_a_pushed_cube(panda_scene: PandaPushScene) -> None:
    frames = [panda_scene.reset(5, cube_xy=np.array([-0.05, -0.05]), hand_xy=np.array([-0.05, -0.17]))]
    cubes = [panda_scene.cube_position()]
    for _ in range(20):  # push along +y: the hand stays beside the camera's line of sight to the cube
        panda_scene.step(np.array([0.0, 0.2]))
        frames.append(panda_scene.render())
        cubes.append(panda_scene.cube_position())
    readings = read_cubes(np.stack(frames))
    truth = DEFAULT_CAMERA.project(np.stack(cubes))
    seen = [k for k, r in enumerate(readings) if r.visible]
    assert len(seen) >= 18
    assert np.linalg.norm(truth[-1] - truth[0]) > 8  # the cube travelled in the picture
    errors = [np.linalg.norm(readings[k].xy - truth[k]) for k in seen]
    assert np.median(errors) < 1.5 and max(errors) < 4.0, errors
