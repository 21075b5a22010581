"""The shipped default model predicts real PushT dynamics (held-out episodes from the simulator)."""

from __future__ import annotations

from dream_engine_ros.engine.runner import DreamEngine
from dream_engine_ros.training.evaluate_pusht import evaluate_quality, evaluate_sensitivity

HELD_OUT_SEED = 31337  # never used by scripts/train: training data is seed 0, validation 1000


def test_model_beats_copy_last_frame_on_held_out_episodes(engine: DreamEngine) -> None:
    report = evaluate_quality(engine, episodes=6, horizon=48, seed=HELD_OUT_SEED)
    model, baseline = report["model"], report["copy_last_frame"]
    assert model["psnr"] > baseline["psnr"], report
    assert model["ssim"] > baseline["ssim"], report


def test_different_plans_give_different_futures_that_follow_the_simulator(engine: DreamEngine) -> None:
    report = evaluate_sensitivity(engine, starts=3, horizon=48, seed=HELD_OUT_SEED + 1)
    assert report["mean_abs_pixel_difference_between_plans"] > 0.5, report
    assert report["psnr_to_own_future"] > report["psnr_to_other_future"], report
