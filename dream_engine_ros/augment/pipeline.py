"""Plan samples from recordings, roll them out with an executor, write each as it finishes.

Order of work: every input is opened and checked first (topics, types, action size, one decoded image),
so bad input fails before anything is written. Then the output folder is prepared (settings checked,
leftover partial bags removed), finished samples are skipped, and the rest are streamed: the planner
decodes start frames one recording at a time and the executor's results are written as they arrive.
"""

from __future__ import annotations

import dataclasses
import re
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from dream_engine_ros.augment.action_layout import (
    ACTION_LAYOUTS,
    RAW,
    engine_actions,
    layout_names,
    perturbation_bounds,
    recorded_dim,
)
from dream_engine_ros.augment.background_writer import BackgroundWriter
from dream_engine_ros.augment.errors import AugmentInputError
from dream_engine_ros.augment.execution import OutcomeHandler, RolloutOutcome, RolloutTask
from dream_engine_ros.augment.perturb import PerturbationSpec, sample_seed
from dream_engine_ros.augment.recording import Recording, RecordingOptions, check_first_frame, open_recordings
from dream_engine_ros.augment.writer import OutputFolder, SampleOutput, read_sample_metadata
from dream_engine_ros.engine.spec import ModelSpec, get_spec

INDEX_REWRITE_S = 2.0  # rewrite index.json at most this often while running (and always at the end)


class Executor(Protocol):
    workers: int

    def run(self, tasks: Iterator[RolloutTask], on_outcome: OutcomeHandler) -> None: ...


@dataclass
class AugmentSettings:
    """What defines the samples (stored in OUT/augment.json; a rerun must match)."""

    spec: str
    perturb: str
    per_start: int
    horizon: int | None = None  # None: one chunk of the spec
    start_every: int | None = None  # None: the horizon (non-overlapping starts)
    start_times: Sequence[float] | None = None
    recording: RecordingOptions = field(default_factory=RecordingOptions)
    num_steps: int | None = None
    action_layout: str = RAW

    def resolved(self, spec: ModelSpec) -> tuple[int, PerturbationSpec]:
        horizon = spec.chunk_size if self.horizon is None else int(self.horizon)
        if horizon < 1 or horizon % spec.chunk_size:
            raise AugmentInputError("--horizon", f"{horizon} is not a positive multiple of chunk_size "
                                    f"{spec.chunk_size} of spec {spec.name}")
        if self.action_layout not in layout_names():
            raise AugmentInputError("--action-layout",
                                    f"{self.action_layout!r} is not one of {', '.join(layout_names())}")
        problem = ACTION_LAYOUTS.get(self.action_layout).spec_problem(spec)
        if problem:
            raise AugmentInputError("--action-layout", problem)
        if self.per_start < 1:
            raise AugmentInputError("--per-start", f"{self.per_start} must be at least 1")
        if self.start_every is not None and self.start_every < 1:
            raise AugmentInputError("--start-every", f"{self.start_every} must be at least 1")
        try:
            perturbation = PerturbationSpec.parse(self.perturb)
        except ValueError as exc:
            raise AugmentInputError("--perturb", str(exc)) from None
        return horizon, perturbation

    def fingerprint(self, spec: ModelSpec, weights: str | None) -> dict[str, Any]:
        horizon, perturbation = self.resolved(spec)
        r = self.recording
        return {"spec": spec.name, "weights": weights, "perturb": perturbation.describe(), "per_start": self.per_start,
                "horizon": horizon, "start_every": self.start_every,
                "start_times": None if self.start_times is None else [float(t) for t in self.start_times],
                "camera_topic": r.camera_topic, "action_topic": r.action_topic, "action_fields": r.action_fields,
                "stamps": r.stamps, "num_steps": self.num_steps, "action_layout": self.action_layout}


@dataclass
class PlannedSample:
    task: RolloutTask
    output: SampleOutput  # frames filled in when the rollout returns


def _safe_name(source: str) -> str:
    path, _, episode = source.partition("#")
    stem = Path(path.rstrip("/")).name
    for suffix in (".mcap", ".db3", ".npz"):
        stem = stem.removesuffix(suffix)
    stem = re.sub(r"[^A-Za-z0-9_.-]+", "_", stem) or "recording"
    return f"{stem}-e{episode}" if episode else stem


