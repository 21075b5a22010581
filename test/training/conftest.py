"""The session's tiny recordings for test/training: square episodes as an MCAP bag (rgb8 images,
Float32MultiArray actions), a sqlite3 bag (PNG CompressedImage, PointStamped actions) and a LeRobot v3
folder of four episodes over two mp4 files and two parquet files."""

from __future__ import annotations

import pytest
from augment_bags import write_bag
from training_recordings import STEPS, SquareRecordings, square_episode, write_lerobot


@pytest.fixture(scope="session")
def squares(tmp_path_factory: pytest.TempPathFactory) -> SquareRecordings:
    root = tmp_path_factory.mktemp("squares")
    bag_episodes = [square_episode(STEPS, seed) for seed in (11, 12)]
    mcap = write_bag(root / "teleop_a", bag_episodes[0].frames, bag_episodes[0].actions)
    sqlite = write_bag(root / "teleop_b", bag_episodes[1].frames, bag_episodes[1].actions, storage="sqlite3",
                       compressed=True, action_kind="point")
    lerobot_episodes = [square_episode(STEPS - i, seed) for i, seed in enumerate((21, 22, 23, 24))]
    lerobot = write_lerobot(root / "lerobot_squares", lerobot_episodes, video_files=(0, 0, 1, 1),
                            data_files=(0, 0, 0, 1))
    return SquareRecordings(bag_episodes, mcap, sqlite, lerobot_episodes, lerobot)
