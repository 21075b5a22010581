"""`dream-engine predict | specs | eval` as a user runs them (subprocess, real files)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from dream_engine_ros.envs.pusht.training.pusht_data import generate_episodes
from dream_engine_ros.video import read_mp4

REPO = Path(__file__).resolve().parents[2]


def run_cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "dream_engine_ros.cli", *args], cwd=REPO,
                          capture_output=True, text=True, timeout=300)


@pytest.fixture(scope="module")
def inputs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("cli")
    frames, actions = generate_episodes(1, 24, seed=2024)
    Image.fromarray(frames[0, 0]).save(root / "start.png")
    np.save(root / "a.npy", actions[0])
    np.save(root / "bad_horizon.npy", actions[0][:20])
    nan = actions[0].copy()
    nan[3, 1] = np.nan
    np.save(root / "nan.npy", nan)
    return {"root": root, "frame": root / "start.png", "actions": root / "a.npy",
            "bad_horizon": root / "bad_horizon.npy", "nan": root / "nan.npy"}


def test_predict_writes_mp4_and_prints_summary(inputs: dict[str, Path]) -> None:
    out = inputs["root"] / "rollout.mp4"
    proc = run_cli("predict", "--spec", "pusht-tiny", "--frame", str(inputs["frame"]), "--actions",
                   str(inputs["actions"]), "--seed", "7", "--num-steps", "4", "--out", str(out))
    assert proc.returncode == 0, proc.stderr
    summary = json.loads(proc.stdout.strip().splitlines()[-1])
    assert (summary["frames"], summary["fps"], summary["spec"], summary["seed"]) == (25, 10.0, "pusht-tiny", 7)
    assert {"encode_s", "denoise_s", "decode_s", "mp4_s", "total_s"} <= set(summary["timings"])
    frames, fps = read_mp4(out)
    assert frames.shape == (25, 96, 96, 3) and fps == 10.0


@pytest.mark.parametrize(
    ("key", "message"),
    [("bad_horizon", "horizon 20 is not a multiple of chunk_size 12"), ("nan", "must be finite")],
)
def test_bad_actions_exit_2_one_line_no_file(inputs: dict[str, Path], key: str, message: str) -> None:
    out = inputs["root"] / f"{key}.mp4"
    proc = run_cli("predict", "--frame", str(inputs["frame"]), "--actions", str(inputs[key]), "--out", str(out))
    assert proc.returncode == 2
    assert message in proc.stderr and len(proc.stderr.strip().splitlines()) == 1
    assert not out.exists() and not list(inputs["root"].glob(f".{key}*"))


def test_missing_frame_and_bad_spec(inputs: dict[str, Path]) -> None:
    proc = run_cli("predict", "--frame", "/no/such.png", "--actions", str(inputs["actions"]), "--out", "/tmp/x.mp4")
    assert proc.returncode == 2 and "file not found" in proc.stderr
    proc = run_cli("predict", "--spec", "nope", "--frame", str(inputs["frame"]), "--actions", str(inputs["actions"]),
                   "--out", str(inputs["root"] / "n.mp4"))
    assert proc.returncode == 2 and "unknown spec 'nope'" in proc.stderr


def test_absent_weights_exit_3(inputs: dict[str, Path], tmp_path: Path) -> None:
    out = tmp_path / "w.mp4"
    proc = run_cli("predict", "--frame", str(inputs["frame"]), "--actions", str(inputs["actions"]),
                   "--weights", str(tmp_path / "empty"), "--out", str(out))
    assert proc.returncode == 3 and "weights not found" in proc.stderr and not out.exists()


def test_specs_lists_catalog_with_weight_status() -> None:
    proc = run_cli("specs")
    assert proc.returncode == 0, proc.stderr
    rows = {row["name"]: row for row in json.loads(proc.stdout)}
    assert rows["pusht-tiny"]["weights"]["installed"] is True
    # a former name is listed under the spec it names, not as a model of its own
    assert "pusht-causal" not in rows and rows["pusht-structured"]["aliases"] == ["pusht-causal"]
    assert rows["pusht-tiny"]["aliases"] == []
    assert rows["dreamdojo-gr1-2b"]["action_dim"] == 384
    from dream_engine_ros.engine.loading import weights_status
    from dream_engine_ros.envs.gr1.specs import DREAMDOJO_GR1_2B

    # the CLI reports what is really on disk (absent on CI machines, present where installed)
    assert rows["dreamdojo-gr1-2b"]["weights"] == json.loads(json.dumps(weights_status(DREAMDOJO_GR1_2B)))


def test_eval_prints_per_frame_and_mean(inputs: dict[str, Path]) -> None:
    out = inputs["root"] / "rollout.mp4"
    if not out.exists():
        test_predict_writes_mp4_and_prints_summary(inputs)
    proc = run_cli("eval", "--pred", str(out), "--truth", str(out))
    assert proc.returncode == 0, proc.stderr
    report = json.loads(proc.stdout)
    assert len(report["psnr"]) == 25 and report["ssim_mean"] == pytest.approx(1.0)
    bad = run_cli("eval", "--pred", str(out), "--truth", "/no/such.mp4")
    assert bad.returncode == 2 and "--truth" in bad.stderr


def test_16_bit_png_frames_are_scaled_to_8_bit(tmp_path: Path) -> None:
    """16-bit gray PNGs used to come out all white (PIL clips mode I;16 in convert('RGB'))."""
    import cv2

    from dream_engine_ros.cli.engine import _read_frame

    gray8 = np.arange(48 * 64, dtype=np.uint32).reshape(48, 64) % 256
    Image.fromarray((gray8 * 257).astype(np.uint16)).save(tmp_path / "gray16.png")
    with Image.open(tmp_path / "gray16.png") as written:
        assert written.mode == "I;16"  # really a 16-bit file
    assert np.array_equal(_read_frame(tmp_path / "gray16.png"), np.repeat(gray8[..., None], 3, -1).astype(np.uint8))

    rgb16 = np.stack([gray8 * 257, (255 - gray8) * 257, np.full_like(gray8, 0x80FF)], -1).astype(np.uint16)
    cv2.imwrite(str(tmp_path / "rgb16.png"), rgb16[..., ::-1])  # OpenCV writes BGR
    assert np.array_equal(_read_frame(tmp_path / "rgb16.png"), (rgb16 >> 8).astype(np.uint8))


def test_predict_reads_16_bit_gray_and_zero_steps_nan_guidance_mean_spec_default(
    inputs: dict[str, Path], tmp_path: Path
) -> None:
    from dream_engine_ros.engine.spec import get_spec

    rgb = np.asarray(Image.open(inputs["frame"]).convert("RGB"))
    gray8 = rgb.mean(axis=-1).round().astype(np.uint16)
    Image.fromarray(gray8 * 257).save(tmp_path / "gray16.png")
    out = tmp_path / "gray.mp4"
    proc = run_cli("predict", "--frame", str(tmp_path / "gray16.png"), "--actions", str(inputs["actions"]),
                   "--num-steps", "0", "--guidance", "nan", "--out", str(out))
    assert proc.returncode == 0, proc.stderr
    summary = json.loads(proc.stdout.strip().splitlines()[-1])
    spec = get_spec("pusht-tiny")
    assert (summary["num_steps"], summary["guidance"]) == (spec.num_steps, spec.guidance)
    first = read_mp4(out)[0][0].astype(np.float64)
    assert first.mean() < 250  # not the all-white frame of the bug
    assert np.abs(first - gray8[..., None]).mean() < 3.0  # frame 0 is the (lossy-coded) start frame


def test_error_lines_print_plain_values(inputs: dict[str, Path], tmp_path: Path) -> None:
    proc = run_cli("predict", "--frame", str(inputs["frame"]), "--actions", str(inputs["actions"]),
                   "--guidance", "inf", "--out", str(tmp_path / "g.mp4"))
    assert proc.returncode == 2
    assert proc.stderr.strip() == "error: guidance: guidance inf must be a finite number in [0, 30]"
    assert not (tmp_path / "g.mp4").exists()


def test_predict_takes_a_model_folder_and_names_its_broken_file(inputs: dict[str, Path], tmp_path: Path,
                                                                model_folder) -> None:
    """`--spec DIR` (a trained model's folder) gives the mp4 bytes of the same model from the catalog."""
    folder = model_folder("pusht-tiny")
    outs = {}
    for name, spec in (("catalog", "pusht-tiny"), ("folder", str(folder))):
        outs[name] = tmp_path / f"{name}.mp4"
        proc = run_cli("predict", "--spec", spec, "--frame", str(inputs["frame"]), "--actions", str(inputs["actions"]),
                       "--seed", "3", "--device", "cpu", "--out", str(outs[name]))
        assert proc.returncode == 0, proc.stderr
    assert outs["folder"].read_bytes() == outs["catalog"].read_bytes()
    (folder / "spec.json").unlink()
    proc = run_cli("predict", "--spec", str(folder), "--frame", str(inputs["frame"]), "--actions",
                   str(inputs["actions"]), "--out", str(tmp_path / "none.mp4"))
    assert proc.returncode == 3 and f"{folder / 'spec.json'}: not found" in proc.stderr
    assert not (tmp_path / "none.mp4").exists()
