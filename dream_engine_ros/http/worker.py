"""One engine thread behind a bounded queue.

Why: the engine is not thread-safe and a rollout saturates the device, so predictions run one
at a time on a single thread that owns the engine; the queue in front of it is bounded so an
overloaded server answers 429 at once instead of piling up work it cannot finish. The engine is
loaded on that same thread, so the server is reachable (and says 503) while weights load.
"""

from __future__ import annotations

import math
import queue
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

T = TypeVar("T")
CancelCheck = Callable[[], bool]


class QueueFull(Exception):
    """The bounded queue has no free place; `retry_after_s` estimates when one frees up."""

    def __init__(self, depth: int, retry_after_s: int) -> None:
        super().__init__(f"queue full ({depth} waiting)")
        self.depth = depth
        self.retry_after_s = retry_after_s


class NotReady(Exception):
    """The model is not loaded (still loading, failed to load, or the server is stopping)."""

    def __init__(self, state: str, detail: str) -> None:
        super().__init__(detail)
        self.state = state
        self.detail = detail


@dataclass
class Job(Generic[T]):
    """A unit of engine work; `run(engine, should_cancel)` executes on the engine thread."""

    kind: str
    run: Callable[[Any, CancelCheck], T]
    future: Future[T] = field(default_factory=Future)
    cancelled: threading.Event = field(default_factory=threading.Event)
    enqueued_at: float = field(default_factory=time.perf_counter)
    started_at: float | None = None

    def cancel(self) -> None:
        """Ask the engine to stop this job (polled before every denoising step / frame)."""
        self.cancelled.set()
        self.future.cancel()  # only succeeds while it still waits in the queue


class EngineWorker:
    """Owns the engine; runs submitted jobs serially; reports its state for /healthz and /metrics."""

    def __init__(self, loader: Callable[[], Any], max_queue: int,
                 before_job: Callable[[Job[Any]], None] | None = None) -> None:
        if max_queue < 1:
            raise ValueError(f"max_queue {max_queue} must be >= 1")
        self._loader = loader
        self._before_job = before_job  # test hook: e.g. hold the engine to fill the queue
        self._queue: queue.Queue[Job[Any] | None] = queue.Queue(maxsize=max_queue)
        self.max_queue = max_queue
        self.state = "loading"
        self.detail = "loading the model"
        self.engine: Any = None
        self.current: Job[Any] | None = None
        self._mean_job_s = 1.0  # running mean of job durations, for Retry-After
        self._jobs_done = 0
        self._thread = threading.Thread(target=self._main, name="dream-engine-worker", daemon=True)

    # ------------------------------------------------------------------ control

    def start(self) -> None:
        self._thread.start()

    def stop(self, timeout: float = 10.0) -> None:
        """Cancel the running job, fail the waiting ones, join the thread."""
        self.state, self.detail = "stopped", "the server is shutting down"
        if self.current is not None:
            self.current.cancel()
        while True:
            try:
                job = self._queue.get_nowait()
            except queue.Empty:
                break
            if job is not None and job.future.set_running_or_notify_cancel():
                job.future.set_exception(NotReady("stopped", self.detail))
        try:
            self._queue.put_nowait(None)
        except queue.Full:
            pass
        if self._thread.is_alive():
            self._thread.join(timeout)

    def submit(self, kind: str, run: Callable[[Any, CancelCheck], T]) -> Job[T]:
        """Queue a job or refuse it at once (NotReady -> 503, QueueFull -> 429)."""
        if self.state != "ready":
            raise NotReady(self.state, self.detail)
        job: Job[T] = Job(kind, run)
        try:
            self._queue.put_nowait(job)
        except queue.Full:
            raise QueueFull(self.depth, self.retry_after_s()) from None
        return job

    # ------------------------------------------------------------------ state

    @property
    def depth(self) -> int:
        """Jobs waiting (the running one not counted)."""
        return self._queue.qsize()

    @property
    def busy(self) -> bool:
        return self.current is not None

    @property
    def full(self) -> bool:
        return self._queue.full()

    def retry_after_s(self) -> int:
        """Seconds until a queue place is likely free: the mean job time x the work ahead."""
        return max(1, math.ceil(self._mean_job_s * (self.depth + (1 if self.busy else 0))))

    # ------------------------------------------------------------------ thread

    def _main(self) -> None:
        try:
            self.engine = self._loader()
        except BaseException as exc:  # noqa: B036 - a failed load is reported, never raised in a thread
            self.state, self.detail = "failed", f"model failed to load: {exc}"
            return
        if self.state == "loading":
            self.state, self.detail = "ready", "ready"
        while True:
            job = self._queue.get()
            if job is None or self.state == "stopped":
                if job is not None and job.future.set_running_or_notify_cancel():
                    job.future.set_exception(NotReady("stopped", self.detail))
                break
            if job.cancelled.is_set() or not job.future.set_running_or_notify_cancel():
                continue  # its client went away while it waited
            self._run(job)

    def _run(self, job: Job[Any]) -> None:
        self.current = job
        job.started_at = time.perf_counter()
        try:
            if self._before_job is not None:
                self._before_job(job)
            job.future.set_result(job.run(self.engine, job.cancelled.is_set))
        except BaseException as exc:  # noqa: B036 - every failure goes back to the waiting request
            job.future.set_exception(exc)
        finally:
            elapsed = time.perf_counter() - job.started_at
            self._jobs_done += 1
            weight = 1.0 / min(self._jobs_done, 10)
            self._mean_job_s += weight * (elapsed - self._mean_job_s)
            self.current = None
