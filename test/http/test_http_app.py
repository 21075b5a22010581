"""The wire shape of the HTTP API against a real uvicorn server with the real pusht-structured engine."""

from __future__ import annotations

import io
import subprocess
import sys
from pathlib import Path

import httpx
import numpy as np
import pytest
from http_helpers import Inputs, form, npy_bytes, png_bytes
from PIL import Image

from dream_engine_ros.engine.errors import InputError
from dream_engine_ros.engine.runner import DreamEngine
from dream_engine_ros.engine.spec import get_spec
from dream_engine_ros.engine.validation import RequestValidator
from dream_engine_ros.http.mp4 import decode_mp4
from dream_engine_ros.http.server import BackgroundServer
from dream_engine_ros.http.sse import parse_events, png_frames

REPO = Path(__file__).resolve().parents[2]
SPEC = get_spec("pusht-structured")


def test_model_describes_the_spec_the_sdk_validates_against(http: httpx.Client) -> None:
    body = http.get("/v1/model").json()
    assert body["name"] == SPEC.name and body["family"] == SPEC.family
    assert body["resolution"] == [SPEC.height, SPEC.width]
    assert (body["chunk_size"], body["action_dim"], body["fps"]) == (SPEC.chunk_size, SPEC.action_dim, SPEC.fps)
    assert body["defaults"] == {"num_steps": SPEC.num_steps, "guidance": SPEC.guidance}
    assert body["action_low"] == list(SPEC.action_low) and body["action_high"] == list(SPEC.action_high)
    assert body["spec"]["arch"]["family"] == SPEC.family and body["spec"]["arch"]["frame_model"] is not None
    assert body["limits"]["max_horizon"] == 96 and body["state"] == "ready"
    assert "weights" not in body["spec"]["arch"]  # no server paths leak


def test_predict_returns_mp4_with_metadata_headers(http: httpx.Client, inputs: Inputs) -> None:
    response = http.post("/v1/predict", **form(inputs))  # type: ignore[arg-type]
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "video/mp4"
    headers = response.headers
    assert headers["x-dreamengine-spec"] == SPEC.name and headers["x-dreamengine-arch"] == SPEC.family
    assert headers["x-dreamengine-seed"] == "7" and headers["x-dreamengine-frames"] == str(len(inputs.actions) + 1)
    assert float(headers["x-dreamengine-fps"]) == SPEC.fps
    assert headers["x-dreamengine-chunk-size"] == str(SPEC.chunk_size)
    assert headers["x-dreamengine-num-steps"] == str(SPEC.num_steps)
    assert float(headers["x-dreamengine-guidance"]) == SPEC.guidance
    for key in ("encode", "denoise", "decode", "mp4", "total", "queue"):
        assert float(headers[f"x-dreamengine-{key}-s"]) >= 0.0
    assert float(headers["x-dreamengine-total-s"]) > 0.0
    frames, fps = decode_mp4(response.content)
    assert frames.shape == (len(inputs.actions) + 1, SPEC.height, SPEC.width, 3) and fps == SPEC.fps
    again = http.post("/v1/predict", **form(inputs))  # type: ignore[arg-type]
    assert again.content == response.content  # same seed and inputs: identical bytes


