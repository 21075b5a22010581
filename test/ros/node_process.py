"""`dream-engine node` as a real child process, for tests that send it real signals."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from ros_helpers import TEST_WEIGHTS

DREAM_ENGINE = Path(sys.executable).with_name("dream-engine")
# What a clean exit never prints: a Python traceback, a C++ abort, an un-awaited rclpy
# future, a publish on a context that is already gone.
UNCLEAN_MARKERS = ("Traceback", "terminate called", "never retrieved", "Failed to publish", "context is invalid")


@dataclass
class NodeProcess:
    process: subprocess.Popen[str]
    namespace: str

    @classmethod
    def start(cls, tmp_path: Path, name: str, *ros_params: str, env_extra: dict[str, str] | None = None) -> NodeProcess:
        namespace = f"/{name}_{os.getpid()}_{int(time.time() * 1000) % 100000}"
        env = dict(os.environ, SDL_VIDEODRIVER="dummy", PYTHONUNBUFFERED="1", ROS_LOG_DIR=str(tmp_path / "log"),
                   **(env_extra or {}))
        weights = ["--weights", TEST_WEIGHTS] if TEST_WEIGHTS else []
        params = [item for value in ("output_dir:=" + str(tmp_path / "videos"), *ros_params) for item in ("-p", value)]
        command = [str(DREAM_ENGINE), "node", "--namespace", namespace, "--device", "cpu", *weights, "--ros-args"]
        process = subprocess.Popen(
            command + params, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
        )
        return cls(process, namespace)

    def send(self, signals: list[signal.Signals], gap_s: float = 0.02) -> None:
        for index, signum in enumerate(signals):
            if index:
                time.sleep(gap_s)
            os.kill(self.process.pid, signum)

    def finish(self, timeout_s: float = 30.0) -> tuple[int, str]:
        """Exit code and everything printed; kills the process if it does not end in time."""
        try:
            output, _ = self.process.communicate(timeout=timeout_s)
        except subprocess.TimeoutExpired:
            self.process.kill()
            output, _ = self.process.communicate()
            return -9, output + f"\n[test] still running {timeout_s:g} s after the signal: killed"
        return self.process.returncode, output

    def kill(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
            self.process.communicate()