def sample_id_of(recording: Recording, start: int, sample: int) -> str:
    return f"{_safe_name(recording.source)}-{recording.content_hash[:12]}-f{start:06d}-n{sample:03d}"


class Planner:
    """Turns recordings into rollout tasks; start frames are decoded per recording, lazily."""

    def __init__(self, settings: AugmentSettings, spec: ModelSpec) -> None:
        self.settings = settings
        self.spec = spec
        self.horizon, self.perturbation = settings.resolved(spec)
        self.layout = settings.action_layout
        self.low, self.high = perturbation_bounds(self.layout, spec)

    def starts(self, recording: Recording) -> list[int]:
        s = self.settings
        return recording.starts(self.horizon, s.start_every, s.start_times)

    def sample_ids(self, recording: Recording) -> list[str]:
        return [sample_id_of(recording, start, n) for start in self.starts(recording)
                for n in range(self.settings.per_start)]

    def plan(self, recording: Recording, skip: Callable[[str], bool]) -> Iterator[PlannedSample]:
        todo = [(start, n) for start in self.starts(recording) for n in range(self.settings.per_start)
                if not skip(sample_id_of(recording, start, n))]
        frames = recording.load_frames(sorted({start for start, _ in todo}))
        for start, n in todo:
            seed = sample_seed(recording.content_hash, start, n)
            tail = recording.actions[start:]
            recorded = tail[:self.horizon].astype(np.float32)
            actions, drawn = self.perturbation.apply(tail, self.horizon, seed, self.low, self.high)
            before = recording.actions[start - 1] if start > 0 else recording.actions[start]
            baseline = before if np.all(np.isfinite(before)) else recording.actions[start]
            sample_id = sample_id_of(recording, start, n)
            start_ns = recording.stamp_ns(start)
            metadata: dict[str, Any] = {
                "spec": self.spec.name, "seed": seed, "source": recording.source,
                "source_content_sha256": recording.content_hash, "start_index": start, "start_stamp_ns": start_ns,
                "sample_index": n, "horizon": self.horizon, "fps": self.spec.fps,
                "perturbation": {"spec": self.perturbation.describe(), "drawn": drawn},
                "action_dim": int(actions.shape[1]), "action_layout": self.layout,
            }
            if recording.reset_seed is not None:
                metadata["source_reset_seed"] = recording.reset_seed
            task = RolloutTask(sample_id, frames[start], engine_actions(self.layout, actions, baseline), seed)
            output = SampleOutput(sample_id, np.empty((0,), np.uint8), actions, recorded, start_ns, self.spec.fps,
                                  recording.frame_id, metadata)
            yield PlannedSample(task, output)


def open_all(inputs: Sequence[str], settings: AugmentSettings, spec: ModelSpec) -> list[Recording]:
    """Open and check every input before any work (errors name file and topic)."""
    if not inputs:
        raise AugmentInputError("--input", "no recordings given")
    recordings: list[Recording] = []
    for path in inputs:
        dim = recorded_dim(settings.action_layout, spec)
        options = settings.recording
        recorded_name = ACTION_LAYOUTS.get(settings.action_layout).recorded_name
        if recorded_name:
            options = dataclasses.replace(options, dim_name=recorded_name)
        for recording in open_recordings(path, options, dim, spec.fps):
            check_first_frame(recording)
            recordings.append(recording)
    return recordings


class ProgressBar:
    """`done/total`, rate and ETA on one rewritten line; silent unless the stream is a terminal."""

    def __init__(self, total: int, stream: Any, enabled: bool | None = None, width: int = 30) -> None:
        self.total = total
        self.stream = stream
        self.enabled = stream.isatty() if enabled is None else enabled
        self.width = width
        self.start = time.monotonic()
        self.done = 0

    def advance(self, count: int = 1) -> None:
        self.done += count
        if not self.enabled:
            return
        elapsed = time.monotonic() - self.start
        rate = self.done / elapsed if elapsed > 0 else 0.0
        left = (self.total - self.done) / rate if rate > 0 else float("inf")
        filled = int(self.width * self.done / max(1, self.total))
        eta = time.strftime("%H:%M:%S", time.gmtime(left)) if left != float("inf") else "--:--:--"
        self.stream.write(f"\r[{'#' * filled}{'.' * (self.width - filled)}] {self.done}/{self.total} "
                          f"{rate:.2f} samples/s ETA {eta}")
        if self.done >= self.total:
            self.stream.write("\n")
        self.stream.flush()


