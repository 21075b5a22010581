"""Load test of the HTTP API: N concurrent clients for a bounded time against a local server.

Reports p50/p95 latency of accepted requests, the share and latency of 429s, proof that nothing
is lost (every accepted request returned a decodable mp4 of T + 1 frames), the server's RSS
before and after, HTTP overhead against the same work done in-process (engine predict + the
CLI's mp4 encoder), and how long after a chunk is decoded its SSE event reaches the client.

    .venv/bin/python bench/bench_http.py --clients 4 --seconds 10 --json out/bench_http.json
"""

from __future__ import annotations

import argparse
import io
import json
import os
import signal
import socket
import statistics
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import numpy as np
from PIL import Image

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from dream_engine_ros.http.mp4 import decode_mp4, encode_mp4  # noqa: E402
from dream_engine_ros.http.sse import parse_events  # noqa: E402


def percentile(values: list[float], q: float) -> float:
    return float(np.percentile(values, q)) if values else float("nan")


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024.0
    return float("nan")


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def start_server(args: argparse.Namespace, port: int) -> subprocess.Popen[bytes]:
    command = [sys.executable, "-m", "dream_engine_ros.cli", "serve", "--spec", args.spec, "--device", args.device,
               "--port", str(port), "--max-queue", str(args.max_queue), "--log-level", "warning"]
    if args.torch_threads:
        command += ["--torch-threads", str(args.torch_threads)]
    proc = subprocess.Popen(command, cwd=REPO)
    deadline = time.monotonic() + 600  # a CPU shared with a training run can take minutes to import torch
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/healthz").status_code == 200:
                return proc
        except httpx.TransportError:
            if proc.poll() is not None:
                raise SystemExit("server exited during start") from None
        time.sleep(0.1)
    proc.kill()
    raise SystemExit("server did not become ready")


@dataclass
class Load:
    ok_latency: list[float] = field(default_factory=list)
    rejected_latency: list[float] = field(default_factory=list)
    other: dict[int, int] = field(default_factory=dict)
    broken: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)


