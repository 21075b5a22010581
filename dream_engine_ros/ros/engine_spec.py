"""What a generic planner learns from the engine node's ~/describe, and the box it searches.

Why ask and not configure: the planner drives whatever model the engine serves (a catalog spec
or a folder `dream-engine train` wrote). The action size and bounds, the control rate, the chunk
a horizon must fill and whether a goal may carry history are the spec's, so they come from the
engine; parameters may only narrow the search inside the spec's bounds.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from rclpy.client import Client

from dream_engine_msgs.msg import ModelSpec
from dream_engine_msgs.srv import DescribeModel
from dream_engine_ros.ros.spinning import wait_for_future

SEARCH_LOW, SEARCH_HIGH = "search_low", "search_high"  # the parameters that narrow the box


@dataclass(frozen=True)
class SpecFacts:
    """The spec as the engine described it."""

    name: str
    height: int  # the frames it predicts
    width: int
    action_dim: int
    chunk_size: int
    fps: float
    reads_history: bool
    action_low: np.ndarray | None  # (action_dim,), None where the spec declares no bounds
    action_high: np.ndarray | None

    @classmethod
    def from_msg(cls, spec: ModelSpec) -> SpecFacts:
        low = np.asarray(spec.action_low, dtype=np.float64)
        high = np.asarray(spec.action_high, dtype=np.float64)
        declared = low.size > 0 and high.size > 0
        return cls(name=str(spec.name), height=int(spec.height), width=int(spec.width),
                   action_dim=int(spec.action_dim), chunk_size=int(spec.chunk_size), fps=float(spec.fps),
                   reads_history=bool(spec.reads_history),
                   action_low=low if declared else None, action_high=high if declared else None)


def search_box(facts: SpecFacts, low: Sequence[float] | None,
               high: Sequence[float] | None) -> tuple[np.ndarray, np.ndarray]:
    """The CEM's box: the spec's bounds, or the parameters' narrower one (ValueError naming them)."""
    dim = facts.action_dim
    narrowed = [None if values is None or len(values) == 0 else np.asarray(values, dtype=np.float64)
                for values in (low, high)]
    for name, values in zip((SEARCH_LOW, SEARCH_HIGH), narrowed, strict=True):
        if values is not None and values.shape != (dim,):
            raise ValueError(f"parameter {name} has {values.size} values; the spec {facts.name!r} has "
                             f"action_dim {dim}")
    spec_low, spec_high = facts.action_low, facts.action_high
    if spec_low is None or spec_high is None:
        if narrowed[0] is None or narrowed[1] is None:
            raise ValueError(f"the spec {facts.name!r} declares no action bounds: set the parameters "
                             f"{SEARCH_LOW} and {SEARCH_HIGH}")
        box_low, box_high = narrowed[0], narrowed[1]
    else:
        box_low = spec_low if narrowed[0] is None else narrowed[0]
        box_high = spec_high if narrowed[1] is None else narrowed[1]
        if np.any(box_low < spec_low) or np.any(box_high > spec_high):
            raise ValueError(f"parameters {SEARCH_LOW}/{SEARCH_HIGH} [{box_low.tolist()}, {box_high.tolist()}] "
                             f"leave the spec's action bounds [{spec_low.tolist()}, {spec_high.tolist()}]")
    if not (np.isfinite(box_low).all() and np.isfinite(box_high).all() and np.all(box_low < box_high)):
        raise ValueError(f"the search box [{box_low.tolist()}, {box_high.tolist()}] needs finite low < high "
                         f"({SEARCH_LOW}, {SEARCH_HIGH})")
    return box_low.copy(), box_high.copy()


def describe_engine(client: Client[DescribeModel.Request, DescribeModel.Response], timeout_s: float,
                    stop: threading.Event | None = None, attempts: int = 3) -> DescribeModel.Response:
    """Call ~/describe from a worker thread, asking again when no answer comes (read-only, so safe:
    right after discovery a service may take a request before it can answer it). TimeoutError
    when the service is not there or never answers."""
    if not client.wait_for_service(timeout_sec=timeout_s):
        raise TimeoutError(f"service {client.srv_name} is not available")
    per_try = max(timeout_s / attempts, 1.0)
    for attempt in range(1, attempts + 1):
        try:
            response = wait_for_future(client.call_async(DescribeModel.Request()), per_try, "describe", stop)
        except TimeoutError:
            if attempt == attempts:
                raise
            continue
        if response is None:
            raise TimeoutError("the describe call was cancelled")
        return response
    raise AssertionError("unreachable")
