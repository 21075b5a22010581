"""Running the app under uvicorn: in the foreground (`dream-engine serve`) or on a background
thread bound to a free local port (tests, the load test, notebooks)."""

from __future__ import annotations

import socket
import threading
import time
from types import TracebackType
from typing import Any

import uvicorn

from dream_engine_ros.http.config import ServerConfig


def _uvicorn_config(app: Any, config: ServerConfig, log_level: str) -> uvicorn.Config:
    return uvicorn.Config(app, host=config.host, port=config.port, log_level=log_level, lifespan="on",
                          timeout_graceful_shutdown=5, server_header=False, access_log=log_level == "debug")


def run_server(app: Any, config: ServerConfig, log_level: str = "info") -> None:
    """Serve until SIGINT/SIGTERM (uvicorn's handlers; the engine thread is stopped on shutdown)."""
    uvicorn.Server(_uvicorn_config(app, config, log_level)).run()


class BackgroundServer:
    """`with BackgroundServer(app) as server: server.url` -> a real uvicorn on 127.0.0.1:<free port>.

    The socket is bound here (port 0, so the kernel picks a free port with no race) and handed to
    uvicorn; leaving the block asks uvicorn to exit and joins its thread.
    """

    def __init__(self, app: Any, host: str = "127.0.0.1", log_level: str = "warning") -> None:
        self.app = app
        self.host = host
        self._socket = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._socket.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._socket.bind((host, 0))
        self.port: int = self._socket.getsockname()[1]
        self._server = uvicorn.Server(_uvicorn_config(app, ServerConfig(host=host, port=self.port), log_level))
        self._thread = threading.Thread(target=self._server.run, kwargs={"sockets": [self._socket]},
                                        name="dream-engine-uvicorn", daemon=True)

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def start(self, timeout: float = 30.0) -> BackgroundServer:
        self._thread.start()
        deadline = time.monotonic() + timeout
        while not self._server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"uvicorn did not start on {self.url}")
            time.sleep(0.01)
        return self

    def stop(self, timeout: float = 30.0) -> None:
        self._server.should_exit = True
        if self._thread.is_alive():
            self._thread.join(timeout)
        self._socket.close()

    def __enter__(self) -> BackgroundServer:
        return self.start()

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        self.stop()