def run_augment(inputs: Sequence[str], settings: AugmentSettings, out: str | Path, executor: Executor,
                weights: str | None = None, progress_stream: Any = None) -> dict[str, Any]:
    """The whole augmentation; returns a summary (counts, timings, per-worker peak memory)."""
    spec = get_spec(settings.spec)
    planner = Planner(settings, spec)
    config = settings.fingerprint(spec, weights)
    recordings = open_all(inputs, settings, spec)

    folder = OutputFolder(out)
    try:
        folder.prepare(config)
    except ValueError as exc:
        raise AugmentInputError(f"--out {out}", str(exc)) from None
    entries = folder.read_index_entries()
    all_ids = [sid for recording in recordings for sid in planner.sample_ids(recording)]
    for sample_id in all_ids:
        if sample_id not in entries and folder.is_finished(sample_id):
            entries[sample_id] = read_sample_metadata(folder.sample_path(sample_id))
    skipped = sum(1 for sid in set(all_ids) if folder.is_finished(sid))
    pending_total = len(set(all_ids)) - skipped

    pending: dict[str, SampleOutput] = {}
    scheduled: set[str] = set()
    bar = ProgressBar(pending_total, progress_stream, enabled=None if progress_stream is not None else False)
    stats = {"rollout_s": 0.0, "write_s": 0.0, "written": 0, "first_result_s": 0.0}
    workers: dict[str, dict[str, Any]] = {}
    last_index = [time.monotonic()]

    def tasks() -> Iterator[RolloutTask]:
        for recording in recordings:
            for planned in planner.plan(recording, lambda sid: folder.is_finished(sid) or sid in scheduled):
                scheduled.add(planned.task.sample_id)
                pending[planned.task.sample_id] = planned.output
                yield planned.task

    def write(output: SampleOutput) -> None:  # on the writer thread
        write_start = time.perf_counter()
        entries[output.sample_id] = folder.write_sample(output)
        stats["write_s"] += time.perf_counter() - write_start
        stats["written"] += 1
        if time.monotonic() - last_index[0] > INDEX_REWRITE_S:
            folder.write_index(dict(entries), config, complete=False)
            last_index[0] = time.monotonic()
        bar.advance()

    writer: BackgroundWriter[SampleOutput] = BackgroundWriter(write)

    def on_outcome(outcome: RolloutOutcome) -> None:
        output = pending.pop(outcome.sample_id)
        output.frames = outcome.frames
        stats["rollout_s"] += outcome.rollout_s
        worker = workers.setdefault(outcome.worker, {"samples": 0, "rollout_s": 0.0, "peak_rss_mb": 0.0,
                                                     "device": outcome.device})
        worker["samples"] += 1
        worker["rollout_s"] += outcome.rollout_s
        worker["peak_rss_mb"] = max(worker["peak_rss_mb"], outcome.peak_rss_mb)
        if stats["first_result_s"] == 0.0:
            stats["first_result_s"] = time.perf_counter() - started
        writer.submit(output)

    started = time.perf_counter()
    try:
        executor.run(tasks(), on_outcome)
        writer.close()
    except BaseException as exc:
        try:
            writer.close()  # finished rollouts still become complete samples
        except BaseException:
            pass
        folder.write_index(entries, config, complete=False, error=f"{type(exc).__name__}: {exc}")
        raise
    elapsed = time.perf_counter() - started
    folder.write_index(entries, config, complete=True)
    written = int(stats["written"])
    steady = elapsed - stats["first_result_s"]
    return {
        "out": str(out), "index": str(folder.index_path), "recordings": len(recordings), "samples": len(entries),
        "written": written, "skipped": skipped, "workers": executor.workers, "elapsed_s": round(elapsed, 3),
        "samples_per_s": round(written / elapsed, 3) if written and elapsed > 0 else 0.0,
        "rollout_s": round(stats["rollout_s"], 3), "write_s": round(stats["write_s"], 3),
        "writer_share_of_rollout": round(stats["write_s"] / stats["rollout_s"], 4) if stats["rollout_s"] else 0.0,
        "writer_wait_s": round(writer.wait_s, 3),
        "first_result_s": round(stats["first_result_s"], 3),
        "steady_samples_per_s": round((written - 1) / steady, 3) if written > 1 and steady > 0 else 0.0,
        "per_worker": workers,
    }
