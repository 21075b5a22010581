"""Regression gate for the shipped default model's physics (held-out episodes made here).

The thresholds sit a margin below what the shipped pusht-structured measured on exactly this set
(seed 31337, 3 episodes per kind, 48 steps; figures in the comments), so a retrained or broken
default fails CI. Issue 8's goals that the model already meets are asserted as the goals
(agent centre error <= 1.5 px, the agent exactly once, the T's pixel count within 15 % in every
frame); the pushed T's pose and IoU are gated at today's level on this small set (3 pushes), and measured
against the goals on 50 pushes in the README. Measured with the object layers and the T's contact
model (envs/pusht/scene_layers.py, envs/pusht/contact_model.py).
"""

from __future__ import annotations

import numpy as np
import pytest

from dream_engine_ros.defaults import DEFAULT_SPEC
from dream_engine_ros.engine.runner import DreamEngine
from dream_engine_ros.envs.pusht.evaluation import episodes as pusht_episodes
from dream_engine_ros.envs.pusht.evaluation.evaluate_physics import copy_first_frame, engine_predictor, evaluate

SEED = 31337  # never used by training data (seeds 100000+, 200000+) nor by the README table (777)
Report = dict[str, dict[str, dict[int, dict[str, float]]]]


@pytest.fixture(scope="module")
def report() -> Report:
    engine = DreamEngine.load(DEFAULT_SPEC, device="cpu")
    episodes = {kind: pusht_episodes.generate(kind, 3, 48, seed=SEED) for kind in pusht_episodes.KINDS}
    return evaluate({"model": engine_predictor(engine), "copy": copy_first_frame}, episodes, (12, 48))


def test_the_default_is_the_causal_video_model() -> None:
    assert DEFAULT_SPEC == "pusht-structured"


@pytest.mark.parametrize("kind", pusht_episodes.KINDS)
def test_agent_is_where_the_simulator_puts_it(report: Report, kind: str) -> None:
    row = report["model"][kind][48]
    assert row["agent_error"] <= 1.5, row  # issue goal; measured 0.23-0.40 px
    assert row["agent_once"] >= 0.95, row  # issue goal; measured 1.0 on every kind


@pytest.mark.parametrize("kind", pusht_episodes.KINDS)
def test_every_frame_shows_one_agent_and_one_whole_t(report: Report, kind: str) -> None:
    row = report["model"][kind][48]
    assert row["conserved"] >= 0.95 and row["block_count_ok"] >= 0.95, row  # issue goal; measured 1.0 everywhere


@pytest.mark.parametrize("kind", pusht_episodes.KINDS)
def test_image_metrics_beat_holding_the_start_frame(report: Report, kind: str) -> None:
    model, copy = report["model"][kind][48], report["copy"][kind][48]
    assert model["psnr"] > copy["psnr"] + 2.0, (model, copy)  # measured +9.1 to +11.3 dB
    assert model["ssim"] > copy["ssim"], (model, copy)  # measured +0.017 to +0.075


@pytest.mark.parametrize("kind", ["walk", "sweep", "still"])
def test_a_block_nobody_pushes_keeps_its_shape_and_place(report: Report, kind: str) -> None:
    row = report["model"][kind][48]
    assert row["block_iou_mean"] >= 0.85 and row["block_pose_ok_end"] == 1.0, row  # measured 0.892-1.0


def test_pushed_block_regression_gate(report: Report) -> None:
    """The pushed T, moved by the contact model: gated near today's level on this small set (the
    issue's goals are measured on 50 pushes in the README: pose ok 92 % at frame 48, 100 % at 12,
    IoU 0.803 at 48). Since pushes no longer start with the agent inside the T, two of these three
    pushes are new ones (2026-12-05); the figures in brackets are on the earlier three."""
    at12, at48 = report["model"]["push"][12], report["model"]["push"][48]
    # measured 3/3, 0.983 (earlier set: 3/3, 0.808)
    assert at12["block_pose_ok_end"] == 1.0 and at12["block_iou_mean"] >= 0.85, at12
    assert at48["block_pose_ok_end"] >= 0.6, at48  # measured 3 of 3 (earlier set: 2 of 3)
    assert at48["block_iou_end"] >= 0.75, at48  # measured 0.874 (earlier set: 0.687)
    assert np.isfinite(at48["block_centre_end"]) and at48["block_centre_end"] < 1.0, at48  # 0.28 px (earlier: 0.38)