def client_loop(url: str, files: dict[str, tuple[str, bytes, str]], frames: int, shape: tuple[int, int],
                deadline: float, load: Load) -> None:
    with httpx.Client(base_url=url, timeout=300) as http:
        while time.monotonic() < deadline:
            tic = time.perf_counter()
            response = http.post("/v1/predict", files=files, data={"seed": "3"})
            elapsed = time.perf_counter() - tic
            if response.status_code == 200:
                try:
                    video, _ = decode_mp4(response.content)
                    complete = video.shape[0] == frames and video.shape[1:3] == shape
                except Exception:
                    complete = False
                with load.lock:
                    load.ok_latency.append(elapsed)
                    load.broken += 0 if complete else 1
            elif response.status_code == 429:
                with load.lock:
                    load.rejected_latency.append(elapsed)
                time.sleep(0.02)  # a polite client; the retry-after hint is seconds, too coarse here
            else:
                with load.lock:
                    load.other[response.status_code] = load.other.get(response.status_code, 0) + 1


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--spec", default="pusht-structured")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--clients", type=int, default=4)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--max-queue", type=int, default=2)
    parser.add_argument("--horizon", type=int, default=48)
    parser.add_argument("--overhead-runs", type=int, default=6)
    parser.add_argument("--sse-runs", type=int, default=4)
    parser.add_argument("--torch-threads", type=int, default=1,
                        help="engine threads in the server and the in-process baseline (0 = torch's default)")
    parser.add_argument("--json", default=None)
    args = parser.parse_args()

    import torch

    from dream_engine_ros.engine.runner import DreamEngine
    from dream_engine_ros.envs.pusht.training.pusht_data import generate_episodes

    if args.torch_threads:
        torch.set_num_threads(args.torch_threads)
    episode_frames, episode_actions = generate_episodes(1, args.horizon, seed=99)
    frame, actions = episode_frames[0, 0], episode_actions[0].astype(np.float32)
    png, npy = io.BytesIO(), io.BytesIO()
    Image.fromarray(frame).save(png, format="PNG")
    np.save(npy, actions)
    files = {"frame": ("frame.png", png.getvalue(), "image/png"),
             "actions": ("actions.npy", npy.getvalue(), "application/octet-stream")}
    engine = DreamEngine.load(args.spec, device=args.device)
    spec = engine.spec
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    server = start_server(args, port)
    report: dict[str, object] = {"spec": spec.name, "device": args.device, "horizon": args.horizon,
                                 "clients": args.clients, "seconds": args.seconds, "max_queue": args.max_queue,
                                 "torch_threads": args.torch_threads, "cpu_count": os.cpu_count()}
    try:
        with httpx.Client(base_url=url, timeout=300) as http:
            for _ in range(2):  # warm-up both sides
                http.post("/v1/predict", files=files, data={"seed": "3"})
                engine.predict(frame, actions, seed=3)

            # 1. overhead: the same rollout over HTTP and in-process, alternating
            direct, over_http, in_server = [], [], []
            for _ in range(args.overhead_runs):
                tic = time.perf_counter()
                result = engine.predict(frame, actions, seed=3)
                encode_mp4(result.frames, spec.fps)
                direct.append(time.perf_counter() - tic)
                tic = time.perf_counter()
                response = http.post("/v1/predict", files=files, data={"seed": "3"})
                over_http.append(time.perf_counter() - tic)
                headers = response.headers
                in_server.append(float(headers["x-dreamengine-total-s"]) + float(headers["x-dreamengine-mp4-s"]))
            added = [h - s for h, s in zip(over_http, in_server, strict=True)]
            report["overhead"] = {
                "direct_median_s": statistics.median(direct), "http_median_s": statistics.median(over_http),
                "http_vs_direct_pct": 100 * (statistics.median(over_http) / statistics.median(direct) - 1),
                "added_by_http_median_s": statistics.median(added),
                "added_by_http_pct_of_rollout": 100 * statistics.median(added) / statistics.median(in_server),
            }

            # 2. SSE: first event vs the first chunk's decode (same machine, same clock)
            first_event, first_chunk_s = [], []
            for _ in range(args.sse_runs):
                with http.stream("POST", "/v1/predict", files=files, data={"seed": "3"},
                                 headers={"Accept": "text/event-stream"}) as stream:
                    for event in parse_events(stream.iter_lines()):
                        if event.event == "chunk" and event.data["chunk_index"] == 0:
                            first_event.append(time.time() - event.data["decoded_at"])
                            first_chunk_s.append(event.data["elapsed_s"])
            report["sse"] = {"first_event_after_decode_ms_median": 1000 * statistics.median(first_event),
                             "first_event_after_decode_ms_max": 1000 * max(first_event),
                             "first_chunk_decoded_after_s_median": statistics.median(first_chunk_s)}

            # 3. load: N clients for a bounded time
            rss_before = rss_mb(server.pid)
            load = Load()
            deadline = time.monotonic() + args.seconds
            threads = [threading.Thread(target=client_loop, args=(url, files, args.horizon + 1,
                                                                  (spec.height, spec.width), deadline, load))
                       for _ in range(args.clients)]
            tic = time.perf_counter()
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join()
            wall = time.perf_counter() - tic
            rss_after = rss_mb(server.pid)
            total = len(load.ok_latency) + len(load.rejected_latency) + sum(load.other.values())
            report["load"] = {
                "wall_s": wall, "requests": total, "accepted": len(load.ok_latency),
                "accepted_per_s": len(load.ok_latency) / wall,
                "p50_s": percentile(load.ok_latency, 50), "p95_s": percentile(load.ok_latency, 95),
                "rejected_429": len(load.rejected_latency),
                "share_429_pct": 100 * len(load.rejected_latency) / max(total, 1),
                "p50_429_ms": 1000 * percentile(load.rejected_latency, 50),
                "p95_429_ms": 1000 * percentile(load.rejected_latency, 95),
                "other_statuses": load.other, "incomplete_mp4": load.broken,
                "rss_before_mb": rss_before, "rss_after_mb": rss_after,
            }
            report["server_alive"] = http.get("/healthz").status_code == 200
    finally:
        server.send_signal(signal.SIGTERM)
        try:
            server.wait(30)
        except subprocess.TimeoutExpired:
            server.kill()

    print(json.dumps(report, indent=2))
    o, s, ld = report["overhead"], report["sse"], report["load"]  # type: ignore[assignment]
    print("\n| metric | value |\n| --- | --- |")
    rows = [
        ("rollout in-process (predict + mp4), median", f"{o['direct_median_s'] * 1000:.1f} ms"),  # type: ignore[index]
        ("same over HTTP, median", f"{o['http_median_s'] * 1000:.1f} ms"),  # type: ignore[index]
        ("HTTP vs in-process", f"{o['http_vs_direct_pct']:+.1f} %"),  # type: ignore[index]
        ("added by HTTP per request (latency - engine - mp4), median",
         f"{o['added_by_http_median_s'] * 1000:.1f} ms = {o['added_by_http_pct_of_rollout']:.1f} %"),  # type: ignore[index]
        ("first SSE event after its chunk was decoded, median / max",
         f"{s['first_event_after_decode_ms_median']:.1f} / {s['first_event_after_decode_ms_max']:.1f} ms"),  # type: ignore[index]
        (f"load: {args.clients} clients x {args.seconds:g} s, queue {args.max_queue}: requests",
         f"{ld['requests']} ({ld['accepted']} accepted, {ld['accepted_per_s']:.2f}/s)"),  # type: ignore[index]
        ("accepted latency p50 / p95", f"{ld['p50_s'] * 1000:.0f} / {ld['p95_s'] * 1000:.0f} ms"),  # type: ignore[index]
        ("429 share; 429 latency p50 / p95",
         f"{ld['share_429_pct']:.1f} %; {ld['p50_429_ms']:.1f} / {ld['p95_429_ms']:.1f} ms"),  # type: ignore[index]
        ("accepted requests without a complete mp4 of T + 1 frames", str(ld["incomplete_mp4"])),  # type: ignore[index]
        ("other statuses", json.dumps(ld["other_statuses"])),  # type: ignore[index]
        ("server RSS before / after load", f"{ld['rss_before_mb']:.0f} / {ld['rss_after_mb']:.0f} MB"),  # type: ignore[index]
    ]
    for name, value in rows:
        print(f"| {name} | {value} |")
    if args.json:
        Path(args.json).parent.mkdir(parents=True, exist_ok=True)
        Path(args.json).write_text(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
