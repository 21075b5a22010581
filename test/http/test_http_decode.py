"""Bounded decoding of form values: PNG size from the header, .npy without pickles."""

from __future__ import annotations

import io
import struct
import zlib

import numpy as np
import pytest
from http_helpers import npy_bytes, png_bytes
from PIL import Image

from dream_engine_ros.cli.engine import _read_frame
from dream_engine_ros.http.decode import decode_npy, decode_png, png_size, sampling_overrides
from dream_engine_ros.http.errors import ApiError


def _huge_png(width: int, height: int) -> bytes:
    """A real, complete PNG of width x height black pixels: a few hundred KB that inflate to GBs."""
    raw_row = b"\x00" + b"\x00" * width
    compressor = zlib.compressobj(9)
    data = b"".join(compressor.compress(raw_row) for _ in range(height)) + compressor.flush()

    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", data) + chunk(b"IEND", b"")


def test_png_bomb_is_refused_from_its_header() -> None:
    bomb = _huge_png(40_000, 40_000)  # 1.6 G pixels; the file is ~1.6 MB
    assert png_size(bomb, "frame") == (40_000, 40_000)
    with pytest.raises(ApiError) as caught:
        decode_png(bomb, "frame", max_pixels=2048 * 2048)
    assert caught.value.status == 413 and caught.value.value == "40000x40000"


def test_png_decodes_like_the_cli_including_16_bit_gray(tmp_path: object) -> None:
    rng = np.random.default_rng(1)
    wide = rng.integers(0, 65535, (20, 30), dtype=np.uint16)
    buffer = io.BytesIO()
    Image.fromarray(wide).save(buffer, format="PNG")
    path = tmp_path / "wide.png"  # type: ignore[operator]
    path.write_bytes(buffer.getvalue())
    np.testing.assert_array_equal(decode_png(buffer.getvalue(), "frame", 10_000), _read_frame(path))
    rgb = rng.integers(0, 255, (8, 6, 3), dtype=np.uint8)
    np.testing.assert_array_equal(decode_png(png_bytes(rgb), "frame", 10_000), rgb)


def test_non_png_and_broken_png() -> None:
    with pytest.raises(ApiError) as caught:
        decode_png(b"GIF89a....", "frame", 100)
    assert caught.value.status == 415
    broken = png_bytes(np.zeros((4, 4, 3), np.uint8))[:40]
    with pytest.raises(ApiError) as caught:
        decode_png(broken, "frame", 100)
    assert caught.value.status == 400


def test_npy_header_limits_and_no_pickles() -> None:
    actions = np.zeros((24, 2), np.float32)
    np.testing.assert_array_equal(decode_npy(npy_bytes(actions), "actions", 2, 96), actions)
    cases = [
        (npy_bytes(np.zeros((120, 2), np.float32)), 413),  # T over the limit, refused from the header
        (npy_bytes(np.zeros((24,), np.float32)), 422),  # wrong ndim
        (npy_bytes(np.array(["a", "b"])), 422),  # not numeric
        (npy_bytes(actions)[:-4], 400),  # data shorter than the header says
        (b"not an npy", 400),
    ]
    buffer = io.BytesIO()
    np.save(buffer, np.array([None, 1], dtype=object), allow_pickle=True)
    cases.append((buffer.getvalue(), 400))
    for data, status in cases:
        with pytest.raises(ApiError) as caught:
            decode_npy(data, "actions", 2, 96)
        assert caught.value.status == status, (caught.value, status)
    with pytest.raises(ApiError) as caught:
        decode_npy(npy_bytes(np.zeros((9, 12, 2), np.float32)), "actions", 3, 96, max_candidates=8)
    assert caught.value.status == 413 and caught.value.value == 9


def test_sampling_overrides_follow_the_cli() -> None:
    assert sampling_overrides(None, None) == (None, None)
    assert sampling_overrides("0", "nan") == (None, None)
    assert sampling_overrides("4", "1.5") == (4, 1.5)
    for steps, guidance in (("four", None), (None, "high"), ("1.5", None)):
        with pytest.raises(ApiError) as caught:
            sampling_overrides(steps, guidance)
        assert caught.value.status == 400
