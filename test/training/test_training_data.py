"""TrainingData: episodes from MCAP, sqlite3 and LeRobot v3 recordings, the seeded split, action
statistics, the window stream, and bad input named by file and topic."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
from augment_bags import ACTION, CAMERA, write_bag
from training_recordings import CAMERA_KEY, SquareRecordings, square_corner, square_episode

from dream_engine_ros.augment.errors import AugmentInputError
from dream_engine_ros.augment.recording import RecordingOptions
from dream_engine_ros.engine.preprocess import fit_frame
from dream_engine_ros.training.data import ActionStats, TrainingData, TrainingDataError, split_episodes

BAGS = RecordingOptions(CAMERA, ACTION)
LEROBOT = RecordingOptions(CAMERA_KEY)
WINDOW = 4


def bag_data(squares: SquareRecordings, **kwargs: object) -> TrainingData:
    return TrainingData.build([squares.mcap, squares.sqlite], BAGS, 10.0, 16, WINDOW, **kwargs)  # type: ignore[arg-type]


def test_bag_windows_hold_the_recorded_frames_and_actions(squares: SquareRecordings) -> None:
    data = bag_data(squares, held_out_fraction=0.5, seed=3)
    assert [e.source for e in data.episodes] == [str(squares.mcap), str(squares.sqlite)]
    assert data.action_dim == 2 and len(data.episodes[0].starts) == 14 - WINDOW + 2  # 15 frames -> 12 windows
    batch = data.batch([0, 1, 1], [0, 5, 11])
    assert batch.frames.shape == (3, WINDOW, 16, 16, 3) and batch.frames.dtype == np.uint8
    assert batch.actions.shape == (3, WINDOW - 1, 2) and batch.actions.dtype == np.float32
    for row, (episode, start) in enumerate([(0, 0), (1, 5), (1, 11)]):
        truth = squares.bag_episodes[episode]
        assert np.array_equal(batch.actions[row], truth.actions[start:start + WINDOW - 1])
        for k in range(WINDOW):  # rgb8 and PNG are lossless: exactly the fitted recorded frame
            assert np.array_equal(batch.frames[row, k], fit_frame(truth.frames[start + k], 16, 16))


def test_lerobot_windows_match_within_codec_tolerance(squares: SquareRecordings) -> None:
    data = TrainingData.build([squares.lerobot], LEROBOT, 10.0, (32, 32), WINDOW, held_out_fraction=0.25)
    assert len(data.episodes) == 4 and (len(data.train), len(data.held_out)) == (3, 1)
    batch = next(data.windows(batch_size=6, seed=7))
    for frames, actions, episode, start in zip(batch.frames, batch.actions, batch.episodes, batch.starts,
                                               strict=True):
        truth = squares.lerobot_episodes[episode]
        assert episode in data.train
        assert np.array_equal(actions, truth.actions[start:start + WINDOW - 1])
        for k, frame in enumerate(frames):
            assert np.abs(frame.astype(int) - truth.frames[start + k]).mean() < 6
            assert np.array_equal(square_corner(frame), truth.positions[start + k])


def test_the_split_is_seeded_disjoint_and_independent_of_input_order(squares: SquareRecordings) -> None:
    hashes = [f"{i:064x}" for i in range(10)]
    train, held = split_episodes(hashes, 0.3, seed=5)
    assert len(held) == 3 and sorted(train + held) == list(range(10)) and not set(train) & set(held)
    assert split_episodes(hashes, 0.3, seed=5) == (train, held)
    assert split_episodes(hashes[::-1], 0.3, seed=5)[1] == sorted(9 - i for i in held)  # by content, not position
    assert any(split_episodes(hashes, 0.3, seed=s)[1] != held for s in range(6, 9))
    assert split_episodes(hashes[:1], 0.5, 0) == ([0], []) and split_episodes(hashes, 0.0, 0)[1] == []
    forward = bag_data(squares, held_out_fraction=0.5, seed=1).split_dict()
    backward = TrainingData.build([squares.sqlite, squares.mcap], BAGS, 10.0, 16, WINDOW, held_out_fraction=0.5,
                                  seed=1).split_dict()
    assert (forward["train"], forward["held_out"]) == (backward["train"], backward["held_out"])
    assert forward["seed"] == 1 and "default_rng(seed)" in forward["rule"]
    assert json.loads(json.dumps(forward)) == forward


def test_action_stats_come_from_the_training_windows(squares: SquareRecordings, tmp_path: Path) -> None:
    data = bag_data(squares, held_out_fraction=0.5, seed=3)
    (train,) = data.train
    truth = squares.bag_episodes[train].actions  # every action of a 15-frame episode is inside some window
    stats = data.stats
    assert stats.count == len(truth)
    assert np.allclose(stats.raw_low, truth.min(0)) and np.allclose(stats.raw_high, truth.max(0))
    assert np.allclose(stats.mean, truth.mean(0)) and np.allclose(stats.std, truth.std(0))
    span = truth.max(0) - truth.min(0)
    assert np.allclose(stats.low, truth.min(0) - 0.05 * span) and np.allclose(stats.high, truth.max(0) + 0.05 * span)
    assert np.allclose(stats.normalize(stats.raw_low), -1 + 0.1 / 1.1, atol=1e-6)
    assert np.allclose(stats.denormalize(stats.normalize(truth)), truth, atol=1e-5)
    data.save(tmp_path / "out")
    assert ActionStats.load(tmp_path / "out/action_stats.json").to_dict() == stats.to_dict()
    assert json.loads((tmp_path / "out/split.json").read_text()) == data.split_dict()
    summary = json.loads(json.dumps(data.describe()))
    assert [e["windows"] for e in summary["episodes"]] == [12, 12] and summary["action_dim"] == 2
    constant = ActionStats.of(np.array([[2.0, 0.0], [2.0, 0.0]]))
    assert np.allclose(constant.low, [1.9, -1e-3]) and np.allclose(constant.high, [2.1, 1e-3])
    assert np.allclose(constant.std, 1e-6)


def test_window_stream_is_seeded_and_bounded(squares: SquareRecordings) -> None:
    data = TrainingData.build([squares.lerobot], LEROBOT, 10.0, 16, WINDOW, held_out_fraction=0.25, seed=2,
                              cache_episodes=2)
    first = list(data.windows(batch_size=5, seed=11, batches=3))
    again = list(TrainingData.build([squares.lerobot], LEROBOT, 10.0, 16, WINDOW, held_out_fraction=0.25,
                                    seed=2).windows(batch_size=5, seed=11, batches=3))
    other = list(data.windows(batch_size=5, seed=12, batches=3))
    for a, b in zip(first, again, strict=True):
        assert np.array_equal(a.frames, b.frames) and np.array_equal(a.actions, b.actions)
        assert np.array_equal(a.starts, b.starts) and np.array_equal(a.episodes, b.episodes)
    assert any(not np.array_equal(a.starts, b.starts) for a, b in zip(first, other, strict=True))
    assert first[0].frames.shape == (5, WINDOW, 16, 16, 3) and first[0].actions.shape == (5, WINDOW - 1, 2)
    held = next(data.windows(batch_size=4, seed=0, split="held_out", normalize=True))
    assert set(held.episodes.tolist()) == set(data.held_out)
    assert np.abs(held.actions).max() < 1.5  # normalised with the training statistics
    assert len(data.cache.entries) <= 2  # only two episodes' frames kept, whatever was drawn
    assert data.window_list("held_out") == [(data.held_out[0], s) for s in (0, 3, 6, 9) if
                                            s in data.episodes[data.held_out[0]].starts]


def _error(inputs: list[Path], options: RecordingOptions = BAGS, window: int = WINDOW) -> str:
    with pytest.raises(AugmentInputError) as error:
        TrainingData.build(inputs, options, 10.0, 16, window)
    return str(error.value)


def test_empty_input_and_missing_topic(squares: SquareRecordings, tmp_path: Path) -> None:
    with pytest.raises(TrainingDataError, match="^--input: no recordings given$"):
        TrainingData.build([], BAGS, 10.0, 16, WINDOW)
    assert _error([squares.mcap], RecordingOptions("/camera/none", ACTION)).startswith(
        f"{squares.mcap}, topic /camera/none: topic not in the recording (topics: ")
    assert _error([squares.lerobot], RecordingOptions("observation.images.side")).startswith(
        f"{squares.lerobot}, topic observation.images.side: not a video feature")
    empty = tmp_path / "empty.npz"
    np.savez(empty, frames=np.zeros((0, 5, 8, 8, 3), np.uint8), actions=np.zeros((0, 4, 2), np.float32))
    assert _error([empty]) == f"{empty}: holds no episodes"


def test_unknown_field_and_mismatched_sizes(squares: SquareRecordings, tmp_path: Path) -> None:
    assert _error([squares.mcap], RecordingOptions(CAMERA, ACTION, "data[5]")) == (
        f"{squares.mcap}, topic {ACTION}: index 5 is outside data of 2 values")
    assert _error([squares.mcap], RecordingOptions(CAMERA, ACTION, "velocity.x")) == (
        f"{squares.mcap}, topic {ACTION}: message has no field 'velocity.x'")
    assert _error([squares.lerobot], RecordingOptions(CAMERA_KEY, None, "gripper")).startswith(
        f"{squares.lerobot}, topic action: unknown action field 'gripper'")
    episode = square_episode(6, 5)
    wide = write_bag(tmp_path / "wide", episode.frames, np.concatenate([episode.actions] * 2, axis=1))
    assert _error([squares.mcap, wide]) == (f"{wide}, topic {ACTION}: action has 4 values but the action size of "
                                            f"{squares.mcap} is 2 (choose fields with --action-fields)")


def test_too_few_frames_and_mismatched_stamps(squares: SquareRecordings, tmp_path: Path) -> None:
    episode = square_episode(2, 6)
    short = write_bag(tmp_path / "short", episode.frames, episode.actions)
    assert _error([short]).startswith(f"{short}, topic {CAMERA}: too few frames for one window of 4: 3 grid frames")
    data = TrainingData.build([short, squares.mcap], BAGS, 10.0, 16, WINDOW, skip_short=True)
    assert [e.source for e in data.episodes] == [str(squares.mcap)] and data.skipped[0]["source"] == str(short)
    late = write_bag(tmp_path / "late", squares.bag_episodes[0].frames, squares.bag_episodes[0].actions,
                     action_latency_ns=60_000_000_000)  # every action a minute after its frame
    assert _error([late]).startswith(f"{late}, topic {ACTION}: mismatched stamps: no action is stamped before "
                                     "the last camera frame")


@pytest.mark.parametrize("damage", ["garbage", "truncated"])
def test_corrupt_bag_names_the_file(squares: SquareRecordings, tmp_path: Path, damage: str) -> None:
    bag = Path(shutil.copytree(squares.mcap, tmp_path / damage))
    (storage,) = bag.glob("*.mcap")
    data = storage.read_bytes()
    storage.write_bytes(data[:64] + bytes(range(256)) * 16 if damage == "garbage" else data[:len(data) // 2])
    message = _error([bag])
    assert message.startswith(f"{bag}") and "cannot" in message and "\n" not in message
    if "cannot read messages" in message:  # a failure while reading names the topic being read
        assert f"{bag}, topic " in message
