"""Pure tests of the Image/CompressedImage <-> numpy converter (no rclpy init needed)."""

from __future__ import annotations

import numpy as np
import pytest
from builtin_interfaces.msg import Time
from sensor_msgs.msg import CompressedImage, Image

from dream_engine_ros.ros.image_conversion import (
    SUPPORTED_ENCODINGS,
    ImageConversionError,
    any_image_msg_to_rgb,
    compressed_msg_to_rgb,
    image_msg_to_rgb,
    rgb_to_compressed_msg,
    rgb_to_image_msg,
)

RNG = np.random.default_rng(0)
RGB = RNG.integers(0, 256, size=(5, 7, 3), dtype=np.uint8)


def raw_image(pixels: np.ndarray, encoding: str, padding: int = 0, bigendian: int = 0) -> Image:
    height, width = pixels.shape[:2]
    rows = pixels.reshape(height, -1)
    padded = np.concatenate([rows, np.full((height, padding), 0xEE, np.uint8)], axis=1)
    return Image(
        height=height,
        width=width,
        encoding=encoding,
        is_bigendian=bigendian,
        step=padded.shape[1],
        data=padded.tobytes(),
    )


@pytest.mark.parametrize("padding", [0, 3, 17])
@pytest.mark.parametrize(
    "encoding,make",
    [
        ("rgb8", lambda rgb: rgb),
        ("bgr8", lambda rgb: rgb[:, :, ::-1]),
        ("rgba8", lambda rgb: np.concatenate([rgb, np.full(rgb.shape[:2] + (1,), 9, np.uint8)], -1)),
        ("bgra8", lambda rgb: np.concatenate([rgb[:, :, ::-1], np.full(rgb.shape[:2] + (1,), 9, np.uint8)], -1)),
    ],
)
def test_colour_encodings_with_row_padding(encoding, make, padding):
    rgb = image_msg_to_rgb(raw_image(np.ascontiguousarray(make(RGB)), encoding, padding))
    assert rgb.dtype == np.uint8 and rgb.flags.c_contiguous
    np.testing.assert_array_equal(rgb, RGB)


def test_mono8_is_replicated_to_three_channels():
    mono = RGB[:, :, 0]
    rgb = image_msg_to_rgb(raw_image(mono[:, :, None], "mono8", padding=1))
    assert rgb.shape == (5, 7, 3)
    for channel in range(3):
        np.testing.assert_array_equal(rgb[:, :, channel], mono)


def test_bigendian_flag_does_not_change_8bit_data():
    np.testing.assert_array_equal(image_msg_to_rgb(raw_image(RGB, "rgb8", bigendian=1)), RGB)


def test_round_trip_through_rgb8_message():
    stamp = Time(sec=12, nanosec=34)
    msg = rgb_to_image_msg(RGB, stamp, "cam")
    assert (msg.encoding, msg.step, msg.height, msg.width) == ("rgb8", 21, 5, 7)
    assert msg.header.frame_id == "cam" and msg.header.stamp == stamp
    np.testing.assert_array_equal(image_msg_to_rgb(msg), RGB)


def test_unsupported_encoding_names_field_value_and_choices():
    with pytest.raises(ImageConversionError) as caught:
        image_msg_to_rgb(Image(height=1, width=1, encoding="16UC1", step=2, data=bytes(2)), "start_frame")
    error = caught.value
    assert error.field == "start_frame.encoding" and error.value == "16UC1"
    assert "16UC1" in str(error) and all(name in str(error) for name in SUPPORTED_ENCODINGS)


@pytest.mark.parametrize(
    "msg,needle",
    [
        (Image(height=2, width=2, encoding="rgb8", step=5, data=bytes(12)), "step 5 is smaller"),
        (Image(height=2, width=2, encoding="rgb8", step=6, data=bytes(7)), "expected 12"),
        (Image(height=0, width=2, encoding="rgb8", step=6, data=b""), "empty"),
    ],
)
def test_malformed_images_are_refused(msg, needle):
    with pytest.raises(ImageConversionError, match=needle):
        image_msg_to_rgb(msg)


def test_rgb_to_image_msg_refuses_non_rgb_arrays():
    with pytest.raises(ImageConversionError):
        rgb_to_image_msg(np.zeros((4, 4), np.uint8), Time(), "x")
    with pytest.raises(ImageConversionError):
        rgb_to_image_msg(np.zeros((4, 4, 3), np.float32), Time(), "x")


def test_compressed_png_round_trip_is_exact():
    msg = rgb_to_compressed_msg(RGB, Time(sec=1), "cam", fmt="png")
    assert msg.format == "png"
    np.testing.assert_array_equal(compressed_msg_to_rgb(msg), RGB)
    np.testing.assert_array_equal(any_image_msg_to_rgb(msg), RGB)


def test_compressed_jpeg_decodes_to_rgb_order():
    red = np.zeros((16, 16, 3), np.uint8)
    red[:, :, 0] = 250
    decoded = compressed_msg_to_rgb(rgb_to_compressed_msg(red, Time(), "cam", fmt="jpg"))
    assert decoded[:, :, 0].mean() > 200 and decoded[:, :, 2].mean() < 40


def test_compressed_garbage_is_refused():
    with pytest.raises(ImageConversionError, match="cannot decode"):
        compressed_msg_to_rgb(CompressedImage(format="jpeg", data=b"not an image"))
    with pytest.raises(ImageConversionError, match="empty"):
        compressed_msg_to_rgb(CompressedImage(format="jpeg", data=b""))
