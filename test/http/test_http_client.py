"""The Python SDK against the real server: results, streaming, batches, and validation that
refuses bad requests before anything is sent."""

from __future__ import annotations

import httpx
import numpy as np
import pytest
from http_helpers import Inputs, form

from dream_engine_ros.engine.errors import InputError
from dream_engine_ros.engine.runner import DreamEngine
from dream_engine_ros.engine.spec import get_spec
from dream_engine_ros.engine.validation import RequestValidator
from dream_engine_ros.http.client import DreamEngineClient, DreamEngineHTTPError
from dream_engine_ros.http.server import BackgroundServer
from dream_engine_ros.planning.costs import score_rollouts

SPEC = get_spec("pusht-structured")


@pytest.fixture()
def client(server: BackgroundServer) -> DreamEngineClient:
    return DreamEngineClient(server.url, timeout=120.0)


def test_predict_returns_frames_mp4_and_metadata(client: DreamEngineClient, http: httpx.Client,
                                                 inputs: Inputs) -> None:
    prediction = client.predict(inputs.frame, inputs.actions, seed=7)
    assert prediction.frames.shape == (25, SPEC.height, SPEC.width, 3) and prediction.frames.dtype == np.uint8
    assert prediction.mp4 == http.post("/v1/predict", **form(inputs)).content  # type: ignore[arg-type]
    assert prediction.metadata["seed"] == "7" and prediction.metadata["spec"] == SPEC.name


def test_stream_yields_chunks_then_the_mp4(client: DreamEngineClient, inputs: Inputs) -> None:
    stream = client.stream(inputs.frame, inputs.actions, seed=7)
    chunks = list(stream)
    assert [c.chunk_index for c in chunks] == [0, 1]
    assert [c.frame_indices[0] for c in chunks] == [0, 13] and chunks[-1].frame_indices[-1] == 24
    assert sum(len(c.frames) for c in chunks) == 25
    assert stream.summary is not None and stream.summary["frames"] == 25
    assert stream.mp4().mp4 == client.predict(inputs.frame, inputs.actions, seed=7).mp4


def test_predict_batch_with_goal_ranks_candidates(client: DreamEngineClient, inputs: Inputs) -> None:
    rng = np.random.default_rng(3)
    candidates = np.clip(inputs.actions[None] + rng.normal(0, 30, (3, *inputs.actions.shape)), 0, 512)
    goal = inputs.frame[::-1].copy()
    batch = client.predict_batch(inputs.frame, candidates.astype(np.float32), seed=11, goal=goal, cost="last-frame")
    engine = DreamEngine.load(SPEC, device="cpu")
    direct = engine.predict_batch(inputs.frame, candidates.astype(np.float32), seeds=11)
    expected = score_rollouts(engine, "last-frame", direct.frames, goal)
    assert batch.costs is not None and np.allclose(batch.costs, expected, rtol=1e-5)
    assert batch.best_index == int(np.argmin(expected)) and batch.seeds == [11, 12, 13]
    assert batch.body["ranking"][0] == batch.best_index and batch.body["cost"] == "last-frame"
    assert sorted(batch.videos) == [batch.best_index]  # with a goal: the best one's mp4 by default
    assert batch.frames(batch.best_index).shape == (25, SPEC.height, SPEC.width, 3)
    plain = client.predict_batch(inputs.frame, candidates[:2].astype(np.float32), seeds=[5, 9], videos=[1])
    assert plain.costs is None and plain.best_index is None and sorted(plain.videos) == [1]
    assert plain.videos[1] == client.predict(inputs.frame, candidates[1].astype(np.float32), seed=9).mp4


def test_predict_batch_default_cost_is_decode_free(client: DreamEngineClient, inputs: Inputs) -> None:
    """Frame, candidates and a goal image only: a model that rolls out decode-free scores them with
    'latent-goal' without drawing any candidate (no video unless asked); the best one, when asked
    for, is drawn as its own single prediction."""
    from dream_engine_ros.planning.costs import get_cost

    rng = np.random.default_rng(4)
    noise = rng.normal(0, 30, (3, *inputs.actions.shape))
    candidates = np.clip(inputs.actions[None] + noise, 0, 512).astype(np.float32)
    goal = inputs.frame[::-1].copy()
    assert client.model()["capabilities"]["decode_free"] and client.model()["default_cost"] == "latent-goal"
    batch = client.predict_batch(inputs.frame, candidates, seed=11, goal=goal)
    engine = DreamEngine.load(SPEC, device="cpu")
    expected = get_cost("latent-goal").score_frameless(engine, inputs.frame, candidates, goal)
    assert batch.body["cost"] == "latent-goal" and batch.videos == {}
    assert batch.costs is not None and np.allclose(batch.costs, expected, rtol=1e-6)
    assert batch.best_index == int(np.argmin(expected)) and "denoise_s" not in batch.body["timings"]
    drawn = client.predict_batch(inputs.frame, candidates, seed=11, goal=goal, videos="best")
    best = drawn.best_index
    assert best == batch.best_index and sorted(drawn.videos) == [best]
    assert drawn.videos[best] == client.predict(inputs.frame, candidates[best], seed=11 + best).mp4


def test_server_errors_raise_with_field_and_rule(client: DreamEngineClient, inputs: Inputs) -> None:
    with pytest.raises(DreamEngineHTTPError) as caught:
        client.predict(inputs.frame, inputs.actions, seed=7, num_steps=500)
    assert caught.value.status == 422 and caught.value.field == "num_steps" and "[1, 200]" in caught.value.rule


def _bad_cases(inputs: Inputs) -> list[tuple[np.ndarray, np.ndarray]]:
    nan = inputs.actions.copy()
    nan[2, 0] = np.inf
    big = inputs.actions.copy()
    big[0, 1] = -4.0
    return [(inputs.frame, inputs.actions[:18]), (inputs.frame, np.zeros((24, 3), np.float32)),
            (inputs.frame, nan), (inputs.frame, big), (inputs.frame[:64], inputs.actions),
            (inputs.frame.astype(np.float32), inputs.actions), (inputs.frame, np.tile(inputs.actions, (5, 1)))]


def test_sdk_validates_before_sending(server: BackgroundServer, inputs: Inputs) -> None:
    sent: list[str] = []
    transport = httpx.HTTPTransport()

    class Recording(httpx.BaseTransport):
        def handle_request(self, request: httpx.Request) -> httpx.Response:
            sent.append(f"{request.method} {request.url.path}")
            return transport.handle_request(request)

    metrics = server.app.state.server.metrics
    client = DreamEngineClient(server.url, transport=Recording())
    client.model()
    before = metrics.count("/v1/predict") + metrics.count("/v1/predict_batch")
    validator = RequestValidator(SPEC)
    for frame, actions in _bad_cases(inputs):
        with pytest.raises(InputError) as caught:
            client.predict(frame, actions)
        if frame is inputs.frame and actions.shape[0] <= 1200:
            try:
                validator.actions(actions)
            except InputError as engine_error:  # same words as the engine's validator
                assert str(caught.value) == str(engine_error)
        with pytest.raises(InputError):
            list(client.stream(frame, actions))
        with pytest.raises(InputError):
            client.predict_batch(frame, actions[None])
    with pytest.raises(InputError):
        client.predict_batch(inputs.frame, np.stack([inputs.actions] * 9))  # over max_candidates
    assert sent == ["GET /v1/model"]
    assert metrics.count("/v1/predict") + metrics.count("/v1/predict_batch") == before
