"""Tiny PushT recordings built in the test session: two episodes as rosbag2 (MCAP with raw images and
Float32MultiArray actions; sqlite3 with PNG CompressedImage and PointStamped actions) and as npz."""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import pytest
import torch
from augment_bags import Recordings, write_bag

from dream_engine_ros.envs.pusht.training.pusht_data import generate_episodes_full

STEPS = 26  # two starts of one 12-action chunk each (start frames 0 and 12)



@pytest.fixture(scope="session")
def recordings(tmp_path_factory: pytest.TempPathFactory) -> Recordings:
    root = tmp_path_factory.mktemp("recordings")
    episodes = generate_episodes_full(2, STEPS, seed=4242, policies=["pusher", "smooth"])
    mcap = write_bag(root / "teleop_a", episodes.frames[0], episodes.actions[0])
    sqlite = write_bag(root / "teleop_b", episodes.frames[1], episodes.actions[1], storage="sqlite3",
                       compressed=True, action_kind="point")
    npz = root / "episodes.npz"
    np.savez(npz, frames=episodes.frames, actions=episodes.actions, states=episodes.states,
             reset_seeds=episodes.reset_seeds, fps=10.0)
    return Recordings(episodes, mcap, sqlite, npz)


@pytest.fixture(autouse=True)
def one_torch_thread() -> Iterator[None]:
    """The in-process executor sets one torch thread (as every Ray actor does); restore it afterwards."""
    threads = torch.get_num_threads()
    yield
    torch.set_num_threads(threads)
