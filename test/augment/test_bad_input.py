"""Bad input: one clear line naming the file (and topic), exit 2, and nothing written to --out."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest
from augment_bags import ACTION, CAMERA, TYPESTORE, Recordings, write_bag
from rosbags.rosbag2 import StoragePlugin, Writer

from dream_engine_ros.cli import main


def run(inputs: list[Path], out: Path, capsys: pytest.CaptureFixture[str], *extra: str,
        camera: str = CAMERA, action: str = ACTION) -> tuple[int, str]:
    capsys.readouterr()
    code = main(["augment", "--input", *map(str, inputs), "--camera-topic", camera, "--action-topic", action,
                 "--out", str(out), *extra])
    err = capsys.readouterr().err.strip()
    assert not out.exists(), "bad input must leave no output behind"
    return code, err


def string_action_bag(path: Path, frames: np.ndarray) -> Path:
    with Writer(path, version=9, storage_plugin=StoragePlugin.MCAP) as writer:
        cam = writer.add_connection(CAMERA, "sensor_msgs/msg/Image", typestore=TYPESTORE)
        act = writer.add_connection(ACTION, "std_msgs/msg/String", typestore=TYPESTORE)
        for k, frame in enumerate(frames):
            ns = 1_000_000_000 + k * 100_000_000
            image = TYPESTORE.types["sensor_msgs/msg/Image"](
                header=TYPESTORE.types["std_msgs/msg/Header"](
                    stamp=TYPESTORE.types["builtin_interfaces/msg/Time"](sec=ns // 10**9, nanosec=ns % 10**9),
                    frame_id="c"),
                height=96, width=96, encoding="rgb8", is_bigendian=0, step=288, data=frame.reshape(-1))
            writer.write(cam, ns, TYPESTORE.serialize_cdr(image, "sensor_msgs/msg/Image"))
            msg = TYPESTORE.types["std_msgs/msg/String"](data="go left")
            writer.write(act, ns, TYPESTORE.serialize_cdr(msg, "std_msgs/msg/String"))
    return path


def test_missing_topic(recordings: Recordings, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, err = run([recordings.npz, recordings.mcap], tmp_path / "out", capsys, camera="/camera/missing")
    assert code == 2
    assert err.startswith(f"error: {recordings.mcap}, topic /camera/missing: topic not in the recording")
    assert f"{CAMERA} (sensor_msgs/msg/Image)" in err  # says which topics there are


def test_unknown_action_message_type(recordings: Recordings, tmp_path: Path,
                                     capsys: pytest.CaptureFixture[str]) -> None:
    bag = string_action_bag(tmp_path / "strings", recordings.episodes.frames[0, :5])
    code, err = run([bag], tmp_path / "out", capsys)
    assert code == 2
    assert err.startswith(f"error: {bag}, topic {ACTION}: action message type std_msgs/msg/String is not supported")


def test_camera_topic_that_is_not_an_image(recordings: Recordings, tmp_path: Path,
                                           capsys: pytest.CaptureFixture[str]) -> None:
    code, err = run([recordings.mcap], tmp_path / "out", capsys, camera=ACTION)
    assert code == 2
    assert f"{recordings.mcap}, topic {ACTION}: message type std_msgs/msg/Float32MultiArray is not supported" in err


def test_mismatched_action_dimension(recordings: Recordings, tmp_path: Path,
                                     capsys: pytest.CaptureFixture[str]) -> None:
    episodes = recordings.episodes
    wide = np.concatenate([episodes.actions[0], np.ones((len(episodes.actions[0]), 1), np.float32)], axis=1)
    bag = write_bag(tmp_path / "wide", episodes.frames[0], wide)
    code, err = run([bag], tmp_path / "out", capsys)
    assert code == 2
    assert err == (f"error: {bag}, topic {ACTION}: action has 3 values but the spec's action_dim is 2 "
                   "(choose fields with --action-fields)")
    # naming two of the three fields makes the same recording usable
    out = tmp_path / "ok"
    assert main(["augment", "--input", str(bag), "--camera-topic", CAMERA, "--action-topic", ACTION,
                 "--action-fields", "data[0:2]", "--per-start", "1", "--start-times", "0", "--out", str(out)]) == 0
    assert len(list((out / "samples").iterdir())) == 1


@pytest.mark.parametrize("damage", ["garbage", "truncated"])
@pytest.mark.parametrize("storage", ["mcap", "sqlite3"])
def test_corrupt_or_truncated_recording(recordings: Recordings, tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                        damage: str, storage: str) -> None:
    source = recordings.mcap if storage == "mcap" else recordings.sqlite
    bag = tmp_path / f"{damage}_{storage}"
    shutil.copytree(source, bag)
    (storage_file,) = [p for p in bag.iterdir() if p.suffix in (".mcap", ".db3")]
    data = storage_file.read_bytes()
    if damage == "garbage":
        storage_file.write_bytes(data[:64] + bytes(range(256)) * 64)
    else:
        storage_file.write_bytes(data[: len(data) // 2])
    code, err = run([recordings.npz, bag], tmp_path / "out", capsys)
    assert code == 2
    assert err.startswith(f"error: {bag}")
    assert "cannot" in err  # "cannot open as rosbag2" or "cannot read messages ..."
    assert "\n" not in err


def test_missing_file_and_unknown_format(recordings: Recordings, tmp_path: Path,
                                         capsys: pytest.CaptureFixture[str]) -> None:
    code, err = run([tmp_path / "nope.mcap"], tmp_path / "out", capsys)
    assert (code, err) == (2, f"error: {tmp_path / 'nope.mcap'}: no such file or directory")
    text = tmp_path / "notes.txt"
    text.write_text("not a bag")
    code, err = run([text], tmp_path / "out", capsys)
    assert code == 2 and err.startswith(f"error: {text}: not a rosbag2 recording")


def test_npz_with_the_wrong_action_size(recordings: Recordings, tmp_path: Path,
                                        capsys: pytest.CaptureFixture[str]) -> None:
    npz = tmp_path / "wide.npz"
    episodes = recordings.episodes
    np.savez(npz, frames=episodes.frames, actions=np.concatenate([episodes.actions] * 2, axis=2))
    code, err = run([npz], tmp_path / "out", capsys)
    assert (code, err) == (2, f"error: {npz}: actions have 4 values but the spec's action_dim is 2")


@pytest.mark.parametrize("extra, words", [
    (["--horizon", "10"], "error: --horizon: 10 is not a positive multiple of chunk_size 12"),
    (["--perturb", "jitter:sigma=2"], "error: --perturb: unknown perturbation 'jitter'"),
    (["--per-start", "0"], "error: --per-start: 0 must be at least 1"),
    (["--spec", "no-such-spec"], "error: --spec:"),
])
def test_bad_options(recordings: Recordings, tmp_path: Path, capsys: pytest.CaptureFixture[str],
                     extra: list[str], words: str) -> None:
    code, err = run([recordings.npz], tmp_path / "out", capsys, *extra)
    assert code == 2 and err.startswith(words)
