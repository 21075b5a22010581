"""Server settings: the limits that keep one request from starving or exhausting the server."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from dream_engine_ros.defaults import DEFAULT_SPEC
from dream_engine_ros.engine.validation import MAX_HORIZON

DEFAULT_HOST = "127.0.0.1"  # loopback unless told otherwise: the API has no TLS of its own
DEFAULT_PORT = 8080


@dataclass(frozen=True)
class ServerConfig:
    """What `dream-engine serve` was asked for, plus the request limits it enforces."""

    spec: str = DEFAULT_SPEC
    weights: str | None = None
    device: str = "auto"
    host: str = DEFAULT_HOST
    port: int = DEFAULT_PORT
    token: str | None = None
    max_queue: int = 8  # requests waiting behind the running one; more -> 429
    max_body_bytes: int = 32 * 1024 * 1024
    max_pixels: int = 2048 * 2048  # decoded pixels per image, checked from the PNG header
    max_horizon: int = MAX_HORIZON
    max_candidates: int = 64
    result_ttl_s: float = 300.0  # how long a streamed rollout's mp4 stays fetchable
    result_max_count: int = 32
    tmp_dir: str | None = None  # where the mp4 encoder writes its short-lived file
    torch_threads: int = 0  # intra-op threads of the engine thread (0 = torch's default)

    def limits(self) -> dict[str, int | float]:
        return {"max_queue": self.max_queue, "max_body_bytes": self.max_body_bytes, "max_pixels": self.max_pixels,
                "max_horizon": self.max_horizon, "max_candidates": self.max_candidates,
                "result_ttl_s": self.result_ttl_s, "result_max_count": self.result_max_count}


def read_token_file(path: str | Path) -> str:
    """The bearer token: the file's content without surrounding whitespace (never empty)."""
    text = Path(path).read_text(encoding="utf-8").strip()
    if not text:
        raise ValueError(f"--token-file: {path} is empty")
    if any(ch.isspace() for ch in text):
        raise ValueError(f"--token-file: {path} holds whitespace inside the token")
    return text
