"""PSNR / SSIM against known values and an independent slow reference."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from dream_engine_ros.metrics import (
    PSNR_CAP_DB,
    evaluate_videos,
    gaussian_window,
    psnr,
    ssim,
    video_psnr,
    video_ssim,
)

C1 = (0.01 * 255) ** 2
C2 = (0.03 * 255) ** 2


def textbook_ssim_gray(x: np.ndarray, y: np.ndarray) -> float:
    """Wang et al. SSIM written as plainly as possible: loop over every 11x11 window."""
    r = np.arange(11) - 5.0
    g = np.exp(-(r**2) / (2 * 1.5**2))
    w = np.outer(g, g)
    w /= w.sum()
    x = x.astype(np.float64)
    y = y.astype(np.float64)
    vals = []
    for i in range(x.shape[0] - 10):
        for j in range(x.shape[1] - 10):
            px, py = x[i : i + 11, j : j + 11], y[i : i + 11, j : j + 11]
            mx, my = (w * px).sum(), (w * py).sum()
            vx = (w * (px - mx) ** 2).sum()
            vy = (w * (py - my) ** 2).sum()
            cxy = (w * (px - mx) * (py - my)).sum()
            vals.append(((2 * mx * my + C1) * (2 * cxy + C2)) / ((mx**2 + my**2 + C1) * (vx + vy + C2)))
    return float(np.mean(vals))


@pytest.fixture
def rng() -> np.random.Generator:
    return np.random.default_rng(1234)


def test_psnr_identical_is_inf() -> None:
    a = np.full((8, 8, 3), 77, dtype=np.uint8)
    assert psnr(a, a) == math.inf


def test_psnr_constant_offset_of_10_is_28_13_db() -> None:
    a = np.full((16, 16, 3), 100, dtype=np.uint8)
    b = a + np.uint8(10)  # MSE 100
    assert psnr(a, b) == pytest.approx(10 * math.log10(255**2 / 100), abs=1e-12)
    assert psnr(a, b) == pytest.approx(28.1308, abs=1e-4)


def test_psnr_known_noise_level(rng: np.random.Generator) -> None:
    a = np.full((64, 64, 3), 128, dtype=np.uint8)
    signs = rng.choice(np.array([-5, 5]), size=a.shape)  # |error| = 5 everywhere -> MSE 25
    b = (a.astype(np.int16) + signs).astype(np.uint8)
    assert psnr(a, b) == pytest.approx(10 * math.log10(255**2 / 25), abs=1e-12)


def test_psnr_no_uint8_wraparound() -> None:
    a = np.zeros((4, 4), dtype=np.uint8)
    b = np.full((4, 4), 255, dtype=np.uint8)
    assert psnr(a, b) == pytest.approx(0.0, abs=1e-12)


def test_gaussian_window_is_normalised_and_symmetric() -> None:
    g = gaussian_window()
    assert g.shape == (11,)
    assert g.sum() == pytest.approx(1.0)
    np.testing.assert_allclose(g, g[::-1])
    assert g.argmax() == 5


def test_ssim_identical_is_one(rng: np.random.Generator) -> None:
    a = rng.integers(0, 256, size=(32, 40, 3), dtype=np.uint8)
    assert ssim(a, a) == pytest.approx(1.0, abs=1e-12)
    assert video_ssim(a[None], a[None]) == [pytest.approx(1.0, abs=1e-12)]


def test_ssim_constant_images_closed_form() -> None:
    # Constant images: variances and covariance are 0, so SSIM = luminance term only.
    mu1, mu2 = 100.0, 140.0
    a = np.full((20, 20), mu1, dtype=np.uint8)
    b = np.full((20, 20), mu2, dtype=np.uint8)
    expected = (2 * mu1 * mu2 + C1) / (mu1**2 + mu2**2 + C1)
    assert ssim(a, b) == pytest.approx(expected, abs=1e-12)


def test_ssim_matches_textbook_loop_gray(rng: np.random.Generator) -> None:
    x = rng.integers(0, 256, size=(19, 23), dtype=np.uint8)
    y = np.clip(x.astype(np.int16) + rng.integers(-40, 41, size=x.shape), 0, 255).astype(np.uint8)
    assert ssim(x, y) == pytest.approx(textbook_ssim_gray(x, y), abs=1e-10)


def test_ssim_rgb_is_mean_over_channels(rng: np.random.Generator) -> None:
    x = rng.integers(0, 256, size=(16, 18, 3), dtype=np.uint8)
    y = rng.integers(0, 256, size=(16, 18, 3), dtype=np.uint8)
    per_channel = [textbook_ssim_gray(x[..., c], y[..., c]) for c in range(3)]
    assert ssim(x, y) == pytest.approx(float(np.mean(per_channel)), abs=1e-10)


def test_ssim_reference_value() -> None:
    # Value computed once with scikit-image 0.26 structural_similarity(gaussian_weights=True,
    # sigma=1.5, use_sample_covariance=False, data_range=255, channel_axis=-1) on this
    # deterministic pair; a regression guard independent of the code under test.
    yy, xx = np.mgrid[0:24, 0:24]
    a = np.stack([(xx * 10) % 256, (yy * 7) % 256, ((xx + yy) * 5) % 256], -1).astype(np.uint8)
    b = np.stack([(xx * 10 + 20) % 256, (yy * 7) % 256, ((xx * 2 + yy) * 5) % 256], -1).astype(np.uint8)
    assert ssim(a, b) == pytest.approx(SKIMAGE_REFERENCE, abs=1e-9)


SKIMAGE_REFERENCE = 0.8720209595105087


def test_ssim_symmetric_and_below_one_under_noise(rng: np.random.Generator) -> None:
    yy, xx = np.mgrid[0:48, 0:48]
    clean = np.stack([128 + 60 * np.sin(xx / 5.0), 128 + 60 * np.cos(yy / 7.0),
                      128 + 40 * np.sin((xx + yy) / 9.0)], -1).astype(np.uint8)
    noisy = np.clip(clean + rng.normal(0, 10, clean.shape), 0, 255).astype(np.uint8)
    more = np.clip(clean + rng.normal(0, 30, clean.shape), 0, 255).astype(np.uint8)
    s = ssim(clean, noisy)
    assert s == pytest.approx(ssim(noisy, clean), abs=1e-12)
    assert 0.0 < s < 1.0
    assert ssim(clean, more) < s


def test_ssim_rejects_small_or_mismatched() -> None:
    with pytest.raises(ValueError, match="smaller than the 11x11 window"):
        ssim(np.zeros((10, 30), np.uint8), np.zeros((10, 30), np.uint8))
    with pytest.raises(ValueError, match="shapes differ"):
        ssim(np.zeros((12, 12), np.uint8), np.zeros((12, 13), np.uint8))
    with pytest.raises(ValueError, match="shapes differ"):
        psnr(np.zeros((12, 12), np.uint8), np.zeros((12, 13), np.uint8))


def test_video_metrics_per_frame_match_single_frame(rng: np.random.Generator) -> None:
    truth = rng.integers(0, 256, size=(4, 16, 20, 3), dtype=np.uint8)
    pred = np.clip(truth + rng.normal(0, 8, truth.shape), 0, 255).astype(np.uint8)
    ps, ss = video_psnr(pred, truth), video_ssim(pred, truth)
    assert len(ps) == len(ss) == 4
    for k in range(4):
        assert ps[k] == pytest.approx(psnr(pred[k], truth[k]))
        assert ss[k] == pytest.approx(ssim(pred[k], truth[k]), abs=1e-12)


def test_evaluate_videos(rng: np.random.Generator) -> None:
    truth = rng.integers(0, 256, size=(3, 16, 16, 3), dtype=np.uint8)
    pred = truth.copy()
    pred[1:] = (pred[1:].astype(np.int16) + 10).clip(0, 255).astype(np.uint8)
    r = evaluate_videos(pred, truth)
    assert r["frames"] == 3
    assert r["psnr"][0] == PSNR_CAP_DB and r["ssim"][0] == pytest.approx(1.0)
    assert r["psnr_mean"] == pytest.approx(np.mean(r["psnr"]))
    assert r["ssim_mean"] == pytest.approx(np.mean(r["ssim"]))
    assert r["psnr_mean_pred"] == pytest.approx(np.mean(r["psnr"][1:]))
    assert r["ssim_mean_pred"] < 1.0
    json.dumps(r, allow_nan=False)  # the CLI prints it as JSON


@pytest.mark.parametrize(
    ("pred", "truth", "match"),
    [
        (np.zeros((2, 16, 16, 3), np.uint8), np.zeros((3, 16, 16, 3), np.uint8), "differ in shape"),
        (np.zeros((2, 16, 16, 3), np.float32), np.zeros((2, 16, 16, 3), np.uint8), "pred: dtype float32"),
        (np.zeros((2, 16, 16), np.uint8), np.zeros((2, 16, 16), np.uint8), r"is not \(N, H, W, 3\)"),
        (np.zeros((0, 16, 16, 3), np.uint8), np.zeros((0, 16, 16, 3), np.uint8), "empty video"),
    ],
)
def test_evaluate_videos_rejects_bad_input(pred, truth, match) -> None:
    with pytest.raises(ValueError, match=match):
        evaluate_videos(pred, truth)
