"""Prometheus text exposition (format 0.0.4) of requests, latency, queue depth and busy.

Why hand-written: four metric families do not justify a dependency, and the server's own state
(queue depth, busy, model state) is read at scrape time rather than mirrored.
"""

from __future__ import annotations

import threading
import time
from collections import defaultdict
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0)
ROUTES = ("/healthz", "/metrics", "/v1/model", "/v1/predict", "/v1/predict_batch", "/v1/results/{id}")

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
ASGIApp = Callable[[Scope, Callable[[], Awaitable[Message]], Callable[[Message], Awaitable[None]]], Awaitable[None]]


def route_label(path: str) -> str:
    """A bounded label set: known routes by template, everything else 'other'."""
    if path.startswith("/v1/results/"):
        return "/v1/results/{id}"
    return path if path in ROUTES else "other"


class Metrics:
    """Counters and a latency histogram per route; gauges come from callables at scrape time."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.requests: dict[tuple[str, str, int], int] = defaultdict(int)
        self._buckets: dict[str, list[int]] = defaultdict(lambda: [0] * len(LATENCY_BUCKETS))
        self._sum: dict[str, float] = defaultdict(float)
        self._count: dict[str, int] = defaultdict(int)

    def observe(self, method: str, route: str, status: int, seconds: float) -> None:
        with self._lock:
            self.requests[(method, route, status)] += 1
            buckets = self._buckets[route]
            for i, bound in enumerate(LATENCY_BUCKETS):
                if seconds <= bound:
                    buckets[i] += 1
            self._sum[route] += seconds
            self._count[route] += 1

    def count(self, route: str, status: int | None = None) -> int:
        with self._lock:
            return sum(n for (_, r, s), n in self.requests.items() if r == route and status in (None, s))

    def render(self, gauges: dict[str, tuple[str, float]]) -> str:
        """Text exposition; `gauges` maps a metric name to (help, value)."""
        lines = ["# HELP dream_engine_http_requests_total HTTP requests answered, by method, route and status.",
                 "# TYPE dream_engine_http_requests_total counter"]
        with self._lock:
            for (method, route, status), n in sorted(self.requests.items()):
                lines.append(f'dream_engine_http_requests_total{{method="{method}",route="{route}",'
                             f'status="{status}"}} {n}')
            lines += ["# HELP dream_engine_http_request_duration_seconds Time from request to the last body byte.",
                      "# TYPE dream_engine_http_request_duration_seconds histogram"]
            for route in sorted(self._count):
                for bound, n in zip(LATENCY_BUCKETS, self._buckets[route], strict=True):
                    lines.append(f'dream_engine_http_request_duration_seconds_bucket{{route="{route}",le="{bound}"}} '
                                 f"{n}")
                lines.append(f'dream_engine_http_request_duration_seconds_bucket{{route="{route}",le="+Inf"}} '
                             f"{self._count[route]}")
                lines.append(f'dream_engine_http_request_duration_seconds_sum{{route="{route}"}} '
                             f"{self._sum[route]:.6f}")
                lines.append(f'dream_engine_http_request_duration_seconds_count{{route="{route}"}} '
                             f"{self._count[route]}")
        for name, (text, value) in gauges.items():
            lines += [f"# HELP {name} {text}", f"# TYPE {name} gauge", f"{name} {value:g}"]
        return "\n".join(lines) + "\n"


class MetricsMiddleware:
    """Pure ASGI: records status and duration (to the last body byte) of every HTTP request."""

    def __init__(self, app: ASGIApp, metrics: Metrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Callable[[], Awaitable[Message]],
                       send: Callable[[Message], Awaitable[None]]) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        start = time.perf_counter()
        status = 500
        recorded = False

        async def recording_send(message: Message) -> None:
            nonlocal status, recorded
            if message["type"] == "http.response.start":
                status = int(message["status"])
            if message["type"] == "http.response.body" and not message.get("more_body", False) and not recorded:
                # counted before the last byte leaves, so a client that reads /metrics next sees it
                recorded = True
                self.metrics.observe(scope["method"], route_label(scope["path"]), status,
                                     time.perf_counter() - start)
            await send(message)

        try:
            await self.app(scope, receive, recording_send)
        finally:
            if not recorded:  # the client went away mid-response, or the app raised
                self.metrics.observe(scope["method"], route_label(scope["path"]), status,
                                     time.perf_counter() - start)
