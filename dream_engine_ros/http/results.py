"""Finished rollouts kept in memory for a bounded time and count (`GET /v1/results/{id}`).

Why: an SSE stream ends with a summary, not the mp4 itself; the client fetches the mp4 once the
stream is done. Bounding both age and count keeps an unattended server's memory flat.
"""

from __future__ import annotations

import secrets
import threading
import time
from collections import OrderedDict
from dataclasses import dataclass


@dataclass(frozen=True)
class StoredResult:
    mp4: bytes
    headers: dict[str, str]
    expires_at: float


class ResultStore:
    """Thread-safe, oldest-first eviction; ids are unguessable (128 random bits)."""

    def __init__(self, max_count: int, ttl_s: float) -> None:
        self.max_count = max_count
        self.ttl_s = ttl_s
        self._items: OrderedDict[str, StoredResult] = OrderedDict()
        self._lock = threading.Lock()

    def put(self, mp4: bytes, headers: dict[str, str]) -> str:
        key = secrets.token_urlsafe(16)
        with self._lock:
            self._purge(time.monotonic())
            self._items[key] = StoredResult(mp4, dict(headers), time.monotonic() + self.ttl_s)
            while len(self._items) > self.max_count:
                self._items.popitem(last=False)
        return key

    def get(self, key: str) -> StoredResult | None:
        with self._lock:
            self._purge(time.monotonic())
            return self._items.get(key)

    def __len__(self) -> int:
        with self._lock:
            self._purge(time.monotonic())
            return len(self._items)

    def stored_bytes(self) -> int:
        with self._lock:
            return sum(len(item.mp4) for item in self._items.values())

    def _purge(self, now: float) -> None:
        for key in [key for key, item in self._items.items() if item.expires_at <= now]:
            del self._items[key]
