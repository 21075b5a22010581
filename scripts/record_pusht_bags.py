"""Record scripted gym-pusht episodes as rosbag2 MCAP bags (camera + action topics, pixels and actions
only): the recordings `make train-pusht-generic` trains the generic block-diffusion model from.

    python scripts/record_pusht_bags.py --episodes 240 --steps 64 --seed 0 --out data/pusht_bags

Each episode is one bag (`teleop_<i>`): sensor_msgs/CompressedImage PNG frames on /camera/image_raw
and std_msgs/Float32MultiArray targets (x, y) on /teleop/target at 10 Hz, as a teleoperated robot
would log them. The generator is the training-data one (`pusht_data`, scripted policies), not the
held-out pushes the evaluation draws (`envs/pusht/evaluation/episodes.py`).
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

os.environ.setdefault("SDL_VIDEODRIVER", "dummy")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from dream_engine_ros.envs.pusht.augment.recordings import write_bag  # noqa: E402
from dream_engine_ros.envs.pusht.training.pusht_data import generate_episodes_full  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--episodes", type=int, default=240)
    parser.add_argument("--steps", type=int, default=64)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--batch", type=int, default=40, help="episodes generated at a time (memory)")
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    done = 0
    while done < args.episodes:
        count = min(args.batch, args.episodes - done)
        episodes = generate_episodes_full(count, args.steps, args.seed * 1_000_003 + done)
        for i in range(count):
            path = args.out / f"teleop_{done + i:04d}"
            if not path.exists():
                write_bag(path, episodes.frames[i], episodes.actions[i], compressed=True)
        done += count
        print(f"{done}/{args.episodes} episodes", flush=True)
    print(args.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
