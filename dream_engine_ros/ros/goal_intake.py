"""Goal intake: a Rollout or RolloutBatch goal message becomes a checked RolloutJob.

Why up front, in the accepted callback: a goal that cannot run (bad shapes or values, no or
a stale start frame, over the node's limits) must end at once with INVALID_GOAL & co.,
not hold the node busy or fail half-way on the worker. Every check that needs the model's
rules asks the engine's own validator (engine/validation.py), so the wording is the engine's.
"""

from __future__ import annotations

import numpy as np
from rclpy.clock import Clock
from sensor_msgs.msg import CompressedImage, Image

from dream_engine_msgs.action import Rollout, RolloutBatch
from dream_engine_ros.engine.errors import InputError
from dream_engine_ros.engine.validation import RequestValidator
from dream_engine_ros.planning.costs import frame_cost_names, resolve_cost
from dream_engine_ros.ros.camera_cache import LatestFrameCache, NoFrameError, StaleFrameError
from dream_engine_ros.ros.engine_planning import plan_search
from dream_engine_ros.ros.engine_protocol import WorldModelEngine
from dream_engine_ros.ros.error_codes import ErrorCode, GoalFailure
from dream_engine_ros.ros.frame_stamps import time_to_ns
from dream_engine_ros.ros.goal_validation import (
    SamplingOverrides,
    actions_array,
    check_work_limits,
    failure_from_input_error,
    sampling_overrides,
)
from dream_engine_ros.ros.image_conversion import ImageConversionError, any_image_msg_to_rgb, image_msg_to_rgb
from dream_engine_ros.ros.params import EngineParams
from dream_engine_ros.ros.rollout_job import RolloutJob, StartFrame


