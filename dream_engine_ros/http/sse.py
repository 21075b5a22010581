"""Server-sent events: the wire format both ends share, and a chunk's frames as PNG payload.

Event names: `chunk` (one per decoded chunk: frame indices + base64 PNG frames), `done` (the
summary and the URL of the mp4), `error` (the same JSON body as an HTTP error). Kept free of
any server library so the SDK parses exactly what the server writes.
"""

from __future__ import annotations

import base64
import io
import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np


@dataclass(frozen=True)
class SseEvent:
    event: str
    data: dict[str, Any]
    id: str | None = None


def format_event(event: str, data: dict[str, Any], event_id: str | None = None) -> bytes:
    """One SSE event; JSON data is single-line, so one `data:` line carries it."""
    head = f"id: {event_id}\n" if event_id is not None else ""
    return f"{head}event: {event}\ndata: {json.dumps(data, separators=(',', ':'))}\n\n".encode()


def parse_events(lines: Iterable[str]) -> Iterator[SseEvent]:
    """SSE text lines (without newlines) -> events; comments and retry fields are skipped."""
    event, event_id = "message", None
    data: list[str] = []
    for line in lines:
        if line == "":
            if data:
                yield SseEvent(event, json.loads("\n".join(data)), event_id)
            event, event_id, data = "message", None, []
            continue
        if line.startswith(":"):
            continue
        name, _, value = line.partition(":")
        value = value[1:] if value.startswith(" ") else value
        if name == "event":
            event = value
        elif name == "data":
            data.append(value)
        elif name == "id":
            event_id = value
    if data:
        yield SseEvent(event, json.loads("\n".join(data)), event_id)


def png_base64(frame: np.ndarray) -> str:
    """One RGB frame as base64 PNG (lossless; compress level 1: speed over size)."""
    from PIL import Image

    buffer = io.BytesIO()
    Image.fromarray(np.ascontiguousarray(frame)).save(buffer, format="PNG", compress_level=1)
    return base64.b64encode(buffer.getvalue()).decode("ascii")


def png_frames(payload: list[str]) -> np.ndarray:
    """base64 PNG frames of a `chunk` event -> (n, H, W, 3) uint8."""
    from PIL import Image

    frames = []
    for item in payload:
        with Image.open(io.BytesIO(base64.b64decode(item)), formats=["PNG"]) as image:
            frames.append(np.asarray(image.convert("RGB"), dtype=np.uint8))
    return np.stack(frames)


def chunk_payload(chunk_index: int, chunks_total: int, first_frame_index: int, frames: np.ndarray,
                  decoded_at: float, elapsed_s: float) -> dict[str, Any]:
    """The data of a `chunk` event: which frames these are, and the frames themselves."""
    count = int(frames.shape[0])
    return {
        "chunk_index": chunk_index,
        "chunks_total": chunks_total,
        "first_frame_index": first_frame_index,
        "frame_indices": list(range(first_frame_index, first_frame_index + count)),
        "encoding": "png",
        "frames": [png_base64(frame) for frame in frames],
        "decoded_at": decoded_at,  # server wall clock (time.time()) when the engine handed the chunk over
        "elapsed_s": round(elapsed_s, 6),
    }
