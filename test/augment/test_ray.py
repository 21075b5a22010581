"""Ray scale-out: a local cluster with 2 actors, and joining a running cluster (`ray start --head`) with 1;
every sample bit-identical to the in-process rollout whatever the worker count or order."""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from augment_bags import ACTION, CAMERA, Recordings, read_sample_bag

from dream_engine_ros.augment.writer import frames_digest
from dream_engine_ros.cli import main

REPO = Path(__file__).resolve().parents[2]


def augment(recordings: Recordings, out: Path, capsys: pytest.CaptureFixture[str], *extra: str) -> dict[str, Any]:
    capsys.readouterr()
    code = main(["augment", "--input", str(recordings.mcap), str(recordings.sqlite), "--camera-topic", CAMERA,
                 "--action-topic", ACTION, "--per-start", "2", "--out", str(out), *extra])
    captured = capsys.readouterr()
    assert code == 0, captured.err
    summary: dict[str, Any] = json.loads(captured.out)
    return summary


def frames_by_sample(out: Path) -> dict[str, str]:
    """sha256 of the frames read back from each bag (not the index's own record of them)."""
    index = json.loads((out / "index.json").read_text())
    assert index["complete"] is True
    return {e["sample_id"]: frames_digest(read_sample_bag(out / e["path"])["frames"]) for e in index["samples"]}


@pytest.fixture(scope="module")
def in_process(recordings: Recordings, tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    out = tmp_path_factory.mktemp("inproc") / "out"
    assert main(["augment", "--input", str(recordings.mcap), str(recordings.sqlite), "--camera-topic", CAMERA,
                 "--action-topic", ACTION, "--per-start", "2", "--out", str(out)]) == 0
    return frames_by_sample(out)


@pytest.fixture
def ray_stopped() -> Iterator[None]:
    import ray

    yield
    if ray.is_initialized():
        ray.shutdown()


@pytest.mark.timeout(240)
def test_two_local_ray_workers_give_the_in_process_samples(recordings: Recordings, tmp_path: Path, in_process:
                                                          dict[str, str], ray_stopped: None,
                                                          capsys: pytest.CaptureFixture[str]) -> None:
    import ray

    summary = augment(recordings, tmp_path / "out", capsys, "--workers", "2")
    assert summary["workers"] == 2 and summary["written"] == 8
    workers = summary["per_worker"]
    assert len(workers) == 2 and all(w["samples"] >= 1 for w in workers.values())  # both actors rolled out
    assert all(w["peak_rss_mb"] > 0 for w in workers.values())
    assert frames_by_sample(tmp_path / "out") == in_process
    assert not ray.is_initialized()  # the local cluster this run started is stopped again


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def ray_head() -> Iterator[str]:
    """`ray start --head --block` in its own process group (ended by its id afterwards, never `ray stop`,
    which would stop every Ray node of this machine)."""
    port = _free_port()
    temp_dir = tempfile.mkdtemp(prefix="ray", dir="/tmp")
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")]))
    ray_cli = Path(sys.executable).parent / "ray"
    head = subprocess.Popen([str(ray_cli), "start", "--head", "--block", f"--port={port}", "--num-cpus=1",
                             "--include-dashboard=false", f"--temp-dir={temp_dir}", "--disable-usage-stats"],
                            env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    address = f"127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            with socket.socket() as s:
                if s.connect_ex(("127.0.0.1", port)) == 0:
                    break
            assert head.poll() is None, "ray start --head exited"
            time.sleep(0.5)
        else:
            pytest.fail("ray head did not listen within 60 s")
        yield address
    finally:
        import ray

        if ray.is_initialized():
            ray.shutdown()
        os.killpg(head.pid, signal.SIGINT)  # `ray start --block` shuts its node down on SIGINT (not on SIGTERM)
        try:
            head.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(head.pid, signal.SIGKILL)
            head.wait(timeout=10)
        shutil.rmtree(temp_dir, ignore_errors=True)


@pytest.mark.timeout(240)
def test_joining_a_running_cluster_with_one_worker_gives_the_same_samples(
        recordings: Recordings, tmp_path: Path, in_process: dict[str, str], ray_head: str,
        capsys: pytest.CaptureFixture[str]) -> None:
    import ray

    summary = augment(recordings, tmp_path / "out", capsys, "--ray-address", ray_head, "--workers", "1")
    assert summary["workers"] == 1 and summary["written"] == 8 and len(summary["per_worker"]) == 1
    assert frames_by_sample(tmp_path / "out") == in_process
    assert not ray.is_initialized()  # disconnected; the cluster itself keeps running for its owner
