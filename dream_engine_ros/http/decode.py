"""Form values -> arrays, each bounded before it is decoded.

Why the PNG header is read by hand: PIL's decompression-bomb guard only warns up to ~89 M
pixels, and a 16-bit RGBA image of that size is over 700 MB. The IHDR chunk states width and
height in the first 24 bytes, so the pixel limit is enforced before a single row is inflated.
The .npy header is read the same way: shape and dtype are checked before the data is touched,
and pickles are never allowed.
"""

from __future__ import annotations

import io
import math
import re
import struct

import numpy as np

from dream_engine_ros.http.errors import ApiError
from dream_engine_ros.image import image_to_rgb8  # the CLI's exact frame conversion: same pixels, same mp4 bytes

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
_INT = re.compile(r"^[+-]?\d{1,20}$")


def png_size(data: bytes, field: str) -> tuple[int, int]:
    """(width, height) from a PNG's IHDR chunk; 415 when the bytes are not a PNG."""
    if data[:8] != PNG_SIGNATURE:
        raise ApiError(415, field, f"{len(data)} bytes", "must be a PNG image (PNG signature missing)")
    if len(data) < 24 or data[12:16] != b"IHDR":
        raise ApiError(400, field, f"{len(data)} bytes", "PNG has no IHDR header chunk")
    width, height = struct.unpack(">II", data[16:24])
    return width, height


def decode_png(data: bytes, field: str, max_pixels: int) -> np.ndarray:
    """PNG bytes -> (H, W, 3) uint8, as `dream-engine predict --frame` reads a file."""
    from PIL import Image

    width, height = png_size(data, field)
    if width * height > max_pixels:
        raise ApiError(413, field, f"{width}x{height}",
                       f"{width * height} pixels exceed this server's limit of {max_pixels} (--max-pixels)")
    try:
        with Image.open(io.BytesIO(data), formats=["PNG"]) as image:
            if image.size != (width, height):
                raise ApiError(400, field, f"{image.size}", "PNG header and image size disagree")
            return image_to_rgb8(image)
    except ApiError:
        raise
    except Exception as exc:  # PIL raises OSError, SyntaxError, ValueError... for broken files
        raise ApiError(400, field, f"{len(data)} bytes", f"cannot decode the PNG: {exc}") from None


def decode_npy(data: bytes, field: str, ndim: int, max_horizon: int, max_candidates: int | None = None) -> np.ndarray:
    """.npy bytes -> numeric array of `ndim` dims; shape limits checked from the header first."""
    buffer = io.BytesIO(data)
    try:
        version = np.lib.format.read_magic(buffer)
        if version == (1, 0):
            shape, fortran, dtype = np.lib.format.read_array_header_1_0(buffer)
        else:
            shape, fortran, dtype = np.lib.format.read_array_header_2_0(buffer)
    except Exception as exc:  # numpy raises ValueError / UnicodeError / SyntaxError for bad headers
        raise ApiError(400, field, f"{len(data)} bytes", f"not a .npy file: {exc}") from None
    if dtype.hasobject:
        raise ApiError(400, field, str(dtype), "object arrays are refused (.npy is parsed without pickles)")
    if not (np.issubdtype(dtype, np.floating) or np.issubdtype(dtype, np.integer)):
        raise ApiError(422, field, str(dtype), "must be a numeric array")
    want = "(K, T, D)" if ndim == 3 else "(T, D)"
    if len(shape) != ndim:
        raise ApiError(422, field, tuple(shape), f"shape must be {want}")
    horizon = shape[-2]
    if horizon > max_horizon:
        raise ApiError(413, field, horizon, f"horizon {horizon} exceeds this server's limit of {max_horizon} "
                       "(--max-horizon)")
    if max_candidates is not None and shape[0] > max_candidates:
        raise ApiError(413, field, shape[0], f"{shape[0]} candidates exceed this server's limit of "
                       f"{max_candidates} (--max-candidates)")
    expected = buffer.tell() + math.prod(shape) * dtype.itemsize
    if expected != len(data):
        raise ApiError(400, field, f"{len(data)} bytes", f"header says {tuple(shape)} {dtype} ({expected} bytes "
                       "with the header); the data length differs")
    try:
        return np.load(io.BytesIO(data), allow_pickle=False)
    except Exception as exc:
        raise ApiError(400, field, f"{len(data)} bytes", f"cannot read .npy: {exc}") from None


def text_field(data: bytes, field: str) -> str:
    try:
        return data.decode("utf-8").strip()
    except UnicodeDecodeError:
        raise ApiError(400, field, f"{len(data)} bytes", "must be UTF-8 text") from None


def parse_int(text: str, field: str) -> int:
    """A decimal integer string (the engine validator checks its range)."""
    if not _INT.match(text):
        raise ApiError(400, field, text, f"{field} must be a decimal integer string")
    return int(text)


def parse_float(text: str, field: str) -> float:
    try:
        return float(text)
    except ValueError:
        raise ApiError(400, field, text, f"{field} must be a number string") from None


def sampling_overrides(num_steps: str | None, guidance: str | None) -> tuple[int | None, float | None]:
    """Absent, empty, `num_steps=0` and `guidance=nan` mean the spec default (as the CLI and ROS)."""
    steps = parse_int(num_steps, "num_steps") if num_steps else None
    scale = parse_float(guidance, "guidance") if guidance else None
    return (None if steps == 0 else steps), (None if scale is not None and math.isnan(scale) else scale)
