"""sensor_msgs/Image and CompressedImage <-> numpy RGB, without cv_bridge.

Why our own: the only cv_bridge on PyPI is an old ROS 1 port that breaks with numpy 2.
The engine wants ``uint8 (H, W, 3)`` RGB; cameras send rgb8/bgr8/rgba8/bgra8/mono8 rows
that may be padded (``step > width * channels``) and, in principle, big-endian (irrelevant
for 8-bit channels, but we check the flag so 16-bit encodings are refused explicitly).

The decoders only read fields (``encoding``, ``height``, ``width``, ``step``, ``data``, ``format``), so
they also decode the message objects of a pure-Python bag reader (``rosbags``, used by
``dream_engine_ros.augment``); the ROS message classes are imported only where one is built or
dispatched on, so importing this module needs no ROS install.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from builtin_interfaces.msg import Time
    from sensor_msgs.msg import CompressedImage, Image


@dataclass(frozen=True)
class EncodingLayout:
    """How one 8-bit encoding lays out a pixel and how to reach RGB from it."""

    channels: int
    rgb_order: tuple[int, ...]  # channel indices that give R, G, B (mono: (0, 0, 0))


ENCODINGS: dict[str, EncodingLayout] = {
    "rgb8": EncodingLayout(3, (0, 1, 2)),
    "bgr8": EncodingLayout(3, (2, 1, 0)),
    "rgba8": EncodingLayout(4, (0, 1, 2)),
    "bgra8": EncodingLayout(4, (2, 1, 0)),
    "mono8": EncodingLayout(1, (0, 0, 0)),
}

SUPPORTED_ENCODINGS: tuple[str, ...] = tuple(ENCODINGS)


class ImageConversionError(ValueError):
    """A message cannot be turned into an RGB frame; ``str()`` names field, value and rule."""

    def __init__(self, field: str, value: object, rule: str) -> None:
        self.field = field
        self.value = value
        self.rule = rule
        super().__init__(f"{field}: {rule}")


def image_msg_to_rgb(msg: Image, field: str = "image") -> np.ndarray:
    """Decode a raw ``sensor_msgs/Image`` into a contiguous ``uint8 (H, W, 3)`` RGB array."""
    layout = ENCODINGS.get(msg.encoding)
    if layout is None:
        raise ImageConversionError(
            f"{field}.encoding",
            msg.encoding,
            f"encoding {msg.encoding!r} is not supported; use one of {', '.join(SUPPORTED_ENCODINGS)}",
        )
    height, width = int(msg.height), int(msg.width)
    if height <= 0 or width <= 0:
        raise ImageConversionError(f"{field}", (height, width), f"image size {width}x{height} is empty")
    row_bytes = width * layout.channels
    step = int(msg.step)
    if step < row_bytes:
        raise ImageConversionError(f"{field}.step", step, f"step {step} is smaller than width*channels = {row_bytes}")
    data = msg.data
    buffer = data.tobytes() if hasattr(data, "tobytes") else bytes(data)
    if len(buffer) < step * (height - 1) + row_bytes:
        raise ImageConversionError(
            f"{field}.data",
            len(buffer),
            f"data has {len(buffer)} bytes, expected {step * height} for step {step} x height {height}",
        )
    # is_bigendian only matters for multi-byte channels; every supported encoding is 8-bit.
    rows = np.frombuffer(buffer, dtype=np.uint8, count=min(len(buffer), step * height))
    if rows.size < step * height:  # last row may legally omit its padding
        rows = np.concatenate([rows, np.zeros(step * height - rows.size, np.uint8)])
    pixels = rows.reshape(height, step)[:, :row_bytes].reshape(height, width, layout.channels)
    return np.ascontiguousarray(pixels[:, :, list(layout.rgb_order)])


def compressed_msg_to_rgb(msg: CompressedImage, field: str = "image") -> np.ndarray:
    """Decode a ``sensor_msgs/CompressedImage`` (jpeg/png) into ``uint8 (H, W, 3)`` RGB."""
    import cv2  # imported here so the raw-image path works without OpenCV

    data = msg.data
    buffer = np.frombuffer(data.tobytes() if hasattr(data, "tobytes") else bytes(data), np.uint8)
    if buffer.size == 0:
        raise ImageConversionError(f"{field}.data", 0, "compressed image is empty")
    bgr = cv2.imdecode(buffer, cv2.IMREAD_COLOR)
    if bgr is None:
        raise ImageConversionError(
            f"{field}.format", msg.format, f"cannot decode {buffer.size} bytes of format {msg.format!r}"
        )
    return np.ascontiguousarray(bgr[:, :, ::-1])


def any_image_msg_to_rgb(msg: Image | CompressedImage, field: str = "image") -> np.ndarray:
    """Dispatch on the message type (the camera cache holds either kind)."""
    from sensor_msgs.msg import CompressedImage

    if isinstance(msg, CompressedImage):
        return compressed_msg_to_rgb(msg, field)
    return image_msg_to_rgb(msg, field)


def rgb_to_image_msg(rgb: np.ndarray, stamp: Time, frame_id: str) -> Image:
    """Wrap a ``uint8 (H, W, 3)`` RGB array as an unpadded ``rgb8`` Image."""
    if rgb.dtype != np.uint8 or rgb.ndim != 3 or rgb.shape[2] != 3:
        raise ImageConversionError("frame", rgb.shape, f"expected uint8 (H, W, 3), got {rgb.dtype} {rgb.shape}")
    from sensor_msgs.msg import Image

    msg = Image()
    msg.header.stamp = stamp
    msg.header.frame_id = frame_id
    msg.height, msg.width = int(rgb.shape[0]), int(rgb.shape[1])
    msg.encoding = "rgb8"
    msg.is_bigendian = 0
    msg.step = int(rgb.shape[1]) * 3
    msg.data = np.ascontiguousarray(rgb).tobytes()
    return msg


def rgb_to_compressed_msg(rgb: np.ndarray, stamp: Time, frame_id: str, fmt: str = "png") -> CompressedImage:
    """Encode RGB as a CompressedImage (used by tests and the demo's compressed camera)."""
    import cv2
    from sensor_msgs.msg import CompressedImage

    ok, encoded = cv2.imencode(f".{fmt}", np.ascontiguousarray(rgb[:, :, ::-1]))
    if not ok:
        raise ImageConversionError("frame", fmt, f"OpenCV could not encode {fmt}")
    msg = CompressedImage()
    msg.header.stamp = stamp
    msg.header.frame_id = frame_id
    msg.format = fmt
    msg.data = encoded.tobytes()
    return msg
