"""In-memory multipart parsing: fields, files, and what it refuses."""

from __future__ import annotations

import httpx
import pytest

from dream_engine_ros.http.errors import ApiError
from dream_engine_ros.http.multipart import MAX_PARTS, parse_multipart


def _encode(files: list[tuple[str, tuple[str, bytes, str]]], data: dict[str, str]) -> tuple[bytes, str]:
    request = httpx.Request("POST", "http://x/", files=files, data=data)
    return request.read(), request.headers["content-type"]


def test_parts_keep_bytes_filename_and_type() -> None:
    payload = bytes(range(256)) * 10
    body, content_type = _encode([("frame", ("f.png", payload, "image/png"))], {"seed": "7"})
    parts = parse_multipart(body, content_type)
    assert bytes(parts["frame"].data) == payload and parts["frame"].filename == "f.png"
    assert parts["frame"].content_type == "image/png" and bytes(parts["seed"].data) == b"7"


def test_refuses_repeats_too_many_parts_and_other_types() -> None:
    body, content_type = _encode([("a", ("1", b"x", "text/plain")), ("a", ("2", b"y", "text/plain"))], {})
    with pytest.raises(ApiError) as caught:
        parse_multipart(body, content_type)
    assert caught.value.status == 400 and caught.value.field == "a"
    body, content_type = _encode([], {f"f{i}": "1" for i in range(MAX_PARTS + 1)})
    with pytest.raises(ApiError):
        parse_multipart(body, content_type)
    with pytest.raises(ApiError) as caught:
        parse_multipart(b"{}", "application/json")
    assert caught.value.status == 415
    with pytest.raises(ApiError) as caught:
        parse_multipart(b"--zz\r\ngarbage", "multipart/form-data; boundary=zz")
    assert caught.value.status == 400
