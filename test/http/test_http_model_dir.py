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
            assert model["name"] == "my-causal" and model["capabilities"] == {"guidance": False, "history": True}
            response = client.post("/v1/predict", **form(inputs))  # type: ignore[arg-type]
            assert response.status_code == 200, response.text
    (tmp_path / "served.mp4").write_bytes(response.content)
    served, _ = read_mp4(tmp_path / "served.mp4")
    direct = DreamEngine.load("pusht-structured", device="cpu").predict(inputs.frame, inputs.actions, seed=7).frames
    assert served.shape == direct.shape
