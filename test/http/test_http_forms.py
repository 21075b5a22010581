"""`/v1/predict_batch`'s form (http/forms.py): the cost a request gets, and the videos it gets by default."""

from __future__ import annotations

import numpy as np
import pytest
from http_helpers import npy_bytes, png_bytes

from dream_engine_ros.engine.spec import get_spec
from dream_engine_ros.engine.validation import RequestValidator
from dream_engine_ros.http.config import ServerConfig
from dream_engine_ros.http.errors import ApiError
from dream_engine_ros.http.forms import parse_batch
from dream_engine_ros.http.multipart import Part

SPEC = get_spec("pusht-structured")


def _parts(**text: str) -> dict[str, Part]:
    frame = png_bytes(np.zeros((SPEC.height, SPEC.width, 3), np.uint8))
    actions = npy_bytes(np.full((2, SPEC.chunk_size, SPEC.action_dim), 100.0, np.float32))
    parts = {"frame": Part("frame", "f.png", "image/png", bytearray(frame)),
             "actions": Part("actions", "a.npy", "application/octet-stream", bytearray(actions)),
             "goal": Part("goal", "g.png", "image/png", bytearray(frame))}
    for name, value in text.items():
        parts[name] = Part(name, None, "text/plain", bytearray(value.encode()))
    return parts


def test_the_default_cost_follows_what_the_model_can_do() -> None:
    config = ServerConfig()
    decode_free = parse_batch(_parts(), config, RequestValidator(SPEC, decode_free=True))
    assert decode_free.cost == "latent-goal" and decode_free.videos == [] and not decode_free.videos_best
    drawn = parse_batch(_parts(), config, RequestValidator(SPEC, decode_free=False))
    assert drawn.cost == "last-frame" and drawn.videos_best  # the best candidate's mp4 by default


def test_a_decode_free_cost_for_a_model_that_cannot_is_a_422_naming_the_field() -> None:
    with pytest.raises(ApiError) as caught:
        parse_batch(_parts(cost="latent-goal"), ServerConfig(), RequestValidator(SPEC, decode_free=False))
    assert caught.value.status == 422 and caught.value.field == "cost" and "decode-free" in str(caught.value)
