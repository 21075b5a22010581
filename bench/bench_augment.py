"""Augmentation benchmark: samples per second with 0 (in-process), 1 and 2 Ray workers on this machine,
scaling efficiency, peak memory per worker, the writer's cost, and the PushT tracking check.

    1. recordings: scripted PushT episodes written as rosbag2 MCAP (`augment.pusht_recordings`), and the
       same episodes as npz (simulator states, reset seeds);
    2. for each worker count, a fresh output folder, `run_augment` on the bags (per-start P, horizon 12):
       steady samples/s = samples after the first / time after the first result (engine loading and
       the Ray cluster start are left out; they are reported as time to first result);
    3. scaling efficiency = steady(2 workers) / (2 x steady(1 worker));
    4. writer: busy time (its own thread) as a share of the summed rollout time, and the time rollouts
       actually waited on it;
    5. tracking: the npz episodes augmented in-process, every sample replayed in gym-pusht
       (`augment.pusht_tracking`): agent error of the prediction vs the simulator under the perturbed
       actions, and vs the unperturbed recording.

Usage: python bench/bench_augment.py [--recordings 4] [--steps 60] [--per-start 4] [--workers 0,1,2]
       [--json out/bench_augment.json]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import tempfile
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
os.environ.setdefault("SDL_VIDEODRIVER", "dummy")

from dream_engine_ros.augment.execution import EngineSettings, LocalExecutor, RayExecutor  # noqa: E402
from dream_engine_ros.augment.pipeline import AugmentSettings, run_augment  # noqa: E402
from dream_engine_ros.augment.recording import RecordingOptions  # noqa: E402
from dream_engine_ros.cli.augment import DEFAULT_PERTURB  # noqa: E402
from dream_engine_ros.envs.pusht.augment.recordings import ACTION, CAMERA, make_pusht_recordings  # noqa: E402
from dream_engine_ros.envs.pusht.augment.tracking import evaluate_output  # noqa: E402


def run(bags: list[Path], out: Path, workers: int, per_start: int) -> dict[str, Any]:
    settings = AugmentSettings("pusht-structured", DEFAULT_PERTURB, per_start,
                               recording=RecordingOptions(CAMERA, ACTION))
    engine = EngineSettings("pusht-structured", device="cpu", torch_threads=1)
    executor = LocalExecutor(engine) if workers == 0 else RayExecutor(engine, workers)
    return run_augment([str(b) for b in bags], settings, out, executor)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--recordings", type=int, default=4)
    parser.add_argument("--steps", type=int, default=60, help="actions per recording")
    parser.add_argument("--per-start", type=int, default=4)
    parser.add_argument("--workers", default="0,1,2")
    parser.add_argument("--seed", type=int, default=2027)
    parser.add_argument("--json", default=None)
    args = parser.parse_args()

    root = Path(tempfile.mkdtemp(prefix="bench_augment_"))
    bags = make_pusht_recordings(root / "recordings", args.recordings, args.steps, args.seed)
    rows = []
    for workers in [int(w) for w in args.workers.split(",")]:
        summary = run(bags, root / f"out_w{workers}", workers, args.per_start)
        per_worker = summary["per_worker"].values()
        row = {"workers": workers, "samples": summary["written"], "elapsed_s": summary["elapsed_s"],
               "first_result_s": summary["first_result_s"], "steady_samples_per_s": summary["steady_samples_per_s"],
               "rollout_s_per_sample": summary["rollout_s"] / max(1, summary["written"]),
               "peak_rss_mb_per_worker": max(w["peak_rss_mb"] for w in per_worker),
               "writer_busy_share": summary["writer_share_of_rollout"],
               "writer_wait_share": summary["writer_wait_s"] / summary["rollout_s"] if summary["rollout_s"] else 0.0}
        rows.append(row)
        print(json.dumps(row), flush=True)
    digests = [json.loads((root / f"out_w{r['workers']}" / "index.json").read_text()) for r in rows]
    identical = all({s["sample_id"]: s["frames_sha256"] for s in d["samples"]}
                    == {s["sample_id"]: s["frames_sha256"] for s in digests[0]["samples"]} for d in digests)
    by_workers = {r["workers"]: r for r in rows}
    efficiency = None
    if 1 in by_workers and 2 in by_workers:
        efficiency = by_workers[2]["steady_samples_per_s"] / (2 * by_workers[1]["steady_samples_per_s"])

    settings = AugmentSettings("pusht-structured", DEFAULT_PERTURB, 2)
    run_augment([str(root / "recordings" / "episodes.npz")], settings, root / "out_npz",
                LocalExecutor(EngineSettings("pusht-structured", device="cpu")))
    tracking = evaluate_output(root / "out_npz", root / "recordings" / "episodes.npz")

    machine = platform.processor() or platform.machine()
    print(f"\nmachine: {machine}, {os.cpu_count()} CPUs, torch threads 1 per worker; {args.recordings} MCAP "
          f"recordings x {args.steps} steps, per-start {args.per_start}, horizon 12")
    print("\n| workers | samples | steady samples/s | time to first result s | rollout s/sample | peak RSS/worker MB "
          "| writer busy / rollout | writer wait / rollout |")
    print("| --- | --- | --- | --- | --- | --- | --- | --- |")
    for r in rows:
        name = "in-process" if r["workers"] == 0 else f"{r['workers']} Ray"
        print(f"| {name} | {r['samples']} | {r['steady_samples_per_s']:.2f} | {r['first_result_s']:.1f} | "
              f"{r['rollout_s_per_sample']:.3f} | {r['peak_rss_mb_per_worker']:.0f} | "
              f"{100 * r['writer_busy_share']:.1f} % | {100 * r['writer_wait_share']:.1f} % |")
    if efficiency is not None:
        print(f"\nscaling efficiency 1 -> 2 Ray workers: {100 * efficiency:.0f} %")
    print(f"per-sample frames identical across worker counts: {identical}")
    mean = tracking["mean"]
    print(f"tracking ({tracking['samples']} samples from npz episodes): agent error vs gym-pusht under the perturbed "
          f"actions {mean['agent_error_px']:.2f} px, vs the unperturbed recording "
          f"{mean['agent_error_vs_recording_px']:.2f} px (the simulator's agents differ by "
          f"{mean['truth_vs_recording_px']:.2f} px); agent seen once in "
          f"{100 * mean['agent_once']:.0f} % of frames")
    if args.json:
        Path(args.json).parent.mkdir(parents=True, exist_ok=True)
        Path(args.json).write_text(json.dumps({"rows": rows, "scaling_efficiency": efficiency, "identical": identical,
                                               "tracking": mean}, indent=2))


if __name__ == "__main__":
    main()
