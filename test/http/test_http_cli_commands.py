"""`dream-engine serve` as a user runs it: lazy imports, a missing extra, a real server process."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
from pathlib import Path

import httpx
from http_helpers import Inputs, form, get, post, wait_until

REPO = Path(__file__).resolve().parents[2]


def _python(code: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, timeout=300)


def test_parser_does_not_import_the_http_extra() -> None:
    proc = _python("import sys; from dream_engine_ros.cli import build_parser; build_parser(); "
                   "extra = ('starlette', 'uvicorn', 'httpx', 'python_multipart'); "
                   "print(sorted(m for m in extra if m in sys.modules))")
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "[]"


def test_serve_without_the_extra_exits_1_naming_it() -> None:
    proc = _python("import sys; sys.modules['uvicorn'] = None; from dream_engine_ros.cli import main; "
                   "sys.exit(main(['serve']))")
    assert proc.returncode == 1
    assert "'http' extra" in proc.stderr and "uvicorn" in proc.stderr and "dream_engine_ros[http]" in proc.stderr


def test_empty_token_file_is_refused(tmp_path: Path) -> None:
    empty = tmp_path / "token"
    empty.write_text("\n")
    proc = subprocess.run([sys.executable, "-m", "dream_engine_ros.cli", "serve", "--token-file", str(empty)],
                          cwd=REPO, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 2 and "empty" in proc.stderr


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _outward_address() -> str | None:
    """This machine's non-loopback IPv4 address, if it has one (a UDP connect sends nothing)."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        try:
            probe.connect(("10.255.255.255", 1))
        except OSError:
            return None
        address = str(probe.getsockname()[0])
    return None if address.startswith("127.") else address


def test_serve_process_binds_loopback_with_token_and_stops_on_sigterm(tmp_path: Path, inputs: Inputs) -> None:
    token_file = tmp_path / "token"
    token_file.write_text("tok-123\n")
    port = _free_port()
    proc = subprocess.Popen([sys.executable, "-m", "dream_engine_ros.cli", "serve", "--port", str(port),
                             "--device", "cpu", "--token-file", str(token_file), "--torch-threads", "1",
                             "--log-level", "warning"], cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, env=dict(os.environ, PYTHONUNBUFFERED="1"))
    try:
        url = f"http://127.0.0.1:{port}"

        def ready() -> bool:
            try:
                return get(f"{url}/healthz").status_code == 200
            except httpx.TransportError:
                assert proc.poll() is None, proc.communicate()
                return False

        wait_until(ready)
        auth = {"Authorization": "Bearer tok-123"}
        assert post(f"{url}/v1/predict", **form(inputs)).status_code == 401  # type: ignore[arg-type]
        response = post(f"{url}/v1/predict", headers=auth, **form(inputs))  # type: ignore[arg-type]
        assert response.status_code == 200 and response.headers["x-dreamengine-frames"] == "25"
        address = _outward_address()
        if address is not None:  # bound to loopback only: another local address is refused
            with socket.socket() as probe:
                probe.settimeout(2)
                assert probe.connect_ex((address, port)) != 0
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(30)
        finally:
            if proc.poll() is None:
                proc.kill()
    # uvicorn re-raises the SIGTERM it handled once its graceful shutdown is done
    assert proc.returncode in (0, -signal.SIGTERM), proc.stderr.read() if proc.stderr else ""
