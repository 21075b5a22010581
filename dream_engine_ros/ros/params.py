"""Declaration and checked reading of the node's parameters (one place for names + defaults).

Why a dataclass: the node reads parameters once per configure, validates them together and
then works with typed fields, so a typo in a YAML file fails the configure transition with
a clear message instead of surfacing mid-rollout.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any, TypeVar

from rcl_interfaces.msg import ParameterDescriptor
from rclpy.node import Node

from dream_engine_ros.defaults import DEFAULT_SPEC
from dream_engine_ros.ros.goal_validation import WorkLimits

BUSY_POLICIES: tuple[str, ...] = ("reject", "queue", "preempt")
RELIABILITIES: tuple[str, ...] = ("best_effort", "reliable")


@dataclass(frozen=True)
class EngineParams:
    """Every parameter of the ``dream_engine`` node, with its default."""

    spec: str = DEFAULT_SPEC
    weights: str = ""
    device: str = "auto"
    autostart: bool = True
    busy_policy: str = "reject"
    max_queue: int = 4
    max_frame_age_s: float = 1.0
    camera_reliability: str = "best_effort"
    camera_compressed: bool = False
    output_dir: str = "/tmp/dream_engine_ros"
    default_frame_id: str = "camera"
    predicted_qos_depth: int = 30
    # Frames of ~/predicted/image per second: 0 = the spec's fps (the stream plays like a camera
    # at the video's own rate), > 0 = this rate, < 0 = as fast as decoded (chunk bursts that
    # shallow best-effort subscribers drop).
    predicted_rate_hz: float = 0.0
    release_on_deactivate: bool = False
    # Up-front bounds on one goal's work (INVALID_GOAL naming the parameter when exceeded).
    # Sized so the largest goal of a small spec on a 2-core CPU takes minutes, not hours
    # (docs/ros.md); 100 steps is about 3x DreamDojo's default 35. A batch holds
    # K x (T + 1) x H x W x 3 bytes of frames: lower max_candidates / max_horizon for large
    # specs (a 480 x 640 frame is 0.9 MB).
    max_candidates: int = 64
    max_horizon: int = 480
    max_num_steps: int = 100

    def work_limits(self) -> WorkLimits:
        """The bounds goal intake checks every goal against."""
        return WorkLimits(self.max_candidates, self.max_horizon, self.max_num_steps)

    def predicted_rate(self, spec_fps: float) -> float:
        """The pacing rate in Hz for a spec; 0 = unpaced."""
        if self.predicted_rate_hz < 0:
            return 0.0
        return self.predicted_rate_hz or spec_fps

    def problems(self) -> list[str]:
        """Each rule the values break, as a sentence naming parameter, value and rule."""
        found: list[str] = []
        if not self.spec:
            found.append("spec: must name a spec (see `dream-engine specs`)")
        if self.busy_policy not in BUSY_POLICIES:
            found.append(f"busy_policy: {self.busy_policy!r} is not one of {', '.join(BUSY_POLICIES)}")
        if self.camera_reliability not in RELIABILITIES:
            found.append(f"camera_reliability: {self.camera_reliability!r} is not one of {', '.join(RELIABILITIES)}")
        if self.max_queue < 1:
            found.append(f"max_queue: {self.max_queue} must be >= 1")
        if self.max_frame_age_s < 0:
            found.append(f"max_frame_age_s: {self.max_frame_age_s} must be >= 0 (0 = no limit)")
        if self.predicted_qos_depth < 1:
            found.append(f"predicted_qos_depth: {self.predicted_qos_depth} must be >= 1")
        if self.predicted_rate_hz != self.predicted_rate_hz:  # NaN
            found.append("predicted_rate_hz: nan is not a rate (0 = spec fps, < 0 = unpaced)")
        if not self.output_dir:
            found.append("output_dir: must not be empty")
        for name in ("max_candidates", "max_horizon", "max_num_steps"):
            if getattr(self, name) < 1:
                found.append(f"{name}: {getattr(self, name)} must be >= 1")
        return found

    @property
    def output_path(self) -> Path:
        return Path(self.output_dir).expanduser()


P = TypeVar("P")

PARAMETER_HELP: dict[str, str] = {
    "spec": "model spec name (see `dream-engine specs`); read at configure",
    "weights": "weights file or directory; empty = the spec's default location",
    "device": "auto | cpu | cuda | cuda:N",
    "autostart": "configure and activate at startup (dream-engine node)",
    "busy_policy": "goal arriving while busy: reject | queue | preempt",
    "max_queue": "queued goals allowed with busy_policy=queue",
    "max_frame_age_s": "refuse camera frames older than this, by header stamp or by arrival, whichever is "
    "older (0 = no limit)",
    "camera_reliability": "QoS reliability of the image subscription: best_effort | reliable",
    "camera_compressed": "also subscribe image/compressed (sensor_msgs/CompressedImage)",
    "output_dir": "directory for rollout mp4 files (created when missing)",
    "default_frame_id": "frame_id of predictions when the start frame has none",
    "predicted_qos_depth": "history depth of ~/predicted/image (reliable)",
    "predicted_rate_hz": "frames per second on ~/predicted/image: 0 = the spec's fps, > 0 = this rate, "
    "< 0 = as fast as decoded (bursts of a chunk)",
    "release_on_deactivate": "free the model on deactivate too (reloaded on activate)",
    "max_candidates": "largest num_candidates a RolloutBatch goal may ask for (larger: INVALID_GOAL)",
    "max_horizon": "largest horizon (actions per candidate) a goal may ask for (larger: INVALID_GOAL)",
    "max_num_steps": "most denoising steps a goal may ask for, spec default included (more: INVALID_GOAL)",
}


def declare_dataclass_parameters(node: Node, params_type: type, help_texts: dict[str, str],
                                 read_only: bool = False) -> None:
    """Declare one ROS parameter per field of a parameters dataclass, with its default and
    description (``read_only`` for nodes that read them once at start-up)."""
    for item in fields(params_type):
        node.declare_parameter(
            item.name,
            item.default,
            ParameterDescriptor(description=help_texts[item.name], dynamic_typing=True, read_only=read_only),
        )


def read_dataclass_parameters(node: Node, params_type: type[P]) -> P:
    """Read the declared parameters into ``params_type``; raises ValueError naming every bad
    value (an integer is accepted for a float parameter: ``-p rate_hz:=50``)."""
    values: dict[str, Any] = {}
    for item in fields(params_type):  # type: ignore[arg-type]
        value = node.get_parameter(item.name).value
        expected = type(item.default)
        if expected is float and isinstance(value, int) and not isinstance(value, bool):
            value = float(value)
        if not isinstance(value, expected) or (expected is int and isinstance(value, bool)):
            raise ValueError(f"{item.name}: {value!r} is not a {expected.__name__}")
        values[item.name] = value
    params = params_type(**values)
    problems = params.problems()  # type: ignore[attr-defined]
    if problems:
        raise ValueError("; ".join(problems))
    return params


def declare_engine_parameters(node: Node) -> None:
    """Declare every engine parameter with its default and a description."""
    declare_dataclass_parameters(node, EngineParams, PARAMETER_HELP)


def read_engine_parameters(node: Node) -> EngineParams:
    """Read the declared parameters; raises ValueError listing every bad value."""
    return read_dataclass_parameters(node, EngineParams)
