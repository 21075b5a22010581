"""Python SDK for the Dream Engine HTTP API.

    client = DreamEngineClient("http://127.0.0.1:8080", token=None, timeout=60.0)
    rollout = client.predict(frame, actions, seed=7)      # .frames (T+1, H, W, 3), .mp4, .metadata
    for chunk in client.stream(frame, actions, seed=7):   # one item per decoded chunk
        chunk.frame_indices, chunk.frames

Every request is checked against `GET /v1/model` before it is sent (T % chunk_size, D, finite
and in-bounds actions, frame shape and resolution, the server's limits), with the engine
validator's own messages: a bad request never reaches the network. 429 and 503 answers are
retried with exponential backoff, honouring `Retry-After`.
"""

from __future__ import annotations

import base64
import io
import random
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any, cast

import httpx
import numpy as np

from dream_engine_ros.engine.errors import InputError
from dream_engine_ros.engine.spec import ModelSpec
from dream_engine_ros.engine.validation import RequestValidator
from dream_engine_ros.http.mp4 import decode_mp4
from dream_engine_ros.http.sse import SseEvent, parse_events, png_frames

RETRY_STATUSES = (429, 503)


class DreamEngineHTTPError(RuntimeError):
    """A non-2xx answer; carries the server's field / value / rule."""

    def __init__(self, status: int, body: dict[str, Any]) -> None:
        self.status = status
        self.body = body
        self.field = str(body.get("field", ""))
        self.value = body.get("value")
        self.rule = str(body.get("rule", ""))
        super().__init__(f"HTTP {status}: {body.get('message') or body}")


@dataclass(frozen=True)
class _RemoteSpec:
    """The attributes of a ModelSpec that `RequestValidator` reads, built from /v1/model."""

    name: str
    family: str
    chunk_size: int
    action_dim: int
    action_low: tuple[float, ...]
    action_high: tuple[float, ...]
    uncond: str


@dataclass
class Prediction:
    """One rollout: decoded frames, the exact mp4 bytes, and the X-DreamEngine-* metadata."""

    mp4: bytes
    metadata: dict[str, str]
    _frames: np.ndarray | None = None

    @property
    def frames(self) -> np.ndarray:
        """(T + 1, H, W, 3) uint8 decoded from the mp4 (lossy h.264, crf 18)."""
        if self._frames is None:
            self._frames = decode_mp4(self.mp4)[0]
        return self._frames


@dataclass
class BatchPrediction:
    """K candidates: costs against the goal, the best index, and the mp4s that were asked for."""

    body: dict[str, Any]
    videos: dict[int, bytes] = field(default_factory=dict)

    @property
    def costs(self) -> list[float | None] | None:
        costs: list[float | None] | None = self.body["costs"]
        return costs

    @property
    def best_index(self) -> int | None:
        best: int | None = self.body["best_index"]
        return best

    @property
    def seeds(self) -> list[int]:
        seeds: list[int] = self.body["seeds"]
        return seeds

    def frames(self, index: int) -> np.ndarray:
        """Candidate `index`'s decoded frames (only for candidates whose mp4 was returned)."""
        if index not in self.videos:
            raise KeyError(f"candidate {index} has no video in this answer (videos: {sorted(self.videos)})")
        return decode_mp4(self.videos[index])[0]


@dataclass(frozen=True)
class StreamChunk:
    """One decoded chunk as it left the engine: lossless frames and their rollout indices."""

    chunk_index: int
    chunks_total: int
    frame_indices: list[int]
    frames: np.ndarray
    decoded_at: float
    received_at: float


class PredictionStream:
    """Iterates the `chunk` events of a streamed prediction; afterwards `summary` holds the `done`
    event and `mp4()` fetches the finished video."""

    def __init__(self, client: DreamEngineClient, events: Iterator[SseEvent], close: Callable[[], None]) -> None:
        self._client = client
        self._events = events
        self._close = close
        self.summary: dict[str, Any] | None = None

    def __iter__(self) -> Iterator[StreamChunk]:
        try:
            for event in self._events:
                if event.event == "chunk":
                    data = event.data
                    yield StreamChunk(data["chunk_index"], data["chunks_total"], data["frame_indices"],
                                      png_frames(data["frames"]), data["decoded_at"], time.time())
                elif event.event == "done":
                    self.summary = event.data
                elif event.event == "error":
                    raise DreamEngineHTTPError(int(event.data.get("status", 500)), event.data)
        finally:
            self.close()

    def mp4(self) -> Prediction:
        """The finished rollout (GET result_url); only after the stream has ended."""
        if self.summary is None:
            raise RuntimeError("the stream has not finished (no 'done' event yet)")
        response = self._client.send("GET", self.summary["result_url"])
        return Prediction(response.content, _metadata(response))

    def close(self) -> None:
        self._close()

    def __enter__(self) -> PredictionStream:
        return self

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        self.close()


