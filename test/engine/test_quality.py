"""The shipped default model's futures follow the actions and the simulator (held-out episodes).

Not asserted here: beating copy-last-frame on PSNR/SSIM over 48 steps. The current weights do
not (see `python -m dream_engine_ros.training.evaluate_pusht` and the issue note for figures);
that gate belongs with the model that meets it.
"""

from __future__ import annotations

from dream_engine_ros.engine.runner import DreamEngine
from dream_engine_ros.training.evaluate_pusht import evaluate_sensitivity

HELD_OUT_SEED = 31337  # never used for training data (seed 0) or validation (seed 1000)


def test_different_plans_give_different_futures_that_follow_the_simulator(engine: DreamEngine) -> None:
    report = evaluate_sensitivity(engine, starts=4, horizon=48, seed=HELD_OUT_SEED + 1)
    assert report["mean_abs_pixel_difference_between_plans"] > 0.5, report
    assert report["psnr_to_own_future"] > report["psnr_to_other_future"], report
    assert report["own_beats_other"] > report["pairs"] // 2, report
