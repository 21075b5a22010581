"""sha256 of what every shipped spec produces on fixed inputs: frames, mp4 bytes, batch rows, scores.

Why: a restructuring of the code must not change one bit of what a user gets. Run it before and
after a change on the same machine and compare the JSON (`--compare OLD.json` exits 1 on any
difference and names it). Inputs are PushT pushes drawn by the held-out generator (seed 99),
so contacts, walls and the object layers are all exercised.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import sys
import tempfile
from pathlib import Path
from typing import Any

import numpy as np

os.environ.setdefault("SDL_VIDEODRIVER", "dummy")


def _sha(array: np.ndarray) -> str:
    return hashlib.sha256(np.ascontiguousarray(array).tobytes()).hexdigest()


def _mp4_sha(frames: np.ndarray, fps: float) -> str:
    from dream_engine_ros.video import write_mp4

    with tempfile.TemporaryDirectory() as folder:
        path = write_mp4(Path(folder) / "rollout.mp4", frames, fps)
        return hashlib.sha256(path.read_bytes()).hexdigest()


def _causal(hashes: dict[str, Any]) -> None:
    from dream_engine_ros.engine.runner import DreamEngine
    from dream_engine_ros.envs.pusht.evaluation.episodes import generate

    engine = DreamEngine.load("pusht-structured", device="cpu")
    episodes = generate("push", 2, 48, seed=99)
    for i, episode in enumerate(episodes):
        result = engine.predict(episode.frames[0], episode.actions, seed=7)
        hashes[f"pusht-structured/predict/{i}"] = _sha(result.frames)
        hashes[f"pusht-structured/mp4/{i}"] = _mp4_sha(result.frames, engine.spec.fps)
    start, actions = episodes[0].frames[3], episodes[0].actions[3:27]
    candidates = np.stack([actions, episodes[1].actions[:24], actions[::-1].copy()])
    history = (episodes[0].frames[:3], episodes[0].actions[:3])
    hashes["pusht-structured/batch"] = _sha(engine.predict_batch(start, candidates, seeds=[1, 2, 3]).frames)
    hashes["pusht-structured/batch-fused"] = _sha(engine.predict_batch(start, candidates, seeds=5, fused=True).frames)
    hashes["pusht-structured/batch-history"] = _sha(
        engine.predict_batch(start, candidates, seeds=5, history_frames=history[0], history_actions=history[1]).frames)
    hashes["pusht-structured/frameless"] = _sha(engine.rollout_frameless(start, candidates, *history))
    hashes["pusht-structured/frameless-at-rest"] = _sha(engine.rollout_frameless(start, candidates))
    hashes["pusht-structured/frame-distance"] = _sha(
        engine.frame_distance(episodes[0].frames[:5], episodes[1].frames[0]))


def _tiny(hashes: dict[str, Any]) -> None:
    from dream_engine_ros.engine.runner import DreamEngine
    from dream_engine_ros.envs.pusht.evaluation.episodes import generate

    engine = DreamEngine.load("pusht-tiny", device="cpu")
    episode = generate("push", 1, 24, seed=99)[0]
    result = engine.predict(episode.frames[0], episode.actions, seed=7)
    hashes["pusht-tiny/predict"] = _sha(result.frames)
    hashes["pusht-tiny/mp4"] = _mp4_sha(result.frames, engine.spec.fps)
    candidates = np.stack([episode.actions[:12], episode.actions[12:]])
    hashes["pusht-tiny/batch"] = _sha(engine.predict_batch(episode.frames[0], candidates, seeds=[4, 9]).frames)
    hashes["pusht-tiny/frame-distance"] = _sha(engine.frame_distance(episode.frames[:3], episode.frames[-1]))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, help="write the hashes as JSON here")
    parser.add_argument("--compare", type=Path, help="an earlier run's JSON: exit 1 on any difference")
    args = parser.parse_args(argv)
    import torch

    torch.set_num_threads(1)
    hashes: dict[str, Any] = {}
    _causal(hashes)
    _tiny(hashes)
    text = json.dumps(hashes, indent=1, sort_keys=True)
    if args.out:
        args.out.write_text(text + "\n")
    print(text)
    if args.compare:
        old = json.loads(args.compare.read_text())
        differ = sorted(key for key in old.keys() | hashes.keys() if old.get(key) != hashes.get(key))
        for key in differ:
            print(f"DIFFERENT: {key}: {old.get(key)} -> {hashes.get(key)}", file=sys.stderr)
        print(f"{len(hashes) - len(differ)} of {len(old.keys() | hashes.keys())} equal", file=sys.stderr)
        return 1 if differ else 0
    return 0


if __name__ == "__main__":
    sys.exit(main())
