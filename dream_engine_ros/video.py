"""mp4 writer/reader (PyAV): H.264 Constrained Baseline, yuv420p, deterministic, atomic.

Why these choices:
- Constrained Baseline + yuv420p plays everywhere (browsers, rviz plugins, phones).
- Deterministic bytes: the engine promises identical mp4 bytes for identical inputs, so
  the encoder runs single-threaded and the muxer runs with `bitexact` (no encoder
  version string, no creation_time; the mp4 header times stay 0). x264's macroblock-tree
  rate control is off: with it on, identical frames encoded in one process sometimes gave
  different P-frames once the heap had been churned (x264 reads memory it has not written;
  the measurement is in docs/engine.md).
  Identical bytes are guaranteed for the same PyAV/FFmpeg/x264 build; other builds may
  encode differently.
- Atomic: readers (and ROS clients told the path) never see a half-written file. The
  mp4 is written to a temp file in the target directory, fsync'ed, then os.replace'd;
  on any error the temp file is removed and nothing appears at the target.
- Odd sizes: yuv420p needs even width and height, so an odd-sized video is padded by
  one row/column (edge pixels replicated) at the bottom/right; `read_mp4` returns the
  padded size. Engine resolutions are even, so this only touches unusual inputs.
"""

from __future__ import annotations

import os
from fractions import Fraction
from pathlib import Path
from typing import cast

import numpy as np

from dream_engine_ros.atomic_file import atomic_output
from dream_engine_ros.engine.errors import plain_value

DEFAULT_CRF = 18  # visually near-lossless for the engine's small frames


def _check_frames(frames: object) -> np.ndarray:
    if not isinstance(frames, np.ndarray):
        raise ValueError(f"frames: expected a numpy array, got {type(frames).__name__}")
    if frames.dtype != np.uint8:
        raise ValueError(f"frames: dtype {frames.dtype} is not uint8")
    if frames.ndim != 4:
        raise ValueError(f"frames: shape {frames.shape} is not (N, H, W, 3)")
    if frames.shape[-1] != 3:
        raise ValueError(f"frames: {frames.shape[-1]} channels, expected 3 (RGB)")
    if frames.shape[0] == 0:
        raise ValueError("frames: empty video (N == 0)")
    if frames.shape[1] == 0 or frames.shape[2] == 0:
        raise ValueError(f"frames: zero-sized frame {frames.shape[1:3]}")
    return frames


def _fps_fraction(fps: object) -> Fraction:
    try:
        value = float(fps)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        raise ValueError(f"fps: {plain_value(fps)} is not a number") from None
    if not np.isfinite(value) or value <= 0:
        raise ValueError(f"fps: {plain_value(fps)} must be a finite number > 0")
    # Exact for integer and NTSC-style rates (e.g. 30000/1001).
    # float(fps) accepted it above; Fraction takes the same numbers and numeric strings.
    rate = Fraction(cast(float, fps)).limit_denominator(1001) if not isinstance(fps, Fraction) else fps
    if rate <= 0:
        raise ValueError(f"fps: {plain_value(fps)} rounds to a non-positive rate")
    return rate


def pad_to_even(frames: np.ndarray) -> np.ndarray:
    """Replicate the last row/column when H or W is odd (yuv420p needs even sizes)."""
    h, w = frames.shape[1:3]
    ph, pw = h % 2, w % 2
    if not (ph or pw):
        return frames
    return np.pad(frames, ((0, 0), (0, ph), (0, pw), (0, 0)), mode="edge")


def _to_video_frame(rgb: np.ndarray):
    """One RGB array -> av.VideoFrame (a seam the tests use to inject encoder failures)."""
    import av

    return av.VideoFrame.from_ndarray(np.ascontiguousarray(rgb), format="rgb24")


def _encode(path: Path, frames: np.ndarray, rate: Fraction, crf: int) -> None:
    import av

    h, w = frames.shape[1:3]
    # PyAV gets a file object we own, not the path: when PyAV opens the path itself and the
    # header write fails (disk full), it never closes that descriptor, not even on garbage
    # collection (PyAV 18: close() only closes the AVIO context of a started container).
    # Closing our own file object releases the descriptor on every path.
    with open(path, "wb") as file, av.open(
        file, mode="w", format="mp4", options={"fflags": "+bitexact"}
    ) as container:
        stream = container.add_stream(
            "libx264",
            rate=rate,
            options={"profile": "baseline", "crf": str(crf), "preset": "medium", "threads": "1",
                     "x264-params": "mbtree=0"},
        )
        stream.width, stream.height = w, h
        stream.pix_fmt = "yuv420p"
        stream.codec_context.thread_count = 1
        stream.codec_context.time_base = 1 / rate
        stream.time_base = 1 / rate
        for i, rgb in enumerate(frames):
            frame = _to_video_frame(rgb)
            frame.pts = i
            frame.time_base = 1 / rate
            container.mux(stream.encode(frame))
        container.mux(stream.encode(None))


def write_mp4(path: str | os.PathLike[str], frames: np.ndarray, fps: float,
              crf: int = DEFAULT_CRF) -> Path:
    """Encode RGB frames (N, H, W, 3) uint8 to an H.264 mp4 at `fps`; returns the path.

    Same frames + fps + crf -> same bytes (same library build). Atomic: on failure no
    file and no temp file are left behind. Odd H/W are padded to even (module docstring).
    """
    frames = pad_to_even(_check_frames(frames))
    rate = _fps_fraction(fps)
    if not isinstance(crf, (int, np.integer)) or not 0 <= int(crf) <= 51:
        raise ValueError(f"crf: {plain_value(crf)} must be an integer in [0, 51]")
    target = Path(path)
    if target.suffix.lower() != ".mp4":
        raise ValueError(f"path: {str(target)!r} must end in .mp4")
    if not target.parent.is_dir():
        raise ValueError(f"path: directory {str(target.parent)!r} does not exist")

    with atomic_output(target) as tmp:
        _encode(tmp, frames, rate, int(crf))
    return target


def read_mp4(path: str | os.PathLike[str]) -> tuple[np.ndarray, float]:
    """Decode every frame of the first video stream -> (frames uint8 (N, H, W, 3), fps)."""
    import av

    p = Path(path)
    if not p.is_file():
        raise FileNotFoundError(f"no such mp4: {str(p)!r}")
    with av.open(str(p)) as container:
        if not container.streams.video:
            raise ValueError(f"{str(p)!r} has no video stream")
        stream = container.streams.video[0]
        rate = stream.average_rate or stream.guessed_rate or stream.base_rate
        frames = [f.to_ndarray(format="rgb24") for f in container.decode(stream)]
    if not frames:
        raise ValueError(f"{str(p)!r} has no decodable frames")
    return np.stack(frames), float(rate) if rate else 0.0
