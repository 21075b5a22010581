"""mp4 bytes from frames (the CLI's encoder) and frames from mp4 bytes (the SDK's decoder).

Why the short-lived file: `video.write_mp4` is the one encoder the CLI uses, so going through
it is what makes the HTTP bytes equal the CLI's. It writes into a private temporary directory
that is removed on every exit path, so nothing stays on disk after a request, failed or not.
"""

from __future__ import annotations

import io
import tempfile
from pathlib import Path

import numpy as np

from dream_engine_ros.video import write_mp4


def encode_mp4(frames: np.ndarray, fps: float, tmp_dir: str | None = None) -> bytes:
    """(N, H, W, 3) uint8 -> the bytes `dream-engine predict` would have written."""
    with tempfile.TemporaryDirectory(prefix="dream-engine-http-", dir=tmp_dir) as folder:
        return write_mp4(Path(folder) / "rollout.mp4", frames, fps).read_bytes()


def decode_mp4(data: bytes) -> tuple[np.ndarray, float]:
    """mp4 bytes -> (frames (N, H, W, 3) uint8, fps), in memory."""
    import av

    with av.open(io.BytesIO(data), mode="r") as container:
        if not container.streams.video:
            raise ValueError("mp4 has no video stream")
        stream = container.streams.video[0]
        rate = stream.average_rate or stream.guessed_rate or stream.base_rate
        frames = [frame.to_ndarray(format="rgb24") for frame in container.decode(stream)]
    if not frames:
        raise ValueError("mp4 has no decodable frames")
    return np.stack(frames), float(rate) if rate else 0.0
