"""A real uvicorn server on a free local port with the real pusht-structured engine, shared by the
HTTP tests of one session, and the request inputs they send."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import numpy as np
import pytest
import torch
from http_helpers import Inputs, npy_bytes, png_bytes, wait_ready

from dream_engine_ros.envs.pusht.training.pusht_data import generate_episodes
from dream_engine_ros.http.app import create_app
from dream_engine_ros.http.config import ServerConfig
from dream_engine_ros.http.server import BackgroundServer


@pytest.fixture(scope="session")
def inputs() -> Inputs:
    frames, actions = generate_episodes(1, 24, seed=2024)
    frame, acts = frames[0, 0], actions[0].astype(np.float32)
    return Inputs(frame, acts, png_bytes(frame), npy_bytes(acts))


@pytest.fixture(scope="session", autouse=True)
def one_torch_thread() -> Iterator[None]:
    """One intra-op thread: on a CPU shared with other jobs, OpenMP's spinning threads are what
    make rollouts slow; restored afterwards for the rest of the suite."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture(scope="session")
def tmp_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Where the shared server's mp4 encoder writes (tests check it is left empty)."""
    return tmp_path_factory.mktemp("http-tmp")


@pytest.fixture(scope="session")
def server(tmp_root: Path) -> Iterator[BackgroundServer]:
    config = ServerConfig(device="cpu", max_queue=4, max_body_bytes=256 * 1024, max_pixels=512 * 512,
                          max_horizon=96, max_candidates=8, tmp_dir=str(tmp_root), torch_threads=1)
    with BackgroundServer(create_app(config)) as running:
        wait_ready(running.url)
        yield running


@pytest.fixture()
def http(server: BackgroundServer) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=server.url, timeout=120.0) as client:
        yield client
