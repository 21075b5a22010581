"""Training episodes for the frame-autoregressive PushT model: a contact-heavy mix.

Why a new mix: the planner and the evaluation ask about pushes from every side, long pushes,
rotations, reversals and standing still. Half of the episodes start the agent right behind the
T and drive it through (`pusht_episodes` kind `push`), the rest are the older generator's
scripted pusher, random walks and waypoint jumps, plus sweeps and held targets. Seeds here are
training seeds: the evaluation and the tests use other seeds of the same generators.

    python -m dream_engine_ros.envs.pusht.training.causal_data \
        --episodes 600 --steps 64 --seed 0 --out data/causal_train.npz
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np

from dream_engine_ros.atomic_file import atomic_output
from dream_engine_ros.envs.pusht.evaluation import episodes as pusht_episodes
from dream_engine_ros.envs.pusht.training import pusht_data

# Share of episodes per source (kind of the evaluation generator, or policy of pusht_data).
MIX: dict[str, float] = {"push": 0.45, "sweep": 0.1, "still": 0.05, "pusher": 0.2, "smooth": 0.1, "jumps": 0.1}


def generate_mix(episodes: int, steps: int, seed: int) -> dict[str, np.ndarray]:
    counts = {name: max(1, int(round(share * episodes))) for name, share in MIX.items()}
    frames: list[np.ndarray] = []
    actions: list[np.ndarray] = []
    states: list[np.ndarray] = []
    sources: list[str] = []
    for name, count in counts.items():
        if name in pusht_episodes.KINDS:
            eps = pusht_episodes.generate(name, count, steps, seed + 100_000, clear_starts=False)
            frames += [e.frames for e in eps]
            actions += [e.actions for e in eps]
            states += [e.states.astype(np.float32) for e in eps]
        else:
            batch = pusht_data.generate_episodes_full(count, steps, seed + 200_000 + len(sources), policies=[name])
            frames += list(batch.frames)
            actions += list(batch.actions)
            states += list(batch.states)
        sources += [name] * count
    return {"frames": np.stack(frames), "actions": np.stack(actions).astype(np.float32),
            "states": np.stack(states), "sources": np.array(sources)}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--episodes", type=int, default=600)
    parser.add_argument("--steps", type=int, default=64)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, default=Path("data/causal_train.npz"))
    args = parser.parse_args(argv)
    tic = time.perf_counter()
    arrays = generate_mix(args.episodes, args.steps, args.seed)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    with atomic_output(args.out) as tmp, open(tmp, "wb") as f:
        np.savez(f, **arrays)  # type: ignore[arg-type]  # numpy's stub: a **dict might name allow_pickle
    moved = pusht_data.block_displacement(arrays["states"]) * 96 / 512
    print(json.dumps({"out": str(args.out), "frames": list(arrays["frames"].shape),
                      "block_moved_gt_3px": round(float(np.mean(moved > 3)), 3),
                      "seconds": round(time.perf_counter() - tic, 1)}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
