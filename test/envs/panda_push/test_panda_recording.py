"""The recorder's bags are what `dream-engine train` reads: Twist commands on /cmd_vel, PNG frames."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from types import ModuleType

import numpy as np

from dream_engine_ros.augment.recording import RecordingOptions
from dream_engine_ros.envs.panda_push.episodes import episode_seed, run_episode
from dream_engine_ros.envs.panda_push.recording import ACTION_FIELDS, ACTION_TOPIC, CAMERA_TOPIC
from dream_engine_ros.envs.panda_push.scene import PandaPushScene
from dream_engine_ros.training.data import TrainingData

SCRIPT = Path(__file__).resolve().parents[3] / "scripts" / "record_panda_bags.py"
STEPS = 10


def _recorder() -> ModuleType:
    """scripts/record_panda_bags.py as a module (scripts/ is not a package)."""
    spec = importlib.util.spec_from_file_location("record_panda_bags", SCRIPT)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_two_recorded_episodes_train_with_the_twist_fields(tmp_path: Path, panda_scene: PandaPushScene) -> None:
    assert _recorder().main(["--episodes", "2", "--steps", str(STEPS), "--seed", "4", "--out", str(tmp_path)]) == 0
    bags = sorted(tmp_path.glob("episode_*"))
    assert [b.name for b in bags] == ["episode_0000", "episode_0001"]
    assert not any((tmp_path / ".partial").iterdir())  # nothing left half-written
    data = TrainingData.build(bags, RecordingOptions(CAMERA_TOPIC, ACTION_TOPIC, ACTION_FIELDS), 10.0, 96, 5,
                              held_out_fraction=0.5)
    assert data.action_dim == 2
    assert [e.recording.frame_ok.size for e in data.episodes] == [STEPS + 1, STEPS + 1]
    assert all(e.recording.frame_ok.all() for e in data.episodes)
    truth = run_episode(panda_scene, "training", episode_seed("training", 4, 0), STEPS)
    first = next(e.recording for e in data.episodes if e.source.endswith("episode_0000"))
    assert np.allclose(first.actions, truth.actions, atol=1e-6)  # command k leads from frame k to k + 1
    frames = first.load_frames([0, STEPS])
    assert np.array_equal(frames[0], truth.frames[0]) and np.array_equal(frames[STEPS], truth.frames[STEPS])


def test_a_finished_bag_is_kept_on_a_second_run(tmp_path: Path) -> None:
    recorder = _recorder()
    assert recorder.main(["--episodes", "1", "--steps", "3", "--out", str(tmp_path)]) == 0
    mcap = tmp_path / "episode_0000" / "episode_0000.mcap"
    stamp = mcap.stat().st_mtime_ns
    assert recorder.main(["--episodes", "1", "--steps", "3", "--out", str(tmp_path)]) == 0
    assert mcap.stat().st_mtime_ns == stamp
