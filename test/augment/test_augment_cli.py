"""`dream-engine augment` end to end in this process: output bags read back with rosbags (and the reference
MCAP reader), stamps, actions, metadata, the PushT tracking check, resume and crash safety."""

from __future__ import annotations

import io
import json
import shutil
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from augment_bags import ACTION, CAMERA, Recordings, read_sample_bag

from dream_engine_ros.augment.execution import EngineSettings, LocalExecutor, RolloutTask
from dream_engine_ros.augment.perturb import PerturbationSpec
from dream_engine_ros.augment.pipeline import AugmentSettings, ProgressBar, run_augment
from dream_engine_ros.augment.recording import RecordingOptions
from dream_engine_ros.augment.writer import frames_digest
from dream_engine_ros.cli import main
from dream_engine_ros.cli.augment import DEFAULT_PERTURB
from dream_engine_ros.envs.pusht.augment.tracking import evaluate_output

BAG_ARGS = ["--camera-topic", CAMERA, "--action-topic", ACTION]
BAG_OPTIONS = RecordingOptions(CAMERA, ACTION)


def augment(inputs: list[Path], out: Path, *extra: str) -> int:
    return main(["augment", "--input", *map(str, inputs), *BAG_ARGS, "--out", str(out), *extra])


def local() -> LocalExecutor:
    return LocalExecutor(EngineSettings("pusht-structured", device="cpu"))


def index_of(out: Path) -> dict[str, Any]:
    index: dict[str, Any] = json.loads((out / "index.json").read_text())
    return index


