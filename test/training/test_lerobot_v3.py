"""The augmentation reader on LeRobotDataset v3 folders: episodes from shared parquet and mp4 files,
actions exact, frames within codec tolerance, field selection, resampling, and errors naming folder and key."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
from training_recordings import CAMERA_KEY, SquareRecordings, square_corner, square_episode, write_lerobot

from dream_engine_ros.augment.errors import AugmentInputError
from dream_engine_ros.augment.recording import RecordingOptions, open_recordings

OPTIONS = RecordingOptions(CAMERA_KEY)


def test_every_episode_is_a_recording_with_exact_actions_and_close_frames(squares: SquareRecordings) -> None:
    found = open_recordings(squares.lerobot, OPTIONS, None, 10.0)
    assert [r.source for r in found] == [f"{squares.lerobot}#{i}" for i in range(4)]
    assert len({r.content_hash for r in found}) == 4
    for recording, truth in zip(found, squares.lerobot_episodes, strict=True):
        assert np.array_equal(recording.actions, truth.actions)  # the last row's action leads nowhere
        assert recording.frame_ok.all() and recording.frame_ok.size == len(truth.frames)
        frames = recording.load_frames(range(len(truth.frames)))
        for k, frame in frames.items():  # h264 yuv420p: colours blur, the square stays where it was drawn
            assert np.abs(frame.astype(int) - truth.frames[k]).mean() < 6
            assert np.array_equal(square_corner(frame), truth.positions[k])
    # episodes 1 and 3 start part-way into their shared mp4 (from_timestamp > 0)
    assert found[1].extras["video_file"] == found[0].extras["video_file"]
    assert np.array_equal(square_corner(found[3].load_frames([4])[4]), squares.lerobot_episodes[3].positions[4])


def test_action_fields_pick_elements_by_index_name_or_slice(squares: SquareRecordings) -> None:
    truth = squares.lerobot_episodes[0].actions
    for fields, columns in [("1", [1]), ("dy,dx", [1, 0]), ("0:2", [0, 1]), ("-1,0", [1, 0])]:
        (first, *_) = open_recordings(squares.lerobot, RecordingOptions(CAMERA_KEY, None, fields), None, 10.0)
        assert np.array_equal(first.actions, truth[:, columns]), fields
    (state, *_) = open_recordings(squares.lerobot, RecordingOptions(CAMERA_KEY, "observation.state"), 2, 10.0)
    assert np.array_equal(state.actions, squares.lerobot_episodes[0].positions[:-1])


def test_another_fps_resamples_by_the_grid_rule(squares: SquareRecordings) -> None:
    (half, *_) = open_recordings(squares.lerobot, OPTIONS, None, 5.0)
    truth = squares.lerobot_episodes[0]
    assert half.frame_ok.size == len(truth.frames[::2])
    assert np.array_equal(half.actions, truth.actions[1::2][:half.frame_ok.size - 1])  # zero-order hold
    assert np.array_equal(square_corner(half.load_frames([3])[3]), truth.positions[6])


def _copy(squares: SquareRecordings, tmp_path: Path) -> Path:
    return Path(shutil.copytree(squares.lerobot, tmp_path / "copy"))


@pytest.mark.parametrize("options, words", [
    (RecordingOptions(), "--camera-topic is required: name a video feature (video features: " + CAMERA_KEY),
    (RecordingOptions("observation.images.wrist"), "topic observation.images.wrist: not a video feature"),
    (RecordingOptions(CAMERA_KEY, "observation.effort"), "topic observation.effort: not a vector feature"),
    (RecordingOptions(CAMERA_KEY, None, "dz"), "topic action: unknown action field 'dz': the vector has 2 values "
                                               "and names ['dx', 'dy']"),
    (RecordingOptions(CAMERA_KEY, None, "2"), "topic action: action field 2 is outside the 2-value vector"),
])
def test_option_errors_name_the_folder_and_key(squares: SquareRecordings, options: RecordingOptions,
                                               words: str) -> None:
    with pytest.raises(AugmentInputError) as error:
        open_recordings(squares.lerobot, options, None, 10.0)
    assert str(error.value).startswith(f"{squares.lerobot}")
    assert words in str(error.value)


def test_wrong_action_size_and_version(squares: SquareRecordings, tmp_path: Path) -> None:
    with pytest.raises(AugmentInputError, match=r"topic action: action has 2 values but the spec's action_dim is 3"):
        open_recordings(squares.lerobot, OPTIONS, 3, 10.0)
    old = write_lerobot(tmp_path / "v21", [square_episode(4, 1)], codebase_version="v2.1")
    with pytest.raises(AugmentInputError, match=r"v21: LeRobot dataset version v2.1 is not supported"):
        open_recordings(old, OPTIONS, None, 10.0)


def test_missing_or_corrupt_video_names_file_and_key(squares: SquareRecordings, tmp_path: Path) -> None:
    copy = _copy(squares, tmp_path)
    video = copy / f"videos/{CAMERA_KEY}/chunk-000/file-001.mp4"
    video.write_bytes(video.read_bytes()[:200])  # truncated
    first, _, third, _ = open_recordings(copy, OPTIONS, None, 10.0)  # stamps and actions need no video
    assert first.load_frames([0])[0].shape == (32, 32, 3)
    with pytest.raises(AugmentInputError, match=rf"^{copy}#2, topic {CAMERA_KEY}: (cannot decode video|video) "):
        third.load_frames([0, 5])
    video.unlink()
    with pytest.raises(AugmentInputError, match=rf"^{copy}#2, topic {CAMERA_KEY}: video file .* is missing"):
        third.load_frames([0])


def test_broken_metadata_is_one_line_naming_the_folder(squares: SquareRecordings, tmp_path: Path) -> None:
    copy = _copy(squares, tmp_path)
    info = json.loads((copy / "meta/info.json").read_text())
    del info["fps"]
    (copy / "meta/info.json").write_text(json.dumps(info))
    with pytest.raises(AugmentInputError, match=rf"^{copy}: meta/info.json has no 'fps'"):
        open_recordings(copy, OPTIONS, None, 10.0)
    (copy / "meta/info.json").write_text("{not json")
    with pytest.raises(AugmentInputError, match=rf"^{copy}: cannot read meta/info.json"):
        open_recordings(copy, OPTIONS, None, 10.0)
