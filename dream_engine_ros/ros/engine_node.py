"""Lifecycle node ``dream_engine``: action servers in front of the world-model engine.

configure = read parameters + load spec and weights; activate = serve goals; deactivate =
stop serving (running goals end with NOT_ACTIVE); cleanup/shutdown = free the model.
Every goal that is accepted ends with a result carrying an error code and a message; the
node keeps serving afterwards. Blocking model work runs on a worker thread (see
worker_bridge) so cancel requests, feedback and camera frames keep flowing.

Path of a goal: goal callback (active?) -> accepted callback (validate, then the busy policy:
execute now, wait in ACCEPTED, or preempt the running goal; see accepted_goal) -> execute
callback of its action (worker -> engine -> stream -> mp4) -> its typed result (goal_results).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeVar, cast

import numpy as np
from builtin_interfaces.msg import Time
from rclpy.action import ActionServer, CancelResponse, GoalResponse
from rclpy.action.server import ServerGoalHandle
from rclpy.callback_groups import ReentrantCallbackGroup
from rclpy.executors import Executor
from rclpy.lifecycle import LifecycleNode, LifecycleState, TransitionCallbackReturn
from rclpy.qos import HistoryPolicy, QoSProfile, ReliabilityPolicy
from sensor_msgs.msg import CompressedImage, Image

from dream_engine_msgs.action import Rollout, RolloutBatch
from dream_engine_msgs.srv import DescribeModel
from dream_engine_ros.engine.errors import InputError, RolloutCancelled
from dream_engine_ros.engine.validation import RequestValidator
from dream_engine_ros.planning.goal_scoring import (
    FRAMELESS_COSTS,
    check_cost,
    pusht_goal,
    score_rollouts,
    score_scene_states,
)
from dream_engine_ros.ros.accepted_goal import AcceptedGoal
from dream_engine_ros.ros.busy_policy import Decision, RolloutSlots, Ticket
from dream_engine_ros.ros.camera_cache import LatestFrameCache, NoFrameError, StaleFrameError
from dream_engine_ros.ros.describe import spec_to_msg
from dream_engine_ros.ros.engine_planning import plan_search
from dream_engine_ros.ros.engine_protocol import EngineLoader, WorldModelEngine
from dream_engine_ros.ros.error_codes import ErrorCode, GoalFailure
from dream_engine_ros.ros.frame_pacer import FramePacer
from dream_engine_ros.ros.frame_stamps import predicted_frame_stamp, time_to_ns
from dream_engine_ros.ros.goal_results import GoalEnd, batch_result, rollout_result
from dream_engine_ros.ros.goal_validation import (
    SamplingOverrides,
    WorkLimits,
    actions_array,
    check_work_limits,
    failure_from_input_error,
    sampling_overrides,
)
from dream_engine_ros.ros.image_conversion import (
    ImageConversionError,
    any_image_msg_to_rgb,
    image_msg_to_rgb,
    rgb_to_image_msg,
)
from dream_engine_ros.ros.params import EngineParams, declare_engine_parameters, read_engine_parameters
from dream_engine_ros.ros.rollout_job import RolloutJob, RolloutOutcome, StartFrame
from dream_engine_ros.ros.video_output import remove_videos, rollout_video_path, write_rollout_video
from dream_engine_ros.ros.worker_bridge import WorkerThreads

if TYPE_CHECKING:
    from dream_engine_ros.engine.runner import ChunkEvent

PredictedFrame = tuple[np.ndarray, Time, str]  # rgb, stamp, frame_id
ResultT = TypeVar("ResultT")  # Rollout.Result or RolloutBatch.Result
CLIENT_WATCH_PERIOD_S = 1.0  # how often goals are checked for a client still listening
WORKER_JOIN_TIMEOUT_S = 10.0  # a worker polls its stop hook per step and per candidate (~1 s)


def load_dream_engine(spec: str, weights: str | None, device: str) -> WorldModelEngine:
    """Default loader: the engine core (imported lazily so this module imports fast)."""
    from dream_engine_ros.engine.runner import DreamEngine

    return DreamEngine.load(spec, weights=weights, device=device)


class StopRequested(Exception):
    """Raised in the worker when the goal must stop after the engine returned."""


class DreamEngineNode(LifecycleNode):
    """See the module docstring; parameters are listed in params.EngineParams."""

    def __init__(
        self,
        node_name: str = "dream_engine",
        *,
        namespace: str | None = None,
        engine_loader: EngineLoader | None = None,
        **node_kwargs: Any,
    ) -> None:
        super().__init__(node_name, namespace=namespace, **node_kwargs)
        declare_engine_parameters(self)
        self._engine_loader = engine_loader or load_dream_engine
        self._engine: WorldModelEngine | None = None
        self._params: EngineParams | None = None
        self._active = False  # serving goals; cleared first on deactivate/shutdown (the workers' stop signal)
        self._lifecycle_label = "unconfigured"
        self._shutting_down = False
        self._publish_lock = threading.Lock()  # no predicted frame leaves after the publisher is gone
        self._slots = RolloutSlots("reject", 1)
        self._goals: dict[bytes, AcceptedGoal] = {}  # accepted, no result yet (queued ones included)
        self._camera: LatestFrameCache[Image | CompressedImage] = LatestFrameCache()
        self._camera_subscriptions: list[Any] = []
        self._predicted_publisher: Any = None
        self._workers = WorkerThreads(f"{node_name}-rollout")
        group = ReentrantCallbackGroup()
        self._rollout_server = ActionServer(
            self,
            Rollout,
            "~/rollout",
            execute_callback=self._execute_rollout,
            goal_callback=self._on_goal_request,
            handle_accepted_callback=self._accept_rollout,
            cancel_callback=self._on_cancel_request,
            callback_group=group,
        )
        self._batch_server = ActionServer(
            self,
            RolloutBatch,
            "~/rollout_batch",
            execute_callback=self._execute_batch,
            goal_callback=self._on_goal_request,
            handle_accepted_callback=self._accept_batch,
            cancel_callback=self._on_cancel_request,
            callback_group=group,
        )
        self._describe_service = self.create_service(
            DescribeModel, "~/describe", self._on_describe, callback_group=group
        )
        self.goals_orphaned = 0  # goals stopped because every client of their action was gone
        self._client_watch = self.create_timer(CLIENT_WATCH_PERIOD_S, self._watch_clients, callback_group=group)

    # ------------------------------------------------------------------ lifecycle
    @property
    def lifecycle_state(self) -> str:
        """The primary state the last transition callback left the node in (rclpy has no public
        getter; its state machine is private)."""
        return self._lifecycle_label

    @property
    def engine(self) -> WorldModelEngine | None:
        return self._engine

    def autostart_if_requested(self) -> bool:
        """configure + activate when the ``autostart`` parameter is true."""
        if not bool(self.get_parameter("autostart").value):
            return False
        if self.trigger_configure() != TransitionCallbackReturn.SUCCESS:
            return False
        return self.trigger_activate() == TransitionCallbackReturn.SUCCESS

    def on_configure(self, state: LifecycleState) -> TransitionCallbackReturn:
        try:
            params = read_engine_parameters(self)
        except ValueError as error:
            self.get_logger().error(f"configure failed: bad parameters: {error}")
            return TransitionCallbackReturn.FAILURE
        if not self._load_engine(params):
            return TransitionCallbackReturn.FAILURE
        self._params = params
        self._slots = RolloutSlots(params.busy_policy, params.max_queue)
        self._create_camera_subscriptions(params)
        # a lifecycle publisher: it publishes only while the node is active (the base class's
        # on_activate / on_deactivate switch it)
        self._predicted_publisher = self.create_lifecycle_publisher(
            Image,
            "~/predicted/image",
            QoSProfile(depth=params.predicted_qos_depth, reliability=ReliabilityPolicy.RELIABLE),
        )
        engine = self._require_engine()
        spec = engine.spec
        self.get_logger().info(
            f"configured: spec {spec.name} ({spec.height}x{spec.width}, chunk {spec.chunk_size}, "
            f"action_dim {spec.action_dim}, {spec.fps:g} fps) on {engine.device}; "
            f"busy_policy={params.busy_policy}"
        )
        self._lifecycle_label = "inactive"
        return TransitionCallbackReturn.SUCCESS

    def on_activate(self, state: LifecycleState) -> TransitionCallbackReturn:
        if self._engine is None and (self._params is None or not self._load_engine(self._params)):
            return TransitionCallbackReturn.FAILURE
        outcome = super().on_activate(state)  # activates the lifecycle publisher
        if outcome == TransitionCallbackReturn.SUCCESS:
            self._active, self._lifecycle_label = True, "active"
            self.get_logger().info("active: serving ~/rollout and ~/rollout_batch")
        return outcome

    def on_deactivate(self, state: LifecycleState) -> TransitionCallbackReturn:
        self._stop_serving()
        if self._params is not None and self._params.release_on_deactivate:
            self._close_engine()
        self._lifecycle_label = "inactive"
        return super().on_deactivate(state)

    def on_cleanup(self, state: LifecycleState) -> TransitionCallbackReturn:
        self._release_everything()
        self._lifecycle_label = "unconfigured"
        return TransitionCallbackReturn.SUCCESS

    def on_shutdown(self, state: LifecycleState) -> TransitionCallbackReturn:
        self._release_everything()
        self._lifecycle_label = "finalized"
        return TransitionCallbackReturn.SUCCESS

    def on_error(self, state: LifecycleState) -> TransitionCallbackReturn:
        self._release_everything()
        self._lifecycle_label = "unconfigured"  # error processing succeeded
        return TransitionCallbackReturn.SUCCESS

    def destroy_node(self) -> None:
        self._release_everything()
        super().destroy_node()

    def _load_engine(self, params: EngineParams) -> bool:
        try:
            self._engine = self._engine_loader(params.spec, params.weights or None, params.device)
        except Exception as error:  # noqa: BLE001 - any load failure fails the transition
            self.get_logger().error(
                f"configure failed: cannot load spec {params.spec!r} "
                f"(weights={params.weights or 'spec default'}, device={params.device}): "
                f"{type(error).__name__}: {error}"
            )
            self._engine = None
            return False
        return True

    def _close_engine(self) -> None:
        engine, self._engine = self._engine, None
        if engine is not None:
            engine.close()

    def begin_shutdown(self) -> None:
        """Process shutdown, step 1 (executor still spinning): refuse goals, end queued ones
        and make the running worker stop at its next step; see ``is_idle``."""
        self._shutting_down = True
        self._end_queued_goals()

    def is_idle(self) -> bool:
        """No goal in flight and no worker alive: the context may go away."""
        return not self._goals and self._workers.alive() == 0

    def workers_alive(self) -> int:
        return self._workers.alive()

    def _end_queued_goals(self) -> None:
        """Stop serving: queued goals are handed to their execute callbacks, which end them
        (NOT_ACTIVE); the running one stops at its worker's next check."""
        self._active = False  # also the running worker's stop signal (see _should_stop)
        for goal in self._goals_holding(self._slots.drain()):
            self._execute_to_end(goal)

    def _stop_serving(self) -> None:
        """Refuse new goals, end queued ones, let running ones stop, wait for workers."""
        self._end_queued_goals()
        if not self._workers.join(WORKER_JOIN_TIMEOUT_S):
            self.get_logger().warning(f"a rollout worker did not stop within {WORKER_JOIN_TIMEOUT_S:g} s")

    def _release_everything(self) -> None:
        self._stop_serving()
        for subscription in self._camera_subscriptions:
            self.destroy_subscription(subscription)
        self._camera_subscriptions = []
        with self._publish_lock:
            publisher, self._predicted_publisher = self._predicted_publisher, None
        if publisher is not None:
            self.destroy_lifecycle_publisher(publisher)
        self._camera.clear()
        self._close_engine()

    def _create_camera_subscriptions(self, params: EngineParams) -> None:
        reliability = (
            ReliabilityPolicy.RELIABLE if params.camera_reliability == "reliable" else ReliabilityPolicy.BEST_EFFORT
        )
        qos = QoSProfile(depth=1, history=HistoryPolicy.KEEP_LAST, reliability=reliability)
        self._camera_subscriptions = [self.create_subscription(Image, "image", self._on_camera_frame, qos)]
        if params.camera_compressed:
            self._camera_subscriptions.append(
                self.create_subscription(CompressedImage, "image/compressed", self._on_camera_frame, qos)
            )

    def _on_camera_frame(self, msg: Image | CompressedImage) -> None:
        now_ns = self.get_clock().now().nanoseconds
        self._camera.put(msg, time_to_ns(msg.header.stamp), msg.header.frame_id, now_ns)

    # ------------------------------------------------------------------ service
    def _on_describe(self, request: DescribeModel.Request, response: DescribeModel.Response) -> DescribeModel.Response:
        response.lifecycle_state = self.lifecycle_state
        response.loaded = self._engine is not None
        response.weights = str(self.get_parameter("weights").value)
        limits = self._work_limits()
        response.max_candidates = limits.max_candidates
        response.max_horizon = limits.max_horizon
        response.max_num_steps = limits.max_num_steps
        if self._engine is not None:
            response.spec = spec_to_msg(self._engine.spec, str(self._engine.device))
            return response
        try:
            from dream_engine_ros.engine.spec import get_spec

            name = str(self.get_parameter("spec").value)
            response.spec = spec_to_msg(get_spec(name), str(self.get_parameter("device").value))
        except Exception as error:  # noqa: BLE001 - describe must answer in every state
            self.get_logger().warning(f"describe: {error}")
        return response

    def _work_limits(self) -> WorkLimits:
        """The checked limits once configured; before that the parameters as set (0 if unreadable)."""
        if self._params is not None:
            params = self._params
            return WorkLimits(params.max_candidates, params.max_horizon, params.max_num_steps)
        values: list[int] = []
        for name in ("max_candidates", "max_horizon", "max_num_steps"):
            value = self.get_parameter(name).value
            values.append(value if isinstance(value, int) and not isinstance(value, bool) and value > 0 else 0)
        return WorkLimits(*values)

    # ------------------------------------------------------------------ goal intake
    def _on_goal_request(self, goal: Any) -> GoalResponse:
        if not self._active:
            self.get_logger().warning(f"goal rejected: node is {self.lifecycle_state}, not active")
            return GoalResponse.REJECT
        return GoalResponse.ACCEPT

    def _on_cancel_request(self, goal_handle: ServerGoalHandle) -> CancelResponse:
        """A running goal sees the cancel at its worker's next check; a queued one is ended
        now (after rclpy has moved it to CANCELING, so it never shows EXECUTING)."""
        goal = self._goals.get(bytes(goal_handle.goal_id.uuid))
        if goal is not None:
            self._execute_to_end(goal)
        return CancelResponse.ACCEPT

    def _accept_rollout(self, goal_handle: ServerGoalHandle) -> None:
        """handle_accepted_callback of ~/rollout."""
        goal = AcceptedGoal.create(goal_handle, self._run_rollout, self._feedback_topic("rollout"))
        self._admit(goal, self._prepare_rollout)

    def _accept_batch(self, goal_handle: ServerGoalHandle) -> None:
        """handle_accepted_callback of ~/rollout_batch."""
        goal = AcceptedGoal.create(goal_handle, self._run_batch, self._feedback_topic("rollout_batch"))
        self._admit(goal, self._prepare_batch)

    def _admit(self, goal: AcceptedGoal, prepare: Callable[[bytes, Any], RolloutJob]) -> None:
        """Validate the goal, then let the busy policy decide: execute it now, leave it queued
        in ACCEPTED, or queue it and preempt the running one. A goal that cannot run (invalid,
        BUSY, node not active) executes at once: its execute callback answers with the error."""
        self._goals[goal.goal_id] = goal
        try:
            if not self._active:
                raise GoalFailure(ErrorCode.NOT_ACTIVE, f"node is {self.lifecycle_state}, not active")
            goal.job = prepare(goal.goal_id, goal.goal_handle.request)
            decision, victims = self._slots.admit(goal.ticket)
            if decision is Decision.REJECT:
                raise self._busy_failure()
        except Exception as error:  # noqa: BLE001 - every intake failure becomes the goal's result
            goal.intake_error = error
            goal.start_execution()
            return
        for victim in self._goals_holding(victims):
            self._execute_to_end(victim)  # the running one stops at its worker's next check
        if decision is Decision.RUN:
            goal.start_execution()
        elif goal.goal_handle.is_cancel_requested:
            self._execute_to_end(goal)

    def _busy_failure(self) -> GoalFailure:
        params = self._require_params()
        detail = "a rollout is running" if params.busy_policy == "reject" else f"the queue is full ({params.max_queue})"
        return GoalFailure(ErrorCode.BUSY, f"busy: {detail} (busy_policy={params.busy_policy})")

    def _execute_to_end(self, goal: AcceptedGoal) -> None:
        """A goal that waits in ACCEPTED must end (canceled, preempted, orphaned, node
        inactive): its execute callback finds it not running and answers why. Scheduled on the
        executor, so callers on any thread, and rclpy's own cancel transition, come first."""
        executor = self.executor
        if not goal.executing and executor is not None:
            executor.create_task(goal.start_execution)

    def _goals_holding(self, tickets: list[Ticket]) -> list[AcceptedGoal]:
        return [goal for goal in list(self._goals.values()) if goal.ticket in tickets]

    def _start_frame(self, image: Image) -> StartFrame:
        """The goal's own image, or the latest camera frame when its width is 0."""
        params = self._require_params()
        now_ns = self.get_clock().now().nanoseconds
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
                f"{self.resolve_topic_name('image')} or put an image in the goal",
            ) from error
        except StaleFrameError as error:
            raise GoalFailure(ErrorCode.STALE_START_FRAME, str(error)) from error
        try:
            rgb = any_image_msg_to_rgb(cached.payload, "camera image")
        except ImageConversionError as error:
            raise GoalFailure(ErrorCode.INVALID_GOAL, str(error)) from error
        return StartFrame(rgb, cached.reference_ns, cached.frame_id or params.default_frame_id)

    def _require_params(self) -> EngineParams:
        if self._params is None or self._engine is None:
            raise GoalFailure(ErrorCode.NOT_ACTIVE, f"node is {self.lifecycle_state}; configure and activate it")
        return self._params

    def _require_engine(self) -> WorldModelEngine:
        self._require_params()
        assert self._engine is not None  # _require_params checked it
        return self._engine

    def _require_executor(self) -> Executor:
        executor = self.executor
        if executor is None:  # goals only run while an executor spins this node
            raise RuntimeError("the node is not added to an executor")
        return executor

    def _validate_with_engine(self, start: StartFrame, actions: np.ndarray, sampling: SamplingOverrides,
                              seed: int) -> None:
        """The engine's own rules (one place: engine/validation.py) on the whole request, every
        candidate of a batch included, before any model work."""
        batched = actions.ndim == 3
        seeds = [seed + k for k in range(actions.shape[0])] if batched else [seed]
        try:
            self._require_engine().validator.request(start.rgb, actions, sampling.num_steps, sampling.guidance,
                                                     seeds, batched=batched)
        except InputError as error:
            raise failure_from_input_error(error) from error

    def _check_bounds(self, goal: Rollout.Goal | RolloutBatch.Goal, num_candidates: int) -> None:
        """Node limits and the seed rule, before the actions are even reshaped."""
        spec = self._require_engine().spec
        check_work_limits(self._work_limits(), spec, int(goal.horizon), int(goal.num_steps), num_candidates)
        try:
            RequestValidator(spec).seed_range(int(goal.seed), max(1, num_candidates))
        except InputError as error:
            raise failure_from_input_error(error) from error

    def _prepare_rollout(self, goal_id: bytes, goal: Rollout.Goal) -> RolloutJob:
        self._require_params()
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

    def _prepare_batch(self, goal_id: bytes, goal: RolloutBatch.Goal) -> RolloutJob:
        spec = self._require_engine().spec
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
            cost = check_cost(str(goal.cost))
            if cost in ("pusht-pose", "pusht-state") and goal_rgb is not None:
                pusht_goal(goal_rgb, (spec.height, spec.width, 3))
        except InputError as error:
            raise failure_from_input_error(error) from error
        if cost in FRAMELESS_COSTS:
            if goal_rgb is None:
                raise GoalFailure(ErrorCode.INVALID_GOAL, f"cost {cost!r} scores against a goal_image: none given")
            if goal.write_video:
                raise GoalFailure(ErrorCode.INVALID_GOAL, f"cost {cost!r} draws no candidate frames: write_video "
                                  "needs cost 'pusht-pose' or 'last-frame'")
            if not self._require_engine().predicts_scene_states:
                raise GoalFailure(ErrorCode.INVALID_GOAL, f"cost {cost!r} needs a spec with scene-state dynamics "
                                  f"(contact and agent models); {spec.name!r} has none")
        if goal.return_best_frames and goal_rgb is None:
            raise GoalFailure(ErrorCode.INVALID_GOAL, "return_best_frames needs a goal_image to rank the candidates")
        bounds = (np.asarray(spec.action_low, np.float64), np.asarray(spec.action_high, np.float64)) \
            if spec.action_low else (None, None)
        search = plan_search(goal, cost, *bounds)
        if search is not None:
            check_work_limits(self._work_limits(), spec, int(goal.horizon), int(goal.num_steps), search.config.samples)
        return RolloutJob(
            goal_id, start, actions, int(goal.seed), sampling, write_video=bool(goal.write_video), goal_rgb=goal_rgb,
            cost=cost, fused=bool(goal.fused), return_best_frames=bool(goal.return_best_frames),
            history=self._history(goal), search=search,
        )

    def _history(self, goal: RolloutBatch.Goal) -> tuple[np.ndarray, np.ndarray] | None:
        """The frames and actions before the start frame (causal-video specs), checked up front."""
        if not goal.history_frames and not len(goal.history_actions):
            return None
        engine = self._require_engine()
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

    # ------------------------------------------------------------------ execution
    async def _execute_rollout(self, goal_handle: ServerGoalHandle) -> Rollout.Result:
        """execute_callback of ~/rollout."""
        return await self._execute(goal_handle, rollout_result)

    async def _execute_batch(self, goal_handle: ServerGoalHandle) -> RolloutBatch.Result:
        """execute_callback of ~/rollout_batch."""
        return await self._execute(goal_handle, batch_result)

    async def _execute(self, goal_handle: ServerGoalHandle, build_result: Callable[[GoalEnd], ResultT]) -> ResultT:
        """Run the goal to its end, answer with its action's result, then give the slot to the
        next queued goal (so no two goals ever show EXECUTING together)."""
        goal_id = bytes(goal_handle.goal_id.uuid)
        goal = self._goals.get(goal_id)
        try:
            end = await self._run_to_end(goal_handle, goal)
            result = build_result(end)
            self._set_terminal_state(goal_handle, end)  # last, right before the result (rclpy result races)
            return result
        finally:
            self._goals.pop(goal_id, None)
            if goal is not None:
                self._start_next(self._slots.release(goal.ticket))

    async def _run_to_end(self, goal_handle: ServerGoalHandle, goal: AcceptedGoal | None) -> GoalEnd:
        """What both actions share after the accepted callback's decision: the worker's outcome,
        or the reason the goal ends without one."""
        end = GoalEnd(seed=int(goal_handle.request.seed))
        if self._engine is not None:
            end.spec_name, end.fps = str(self._engine.spec.name), float(self._engine.spec.fps)
        if goal is None:  # only goals this node accepted reach here
            end.failure = GoalFailure(ErrorCode.ENGINE_ERROR, "goal was never admitted")
            return end
        ticket = goal.ticket
        try:
            if goal.job is not None:
                end.start_stamp_ns = goal.job.start.stamp_ns
            if goal.intake_error is not None:
                raise goal.intake_error
            if goal.job is None or self._slots.running is not ticket or self._should_stop(goal_handle, ticket):
                raise self._stop_reason(goal_handle, ticket, waited=True)  # ended before its turn came
            end.wait_s = time.monotonic() - goal.accepted_at
            job, work = goal.job, goal.work
            work_future = self._workers.start(self._require_executor(), lambda: work(job, goal_handle, ticket))
            end.outcome = cast(RolloutOutcome, await work_future)  # the worker's return value (or it raised)
        except GoalFailure as refused:
            end.failure = refused
        except (RolloutCancelled, StopRequested):
            end.failure = self._stop_reason(goal_handle, ticket)
        except InputError as error:
            end.failure = failure_from_input_error(error)
        except Exception as error:  # noqa: BLE001 - every failure becomes a result
            self.get_logger().error(f"rollout failed: {type(error).__name__}: {error}")
            end.failure = GoalFailure(ErrorCode.ENGINE_ERROR, f"{type(error).__name__}: {error}")
        if end.succeeded and goal_handle.is_cancel_requested:
            remove_videos(end.outcome.video_paths if end.outcome else [])  # no mp4 survives a cancel
            end.failure = self._stop_reason(goal_handle, ticket)
        if end.failure is not None:
            self.get_logger().info(
                f"goal {goal.goal_id.hex()[:8]} ended: {end.failure.code.name}: {end.failure.message}"
            )
        end.total_s = time.monotonic() - goal.accepted_at
        return end

    @staticmethod
    def _set_terminal_state(goal_handle: ServerGoalHandle, end: GoalEnd) -> None:
        if end.failure is None:
            goal_handle.succeed()
        elif end.failure.code == ErrorCode.CANCELED and goal_handle.is_cancel_requested:
            goal_handle.canceled()
        else:
            goal_handle.abort()

    def _start_next(self, ticket: Ticket | None) -> None:
        """The slot is free: the busy policy's next goal leaves ACCEPTED and executes."""
        for goal in self._goals_holding([ticket] if ticket is not None else []):
            goal.start_execution()

    def _should_stop(self, goal_handle: ServerGoalHandle, ticket: Ticket) -> bool:
        """Polled by the engine per denoising step and per candidate decode/encode, and by the
        node per mp4 and while the frame stream drains (worker thread)."""
        return goal_handle.is_cancel_requested or ticket.preempted or ticket.orphaned or not self._active

    def _feedback_topic(self, action_name: str) -> str:
        return f"{self.get_fully_qualified_name()}/{action_name}/_action/feedback"

    def _watch_clients(self) -> None:
        """Every action client subscribes to its action's feedback topic. When nobody does any
        more, every client of that action is gone (a planner that died or exited without
        canceling): its goals stop at their next check instead of holding the node busy for a
        result nobody will read. (A client killed without a goodbye is noticed when DDS drops
        its participant, after the lease duration.)"""
        for goal in list(self._goals.values()):
            topic, ticket = goal.feedback_topic, goal.ticket
            if not ticket.orphaned and self.count_subscribers(topic) == 0:
                ticket.orphaned = True
                self.goals_orphaned += 1
                self.get_logger().warning(f"goal {ticket.name[:8]}: no client of {topic.rsplit('/_action', 1)[0]} "
                                          "is left; stopping it")
                self._execute_to_end(goal)

    def _stop_reason(self, goal_handle: ServerGoalHandle, ticket: Ticket | None, waited: bool = False) -> GoalFailure:
        where = "while queued" if waited else "during the rollout"
        if goal_handle.is_cancel_requested:
            return GoalFailure(ErrorCode.CANCELED, f"canceled by the client {where}")
        if ticket is not None and ticket.preempted:
            return GoalFailure(ErrorCode.PREEMPTED, f"preempted by a newer goal {where} (busy_policy=preempt)")
        if ticket is not None and ticket.orphaned:
            return GoalFailure(ErrorCode.CANCELED, f"stopped {where}: no client of this action is left to receive "
                               "the result")
        if self._shutting_down:
            return GoalFailure(ErrorCode.NOT_ACTIVE, f"node is shutting down (signal) {where}")
        return GoalFailure(ErrorCode.NOT_ACTIVE, f"node left the active state {where} ({self.lifecycle_state})")

    # ------------------------------------------------------------------ worker side
    def _feedback_sender(self, goal_handle: ServerGoalHandle, action: type[Rollout] | type[RolloutBatch],
                         started: float) -> Callable[[ChunkEvent], None]:
        """Feedback is published from the executor thread (rcl action handles are not thread-safe)."""
        executor = self._require_executor()

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

    def _publish_predicted(self, item: PredictedFrame) -> None:
        """Pacer thread: one predicted frame, unless the publisher is already gone."""
        frame, stamp, frame_id = item
        message = rgb_to_image_msg(frame, stamp, frame_id)
        with self._publish_lock:
            if self._predicted_publisher is not None:
                self._predicted_publisher.publish(message)

    def _frame_pacer(self, job: RolloutJob) -> FramePacer[PredictedFrame] | None:
        if not job.publish_frames:
            return None
        rate = self._require_params().predicted_rate(float(self._require_engine().spec.fps))
        return FramePacer(self._publish_predicted, rate, name="dream_engine-predicted")

    def _run_rollout(self, job: RolloutJob, goal_handle: ServerGoalHandle, ticket: Ticket) -> RolloutOutcome:
        """Predict, stream the frames (paced) and write the mp4; the result follows the last frame."""
        engine, params = self._require_engine(), self._require_params()
        started = time.monotonic()
        send_feedback = self._feedback_sender(goal_handle, Rollout, started)
        fps = float(engine.spec.fps)

        def should_stop() -> bool:
            return self._should_stop(goal_handle, ticket)

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
            self.get_logger().warning(f"predicted stream stopped: {type(pacer.error).__name__}: {pacer.error}")
        return outcome

    def _run_batch(self, job: RolloutJob, goal_handle: ServerGoalHandle, ticket: Ticket) -> RolloutOutcome:
        engine, params = self._require_engine(), self._require_params()
        started = time.monotonic()
        send_feedback = self._feedback_sender(goal_handle, RolloutBatch, started)
        fps = float(engine.spec.fps)
        num_candidates = int(job.actions.shape[0])
        seeds = [job.seed + k for k in range(num_candidates)]  # seed + K - 1 < 2**32 checked up front
        history_frames, history_actions = job.history if job.history is not None else (None, None)
        if job.cost in FRAMELESS_COSTS:
            return self._score_scene_states(job, goal_handle, ticket)
        batch = engine.predict_batch(
            job.start.rgb,
            job.actions,
            seeds=seeds,
            num_steps=job.sampling.num_steps,
            guidance=job.sampling.guidance,
            on_chunk=send_feedback,
            should_cancel=lambda: self._should_stop(goal_handle, ticket),
            fused=job.fused,
            history_frames=history_frames,
            history_actions=history_actions,
        )
        frames = batch.frames
        outcome = RolloutOutcome(num_frames=int(frames.shape[1]), timings=dict(batch.timings))
        if job.goal_rgb is not None:
            if self._should_stop(goal_handle, ticket):
                raise StopRequested()
            scoring_started = time.perf_counter()
            scores = score_rollouts(engine, job.cost, frames, job.goal_rgb)
            outcome.timings["total_s"] = outcome.timings.get("total_s", 0.0) + time.perf_counter() - scoring_started
            outcome.scores = [float(score) for score in scores]
            outcome.best_index = int(np.argmin(scores))
            if job.return_best_frames:
                outcome.best_frames = [
                    rgb_to_image_msg(frame, predicted_frame_stamp(job.start.stamp_ns, i, fps), job.start.frame_id)
                    for i, frame in enumerate(frames[outcome.best_index])]
        if self._should_stop(goal_handle, ticket):
            raise StopRequested()
        if job.write_video:
            video_started = time.monotonic()
            try:
                for k in range(num_candidates):
                    if self._should_stop(goal_handle, ticket):  # one mp4 at most after a cancel
                        raise StopRequested()
                    path = rollout_video_path(params.output_path, job.goal_id, candidate=k)
                    outcome.video_paths.append(write_rollout_video(path, frames[k], fps))
            except (GoalFailure, StopRequested):
                remove_videos(outcome.video_paths)  # all candidates or none
                raise
            outcome.video_s = time.monotonic() - video_started
        return outcome


    def _score_scene_states(self, job: RolloutJob, goal_handle: ServerGoalHandle, ticket: Ticket) -> RolloutOutcome:
        """Decode-free scoring (cost "pusht-state"), or in search mode a whole CEM search over it:
        no candidate is drawn; with return_best_frames the best one (or the plan) is, through the
        full model (its exact row: the same seed and history)."""
        engine = self._require_engine()
        goal_rgb = job.goal_rgb
        assert goal_rgb is not None  # checked when the goal was accepted
        started = time.perf_counter()

        def score(candidates: np.ndarray) -> np.ndarray:
            if self._should_stop(goal_handle, ticket):  # between a search's iterations
                raise StopRequested()
            return score_scene_states(engine, job.start.rgb, candidates, goal_rgb, job.history)

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
            if self._should_stop(goal_handle, ticket):
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


def _publish_feedback_quietly(goal_handle: ServerGoalHandle, feedback: Any) -> None:
    """Feedback for a goal that already ended is dropped, not an error."""
    if goal_handle.is_active:
        goal_handle.publish_feedback(feedback)
