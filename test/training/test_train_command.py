"""`dream-engine train` end to end on tiny recordings (moving squares, rosbag2 MCAP): a model folder
every surface loads, deterministic, resumable, batch rows == single, bad input named, and a run
that dies before the end leaves no folder that looks like a model."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from augment_bags import ACTION, CAMERA, write_bag
from training_recordings import square_episode

from dream_engine_ros.engine.errors import WeightsError
from dream_engine_ros.engine.runner import DreamEngine
from dream_engine_ros.engine.spec import get_spec

REPO = Path(__file__).resolve().parents[2]
TINY = ["--resolution", "32", "--chunk-size", "4", "--tokenizer-steps", "12", "--dynamics-steps", "12",
        "--batch", "4", "--eval-every", "6", "--log-every", "6", "--device", "cpu"]


@pytest.fixture(scope="module")
def bags(tmp_path_factory: pytest.TempPathFactory) -> list[Path]:
    root = tmp_path_factory.mktemp("train_bags")
    return [write_bag(root / f"episode_{seed}", (e := square_episode(24, seed)).frames, e.actions)
            for seed in (31, 32, 33, 34)]


def train_cli(bags: list[Path], out: Path, *extra: str) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, "-m", "dream_engine_ros.cli", "train", "--input", *map(str, bags),
               "--camera-topic", CAMERA, "--action-topic", ACTION, *TINY, "--out", str(out), *extra]
    return subprocess.run(command, cwd=REPO, capture_output=True, text=True, timeout=600,
                          env={"OMP_NUM_THREADS": "1", "PATH": "/usr/bin:/bin", "SDL_VIDEODRIVER": "dummy"})


@pytest.fixture(scope="module")
def trained(bags: list[Path], tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("runs") / "squares-model"
    proc = train_cli(bags, out, "--context-noise", "0.1")  # the recipe's other defaults
    assert proc.returncode == 0, proc.stderr[-3000:]
    summary = json.loads(proc.stdout)
    assert summary["spec"] == "squares-model" and set(summary["stages"]) == {"tokenizer", "dynamics"}
    return out


def test_the_folder_is_a_model_with_its_record(trained: Path) -> None:
    for name in ("spec.json", "tokenizer.safetensors", "dynamics.safetensors", "action_stats.json", "split.json",
                 "report.json", "loss_curve.png"):
        assert (trained / name).is_file(), name
    spec = get_spec(str(trained))
    assert (spec.family, spec.height, spec.width, spec.chunk_size, spec.action_dim) == ("block-diffusion", 32, 32, 4, 2)
    stats = json.loads((trained / "action_stats.json").read_text())
    assert list(spec.action_low) == pytest.approx(stats["low"])
    assert list(spec.action_high) == pytest.approx(stats["high"])
    report = json.loads((trained / "report.json").read_text())
    assert report["stages"]["tokenizer"]["steps_done"] == 12 and report["data"]["action_dim"] == 2
    assert report["throughput_frames_per_s"] > 0 and 0 < report["peak_rss_mib"] < 8 * 1024
    recipe = {key: report["settings"][key] for key in ("change_weight", "context_noise", "ema")}
    assert recipe == {"change_weight": 9.0, "context_noise": 0.1, "ema": 0.999}
    assert "weighted_loss" in report["stages"]["dynamics"]["held_out"]
    split = json.loads((trained / "split.json").read_text())
    assert len(split["train"]) == 3 and len(split["held_out"]) == 1


def test_the_trained_model_keeps_every_promise(trained: Path) -> None:
    engine = DreamEngine.load(str(trained), device="cpu")
    episode = square_episode(8, 99)
    chunks: list[int] = []
    single = engine.predict(episode.frames[0], episode.actions, seed=5, on_chunk=lambda e: chunks.append(e.chunk_index))
    assert single.frames.shape == (9, 32, 32, 3) and np.array_equal(single.frames[0], episode.frames[0])
    assert chunks == [0, 1]
    again = engine.predict(episode.frames[0], episode.actions, seed=5).frames
    assert np.array_equal(single.frames, again)
    plans = np.stack([episode.actions, episode.actions[::-1].copy()])
    batch = engine.predict_batch(episode.frames[0], plans, seeds=[5, 6]).frames
    assert np.array_equal(batch[0], single.frames)
    assert np.array_equal(batch[1], engine.predict(episode.frames[0], plans[1], seed=6).frames)
    states = engine.rollout_frameless(episode.frames[0], plans)
    assert engine.can_roll_out_frameless and states.shape[:2] == (2, 8)


def test_predict_through_the_cli_is_deterministic(trained: Path, tmp_path: Path) -> None:
    episode = square_episode(8, 98)
    from PIL import Image

    Image.fromarray(episode.frames[0]).save(tmp_path / "start.png")
    np.save(tmp_path / "a.npy", episode.actions)
    outs = []
    for name in ("a", "b"):
        out = tmp_path / f"{name}.mp4"
        proc = subprocess.run([sys.executable, "-m", "dream_engine_ros.cli", "predict", "--spec", str(trained),
                               "--frame", str(tmp_path / "start.png"), "--actions", str(tmp_path / "a.npy"),
                               "--seed", "2", "--device", "cpu", "--out", str(out)],
                              cwd=REPO, capture_output=True, text=True, timeout=300)
        assert proc.returncode == 0, proc.stderr
        outs.append(out.read_bytes())
    assert outs[0] == outs[1]


def test_resume_continues_and_an_unfinished_run_asks_for_it(bags: list[Path], tmp_path: Path) -> None:
    out = tmp_path / "resumable"
    first = train_cli(bags, out, "--tokenizer-steps", "6", "--dynamics-steps", "6")
    assert first.returncode == 0, first.stderr[-2000:]
    again = train_cli(bags, out)
    assert again.returncode == 2 and "already holds a model" in again.stderr
    (out / "spec.json").unlink()  # as if the run had died before its end
    unfinished = train_cli(bags, out)
    assert unfinished.returncode == 2 and "--resume" in unfinished.stderr
    resumed = train_cli(bags, out, "--resume")
    assert resumed.returncode == 0, resumed.stderr[-2000:]
    stages = json.loads(resumed.stdout)["stages"]
    # the dynamics had trained on the tokenizer's latents: only the dynamics continues
    assert stages["tokenizer"]["steps"] == 6 and stages["dynamics"]["steps"] == 12


def test_a_recipe_value_out_of_range_is_refused_before_reading(bags: list[Path], tmp_path: Path) -> None:
    proc = train_cli(bags, tmp_path / "never", "--ema", "1.5")
    assert proc.returncode == 2 and "--ema: 1.5 must be >= 0 and < 1" in proc.stderr
    assert not (tmp_path / "never").exists()


def test_bad_input_names_file_and_topic(bags: list[Path], tmp_path: Path) -> None:
    proc = subprocess.run([sys.executable, "-m", "dream_engine_ros.cli", "train", "--input", str(bags[0]),
                           "--camera-topic", "/no/camera", "--action-topic", ACTION, *TINY,
                           "--out", str(tmp_path / "never")], cwd=REPO, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 2 and "/no/camera" in proc.stderr and str(bags[0].name) in proc.stderr
    assert not (tmp_path / "never" / "spec.json").exists()


def test_a_run_that_dies_leaves_no_model(bags: list[Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import torch

    from dream_engine_ros.augment.recording import RecordingOptions
    from dream_engine_ros.training import block_diffusion

    def die(*args: object, **kwargs: object) -> None:
        raise RuntimeError("power cut")

    monkeypatch.setattr(block_diffusion, "write_report", die)
    out = tmp_path / "died"
    settings = block_diffusion.TrainSettings(
        inputs=tuple(map(str, bags)), out=out, options=RecordingOptions(CAMERA, ACTION), resolution=32,
        tokenizer_steps=2, dynamics_steps=2, batch=4, eval_every=2, log_every=2)
    with pytest.raises(RuntimeError, match="power cut"):
        block_diffusion.train_block_diffusion(settings, torch.device("cpu"), log=lambda line: None)
    assert (out / "dynamics.safetensors").is_file()
    with pytest.raises(WeightsError, match="spec.json: not found"):
        get_spec(str(out))