def test_predict_bytes_equal_the_cli(http: httpx.Client, inputs: Inputs, tmp_path: Path) -> None:
    (tmp_path / "start.png").write_bytes(inputs.png)
    (tmp_path / "a.npy").write_bytes(inputs.npy)
    out = tmp_path / "cli.mp4"
    proc = subprocess.run([sys.executable, "-m", "dream_engine_ros.cli", "predict", "--spec", SPEC.name, "--frame",
                           str(tmp_path / "start.png"), "--actions", str(tmp_path / "a.npy"), "--seed", "7",
                           "--num-steps", "0", "--guidance", "nan", "--device", "cpu", "--out", str(out)],
                          cwd=REPO, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    response = http.post("/v1/predict", **form(inputs, num_steps="0", guidance="nan"))  # type: ignore[arg-type]
    assert response.status_code == 200, response.text
    assert response.content == out.read_bytes()


def test_sse_streams_one_event_per_chunk_then_done(http: httpx.Client, inputs: Inputs) -> None:
    with http.stream("POST", "/v1/predict", headers={"Accept": "text/event-stream"},
                     **form(inputs)) as response:  # type: ignore[arg-type]
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/event-stream")
        events = list(parse_events(response.iter_lines()))
    assert [e.event for e in events] == ["chunk", "chunk", "done"]
    chunks = [e.data for e in events[:2]]
    assert [c["chunk_index"] for c in chunks] == [0, 1] and {c["chunks_total"] for c in chunks} == {2}
    assert chunks[0]["frame_indices"] == list(range(0, 13)) and chunks[1]["frame_indices"] == list(range(13, 25))
    streamed = np.concatenate([png_frames(c["frames"]) for c in chunks])
    engine = DreamEngine.load(SPEC, device="cpu")
    direct = engine.predict(inputs.frame, inputs.actions, seed=7).frames
    np.testing.assert_array_equal(streamed, direct)  # lossless PNG frames = the engine's frames
    done = events[2].data
    assert done["frames"] == 25 and done["seed"] == 7 and done["result_url"].startswith("/v1/results/")
    mp4 = http.get(done["result_url"])
    assert mp4.status_code == 200 and mp4.headers["content-type"] == "video/mp4"
    assert mp4.content == http.post("/v1/predict", **form(inputs)).content  # type: ignore[arg-type]
    assert mp4.headers["x-dreamengine-mp4-sha256"] == done["mp4_sha256"]


def _expected(actions: np.ndarray) -> str:
    """The engine validator's own message for these actions (what a 422 must repeat)."""
    with pytest.raises(InputError) as caught:
        RequestValidator(SPEC).actions(actions)
    return str(caught.value)


def _pickled() -> bytes:
    buffer = io.BytesIO()
    np.save(buffer, np.array([{"a": 1}], dtype=object), allow_pickle=True)
    return buffer.getvalue()


def _jpeg(frame: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(frame).save(buffer, format="JPEG")
    return buffer.getvalue()


def _bomb_png(width: int, height: int) -> bytes:
    """A PNG whose header claims width x height pixels (the rest is never read)."""
    import struct
    import zlib

    ihdr = struct.pack(">IIBBBBB", width, height, 16, 6, 0, 0, 0)
    chunk = struct.pack(">I", len(ihdr)) + b"IHDR" + ihdr + struct.pack(">I", zlib.crc32(b"IHDR" + ihdr))
    return b"\x89PNG\r\n\x1a\n" + chunk + b"\x00" * 64


def test_engine_validation_errors_are_422_in_the_validators_words(http: httpx.Client, inputs: Inputs) -> None:
    nan = inputs.actions.copy()
    nan[3, 1] = np.nan
    outside = inputs.actions.copy()
    outside[5, 0] = 900.0
    for actions in (inputs.actions[:20], inputs.actions[:, :1], nan, outside):
        response = http.post("/v1/predict", **form(inputs, npy=npy_bytes(actions)))  # type: ignore[arg-type]
        body = response.json()
        assert response.status_code == 422, body
        assert body["message"] == _expected(actions) and body["field"] == "actions"
        assert body["rule"] and body["value"] is not None
    for field, value, expected in (("num_steps", "500", 500), ("guidance", "1.5", 1.5)):
        response = http.post("/v1/predict", **form(inputs, **{field: value}))  # type: ignore[arg-type]
        body = response.json()
        assert response.status_code == 422 and body["field"] == field and body["value"] == expected


@pytest.mark.parametrize(("case", "status", "field"), [
    ("missing frame", 400, "frame"),
    ("unknown field", 400, "num_step"),
    ("bad seed", 400, "seed"),
    ("truncated npy", 400, "actions"),
    ("pickled npy", 400, "actions"),
    ("json body", 415, "Content-Type"),
    ("jpeg frame", 415, "frame"),
    ("horizon over limit", 413, "actions"),
    ("png bomb", 413, "frame"),
    ("body over limit", 413, "body"),
])
def test_bad_requests_name_field_value_and_rule(http: httpx.Client, inputs: Inputs, tmp_root: Path, case: str,
                                                status: int, field: str) -> None:
    kwargs = form(inputs)
    files: dict[str, tuple[str, bytes, str]] = kwargs["files"]  # type: ignore[assignment]
    data: dict[str, str] = kwargs["data"]  # type: ignore[assignment]
    if case == "missing frame":
        del files["frame"]
    elif case == "unknown field":
        data["num_step"] = "3"
    elif case == "bad seed":
        data["seed"] = "seven"
    elif case == "truncated npy":
        files["actions"] = ("a.npy", inputs.npy[:-5], "application/octet-stream")
    elif case == "pickled npy":
        files["actions"] = ("a.npy", _pickled(), "application/octet-stream")
    elif case == "jpeg frame":
        files["frame"] = ("f.jpg", _jpeg(inputs.frame), "image/jpeg")
    elif case == "horizon over limit":
        files["actions"] = ("a.npy", npy_bytes(np.tile(inputs.actions, (5, 1))), "application/octet-stream")
    elif case == "png bomb":
        files["frame"] = ("bomb.png", _bomb_png(100_000, 100_000), "image/png")
    elif case == "body over limit":
        files["frame"] = ("big.png", png_bytes(np.random.default_rng(0).integers(0, 255, (400, 400, 3), np.uint8)),
                          "image/png")
    if case == "json body":
        response = http.post("/v1/predict", json={"frame": "x"})
    else:
        response = http.post("/v1/predict", files=files, data=data)
    body = response.json()
    assert response.status_code == status, body
    assert body["status"] == status and body["field"] == field and body["rule"] and "value" in body
    assert body["message"] == f"{body['field']}: {body['rule']}"
    assert list(tmp_root.iterdir()) == []  # nothing left on disk


def test_unknown_routes_methods_and_results_are_json(http: httpx.Client) -> None:
    for method, path, status in (("GET", "/v1/nope", 404), ("GET", "/v1/predict", 405),
                                 ("GET", "/v1/results/unknown-id", 404)):
        response = http.request(method, path)
        assert response.status_code == status and response.json()["status"] == status


def test_healthz_and_metrics(http: httpx.Client, inputs: Inputs) -> None:
    health = http.get("/healthz")
    assert health.status_code == 200 and health.json()["status"] == "ok"
    http.post("/v1/predict", **form(inputs, seed="x"))  # type: ignore[arg-type]
    text = http.get("/metrics").text
    assert 'dream_engine_http_requests_total{method="POST",route="/v1/predict",status="400"}' in text
    assert 'dream_engine_http_request_duration_seconds_bucket{route="/healthz",le="+Inf"}' in text
    for gauge in ("dream_engine_queue_depth 0", "dream_engine_busy 0", "dream_engine_model_ready 1",
                  "dream_engine_queue_capacity 4"):
        assert gauge in text


def test_failed_encode_leaves_nothing_on_disk(server: BackgroundServer, http: httpx.Client, inputs: Inputs,
                                              tmp_root: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import dream_engine_ros.video as video

    def broken(rgb: np.ndarray) -> object:
        raise OSError("disk full (injected)")

    monkeypatch.setattr(video, "_to_video_frame", broken)
    response = http.post("/v1/predict", **form(inputs))  # type: ignore[arg-type]
    assert response.status_code == 500 and "disk full" in response.json()["rule"]
    assert list(tmp_root.iterdir()) == []
