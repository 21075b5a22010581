"""Reading recordings: actions matched to frames on the fps grid, both storages, both image kinds, npz,
and the action field mapping."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from augment_bags import ACTION, CAMERA, T0_NS, TYPESTORE, Recordings, action_msg, image_msg
from rosbags.rosbag2 import StoragePlugin, Writer

from dream_engine_ros.augment.action_mapping import ActionMapping
from dream_engine_ros.augment.errors import AugmentInputError
from dream_engine_ros.augment.recording import RecordingOptions, open_recordings

OPTIONS = RecordingOptions(CAMERA, ACTION)


@pytest.mark.parametrize("which", ["mcap", "sqlite"])
def test_bag_actions_and_frames_land_on_the_grid(recordings: Recordings, which: str) -> None:
    episode = 0 if which == "mcap" else 1
    path = recordings.mcap if which == "mcap" else recordings.sqlite
    (recording,) = open_recordings(path, OPTIONS, action_dim=2, fps=10.0)
    truth_frames, truth_actions = recordings.episodes.frames[episode], recordings.episodes.actions[episode]
    # actions published 3 ms after their frame, cameras +-1 ms jitter: still exactly action k at frame k
    assert np.array_equal(recording.actions, truth_actions)
    assert recording.frame_ok.all() and len(recording.frame_ok) == len(truth_frames)
    frames = recording.load_frames([0, 12, 26])
    for k in (0, 12, 26):  # rgb8 and lossless PNG both give the recorded pixels back
        assert np.array_equal(frames[k], truth_frames[k])
    assert recording.stamp_ns(12) - recording.stamp_ns(0) == 1_200_000_000
    assert recording.frame_id == "pusht_camera"
    assert recording.starts(12) == [0, 12] and recording.starts(12, every=5) == [0, 5, 10]
    assert recording.starts(12, times_s=[1.4]) == [14]
    with pytest.raises(AugmentInputError, match="start time 2.0 s"):
        recording.starts(12, times_s=[2.0])  # frame 20 has only 6 actions after it


def test_directory_and_storage_file_share_the_content_hash(recordings: Recordings) -> None:
    (from_dir,) = open_recordings(recordings.mcap, OPTIONS, 2, 10.0)
    (from_file,) = open_recordings(recordings.mcap / "teleop_a.mcap", OPTIONS, 2, 10.0)
    assert from_dir.content_hash == from_file.content_hash
    assert np.array_equal(from_dir.actions, from_file.actions)


def test_a_dropped_camera_frame_cannot_start_a_sample(recordings: Recordings, tmp_path: Path) -> None:
    frames, actions = recordings.episodes.frames[0], recordings.episodes.actions[0]
    bag = tmp_path / "gap"  # frame 12 was never recorded; actions keep coming
    with Writer(bag, version=9, storage_plugin=StoragePlugin.MCAP) as writer:
        cam = writer.add_connection(CAMERA, "sensor_msgs/msg/Image", typestore=TYPESTORE)
        act = writer.add_connection(ACTION, "std_msgs/msg/Float32MultiArray", typestore=TYPESTORE)
        for k in range(len(frames)):
            ns = T0_NS + k * 100_000_000
            if k != 12:
                msgtype, msg = image_msg(frames[k], ns, False)
                writer.write(cam, ns, TYPESTORE.serialize_cdr(msg, msgtype))
            if k < len(actions):
                msgtype, msg = action_msg(actions[k], ns, "array")
                writer.write(act, ns, TYPESTORE.serialize_cdr(msg, msgtype))
    (recording,) = open_recordings(bag, OPTIONS, 2, 10.0)
    assert not recording.frame_ok[12] and recording.frame_ok[[0, 11, 13]].all()
    assert np.array_equal(recording.actions, actions)
    assert recording.starts(12, every=1) == [s for s in range(15) if s != 12]


def test_npz_episodes_are_recordings(recordings: Recordings) -> None:
    found = open_recordings(recordings.npz, RecordingOptions(), 2, 10.0)
    assert [r.source for r in found] == [f"{recordings.npz}#0", f"{recordings.npz}#1"]
    assert found[0].content_hash != found[1].content_hash
    assert np.array_equal(found[1].actions, recordings.episodes.actions[1])
    assert found[1].reset_seed == int(recordings.episodes.reset_seeds[1])
    assert np.array_equal(found[1].load_frames([12])[12], recordings.episodes.frames[1, 12])


def _msg(kind: str, values: list[float]) -> object:
    return action_msg(np.asarray(values), 5, kind)[1]


def test_action_fields_map_arrays_joints_and_points() -> None:
    joint = ActionMapping.create("sensor_msgs/msg/JointState", "position[x],position[y]", 2, "f", "/t")
    assert joint.vector(_msg("joint", [100, 200]), "f", "/t").tolist() == [100, 200]
    by_index = ActionMapping.create("sensor_msgs/msg/JointState", "position[1:3]", 2, "f", "/t")
    assert by_index.vector(_msg("joint", [7, 8]), "f", "/t").tolist() == [7, 8]
    point = ActionMapping.create("geometry_msgs/msg/PointStamped", None, 2, "f", "/t")
    assert point.vector(_msg("point", [3, 4]), "f", "/t").tolist() == [3, 4]
    reordered = ActionMapping.create("std_msgs/msg/Float32MultiArray", "data[1],data[0]", 2, "f", "/t")
    assert reordered.vector(_msg("array", [1, 2, 3]), "f", "/t").tolist() == [2, 1]


def test_action_mapping_errors_name_file_and_topic() -> None:
    with pytest.raises(AugmentInputError, match=r"^rec\.mcap, topic /cmd: action message type std_msgs/msg/String"):
        ActionMapping.create("std_msgs/msg/String", None, 2, "rec.mcap", "/cmd")
    whole = ActionMapping.create("std_msgs/msg/Float32MultiArray", None, 2, "rec.mcap", "/cmd")
    with pytest.raises(AugmentInputError, match="rec.mcap, topic /cmd: action has 3 values but the spec.s action_dim"):
        whole.vector(_msg("array", [1, 2, 3]), "rec.mcap", "/cmd")
    joint = ActionMapping.create("sensor_msgs/msg/JointState", "position[elbow]", 1, "rec.mcap", "/cmd")
    with pytest.raises(AugmentInputError, match="joint 'elbow' is not in"):
        joint.vector(_msg("joint", [1, 2]), "rec.mcap", "/cmd")
    with pytest.raises(AugmentInputError, match="is not a path"):
        ActionMapping.create("std_msgs/msg/Float32MultiArray", "data[0", 2, "rec.mcap", "/cmd")
