"""Object-layer decoding (envs/pusht/scene_layers.py): exact at rest, rigid T, one agent, row-wise."""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import pytest
import torch

from dream_engine_ros.engine.spec import spec_problems
from dream_engine_ros.envs.pusht import scene_layers as sl
from dream_engine_ros.envs.pusht.evaluation import reader as reader
from dream_engine_ros.envs.pusht.specs import PUSHT_STRUCTURED


def colours(frame: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(frame).permute(2, 0, 1).float()[None]


def pixels(frame: torch.Tensor) -> np.ndarray:
    return frame[0].round().clamp(0, 255).to(torch.uint8).permute(1, 2, 0).numpy()


def rigid_flow(angle: float, centre: tuple[float, float], shift: tuple[float, float], size: int = 96) -> torch.Tensor:
    """Backward displacement of a T turned by `angle` about `centre` and moved by `shift`:
    next pixel p shows last pixel R^-1 (p - c - shift) + c."""
    ys, xs = np.mgrid[0:size, 0:size].astype(np.float32)
    cos, sin = math.cos(-angle), math.sin(-angle)
    dx, dy = xs - centre[0] - shift[0], ys - centre[1] - shift[1]
    sx, sy = cos * dx - sin * dy + centre[0], sin * dx + cos * dy + centre[1]
    return torch.from_numpy(np.stack([sx - xs, sy - ys]))[None]


@pytest.fixture(scope="module")
def start() -> np.ndarray:
    """A PushT frame with the agent well away from the T."""
    from dream_engine_ros.envs.pusht.planning.robot import PushTRobot

    robot = PushTRobot()
    try:
        return robot.reset(np.array([100.0, 100.0, 300.0, 300.0, 0.6]))
    finally:
        robot.close()


def test_layers_at_rest_give_back_the_start_frame_exactly(start: np.ndarray) -> None:
    scene = sl.SceneLayers.from_start(colours(start))
    for _ in range(3):
        drawn = scene.step(colours(start), torch.zeros(1, 2, 96, 96))
        np.testing.assert_array_equal(pixels(drawn), start)


def test_a_rigid_displacement_moves_the_t_whole(start: np.ndarray) -> None:
    before = reader.read_block(reader.block_mask(start))
    assert before is not None
    scene = sl.SceneLayers.from_start(colours(start))
    frame = start
    turn, shift = math.radians(4.0), (0.8, -0.5)
    for _ in range(10):  # 40 degrees and 8 px in ten steps
        centre = reader.read_block(reader.block_mask(frame))
        assert centre is not None
        frame = pixels(scene.step(colours(frame), rigid_flow(turn, (centre.x, centre.y), shift)))
    after = reader.read_block(reader.block_mask(frame))
    assert after is not None
    assert abs(reader.angle_difference(after.angle, before.angle) - math.radians(40.0)) < math.radians(3.0)
    assert abs(after.x - before.x - 8.0) < 0.7 and abs(after.y - before.y + 5.0) < 0.7
    assert abs(after.area - before.area) <= 0.05 * before.area  # no pixels lost or smeared
    assert reader.components(reader.block_mask(frame))[1].size == 1  # one T


def test_the_agent_follows_the_network_and_ignores_a_far_ghost(start: np.ndarray) -> None:
    scene = sl.SceneLayers.from_start(colours(start))
    agent = reader.read_agent(reader.agent_mask(start))
    assert agent is not None
    network = np.roll(start, 3, axis=1).copy()  # whole frame 3 px right: the agent moved by +3 in x
    network[80:84, 80:84] = (65, 105, 225)  # a blue ghost far from the agent
    drawn = pixels(scene.step(colours(network), torch.zeros(1, 2, 96, 96)))
    moved = reader.read_agent(reader.agent_mask(drawn))
    assert moved is not None and moved.blobs == 1
    assert abs(moved.x - agent.x - 3.0) < 0.3 and abs(moved.y - agent.y) < 0.3


def test_rows_of_a_batch_equal_single_rows_and_select_concat_round_trip(start: np.ndarray) -> None:
    other = np.ascontiguousarray(start[:, ::-1])
    batch = torch.cat([colours(start), colours(other)])
    flow = torch.cat([rigid_flow(0.05, (48.0, 48.0), (1.0, 0.0)), rigid_flow(-0.03, (40.0, 50.0), (0.0, 1.0))])
    together = sl.SceneLayers.from_start(batch)
    rows = [sl.SceneLayers.from_start(batch[i:i + 1]) for i in range(2)]
    joined = sl.SceneLayers.concat([together.select([0]), together.select([1])])
    drawn = together.step(batch, flow)
    for i in range(2):
        torch.testing.assert_close(rows[i].step(batch[i:i + 1], flow[i:i + 1]), drawn[i:i + 1], rtol=0, atol=1e-4)
    torch.testing.assert_close(joined.step(batch, flow), drawn, rtol=0, atol=0)


def test_the_spec_checks_its_layers_setting() -> None:
    assert PUSHT_STRUCTURED.frame_model is not None and PUSHT_STRUCTURED.frame_model.layers == "pusht-contact"
    assert spec_problems(PUSHT_STRUCTURED) == []
    no_warp = dataclasses.replace(PUSHT_STRUCTURED.frame_model, warp=False)
    unknown = dataclasses.replace(PUSHT_STRUCTURED.frame_model, layers="cubes")
    assert any("needs warp=True" in p for p in spec_problems(_with(frame_model=no_warp)))
    assert any("'cubes'" in p for p in spec_problems(_with(frame_model=unknown)))
    no_contact_file = dataclasses.replace(PUSHT_STRUCTURED.weights, files={"frame_model": "pusht-causal.safetensors"})
    assert any("'contact' weights file" in p for p in spec_problems(_with(weights=no_contact_file)))
    assert any("action_low" in p for p in spec_problems(_with(action_low=(), action_high=())))


def _with(**changes):
    spec = object.__new__(type(PUSHT_STRUCTURED))
    for f in dataclasses.fields(PUSHT_STRUCTURED):
        object.__setattr__(spec, f.name, changes.get(f.name, getattr(PUSHT_STRUCTURED, f.name)))
    return spec


def test_the_shipped_model_gives_the_same_frames_with_one_or_two_torch_threads() -> None:
    """CPU convolutions round their last bits differently with another thread count; the T is
    drawn on a pose grid, so those bits do not reach the frames (the HTTP server runs one
    thread, the CLI the machine's default, and their mp4 bytes must agree)."""
    from dream_engine_ros.engine.runner import DreamEngine
    from dream_engine_ros.envs.pusht.evaluation import episodes as pusht_episodes

    engine = DreamEngine.load("pusht-structured", device="cpu")
    episode = pusht_episodes.generate("push", 1, 24, seed=99)[0]
    before = torch.get_num_threads()
    try:
        runs = []
        for threads in (1, 2):
            torch.set_num_threads(threads)
            runs.append(engine.predict(episode.frames[0], episode.actions, seed=3).frames)
    finally:
        torch.set_num_threads(before)
    assert reader.read_block(reader.block_mask(runs[0][-1])) is not None  # the T is there and moved
    np.testing.assert_array_equal(runs[0], runs[1])


def test_a_t_under_the_agent_is_cut_whole() -> None:
    """An agent that starts on the T hides part of it; the T's matte is completed from its fitted
    pose, so the T the layers move is the whole T (one blob, the footprint of the same T alone)."""
    from dream_engine_ros.envs.pusht.evaluation.reader import components
    from dream_engine_ros.envs.pusht.planning.robot import PushTRobot

    robot = PushTRobot()
    try:
        # a held-out push's start (seed 2468, episode 9): the agent on the T where bar and stem meet
        covered = robot.reset(np.array([186.21, 272.24, 164.54, 311.82, -2.67]))
        alone = robot.reset(np.array([400.0, 60.0, 164.54, 311.82, -2.67]))
    finally:
        robot.close()
    mattes = [sl.SceneLayers.from_start(torch.from_numpy(f).permute(2, 0, 1)[None].float()).block_alpha[0, 0].numpy()
              for f in (covered, alone)]
    solid = [m > 0.5 for m in mattes]
    assert len(components(solid[0])[1]) == 1
    assert (solid[0] & solid[1]).sum() / (solid[0] | solid[1]).sum() > 0.95
