"""The evaluation's figures: a perfect predictor scores perfectly, copy-first-frame fails where the cube
moved, and the table and JSON say so."""

from __future__ import annotations

import json

import numpy as np
import pytest

from dream_engine_ros.envs.panda_push import cube_metrics
from dream_engine_ros.envs.panda_push.episodes import Episode, iter_episodes
from dream_engine_ros.envs.panda_push.evaluate import copy_first_frame, evaluate, jsonable, markdown
from dream_engine_ros.envs.panda_push.scene import PandaPushScene

HORIZONS = (12, 24)


@pytest.fixture(scope="module")
def held_out(panda_scene: PandaPushScene) -> list[Episode]:
    return list(iter_episodes("held_out", 2, 24, 777, scene=panda_scene))


def test_the_truth_scores_perfectly_and_copy_first_frame_misses_a_moved_cube(held_out: list[Episode]) -> None:
    def truth(start: np.ndarray, actions: np.ndarray, seed: int) -> np.ndarray:
        return held_out[seed].frames  # evaluate seeds episode i's rollout with i

    report = evaluate({"truth": truth, "copy-first-frame": copy_first_frame}, held_out, HORIZONS)
    perfect, copy = report["truth"][24], report["copy-first-frame"][24]
    assert perfect["cube_error_end"] == 0 and perfect["cube_ok_end"] == 1 and perfect["cube_found"] == 1
    assert perfect["psnr"] == 100.0 and perfect["ssim"] == pytest.approx(1.0)
    assert perfect["moved_episodes"] == copy["moved_episodes"] >= 1  # the held-out taps moved the cube
    assert copy["moved_ok_end"] == 0 and copy["cube_error_end"] > cube_metrics.OK_TOLERANCE_PX
    table = markdown(report, len(held_out), HORIZONS)
    assert "Horizon 12" in table and "| copy-first-frame |" in table and "moved correctly @h" in table
    json.dumps(jsonable(report), allow_nan=False)


def test_a_prediction_without_the_cube_counts_as_lost(held_out: list[Episode]) -> None:
    episode = held_out[0]
    blank = np.full_like(episode.frames, 200)
    blank[0] = episode.frames[0]
    per_frame = cube_metrics.rollout_metrics(blank, episode.frames, episode.cubes)
    summary = cube_metrics.summarise(per_frame, 12)
    assert summary["cube_found"] == 0 and np.isinf(summary["cube_error_end"]) and summary["cube_ok_end"] == 0
    assert np.isnan(summary["cube_error_mean"])  # no frame where both show the cube