class GoalIntake:
    """Checks goals against one loaded engine, the node's parameters and its camera cache.

    Raises GoalFailure (the goal's result code and message) for a goal that cannot run.
    """

    def __init__(self, engine: WorldModelEngine, params: EngineParams,
                 camera: LatestFrameCache[Image | CompressedImage], clock: Clock, camera_topic: str) -> None:
        self._engine = engine
        self._params = params
        self._limits = params.work_limits()
        self._camera = camera
        self._clock = clock
        self._camera_topic = camera_topic  # resolved, for the NO_START_FRAME message

    def rollout_job(self, goal_id: bytes, goal: Rollout.Goal) -> RolloutJob:
        """A ~/rollout goal: one action sequence from the start frame."""
        self._check_bounds(goal, 1)
        actions = actions_array(goal.actions, int(goal.horizon), int(goal.action_dim))
        sampling = sampling_overrides(int(goal.num_steps), float(goal.guidance))
        start = self._start_frame(goal.start_frame)
        self._validate_with_engine(start, actions, sampling, int(goal.seed))
        return RolloutJob(
            goal_id,
            start,
            actions,
            int(goal.seed),
            sampling,
            write_video=bool(goal.write_video),
            publish_frames=bool(goal.publish_frames),
        )

    def batch_job(self, goal_id: bytes, goal: RolloutBatch.Goal) -> RolloutJob:
        """A ~/rollout_batch goal: K candidates, their goal image and cost, history, search mode."""
        spec = self._engine.spec
        self._check_bounds(goal, int(goal.num_candidates))
        actions = actions_array(goal.actions, int(goal.horizon), int(goal.action_dim),
                                num_candidates=int(goal.num_candidates))
        sampling = sampling_overrides(int(goal.num_steps), float(goal.guidance))
        start = self._start_frame(goal.start_frame)
        self._validate_with_engine(start, actions, sampling, int(goal.seed))
        goal_rgb = None
        if goal.goal_image.width > 0 or goal.goal_image.height > 0:
            try:
                goal_rgb = image_msg_to_rgb(goal.goal_image, "goal_image")
            except ImageConversionError as error:
                raise GoalFailure(ErrorCode.INVALID_GOAL, str(error)) from error
        try:
            chosen = resolve_cost(str(goal.cost), self._engine.can_roll_out_frameless, bool(goal.write_video))
            if goal_rgb is not None:
                chosen.check_goal(goal_rgb, spec)
        except InputError as error:
            raise failure_from_input_error(error) from error
        cost = chosen.name
        if chosen.frameless:  # a capability the model must have, whatever the cost's name
            if goal_rgb is None:
                raise GoalFailure(ErrorCode.INVALID_GOAL, f"cost {cost!r} scores against a goal_image: none given")
            if goal.write_video:
                raise GoalFailure(ErrorCode.INVALID_GOAL, f"cost {cost!r} draws no candidate frames: write_video "
                                  f"needs a cost that scores drawn frames ({', '.join(frame_cost_names())})")
            if not self._engine.can_roll_out_frameless:
                raise GoalFailure(ErrorCode.INVALID_GOAL, f"cost {cost!r} needs a spec that rolls out decode-free "
                                  f"(no frame drawn); {spec.name!r} cannot")
        if goal.return_best_frames and goal_rgb is None:
            raise GoalFailure(ErrorCode.INVALID_GOAL, "return_best_frames needs a goal_image to rank the candidates")
        bounds = (np.asarray(spec.action_low, np.float64), np.asarray(spec.action_high, np.float64)) \
            if spec.action_low else (None, None)
        search = plan_search(goal, cost, *bounds)
        if search is not None:
            check_work_limits(self._limits, spec, int(goal.horizon), int(goal.num_steps), search.config.samples)
        return RolloutJob(
            goal_id, start, actions, int(goal.seed), sampling, write_video=bool(goal.write_video), goal_rgb=goal_rgb,
            cost=cost, fused=bool(goal.fused), return_best_frames=bool(goal.return_best_frames),
            history=self._history(goal), search=search,
        )

    def _check_bounds(self, goal: Rollout.Goal | RolloutBatch.Goal, num_candidates: int) -> None:
        """Node limits and the seed rule, before the actions are even reshaped."""
        spec = self._engine.spec
        check_work_limits(self._limits, spec, int(goal.horizon), int(goal.num_steps), num_candidates)
        try:
            RequestValidator(spec).seed_range(int(goal.seed), max(1, num_candidates))
        except InputError as error:
            raise failure_from_input_error(error) from error

    def _start_frame(self, image: Image) -> StartFrame:
        """The goal's own image, or the latest camera frame when its width is 0."""
        params = self._params
        now_ns = self._clock.now().nanoseconds
        if image.width > 0 or image.height > 0 or len(image.data) > 0:
            try:
                rgb = image_msg_to_rgb(image, "start_frame")
            except ImageConversionError as error:
                raise GoalFailure(ErrorCode.INVALID_GOAL, str(error)) from error
            stamp_ns = time_to_ns(image.header.stamp) or now_ns
            return StartFrame(rgb, stamp_ns, image.header.frame_id or params.default_frame_id)
        try:
            cached = self._camera.latest(now_ns, params.max_frame_age_s)
        except NoFrameError as error:
            raise GoalFailure(
                ErrorCode.NO_START_FRAME,
                f"start_frame is empty (width 0) and {error}; publish on "
                f"{self._camera_topic} or put an image in the goal",
            ) from error
        except StaleFrameError as error:
            raise GoalFailure(ErrorCode.STALE_START_FRAME, str(error)) from error
        try:
            rgb = any_image_msg_to_rgb(cached.payload, "camera image")
        except ImageConversionError as error:
            raise GoalFailure(ErrorCode.INVALID_GOAL, str(error)) from error
        return StartFrame(rgb, cached.reference_ns, cached.frame_id or params.default_frame_id)

    def _validate_with_engine(self, start: StartFrame, actions: np.ndarray, sampling: SamplingOverrides,
                              seed: int) -> None:
        """The engine's own rules (one place: engine/validation.py) on the whole request, every
        candidate of a batch included, before any model work."""
        batched = actions.ndim == 3
        seeds = [seed + k for k in range(actions.shape[0])] if batched else [seed]
        try:
            self._engine.validator.request(start.rgb, actions, sampling.num_steps, sampling.guidance,
                                           seeds, batched=batched)
        except InputError as error:
            raise failure_from_input_error(error) from error

    def _history(self, goal: RolloutBatch.Goal) -> tuple[np.ndarray, np.ndarray] | None:
        """The frames and actions before the start frame (causal-video specs), checked up front."""
        if not goal.history_frames and not len(goal.history_actions):
            return None
        engine = self._engine
        spec = engine.spec
        try:
            frames = [image_msg_to_rgb(image, f"history_frames[{i}]") for i, image in enumerate(goal.history_frames)]
        except ImageConversionError as error:
            raise GoalFailure(ErrorCode.INVALID_GOAL, str(error)) from error
        if len({frame.shape for frame in frames}) > 1:
            raise GoalFailure(ErrorCode.INVALID_GOAL, "history_frames must all have the same size")
        flat = np.asarray(goal.history_actions, dtype=np.float32)
        if flat.size != len(frames) * spec.action_dim:
            raise GoalFailure(ErrorCode.INVALID_GOAL, f"history_actions has {flat.size} values; expected "
                              f"len(history_frames) * action_dim = {len(frames)} * {spec.action_dim}")
        try:
            return engine.validator.history(np.stack(frames) if frames else np.empty((0, 0, 0, 3), np.uint8),
                                            flat.reshape(len(frames), spec.action_dim))
        except InputError as error:
            raise failure_from_input_error(error) from error
