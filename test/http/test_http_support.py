"""Result store bounds, Prometheus text, SSE framing, error bodies."""

from __future__ import annotations

import math
import time

import numpy as np

from dream_engine_ros.engine.errors import InputError
from dream_engine_ros.http.errors import ApiError, error_body
from dream_engine_ros.http.metrics import Metrics, route_label
from dream_engine_ros.http.results import ResultStore
from dream_engine_ros.http.sse import chunk_payload, format_event, parse_events, png_frames


def test_result_store_drops_oldest_and_expired() -> None:
    store = ResultStore(max_count=2, ttl_s=0.2)
    first, second, third = (store.put(bytes([i]), {}) for i in range(3))
    assert store.get(first) is None and store.get(second) is not None and len(store) == 2
    assert len({first, second, third}) == 3
    time.sleep(0.25)
    assert store.get(third) is None and len(store) == 0


def test_metrics_render_counters_histogram_and_gauges() -> None:
    metrics = Metrics()
    metrics.observe("POST", "/v1/predict", 200, 0.3)
    metrics.observe("POST", "/v1/predict", 429, 0.001)
    text = metrics.render({"dream_engine_busy": ("busy", 1.0)})
    assert 'dream_engine_http_requests_total{method="POST",route="/v1/predict",status="429"} 1' in text
    assert 'dream_engine_http_request_duration_seconds_bucket{route="/v1/predict",le="0.005"} 1' in text
    assert 'dream_engine_http_request_duration_seconds_bucket{route="/v1/predict",le="0.5"} 2' in text
    assert 'dream_engine_http_request_duration_seconds_count{route="/v1/predict"} 2' in text
    assert "# TYPE dream_engine_busy gauge\ndream_engine_busy 1" in text
    assert route_label("/v1/results/abc") == "/v1/results/{id}" and route_label("/etc/passwd") == "other"


def test_sse_round_trip_with_lossless_frames() -> None:
    frames = np.random.default_rng(0).integers(0, 255, (3, 8, 8, 3), dtype=np.uint8)
    payload = chunk_payload(1, 4, 13, frames, 123.0, 0.5)
    wire = (format_event("chunk", payload, "1") + format_event("done", {"ok": True})).decode()
    events = list(parse_events(wire.split("\n")))
    assert [e.event for e in events] == ["chunk", "done"] and events[0].id == "1"
    assert events[0].data["frame_indices"] == [13, 14, 15]
    np.testing.assert_array_equal(png_frames(events[0].data["frames"]), frames)


def test_error_bodies_repeat_the_engine_message() -> None:
    engine_error = InputError("actions", 20, "horizon 20 is not a multiple of chunk_size 12")
    body = ApiError.from_input_error(engine_error).body()
    assert body["message"] == str(engine_error) and body["status"] == 422 and body["value"] == 20
    assert error_body(422, "guidance", math.nan, "finite")["value"] == "nan"
