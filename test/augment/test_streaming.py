"""The Ray driver loop keeps at most IN_FLIGHT_PER_WORKER tasks per actor and pulls tasks lazily, so neither
the tasks nor the results of a large set are ever all in memory (checked with a stand-in for ray)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import numpy as np

from dream_engine_ros.augment.execution import IN_FLIGHT_PER_WORKER, RayExecutor, RolloutOutcome, RolloutTask


class FakeRay:
    """`wait` returns the oldest outstanding reference, `get` its outcome; counts what is outstanding."""

    def __init__(self) -> None:
        self.outstanding: dict[int, int] = {}  # actor id -> tasks submitted and not yet taken
        self.peak_per_actor = 0
        self.refs: dict[int, tuple[int, RolloutTask]] = {}

    def submit(self, actor_id: int, task: RolloutTask) -> int:
        ref = len(self.refs)
        self.refs[ref] = (actor_id, task)
        self.outstanding[actor_id] = self.outstanding.get(actor_id, 0) + 1
        self.peak_per_actor = max(self.peak_per_actor, self.outstanding[actor_id])
        return ref

    def wait(self, refs: list[int], num_returns: int) -> tuple[list[int], list[int]]:
        return refs[:num_returns], refs[num_returns:]

    def get(self, ref: int) -> RolloutOutcome:
        actor_id, task = self.refs[ref]
        self.outstanding[actor_id] -= 1
        return RolloutOutcome(task.sample_id, np.zeros((1, 2, 2, 3), np.uint8), 0.0, f"actor{actor_id}", 1.0, "cpu")


class FakeActor:
    def __init__(self, ray: FakeRay, actor_id: int) -> None:
        outer = self

        class Method:
            def remote(self, task: RolloutTask) -> int:
                return ray.submit(outer.actor_id, task)

        self.actor_id = actor_id
        self.rollout = Method()


def test_tasks_are_pulled_lazily_and_bounded_per_actor() -> None:
    ray = FakeRay()
    actors = [FakeActor(ray, i) for i in range(3)]
    pulled, done = [0], []

    def tasks() -> Iterator[RolloutTask]:
        for i in range(100):
            # never more than the in-flight bound ahead of what has been written
            assert pulled[0] - len(done) <= IN_FLIGHT_PER_WORKER * len(actors)
            pulled[0] += 1
            yield RolloutTask(f"s{i:03d}", np.zeros((2, 2, 3), np.uint8), np.zeros((12, 2), np.float32), i)

    def on_outcome(outcome: Any) -> None:
        done.append(outcome.sample_id)

    RayExecutor._stream(ray, actors, tasks(), on_outcome)
    assert sorted(done) == [f"s{i:03d}" for i in range(100)]
    assert ray.peak_per_actor == IN_FLIGHT_PER_WORKER
    assert {a: n for a, n in ray.outstanding.items()} == {0: 0, 1: 0, 2: 0}
