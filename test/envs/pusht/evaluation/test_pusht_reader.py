"""The pixel reader recovers the simulator's state from true frames (before it judges a model)."""

from __future__ import annotations

import numpy as np
import pytest

from dream_engine_ros.envs.pusht.evaluation import episodes as pusht_episodes
from dream_engine_ros.envs.pusht.evaluation import reader as reader


@pytest.fixture(scope="module")
def episodes() -> list[pusht_episodes.Episode]:
    return [ep for kind in pusht_episodes.KINDS for ep in pusht_episodes.generate(kind, 3, 24, seed=4242)]


def test_block_pose_and_agent_centre_match_the_simulator_on_true_frames(episodes) -> None:
    centre, angle, agent = [], [], []
    for ep in episodes:
        for frame, state in zip(ep.frames[::3], ep.states[::3], strict=True):
            labels = reader.classify(frame)
            pose = reader.read_block(labels == reader.BLOCK_LABEL)
            seen = reader.read_agent(labels == reader.AGENT_LABEL)
            assert pose is not None and seen is not None
            true_centre = reader.true_block_centroid(state[2:4], float(state[4]), 96)
            centre.append(np.hypot(pose.x - true_centre[0], pose.y - true_centre[1]))
            angle.append(reader.angle_difference(pose.angle, float(state[4])))
            true_agent = reader.world_to_pixel(state[:2], 96)
            agent.append(np.hypot(seen.x - true_agent[0], seen.y - true_agent[1]))
            assert seen.blobs == 1
    # Measured on 40 episodes x 13 frames: centre 0.18 px mean (max 0.56), angle 0.8 deg mean
    # (max 4.7), agent 0.12 px (max 0.29): far inside PushT's tolerances (3.75 px, 20 deg).
    assert np.mean(centre) < 0.4 and np.max(centre) < 1.0
    assert np.degrees(np.mean(angle)) < 2.0 and np.degrees(np.max(angle)) < 8.0
    assert np.mean(agent) < 0.3 and np.max(agent) < 0.6


def test_the_agent_blob_has_the_expected_area(episodes) -> None:
    areas = [reader.read_agent(reader.agent_mask(ep.frames[0])).area for ep in episodes]
    assert abs(np.mean(areas) - reader.expected_agent_area(96)) < 0.15 * reader.expected_agent_area(96)


def test_angle_difference_wraps() -> None:
    assert reader.angle_difference(np.pi - 0.1, -np.pi + 0.1) == pytest.approx(0.2)
    assert reader.angle_difference(0.3, 0.3 + 4 * np.pi) == pytest.approx(0.0, abs=1e-9)


def test_stray_pixels_do_not_move_the_block_pose(episodes) -> None:
    frame = episodes[0].frames[0].copy()
    clean = reader.read_block(reader.block_mask(frame))
    frame[2:4, 2:4] = (143, 163, 184)  # a speck of T colour far away in the corner
    noisy = reader.read_block(reader.block_mask(frame))
    assert clean is not None and noisy is not None
    assert abs(noisy.x - clean.x) < 1e-9 and abs(noisy.angle - clean.angle) < 1e-9


def test_an_empty_frame_reads_nothing() -> None:
    white = np.full((96, 96, 3), 255, np.uint8)
    assert reader.read_block(reader.block_mask(white)) is None
    assert reader.read_agent(reader.agent_mask(white)) is None
