"""One goal's model work, on its worker thread: predict, stream the frames, score, write mp4s.

Why a class of its own: this is the only part of the node that runs off the executor thread.
It gets everything it touches when the goal starts (the engine, the parameters, the executor
for feedback, the predicted-image outlet) and asks ``should_stop`` for the rest, so it shares
no mutable state with the goal flow or the lifecycle node.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import numpy as np
from builtin_interfaces.msg import Time
from rclpy.executors import Executor
from rclpy.impl.rcutils_logger import RcutilsLogger
from rclpy.lifecycle import LifecyclePublisher

from dream_engine_msgs.action import Rollout, RolloutBatch
from dream_engine_ros.planning.costs import get_cost
from dream_engine_ros.ros.accepted_goal import GoalHandle, StopCheck
from dream_engine_ros.ros.engine_protocol import WorldModelEngine
from dream_engine_ros.ros.error_codes import GoalFailure
from dream_engine_ros.ros.frame_pacer import FramePacer
from dream_engine_ros.ros.frame_stamps import predicted_frame_stamp
from dream_engine_ros.ros.image_conversion import rgb_to_image_msg
from dream_engine_ros.ros.params import EngineParams
from dream_engine_ros.ros.rollout_job import RolloutJob, RolloutOutcome
from dream_engine_ros.ros.video_output import remove_videos, rollout_video_path, write_rollout_video

if TYPE_CHECKING:
    from dream_engine_ros.engine.runner import ChunkEvent

PredictedFrame = tuple[np.ndarray, Time, str]  # rgb, stamp, frame_id


class StopRequested(Exception):
    """Raised in the worker when the goal must stop after the engine returned."""


class PredictedImageOutlet:
    """The ``~/predicted/image`` publisher behind a lock: no predicted frame leaves after the
    node destroyed the publisher (the pacer thread publishes while the node tears down)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._publisher: LifecyclePublisher[Any] | None = None

    def attach(self, publisher: LifecyclePublisher[Any]) -> None:
        with self._lock:
            self._publisher = publisher

    def detach(self) -> LifecyclePublisher[Any] | None:
        """Stop publishing; returns the publisher (if any) for the node to destroy."""
        with self._lock:
            publisher, self._publisher = self._publisher, None
        return publisher

    def publish(self, item: PredictedFrame) -> None:
        """Pacer thread: one predicted frame, unless the publisher is already gone."""
        frame, stamp, frame_id = item
        message = rgb_to_image_msg(frame, stamp, frame_id)
        with self._lock:
            if self._publisher is not None:
                self._publisher.publish(message)


