"""`dream-engine serve --spec DIR`: the HTTP app serves a model folder as it serves a catalog spec."""

from __future__ import annotations

from pathlib import Path

import httpx
from http_helpers import Inputs, form, wait_ready

from dream_engine_ros.engine.runner import DreamEngine
from dream_engine_ros.http.app import create_app
from dream_engine_ros.http.config import ServerConfig
from dream_engine_ros.http.server import BackgroundServer
from dream_engine_ros.video import read_mp4


def test_a_model_folder_is_served_by_path(inputs: Inputs, model_folder, tmp_path: Path) -> None:
    folder = model_folder("pusht-structured", "my-causal")
    config = ServerConfig(spec=str(folder), device="cpu", max_queue=2, tmp_dir=str(tmp_path), torch_threads=1)
    with BackgroundServer(create_app(config)) as server:
        wait_ready(server.url)
        with httpx.Client(base_url=server.url, timeout=120.0) as client:
            model = client.get("/v1/model").json()
            assert model["name"] == "my-causal" and model["capabilities"] == {"guidance": False, "history": True,
                                                                                      "decode_free": True}
            response = client.post("/v1/predict", **form(inputs))  # type: ignore[arg-type]
            assert response.status_code == 200, response.text
    (tmp_path / "served.mp4").write_bytes(response.content)
    served, _ = read_mp4(tmp_path / "served.mp4")
    direct = DreamEngine.load("pusht-structured", device="cpu").predict(inputs.frame, inputs.actions, seed=7).frames
    assert served.shape == direct.shape


def test_a_block_diffusion_model_folder_is_served_with_its_capabilities(inputs: Inputs, block_model_folder,
                                                                        tmp_path: Path) -> None:
    """The folder `dream-engine train` writes: no guidance, no history, its own action bounds enforced
    (422 naming the field); the video has the folder's T + 1 frames at its resolution."""
    import numpy as np
    from http_helpers import npy_bytes, png_bytes

    from dream_engine_ros.planning.costs import get_cost

    folder = block_model_folder("my-block")
    actions = np.random.default_rng(8).uniform(0.0, 10.0, size=(6, 2)).astype(np.float32)
    config = ServerConfig(spec=str(folder), device="cpu", max_queue=2, tmp_dir=str(tmp_path), torch_threads=1)
    with BackgroundServer(create_app(config)) as server:
        wait_ready(server.url)
        with httpx.Client(base_url=server.url, timeout=120.0) as client:
            model = client.get("/v1/model").json()
            assert model["name"] == "my-block" and model["family"] == "block-diffusion"
            assert model["capabilities"] == {"guidance": False, "history": False, "decode_free": True}
            response = client.post("/v1/predict", **form(inputs, npy=npy_bytes(actions)))  # type: ignore[arg-type]
            assert response.status_code == 200, response.text
            candidates = np.stack([actions, actions[::-1], np.zeros_like(actions)])
            files = {"frame": ("frame.png", inputs.png, "image/png"),
                     "actions": ("actions.npy", npy_bytes(candidates), "application/octet-stream"),
                     "goal": ("goal.png", png_bytes(inputs.frame[::-1].copy()), "image/png")}
            ranked = client.post("/v1/predict_batch", files=files, data={"seed": "7"})
            assert ranked.status_code == 200, ranked.text
            too_big = np.full((6, 2), 11.0, np.float32)  # outside the folder's action bounds: a 4xx naming them
            refused = client.post("/v1/predict", **form(inputs, npy=npy_bytes(too_big)))  # type: ignore[arg-type]
            assert refused.status_code == 422 and refused.json()["field"] == "actions", refused.text
    (tmp_path / "served.mp4").write_bytes(response.content)
    served, _ = read_mp4(tmp_path / "served.mp4")
    engine = DreamEngine.load(str(folder), device="cpu")
    direct = engine.predict(inputs.frame, actions, seed=7).frames
    assert served.shape == direct.shape == (7, 32, 32, 3)
    body = ranked.json()  # the default cost of a model that rolls out decode-free: nothing drawn
    expected = get_cost("latent-goal").score_frameless(engine, inputs.frame, candidates, inputs.frame[::-1].copy())
    assert body["cost"] == "latent-goal" and body["videos"] == [] and body["best_index"] == int(np.argmin(expected))
    np.testing.assert_allclose(body["costs"], expected, rtol=1e-6)
