"""Queue, readiness and auth behaviour on real servers whose engine thread a test can hold."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx
import numpy as np
import pytest
from http_helpers import Inputs, form, get, post, request, wait_ready, wait_until

from dream_engine_ros.engine.runner import DreamEngine
from dream_engine_ros.http.app import create_app
from dream_engine_ros.http.client import DreamEngineClient
from dream_engine_ros.http.config import ServerConfig
from dream_engine_ros.http.server import BackgroundServer
from dream_engine_ros.http.worker import EngineWorker, Job, QueueFull


@pytest.fixture(scope="module")
def engine() -> DreamEngine:
    return DreamEngine.load("pusht-structured", device="cpu")


class Gate:
    """before_job hook: holds the engine thread until released (a deterministic slow worker)."""

    def __init__(self) -> None:
        self.open = threading.Event()
        self.held = 0

    def __call__(self, job: Job[Any]) -> None:
        self.held += 1
        assert self.open.wait(600), "gate never opened"


@pytest.fixture()
def gated(engine: DreamEngine) -> Iterator[tuple[BackgroundServer, Gate]]:
    gate = Gate()
    app = create_app(ServerConfig(device="cpu", torch_threads=1, max_queue=1), loader=lambda: engine, before_job=gate)
    with BackgroundServer(app) as server:
        wait_ready(server.url)
        yield server, gate
        gate.open.set()


def test_full_queue_answers_429_with_retry_after_then_recovers(gated: tuple[BackgroundServer, Gate],
                                                               inputs: Inputs) -> None:
    server, gate = gated
    worker: EngineWorker = server.app.state.server.worker
    send = lambda: post(f"{server.url}/v1/predict", **form(inputs))  # type: ignore[arg-type]  # noqa: E731
    with ThreadPoolExecutor(2) as pool:
        running = pool.submit(send)
        wait_until(lambda: worker.busy)
        waiting = pool.submit(send)
        wait_until(lambda: worker.depth == 1)
        refused = send()
        assert refused.status_code == 429
        assert int(refused.headers["retry-after"]) >= 1
        assert refused.json()["field"] == "queue" and refused.json()["value"] == 1
        gate.open.set()
        assert running.result().status_code == 200 and waiting.result().status_code == 200
    assert send().status_code == 200


def test_sdk_retries_429_and_succeeds(gated: tuple[BackgroundServer, Gate], inputs: Inputs) -> None:
    server, gate = gated
    state = server.app.state.server
    send = lambda: post(f"{server.url}/v1/predict", **form(inputs))  # type: ignore[arg-type]  # noqa: E731
    client = DreamEngineClient(server.url, backoff_s=0.05, retries=12)  # a loaded CI machine drains the queue slowly
    client.model()
    with ThreadPoolExecutor(3) as pool:
        running = pool.submit(send)
        wait_until(lambda: state.worker.busy)
        waiting = pool.submit(send)
        wait_until(lambda: state.worker.depth == 1)
        sdk = pool.submit(client.predict, inputs.frame, inputs.actions, 7)
        wait_until(lambda: state.metrics.count("/v1/predict", 429) >= 1)
        gate.open.set()
        prediction = sdk.result()
        assert running.result().status_code == 200 and waiting.result().status_code == 200
    assert prediction.frames.shape == (25, 96, 96, 3)
    assert prediction.mp4 == running.result().content
    client.close()


def test_503_while_loading_and_after_a_failed_load(engine: DreamEngine, inputs: Inputs) -> None:
    loaded = threading.Event()

    def slow_loader() -> DreamEngine:
        assert loaded.wait(60)
        return engine

    with BackgroundServer(create_app(ServerConfig(device="cpu", torch_threads=1), loader=slow_loader)) as server:
        health = get(f"{server.url}/healthz")
        assert health.status_code == 503 and health.json()["status"] == "loading"
        refused = post(f"{server.url}/v1/predict", **form(inputs))  # type: ignore[arg-type]
        assert refused.status_code == 503 and refused.json()["field"] == "model" and "retry-after" in refused.headers
        assert get(f"{server.url}/v1/model").json()["state"] == "loading"
        loaded.set()
        wait_ready(server.url)
        assert post(f"{server.url}/v1/predict", **form(inputs)).status_code == 200  # type: ignore[arg-type]

    def broken_loader() -> DreamEngine:
        raise FileNotFoundError("weights not found: /nowhere")

    with BackgroundServer(create_app(ServerConfig(device="cpu", torch_threads=1), loader=broken_loader)) as server:
        wait_until(lambda: server.app.state.server.worker.state == "failed")
        response = post(f"{server.url}/v1/predict", **form(inputs))  # type: ignore[arg-type]
        assert response.status_code == 503 and "weights not found" in response.json()["rule"]
        assert get(f"{server.url}/healthz").json()["status"] == "failed"


def test_token_auth(engine: DreamEngine, inputs: Inputs) -> None:
    token = "s3cret-token"
    app = create_app(ServerConfig(device="cpu", torch_threads=1, token=token), loader=lambda: engine)
    with BackgroundServer(app) as server:
        wait_ready(server.url)  # /healthz stays open for probes
        for headers in ({}, {"Authorization": "Bearer wrong"}, {"Authorization": f"Basic {token}"}):
            for method, path in (("POST", "/v1/predict"), ("GET", "/v1/model"), ("GET", "/metrics")):
                response = request(method, f"{server.url}{path}", headers=headers,
                                         **(form(inputs) if method == "POST" else {}))  # type: ignore[arg-type]
                assert response.status_code == 401, (headers, path)
                assert response.json()["field"] == "Authorization" and token not in response.text
                assert response.headers["www-authenticate"].startswith("Bearer")
        ok = post(f"{server.url}/v1/predict", headers={"Authorization": f"Bearer {token}"},
                        **form(inputs))  # type: ignore[arg-type]
        assert ok.status_code == 200
        with DreamEngineClient(server.url, token=token) as client:
            assert client.predict(inputs.frame, inputs.actions, seed=7).mp4 == ok.content


def test_jobs_run_one_at_a_time_and_a_full_queue_refuses() -> None:
    active, overlaps = [0], [0]
    lock = threading.Lock()

    def job(engine: object, should_cancel: object) -> int:
        with lock:
            active[0] += 1
            overlaps[0] = max(overlaps[0], active[0])
        threading.Event().wait(0.01)
        with lock:
            active[0] -= 1
        return 1

    worker = EngineWorker(lambda: object(), max_queue=64)
    worker.start()
    wait_until(lambda: worker.state == "ready")
    jobs = [worker.submit("test", job) for _ in range(20)]
    assert sum(j.future.result(10) for j in jobs) == 20 and overlaps[0] == 1
    hold = threading.Event()
    small = EngineWorker(lambda: object(), max_queue=1, before_job=lambda j: hold.wait(10))
    small.start()
    wait_until(lambda: small.state == "ready")
    first = small.submit("test", job)
    wait_until(lambda: small.busy)
    second = small.submit("test", job)
    with pytest.raises(QueueFull):
        small.submit("test", job)
    small.stop(timeout=0.1)  # the waiting job is failed, not left hanging
    assert second.future.exception(5) is not None
    hold.set()
    assert first.future.result(5) == 1
    worker.stop()


def test_disconnected_stream_cancels_the_rollout(engine: DreamEngine, inputs: Inputs) -> None:
    cancelled: list[bool] = []

    class Recording:
        """The real engine; records whether a rollout ended by cancellation."""

        validator = engine.validator
        device = engine.device

        def predict(self, *args: Any, **kwargs: Any) -> Any:
            try:
                return engine.predict(*args, **kwargs)
            except Exception as exc:
                cancelled.append(type(exc).__name__ == "RolloutCancelled")
                raise

    long_actions = np.tile(inputs.actions, (4, 1))  # 96 actions, 8 chunks
    from http_helpers import npy_bytes

    with BackgroundServer(create_app(ServerConfig(device="cpu", torch_threads=1), loader=Recording)) as server:
        wait_ready(server.url)
        with httpx.Client(base_url=server.url, timeout=300) as client, client.stream(
                "POST", "/v1/predict", headers={"Accept": "text/event-stream"},
                **form(inputs, npy=npy_bytes(long_actions))) as response:  # type: ignore[arg-type]
            for line in response.iter_lines():
                if line.startswith("event: chunk"):
                    break  # hang up after the first chunk
        wait_until(lambda: bool(cancelled))
    assert cancelled == [True]
