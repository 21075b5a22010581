"""GR-1 recordings: 29 joint targets read from a JointState topic, perturbed as joints, converted to
DreamDojo's 384-d delta actions for the engine (no GR-1 weights needed: the planner is checked, not a rollout)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from augment_bags import TYPESTORE, image_msg
from rosbags.rosbag2 import StoragePlugin, Writer

from dream_engine_ros.augment.errors import AugmentInputError
from dream_engine_ros.augment.perturb import PerturbationSpec, sample_seed
from dream_engine_ros.augment.pipeline import AugmentSettings, Planner, open_all
from dream_engine_ros.augment.recording import RecordingOptions
from dream_engine_ros.cli import main
from dream_engine_ros.engine.spec import get_spec
from dream_engine_ros.envs.gr1.actions import gr1_joints_to_actions

NAMES = [f"joint_{i:02d}" for i in range(29)] + ["head_pan"]  # one extra joint the model does not use
FIELDS = ",".join(f"position[{name}]" for name in NAMES[:29])


def gr1_bag(path: Path, steps: int = 30) -> tuple[Path, np.ndarray]:
    joints = np.cumsum(np.random.default_rng(3).normal(0, 0.02, size=(steps, 30)), axis=0)
    with Writer(path, version=9, storage_plugin=StoragePlugin.MCAP) as writer:
        cam = writer.add_connection("/head_camera", "sensor_msgs/msg/Image", typestore=TYPESTORE)
        cmd = writer.add_connection("/joint_command", "sensor_msgs/msg/JointState", typestore=TYPESTORE)
        for k in range(steps + 1):
            ns = 5_000_000_000 + k * 100_000_000
            frame = np.full((48, 64, 3), (k * 7) % 255, np.uint8)
            msgtype, msg = image_msg(frame, ns, False)
            writer.write(cam, ns, TYPESTORE.serialize_cdr(msg, msgtype))
            if k < steps:
                state = TYPESTORE.types["sensor_msgs/msg/JointState"](
                    header=msg.header, name=NAMES, position=joints[k], velocity=np.zeros(0), effort=np.zeros(0))
                writer.write(cmd, ns + 2_000_000, TYPESTORE.serialize_cdr(state, "sensor_msgs/msg/JointState"))
    return path, joints[:, :29].astype(np.float32)


def test_gr1_joints_are_perturbed_then_converted(tmp_path: Path) -> None:
    bag, joints = gr1_bag(tmp_path / "gr1")
    settings = AugmentSettings("dreamdojo-gr1-2b", "ou:sigma=0.05,tau=4", 2, start_every=12,
                               recording=RecordingOptions("/head_camera", "/joint_command", FIELDS),
                               action_layout="gr1")
    spec = get_spec("dreamdojo-gr1-2b")
    (recording,) = open_all([str(bag)], settings, spec)
    assert np.allclose(recording.actions, joints)
    planned = list(Planner(settings, spec).plan(recording, lambda _: False))
    assert [(p.output.metadata["start_index"], p.output.metadata["sample_index"]) for p in planned] == [
        (0, 0), (0, 1), (12, 0), (12, 1)]
    for p in planned:
        start = p.output.metadata["start_index"]
        seed = sample_seed(recording.content_hash, start, p.output.metadata["sample_index"])
        perturbed, _ = PerturbationSpec.parse("ou:sigma=0.05,tau=4").apply(joints[start:], 12, seed, None, None)
        assert np.array_equal(p.output.actions, perturbed)  # the bag keeps the joints
        baseline = joints[start - 1] if start else joints[start]
        expected = gr1_joints_to_actions(np.concatenate([baseline[None], perturbed]).astype(np.float64))
        assert p.task.actions.shape == (12, 384) and p.task.actions.dtype == np.float32
        assert np.array_equal(p.task.actions, expected.astype(np.float32))  # the engine gets the 384-d deltas
        assert p.output.metadata["action_layout"] == "gr1" and p.output.metadata["action_dim"] == 29


def test_gr1_layout_refuses_a_bag_without_29_joints_and_a_pusht_spec(tmp_path: Path,
                                                                   capsys: pytest.CaptureFixture[str]) -> None:
    bag, _ = gr1_bag(tmp_path / "gr1", steps=13)
    settings = AugmentSettings("dreamdojo-gr1-2b", "none", 1, recording=RecordingOptions("/head_camera",
                               "/joint_command"), action_layout="gr1")
    with pytest.raises(AugmentInputError, match=r"topic /joint_command: action has 30 values but the GR-1 joint count "
                                                r"\(--action-layout gr1\) is 29"):
        open_all([str(bag)], settings, get_spec("dreamdojo-gr1-2b"))
    code = main(["augment", "--input", str(bag), "--camera-topic", "/head_camera", "--action-topic",
                 "/joint_command", "--action-layout", "gr1", "--out", str(tmp_path / "out")])
    assert code == 2 and "gr1 needs a DreamDojo GR-1 spec" in capsys.readouterr().err
    assert not (tmp_path / "out").exists()
