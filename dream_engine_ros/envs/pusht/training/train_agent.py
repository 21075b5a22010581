"""Fit PushT's agent motion (`envs/pusht/agent_model.py`) to simulator transitions.

    1. simulate episodes without rendering (the contact model's episode mix, other seeds);
    2. express the agent and the commanded targets in pixels at 96 x 96, as the engine sees them;
    3. least squares for the four coefficients;
    4. report the held-out error one step ahead and open loop over 48 steps (the agent driven by
       the held-out targets alone), and save safetensors with that report in the metadata.

    python -m dream_engine_ros.envs.pusht.training.train_agent --out dream_engine_ros/weights/pusht-agent.safetensors
"""

from __future__ import annotations

import os

os.environ.setdefault("SDL_VIDEODRIVER", "dummy")
os.environ.setdefault("PYGAME_HIDE_SUPPORT_PROMPT", "1")

import argparse  # noqa: E402
import json  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402
import torch  # noqa: E402

from dream_engine_ros.envs.pusht.agent_model import AgentModel  # noqa: E402
from dream_engine_ros.envs.pusht.training.train_contact import simulate_transitions, to_pixels  # noqa: E402


def agent_pixels(states: np.ndarray, actions: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    agent, _, _, target = to_pixels(states, actions)
    return agent.numpy(), target.numpy()


def held_out_report(model: AgentModel, agent: np.ndarray, target: np.ndarray) -> dict[str, float]:
    """One-step and open-loop (from the true first two positions) position errors in pixels."""
    one_step = np.hypot(*np.moveaxis(model.step(agent[:, :-2], agent[:, 1:-1], target[:, :-1], target[:, 1:])
                                     - agent[:, 2:], -1, 0))
    open_loop = model.rollout(agent[:, 0], agent[:, 1], target[:, 0], target[:, 1:])
    drift = np.hypot(*np.moveaxis(open_loop - agent[:, 2:], -1, 0))
    return {"episodes": float(agent.shape[0]), "one_step_px_mean": float(one_step.mean()),
            "one_step_px_max": float(one_step.max()), "open_loop_px_mean": float(drift.mean()),
            "open_loop_px_max": float(drift.max())}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--out", type=Path, required=True, help="safetensors file to write")
    parser.add_argument("--episodes", type=int, default=400)
    parser.add_argument("--steps", type=int, default=64)
    parser.add_argument("--seed", type=int, default=2002)
    parser.add_argument("--held-out", type=int, default=100)
    parser.add_argument("--held-out-seed", type=int, default=4243)
    args = parser.parse_args(argv)
    from safetensors.torch import save_file

    tic = time.perf_counter()
    model = AgentModel.fit(*agent_pixels(*simulate_transitions(args.episodes, args.steps, args.seed)))
    report = held_out_report(model, *agent_pixels(*simulate_transitions(args.held_out, args.steps,
                                                                         args.held_out_seed)))
    report["seconds"] = round(time.perf_counter() - tic, 1)
    print(json.dumps({"coefficients": model.coefficients.tolist(), **report}), flush=True)
    config = {k: v for k, v in vars(args).items() if k != "out"}
    args.out.parent.mkdir(parents=True, exist_ok=True)
    tmp = args.out.with_suffix(".tmp")
    save_file({"coefficients": torch.from_numpy(model.coefficients.copy())}, str(tmp),
              metadata={"config": json.dumps(config), "held_out": json.dumps(report)})
    os.replace(tmp, args.out)
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
