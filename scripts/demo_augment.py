"""Worked example of `dream-engine augment` (`make demo-augment`): two PushT teleop recordings as rosbag2
MCAP, 2 start frames x 3 perturbed samples each, written to out/augment-demo/; then the tracking check.

Runs the real command line (a subprocess), exactly as a user would type it; prints each command first.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
os.environ.setdefault("SDL_VIDEODRIVER", "dummy")

from dream_engine_ros.envs.pusht.augment.recordings import ACTION, CAMERA, make_pusht_recordings  # noqa: E402
from dream_engine_ros.envs.pusht.augment.tracking import evaluate_output  # noqa: E402


def main() -> None:
    root = Path("out/augment-demo")
    shutil.rmtree(root, ignore_errors=True)
    bags = make_pusht_recordings(root / "recordings", count=2, steps=30, seed=7)
    command = [sys.executable, "-m", "dream_engine_ros.cli", "augment", "--input", *map(str, bags),
               str(root / "recordings" / "episodes.npz"), "--camera-topic", CAMERA, "--action-topic", ACTION,
               "--perturb", "warp:max=0.2;offset:sigma=10;ou:sigma=15,tau=5;clip:low=25,high=487",
               "--per-start", "3", "--out", str(root / "out")]
    print("$ " + " ".join(command[2:]).replace("dream_engine_ros.cli", "dream-engine"), flush=True)
    subprocess.run(command, check=True)
    index = json.loads((root / "out" / "index.json").read_text())
    first = index["samples"][0]
    print(f"\n{index['count']} samples, complete={index['complete']}; first: {first['path']} (seed {first['seed']}, "
          f"source {first['source']} @ {first['start_stamp_ns']} ns)")
    tracking = evaluate_output(root / "out", root / "recordings" / "episodes.npz")["mean"]
    print(f"tracking: agent error vs gym-pusht under the perturbed actions {tracking['agent_error_px']:.2f} px, "
          f"vs the unperturbed recording {tracking['agent_error_vs_recording_px']:.2f} px")
    print(str(root / "out" / "index.json"))


if __name__ == "__main__":
    main()
