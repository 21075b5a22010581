"""Record scripted Panda pushing episodes (PyBullet, 3-D) as rosbag2 MCAP bags, pixels and commands only:
the recordings `make train-panda-generic` trains the generic block-diffusion model from.

    python scripts/record_panda_bags.py --episodes 200 --steps 64 --seed 0 --out data/panda_bags

Each episode is one bag (`episode_<i>`): sensor_msgs/CompressedImage PNG frames on /camera/image_raw and
geometry_msgs/Twist hand velocities (linear.x, linear.y in m/s) on /cmd_vel at 10 Hz. The generator is the
training rule (`envs/panda_push/episodes.py`, "training"), never the held-out one the evaluation draws.
A bag is written under OUT/.partial/ and moved into OUT when complete; a finished bag is kept, so an
interrupted run continues where it stopped.
"""

from __future__ import annotations

import argparse
import shutil
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from dream_engine_ros.envs.panda_push.episodes import episode_seed, run_episode  # noqa: E402
from dream_engine_ros.envs.panda_push.recording import write_episode_bag  # noqa: E402
from dream_engine_ros.envs.panda_push.scene import PandaPushScene  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--episodes", type=int, default=200)
    parser.add_argument("--steps", type=int, default=64)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args(argv)
    if args.episodes < 1 or args.steps < 1:
        parser.error("--episodes and --steps must be at least 1")
    args.out.mkdir(parents=True, exist_ok=True)
    tic = time.perf_counter()
    with PandaPushScene() as scene:
        for i in range(args.episodes):
            path = args.out / f"episode_{i:04d}"
            if not path.exists():
                partial = args.out / ".partial" / path.name
                shutil.rmtree(partial, ignore_errors=True)
                partial.parent.mkdir(exist_ok=True)
                episode = run_episode(scene, "training", episode_seed("training", args.seed, i), args.steps)
                write_episode_bag(partial, episode).rename(path)
            if (i + 1) % 20 == 0 or i + 1 == args.episodes:
                print(f"{i + 1}/{args.episodes} episodes, {time.perf_counter() - tic:.0f} s", flush=True)
    print(args.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