def _metadata(response: httpx.Response) -> dict[str, str]:
    prefix = "x-dreamengine-"
    return {key[len(prefix):]: value for key, value in response.headers.items() if key.lower().startswith(prefix)}


def _png(frame: np.ndarray) -> bytes:
    from PIL import Image

    buffer = io.BytesIO()
    Image.fromarray(np.ascontiguousarray(frame)).save(buffer, format="PNG", compress_level=1)
    return buffer.getvalue()


def _npy(array: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    np.save(buffer, np.ascontiguousarray(array, dtype=np.float32), allow_pickle=False)
    return buffer.getvalue()


class DreamEngineClient:
    """A client of one Dream Engine server; reusable, thread-safe for concurrent requests (httpx)."""

    def __init__(self, url: str, token: str | None = None, timeout: float = 120.0, retries: int = 4,
                 backoff_s: float = 0.25, max_backoff_s: float = 30.0, exact_resolution: bool = True,
                 transport: httpx.BaseTransport | None = None) -> None:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        self._http = httpx.Client(base_url=url.rstrip("/"), headers=headers, timeout=timeout, transport=transport)
        self.retries = retries
        self.backoff_s = backoff_s
        self.max_backoff_s = max_backoff_s
        self.exact_resolution = exact_resolution
        self._model: dict[str, Any] | None = None

    # ------------------------------------------------------------------ plumbing

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> DreamEngineClient:
        return self

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        self.close()

    def _delay(self, response: httpx.Response, attempt: int) -> float:
        retry_after = response.headers.get("retry-after", "")
        base = float(retry_after) if retry_after.isdigit() else self.backoff_s * (2 ** attempt)
        return min(self.max_backoff_s, base) * (1.0 + 0.1 * random.random())  # jitter: clients do not retry in step

    def send(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        """One call with retries on 429/503; raises DreamEngineHTTPError on any other non-2xx."""
        for attempt in range(self.retries + 1):
            response = self._http.request(method, path, **kwargs)
            if response.status_code in RETRY_STATUSES and attempt < self.retries:
                time.sleep(self._delay(response, attempt))
                continue
            _raise_for_status(response)
            return response
        raise AssertionError("unreachable")

    # ------------------------------------------------------------------ model + validation

    def health(self) -> dict[str, Any]:
        body: dict[str, Any] = self._http.get("/healthz").json()
        return body

    def model(self, refresh: bool = False) -> dict[str, Any]:
        """`GET /v1/model` (cached): spec, resolution, chunk_size, action_dim, defaults, limits."""
        if self._model is None or refresh:
            self._model = self.send("GET", "/v1/model").json()
        assert self._model is not None
        return self._model

    def _validator(self) -> RequestValidator:
        info = self.model()
        remote = _RemoteSpec(info["name"], info["family"], int(info["chunk_size"]), int(info["action_dim"]),
                             tuple(info["action_low"] or ()), tuple(info["action_high"] or ()),
                             str(info["spec"]["arch"].get("uncond", "")))
        can = info["capabilities"]
        return RequestValidator(cast(ModelSpec, remote), has_guidance=bool(can["guidance"]),
                                reads_history=bool(can["history"]), decode_free=bool(can.get("decode_free", False)))

    def validate(self, frame: np.ndarray, actions: np.ndarray, batched: bool = False,
                 goal: np.ndarray | None = None) -> np.ndarray:
        """The checks made before sending; raises engine InputError (field, value, rule)."""
        info = self.model()
        validator = self._validator()
        limits = info["limits"]
        for name, image in (("frame", frame), ("goal", goal)):
            if image is None:
                continue
            validator.frame(image, name)
            height, width = image.shape[:2]
            if self.exact_resolution and (height, width) != tuple(info["resolution"]):
                raise InputError(name, (height, width, 3), f"must be the spec's resolution {tuple(info['resolution'])} "
                                 "(HxW); pass exact_resolution=False to let the server crop and resize")
            if height * width > limits["max_pixels"]:
                raise InputError(name, (height, width), f"{height * width} pixels exceed the server's limit of "
                                 f"{limits['max_pixels']}")
        arr = validator.actions(actions, batched=batched)
        if arr.shape[-2] > limits["max_horizon"]:
            raise InputError("actions", arr.shape[-2], f"horizon {arr.shape[-2]} exceeds the server's limit of "
                             f"{limits['max_horizon']}")
        if batched and arr.shape[0] > limits["max_candidates"]:
            raise InputError("actions", arr.shape[0], f"{arr.shape[0]} candidates exceed the server's limit of "
                             f"{limits['max_candidates']}")
        return arr

    @staticmethod
    def _fields(seed: int, num_steps: int | None, guidance: float | None) -> dict[str, str]:
        data = {"seed": str(int(seed))}
        if num_steps is not None:
            data["num_steps"] = str(int(num_steps))
        if guidance is not None:
            data["guidance"] = repr(float(guidance))
        return data

    # ------------------------------------------------------------------ API

    def predict(self, frame: np.ndarray, actions: np.ndarray, seed: int = 0, num_steps: int | None = None,
                guidance: float | None = None) -> Prediction:
        """`POST /v1/predict`: the rollout's mp4, its decoded frames and metadata."""
        arr = self.validate(frame, actions)
        files = {"frame": ("frame.png", _png(frame), "image/png"),
                 "actions": ("actions.npy", _npy(arr), "application/octet-stream")}
        response = self.send("POST", "/v1/predict", files=files, data=self._fields(seed, num_steps, guidance))
        return Prediction(response.content, _metadata(response))

    def predict_batch(self, frame: np.ndarray, actions: np.ndarray, seed: int = 0,
                      seeds: Sequence[int] | None = None, goal: np.ndarray | None = None, cost: str | None = None,
                      videos: str | Sequence[int] | None = None, num_steps: int | None = None,
                      guidance: float | None = None, fused: bool = False) -> BatchPrediction:
        """`POST /v1/predict_batch`: K candidates (K, T, D) in one pass; with `goal`, costs and the best."""
        arr = self.validate(frame, actions, batched=True, goal=goal)
        files = {"frame": ("frame.png", _png(frame), "image/png"),
                 "actions": ("actions.npy", _npy(arr), "application/octet-stream")}
        if goal is not None:
            files["goal"] = ("goal.png", _png(goal), "image/png")
        data = self._fields(seed, num_steps, guidance)
        if seeds is not None:
            del data["seed"]
            data["seeds"] = ",".join(str(int(s)) for s in seeds)
        if cost is not None:
            data["cost"] = cost
        if videos is not None:
            data["videos"] = videos if isinstance(videos, str) else ",".join(str(int(k)) for k in videos)
        data["fused"] = "true" if fused else "false"
        body = self.send("POST", "/v1/predict_batch", files=files, data=data).json()
        clips = {int(item["index"]): base64.b64decode(item["mp4_base64"]) for item in body["videos"]}
        return BatchPrediction(body, clips)

    def stream(self, frame: np.ndarray, actions: np.ndarray, seed: int = 0, num_steps: int | None = None,
               guidance: float | None = None) -> PredictionStream:
        """`POST /v1/predict` with `Accept: text/event-stream`: iterate chunks as they are decoded."""
        arr = self.validate(frame, actions)
        files = {"frame": ("frame.png", _png(frame), "image/png"),
                 "actions": ("actions.npy", _npy(arr), "application/octet-stream")}
        data = self._fields(seed, num_steps, guidance)
        for attempt in range(self.retries + 1):
            request = self._http.build_request("POST", "/v1/predict", files=files, data=data,
                                               headers={"Accept": "text/event-stream"})
            response = self._http.send(request, stream=True)
            if response.status_code in RETRY_STATUSES and attempt < self.retries:
                response.read()
                response.close()
                time.sleep(self._delay(response, attempt))
                continue
            if response.status_code >= 400:
                response.read()
                response.close()
                _raise_for_status(response)
            return PredictionStream(self, parse_events(response.iter_lines()), response.close)
        raise AssertionError("unreachable")


def _raise_for_status(response: httpx.Response) -> None:
    if response.status_code < 400:
        return
    try:
        body = response.json()
    except ValueError:
        body = {"message": response.text[:500]}
    raise DreamEngineHTTPError(response.status_code, body if isinstance(body, dict) else {"message": str(body)})
