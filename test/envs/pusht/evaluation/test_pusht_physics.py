"""Physics metrics: perfect on the truth, and each failure a model can have is caught."""

from __future__ import annotations

import numpy as np
import pytest

from dream_engine_ros.envs.pusht.evaluation import episodes as pusht_episodes
from dream_engine_ros.envs.pusht.evaluation import physics as pusht_physics
from dream_engine_ros.envs.pusht.evaluation import reader as reader
from dream_engine_ros.envs.pusht.evaluation.evaluate_physics import copy_first_frame, evaluate, markdown


@pytest.fixture(scope="module")
def push() -> list[pusht_episodes.Episode]:
    return pusht_episodes.generate("push", 4, 48, seed=2718)


def test_push_episodes_really_push_the_block(push) -> None:
    for ep in push:
        moved = np.hypot(*(ep.states[-1, 2:4] - ep.states[0, 2:4]))
        turned = abs(ep.states[-1, 4] - ep.states[0, 4])
        assert moved > 20.0 or turned > np.pi / 9, (moved, turned)


def test_the_truth_scores_perfectly(push) -> None:
    ep = push[0]
    per_frame = pusht_physics.rollout_metrics(ep.frames, ep.frames, ep.states)
    summary = pusht_physics.summarise(per_frame, 48)
    assert summary["block_iou_end"] == 1.0 and summary["agent_once"] == 1.0 and summary["conserved"] == 1.0
    assert summary["block_pose_ok_end"] == 1.0 and summary["agent_error"] < 0.3


def test_holding_the_start_frame_loses_the_pushed_block_and_the_agent(push) -> None:
    ep = push[0]
    held = copy_first_frame(ep.frames[0], ep.actions, 0)
    summary = pusht_physics.summarise(pusht_physics.rollout_metrics(held, ep.frames, ep.states), 48)
    assert summary["block_iou_end"] < 0.8 and summary["agent_error"] > 5.0
    assert summary["conserved"] == 1.0  # still one agent and one T: conservation is not accuracy


def test_a_ghost_agent_a_faded_agent_and_a_melted_block_are_not_conserved(push) -> None:
    ep = push[1]
    truth = pusht_physics.frame_truth(ep.frames[10], ep.states[10])
    ghost = ep.frames[10].copy()
    ghost[5:10, 5:10] = (78, 126, 255)  # a second blue blob
    assert pusht_physics.frame_metrics(ghost, truth)["agent_once"] == 0.0
    faded = ep.frames[10].astype(np.float64)
    blue = np.isin(reader.classify(ep.frames[10]), (reader.AGENT_LABEL, reader.AGENT_RIM_LABEL))
    faded[blue] = 0.35 * faded[blue] + 0.65 * 255  # the whole agent, rim included, mostly washed out
    assert pusht_physics.frame_metrics(faded.astype(np.uint8), truth)["agent_once"] == 0.0
    melted = ep.frames[10].copy()
    grey = np.all(melted == (143, 163, 184), axis=-1)
    melted[grey] = 255
    metrics = pusht_physics.frame_metrics(melted, truth)
    assert metrics["conserved"] == 0.0 and metrics["block_count"] < 0.85


def test_a_shifted_prediction_has_the_shift_as_agent_error(push) -> None:
    ep = push[2]
    shifted = np.roll(ep.frames, 3, axis=2)  # everything 3 px to the right
    per_frame = pusht_physics.rollout_metrics(shifted, ep.frames, ep.states)
    assert np.nanmean(per_frame["agent_error"]) == pytest.approx(3.0, abs=0.3)
    assert np.median(per_frame["block_centre"]) == pytest.approx(3.0, abs=0.4)


def test_report_table_has_a_row_per_kind_and_model() -> None:
    episodes = {kind: pusht_episodes.generate(kind, 1, 12, seed=99) for kind in ("push", "still")}
    report = evaluate({"copy-first-frame": copy_first_frame}, episodes, horizons=(12,))
    text = markdown(report, (12,))
    assert "| push | copy-first-frame |" in text and "| still | copy-first-frame |" in text
    assert report["copy-first-frame"]["still"][12]["episodes"] == 1.0


def test_kinds_are_deterministic_and_distinct() -> None:
    a = pusht_episodes.generate("sweep", 2, 12, seed=5)
    b = pusht_episodes.generate("sweep", 2, 12, seed=5)
    c = pusht_episodes.generate("walk", 2, 12, seed=5)
    np.testing.assert_array_equal(a[1].frames, b[1].frames)
    assert not np.array_equal(a[0].actions, c[0].actions)
    with pytest.raises(ValueError, match="kind"):
        pusht_episodes.generate("fly", 1, 12, seed=5)
