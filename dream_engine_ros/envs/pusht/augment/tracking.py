"""Do augmented PushT samples follow their perturbed actions? The simulator says.

For a sample made from an npz episode (which carries the gym-pusht reset seed), the episode is replayed in
gym-pusht: the recorded actions up to the start frame, then the sample's perturbed actions. The agent's
centre read from the predicted pixels (`evaluation.pusht_physics`, the world-model issue's reader) is
compared per frame with the simulator's agent ("agent error"), and with the agent of the recording itself
("error vs recording"): a sample that follows its perturbation is close to the first and, where the
perturbation moved the agent, far from the second.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np

from dream_engine_ros.envs.pusht.evaluation.physics import rollout_metrics, summarise
from dream_engine_ros.envs.pusht.evaluation.reader import world_to_pixel


def replay(reset_seed: int, actions: np.ndarray, image_size: int = 96) -> tuple[np.ndarray, np.ndarray]:
    """Frames (T+1, H, W, 3) and states (T+1, 5) [agent xy, block xy, angle] of gym-pusht from
    `env.reset(seed=reset_seed)` under `actions` (T, 2)."""
    from dream_engine_ros.envs.pusht.training.pusht_data import make_env, state_of

    env = make_env(image_size)
    try:
        obs, _ = env.reset(seed=int(reset_seed))
        frames, states = [obs["pixels"]], [state_of(env)]
        for action in np.asarray(actions, dtype=np.float32):
            obs, *_ = env.step(action.copy())
            frames.append(obs["pixels"])
            states.append(state_of(env))
    finally:
        env.close()
    return np.stack(frames), np.stack(states)


def sample_tracking(pred: np.ndarray, actions: np.ndarray, reset_seed: int, recorded_prefix: np.ndarray,
                    recorded_states: np.ndarray | None = None) -> dict[str, float]:
    """Agent figures (px at the prediction's size) of one sample against its replayed truth."""
    start = len(recorded_prefix)
    frames, states = replay(reset_seed, np.concatenate([recorded_prefix, actions]).reshape(-1, 2), pred.shape[1])
    truth_frames, truth_states = frames[start:], states[start:]
    summary = summarise(rollout_metrics(pred, truth_frames, truth_states), len(pred) - 1)
    out = {"agent_error_px": summary["agent_error"], "agent_once": summary["agent_once"],
           "block_iou_mean": summary["block_iou_mean"],
           "replay_start_matches": float(np.array_equal(truth_frames[0], pred[0]))}
    target_px = world_to_pixel(np.asarray(actions, dtype=np.float64), pred.shape[1])
    truth_agent_px = world_to_pixel(truth_states[1:, :2], pred.shape[1])
    out["truth_agent_to_target_px"] = float(np.mean(np.linalg.norm(truth_agent_px - target_px, axis=1)))
    if recorded_states is not None:
        recorded_px = world_to_pixel(recorded_states[1:len(pred), :2], pred.shape[1])
        out["truth_vs_recording_px"] = float(np.mean(np.linalg.norm(truth_agent_px - recorded_px, axis=1)))
        from dream_engine_ros.envs.pusht.evaluation.reader import read_scenes

        pred_agent_px = read_scenes(pred[1:]).agent * pred.shape[1] / 512.0 - 0.5
        out["agent_error_vs_recording_px"] = float(np.nanmean(np.linalg.norm(pred_agent_px - recorded_px, axis=1)))
    return out


def evaluate_output(out: str | Path, npz_episodes: str | Path) -> dict[str, Any]:
    """Tracking figures of every sample in `out` whose source is an episode of `npz_episodes`."""
    from dream_engine_ros.augment.writer import read_sample

    index = json.loads((Path(out) / "index.json").read_text())
    with np.load(npz_episodes, allow_pickle=False) as data:
        actions, states, seeds = data["actions"], data["states"], data["reset_seeds"]
    rows = []
    for entry in index["samples"]:
        path, _, episode = entry["source"].partition("#")
        if Path(path).resolve() != Path(npz_episodes).resolve() or not episode:
            continue
        e, start = int(episode), int(entry["start_index"])
        sample = read_sample(Path(out) / entry["path"])
        row = sample_tracking(sample["frames"], sample["actions"], int(seeds[e]), actions[e, :start],
                              states[e, start:start + len(sample["frames"])])
        rows.append(dict(row, sample_id=entry["sample_id"]))
    keys = [k for k in rows[0] if k != "sample_id"] if rows else []
    return {"samples": len(rows), "mean": {k: float(np.nanmean([r[k] for r in rows])) for k in keys}, "rows": rows}