@pytest.fixture(scope="module")
def augmented(recordings: Recordings, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("augmented") / "out"
    assert augment([recordings.mcap, recordings.sqlite, recordings.npz], out, "--per-start", "2") == 0
    return out


def test_every_sample_bag_holds_frames_stamps_actions_and_metadata(augmented: Path, recordings: Recordings) -> None:
    index = index_of(augmented)
    assert index["complete"] is True and index["count"] == 16  # 4 recordings x 2 starts x 2 samples
    perturbation = PerturbationSpec.parse(DEFAULT_PERTURB)
    sources = {str(recordings.mcap): 0, str(recordings.sqlite): 1, f"{recordings.npz}#0": 0, f"{recordings.npz}#1": 1}
    seeds = set()
    for entry in index["samples"]:
        bag = read_sample_bag(augmented / entry["path"])
        episode, start = sources[entry["source"]], entry["start_index"]
        frames = bag["frames"]
        assert frames.shape == (13, 96, 96, 3)
        assert np.array_equal(frames[0], recordings.episodes.frames[episode, start])  # frame 0 = the start frame
        assert frames_digest(frames) == entry["frames_sha256"]
        stamps = [entry["start_stamp_ns"] + k * 100_000_000 for k in range(13)]
        assert bag["frame_stamps"] == stamps and bag["log_stamps"] == stamps
        assert bag["action_stamps"] == stamps[:12]
        recorded = recordings.episodes.actions[episode]
        assert np.array_equal(bag["recorded_actions"], recorded[start:start + 12])
        expected, drawn = perturbation.apply(recorded[start:], 12, entry["seed"], np.zeros(2), np.full(2, 512.0))
        assert np.array_equal(bag["actions"], expected)
        assert not np.array_equal(bag["actions"], bag["recorded_actions"])
        assert bag["metadata"] == [entry]
        assert entry["perturbation"]["drawn"] == json.loads(json.dumps(drawn))
        assert entry["spec"] == "pusht-structured" and entry["horizon"] == 12
        assert bag["types"]["/augment/camera/image_raw"] == "sensor_msgs/msg/Image"
        assert bag["types"]["/augment/action"] == "std_msgs/msg/Float32MultiArray"
        assert bag["frame_ids"] == ({"pusht_camera"} if "#" not in entry["source"] else {"camera"})
        seeds.add(entry["seed"])
    assert len(seeds) == 16
    bag_stamp = index["samples"][0]["start_stamp_ns"]
    assert bag_stamp in {e["start_stamp_ns"] for e in index["samples"]}


def test_output_opens_in_the_reference_mcap_reader(augmented: Path) -> None:
    from mcap.reader import make_reader

    entry = index_of(augmented)["samples"][0]
    (mcap_file,) = (augmented / entry["path"]).glob("*.mcap")
    with open(mcap_file, "rb") as handle:
        reader = make_reader(handle)
        summary = reader.get_summary()
        assert summary is not None
        topics = {c.topic: summary.schemas[c.schema_id].name for c in summary.channels.values()}
        assert topics == {"/augment/camera/image_raw": "sensor_msgs/msg/Image",
                          "/augment/action": "std_msgs/msg/Float32MultiArray",
                          "/augment/recorded_action": "std_msgs/msg/Float32MultiArray",
                          "/augment/metadata": "std_msgs/msg/String"}
        assert {s.encoding for s in summary.schemas.values()} == {"ros2msg"}
        assert sum(1 for _ in reader.iter_messages()) == 13 + 12 + 12 + 1


def test_augmented_pusht_agent_tracks_its_perturbed_target(augmented: Path, recordings: Recordings) -> None:
    report = evaluate_output(augmented, recordings.npz)
    mean = report["mean"]
    assert report["samples"] == 8
    assert mean["replay_start_matches"] == 1.0
    # the predicted agent is where gym-pusht puts it under the perturbed actions ...
    assert mean["agent_error_px"] < 1.0
    # ... and not where the unperturbed recording had it
    assert mean["truth_vs_recording_px"] > 2.0
    assert mean["agent_error_vs_recording_px"] > 2 * mean["agent_error_px"]


def test_a_rerun_skips_finished_samples_and_drops_partial_ones(recordings: Recordings, tmp_path: Path) -> None:
    out = tmp_path / "out"
    assert augment([recordings.npz], out, "--per-start", "1") == 0
    first = {e["sample_id"]: e["frames_sha256"] for e in index_of(out)["samples"]}
    assert len(first) == 4
    victim = sorted(first)[1]
    shutil.rmtree(out / "samples" / victim)  # as if the run had died before finalising it
    leftover = out / ".partial" / "deadbeef" / victim
    leftover.mkdir(parents=True)
    (leftover / "metadata.yaml").write_text("half written")
    settings = AugmentSettings("pusht-structured", DEFAULT_PERTURB, 1, recording=BAG_OPTIONS)
    summary = run_augment([str(recordings.npz)], settings, out, local())
    assert summary["written"] == 1 and summary["skipped"] == 3
    assert not (out / ".partial").exists() or not any((out / ".partial").iterdir())
    assert {e["sample_id"]: e["frames_sha256"] for e in index_of(out)["samples"]} == first
    assert index_of(out)["complete"] is True


class CrashAfter(LocalExecutor):
    """The in-process executor, killed after `count` samples."""

    def __init__(self, count: int) -> None:
        super().__init__(EngineSettings("pusht-structured", device="cpu"))
        self.count = count

    def run(self, tasks: Any, on_outcome: Any) -> None:
        seen = [0]

        def counting(outcome: Any) -> None:
            if seen[0] == self.count:
                raise KeyboardInterrupt("simulated crash")
            seen[0] += 1
            on_outcome(outcome)

        super().run(tasks, counting)


def test_a_crash_leaves_only_complete_samples_and_an_incomplete_index(recordings: Recordings, tmp_path: Path,
                                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    out = tmp_path / "out"
    settings = AugmentSettings("pusht-structured", DEFAULT_PERTURB, 1)
    with pytest.raises(KeyboardInterrupt):
        run_augment([str(recordings.npz)], settings, out, CrashAfter(2))
    index = index_of(out)
    assert index["complete"] is False and "simulated crash" in index["error"] and index["count"] == 2
    assert len(list((out / "samples").iterdir())) == 2

    # a crash inside a bag write: nothing appears under samples/, nothing is left in .partial/
    from rosbags.rosbag2 import Writer

    calls = [0]
    original = Writer.write

    def failing_write(self: Writer, *args: Any) -> None:
        calls[0] += 1
        if calls[0] == 10:
            raise OSError("disk full (simulated)")
        original(self, *args)

    monkeypatch.setattr(Writer, "write", failing_write)
    with pytest.raises(OSError, match="disk full"):
        run_augment([str(recordings.npz)], settings, out,
                    LocalExecutor(EngineSettings("pusht-structured", device="cpu")))
    assert len(list((out / "samples").iterdir())) == 2
    assert not [p for p in (out / ".partial").rglob("*") if p.is_file()]  # the failed bag was removed
    assert index_of(out)["complete"] is False
    monkeypatch.setattr(Writer, "write", original)

    summary = run_augment([str(recordings.npz)], settings, out, LocalExecutor(EngineSettings("pusht-structured",
                                                                                             device="cpu")))
    assert summary["written"] == 2 and summary["skipped"] == 2 and index_of(out)["complete"] is True


def test_other_settings_in_the_same_output_are_refused(recordings: Recordings, tmp_path: Path,
                                                       capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "out"
    assert augment([recordings.npz], out, "--per-start", "1", "--start-times", "0") == 0
    capsys.readouterr()
    assert augment([recordings.npz], out, "--per-start", "1", "--start-times", "0", "--perturb", "none") == 2
    assert "holds samples made with other settings (perturb" in capsys.readouterr().err


def test_progress_bar_shows_rate_and_eta_on_a_terminal_only() -> None:
    class Terminal(io.StringIO):
        def isatty(self) -> bool:
            return True

    terminal, pipe = Terminal(), io.StringIO()
    for stream in (terminal, pipe):
        bar = ProgressBar(3, stream)
        for _ in range(3):
            bar.advance()
    assert "3/3" in terminal.getvalue() and "ETA" in terminal.getvalue() and "samples/s" in terminal.getvalue()
    assert pipe.getvalue() == ""


def test_start_times_and_options_reach_the_recording(recordings: Recordings, tmp_path: Path) -> None:
    settings = AugmentSettings("pusht-structured", "none", 1, start_times=[1.0],
                               recording=RecordingOptions(CAMERA, ACTION, "point.x,point.y"))
    summary = run_augment([str(recordings.sqlite)], settings, tmp_path / "out",
                          LocalExecutor(EngineSettings("pusht-structured", device="cpu")))
    (entry,) = index_of(tmp_path / "out")["samples"]
    assert summary["written"] == 1 and entry["start_index"] == 10
    bag = read_sample_bag(tmp_path / "out" / entry["path"])
    assert np.array_equal(bag["actions"], recordings.episodes.actions[1, 10:22])  # 'none': recorded actions


def test_tasks_carry_only_what_a_worker_needs() -> None:
    fields = set(RolloutTask.__dataclass_fields__)
    assert fields == {"sample_id", "frame", "actions", "seed"}
