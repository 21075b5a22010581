"""Helpers the HTTP tests share (request bodies, waiting for a server)."""

from __future__ import annotations

import io
import time
from dataclasses import dataclass
from typing import Any

import httpx
import numpy as np
from PIL import Image


@dataclass(frozen=True)
class Inputs:
    frame: np.ndarray  # (96, 96, 3) uint8, a real PushT frame
    actions: np.ndarray  # (24, 2) float32: two chunks
    png: bytes
    npy: bytes


def png_bytes(frame: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(frame).save(buffer, format="PNG")
    return buffer.getvalue()


def npy_bytes(array: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    np.save(buffer, array)
    return buffer.getvalue()


TIMEOUT = 300.0  # generous: the CPU these tests run on is shared with training runs


def get(url: str, **kwargs: Any) -> httpx.Response:
    return httpx.get(url, **{"timeout": TIMEOUT, **kwargs})


def post(url: str, **kwargs: Any) -> httpx.Response:
    return httpx.post(url, **{"timeout": TIMEOUT, **kwargs})


def request(method: str, url: str, **kwargs: Any) -> httpx.Response:
    return httpx.request(method, url, **{"timeout": TIMEOUT, **kwargs})


def wait_ready(url: str, timeout: float = 240.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if get(f"{url}/healthz").status_code == 200:
            return
        time.sleep(0.05)
    raise AssertionError(f"{url} never became ready")


def wait_until(condition: object, timeout: float = 240.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():  # type: ignore[operator]
        if time.monotonic() > deadline:
            raise AssertionError("condition not reached in time")
        time.sleep(0.01)


def form(inputs: Inputs, png: bytes | None = None, npy: bytes | None = None, **fields: str) -> dict[str, object]:
    """httpx keyword arguments of a /v1/predict multipart body."""
    return {"files": {"frame": ("frame.png", inputs.png if png is None else png, "image/png"),
                      "actions": ("actions.npy", inputs.npy if npy is None else npy, "application/octet-stream")},
            "data": {"seed": "7", **fields}}
