"""The shipped default model predicts the simulator's future better than holding the start
frame still, and its futures follow the actions (held-out episodes, generated here)."""

from __future__ import annotations

from dream_engine_ros.engine.runner import DreamEngine
from dream_engine_ros.envs.pusht.training.evaluate_pusht import evaluate_quality, evaluate_sensitivity

HELD_OUT_SEED = 31337  # never used for training data (seed 0), validation (1000) or tuning (555)


def test_default_model_beats_copy_last_frame_over_48_steps(engine: DreamEngine) -> None:
    report = evaluate_quality(engine, episodes=6, horizon=48, seed=HELD_OUT_SEED)
    model, copy = report["model"], report["copy_last_frame"]
    assert model["psnr"] > copy["psnr"], report
    assert model["ssim"] > copy["ssim"], report
    assert report["episodes_model_better_psnr"] > report["episodes"] // 2, report


def test_different_plans_give_different_futures_that_follow_the_simulator(engine: DreamEngine) -> None:
    report = evaluate_sensitivity(engine, starts=4, horizon=48, seed=HELD_OUT_SEED + 1)
    assert report["mean_abs_pixel_difference_between_plans"] > 0.5, report
    assert report["psnr_to_own_future"] > report["psnr_to_other_future"], report
    assert report["own_beats_other"] > report["pairs"] // 2, report