class RolloutExecution:
    """Runs one job on the engine (``rollout`` for ~/rollout, ``batch`` for ~/rollout_batch)."""

    def __init__(self, engine: WorldModelEngine, params: EngineParams, executor: Executor,
                 predicted: PredictedImageOutlet, logger: RcutilsLogger) -> None:
        self._engine = engine
        self._params = params
        self._executor = executor
        self._predicted = predicted
        self._logger = logger

    def _feedback_sender(self, goal_handle: GoalHandle, action: type[Rollout] | type[RolloutBatch],
                         started: float) -> Callable[[ChunkEvent], None]:
        """Feedback is published from the executor thread (rcl action handles are not thread-safe)."""
        executor = self._executor

        def send(event: ChunkEvent) -> None:
            done = int(event.chunk_index) + 1
            total = int(event.chunks_total)
            feedback = action.Feedback()
            feedback.chunks_done = done
            feedback.chunks_total = total
            feedback.frames_done = int(event.first_frame_index) + int(event.frames.shape[-4])
            feedback.elapsed_s = float(time.monotonic() - started)
            feedback.eta_s = float(feedback.elapsed_s / done * (total - done)) if done else 0.0
            executor.create_task(_publish_feedback_quietly, goal_handle, feedback)

        return send

    def _frame_pacer(self, job: RolloutJob) -> FramePacer[PredictedFrame] | None:
        if not job.publish_frames:
            return None
        rate = self._params.predicted_rate(float(self._engine.spec.fps))
        return FramePacer(self._predicted.publish, rate, name="dream_engine-predicted")

    def rollout(self, job: RolloutJob, goal_handle: GoalHandle, should_stop: StopCheck) -> RolloutOutcome:
        """Predict, stream the frames (paced) and write the mp4; the result follows the last frame."""
        engine, params = self._engine, self._params
        started = time.monotonic()
        send_feedback = self._feedback_sender(goal_handle, Rollout, started)
        fps = float(engine.spec.fps)
        pacer = self._frame_pacer(job)
        outcome = RolloutOutcome(num_frames=0, timings={})

        def on_chunk(event: ChunkEvent) -> None:
            if pacer is not None:
                for offset, frame in enumerate(event.frames):
                    index = int(event.first_frame_index) + offset
                    stamp = predicted_frame_stamp(job.start.stamp_ns, index, fps)
                    pacer.put((frame, stamp, job.start.frame_id))
            send_feedback(event)

        try:
            prediction = engine.predict(
                job.start.rgb,
                job.actions,
                seed=job.seed,
                num_steps=job.sampling.num_steps,
                guidance=job.sampling.guidance,
                on_chunk=on_chunk,
                should_cancel=should_stop,
            )
            outcome.num_frames, outcome.timings = int(prediction.frames.shape[0]), dict(prediction.timings)
            if should_stop():
                raise StopRequested()
            if job.write_video:  # written while the paced stream is still leaving
                video_started = time.monotonic()
                path = rollout_video_path(params.output_path, job.goal_id)
                outcome.video_paths.append(write_rollout_video(path, prediction.frames, fps))
                outcome.video_s = time.monotonic() - video_started
            if pacer is not None and not pacer.finish(should_stop) and should_stop():
                raise StopRequested()  # (a stream that failed on its own is logged below, the goal stands)
        except BaseException:
            remove_videos(outcome.video_paths)  # no mp4 survives a goal that did not succeed
            raise
        finally:
            if pacer is not None:
                pacer.abort()
        if pacer is not None and pacer.error is not None:
            self._logger.warning(f"predicted stream stopped: {type(pacer.error).__name__}: {pacer.error}")
        return outcome

    def batch(self, job: RolloutJob, goal_handle: GoalHandle, should_stop: StopCheck) -> RolloutOutcome:
        """K candidates in one engine call, scored against the goal image and written as mp4s."""
        engine, params = self._engine, self._params
        started = time.monotonic()
        send_feedback = self._feedback_sender(goal_handle, RolloutBatch, started)
        fps = float(engine.spec.fps)
        num_candidates = int(job.actions.shape[0])
        seeds = [job.seed + k for k in range(num_candidates)]  # seed + K - 1 < 2**32 checked up front
        history_frames, history_actions = job.history if job.history is not None else (None, None)
        cost = get_cost(job.cost)
        if cost.frameless:
            return self._score_frameless(job, should_stop)
        batch = engine.predict_batch(
            job.start.rgb,
            job.actions,
            seeds=seeds,
            num_steps=job.sampling.num_steps,
            guidance=job.sampling.guidance,
            on_chunk=send_feedback,
            should_cancel=should_stop,
            fused=job.fused,
            history_frames=history_frames,
            history_actions=history_actions,
        )
        frames = batch.frames
        outcome = RolloutOutcome(num_frames=int(frames.shape[1]), timings=dict(batch.timings))
        if job.goal_rgb is not None:
            if should_stop():
                raise StopRequested()
            scoring_started = time.perf_counter()
            scores = cost.score_frames(engine, frames, job.goal_rgb)
            outcome.timings["total_s"] = outcome.timings.get("total_s", 0.0) + time.perf_counter() - scoring_started
            outcome.scores = [float(score) for score in scores]
            outcome.best_index = int(np.argmin(scores))
            if job.return_best_frames:
                outcome.best_frames = [
                    rgb_to_image_msg(frame, predicted_frame_stamp(job.start.stamp_ns, i, fps), job.start.frame_id)
                    for i, frame in enumerate(frames[outcome.best_index])]
        if should_stop():
            raise StopRequested()
        if job.write_video:
            video_started = time.monotonic()
            try:
                for k in range(num_candidates):
                    if should_stop():  # one mp4 at most after a cancel
                        raise StopRequested()
                    path = rollout_video_path(params.output_path, job.goal_id, candidate=k)
                    outcome.video_paths.append(write_rollout_video(path, frames[k], fps))
            except (GoalFailure, StopRequested):
                remove_videos(outcome.video_paths)  # all candidates or none
                raise
            outcome.video_s = time.monotonic() - video_started
        return outcome

    def _score_frameless(self, job: RolloutJob, should_stop: StopCheck) -> RolloutOutcome:
        """Decode-free scoring (a frameless cost), or in search mode a whole CEM search over it:
        no candidate is drawn; with return_best_frames the best one (or the plan) is, through the
        full model (its exact row: the same seed and history)."""
        engine, cost = self._engine, get_cost(job.cost)
        goal_rgb = job.goal_rgb
        assert goal_rgb is not None  # checked when the goal was accepted
        started = time.perf_counter()

        def score(candidates: np.ndarray) -> np.ndarray:
            if should_stop():  # between a search's iterations
                raise StopRequested()
            return cost.score_frameless(engine, job.start.rgb, candidates, goal_rgb, job.history)

        outcome = RolloutOutcome(num_frames=int(job.actions.shape[1]) + 1, timings={})
        if job.search is None:
            candidates = job.actions
            outcome.scores = [float(cost) for cost in score(candidates)]
            outcome.best_index = int(np.argmin(outcome.scores))
        else:  # the plan is the one candidate drawn, with the goal's seed
            outcome.plan = job.search.run(score, job.actions[0], job.seed)
            candidates = outcome.plan.actions[None]
            outcome.scores, outcome.best_index = [outcome.plan.cost], 0
        outcome.timings = {"encode_s": 0.0, "denoise_s": time.perf_counter() - started, "decode_s": 0.0}
        if job.return_best_frames:
            if should_stop():
                raise StopRequested()
            best = outcome.best_index
            history_frames, history_actions = job.history if job.history is not None else (None, None)
            drawn = engine.predict_batch(job.start.rgb, candidates[best:best + 1], seeds=[job.seed + best],
                                         history_frames=history_frames, history_actions=history_actions)
            outcome.timings["denoise_s"] += drawn.timings.get("denoise_s", 0.0)
            fps = float(engine.spec.fps)
            outcome.best_frames = [rgb_to_image_msg(frame, predicted_frame_stamp(job.start.stamp_ns, i, fps),
                                                    job.start.frame_id) for i, frame in enumerate(drawn.frames[0])]
        outcome.timings["total_s"] = time.perf_counter() - started
        return outcome


def _publish_feedback_quietly(goal_handle: GoalHandle, feedback: Any) -> None:
    """Feedback for a goal that already ended is dropped, not an error."""
    if goal_handle.is_active:
        goal_handle.publish_feedback(feedback)
