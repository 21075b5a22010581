"""Lifecycle node ``dream_engine``: action servers in front of the world-model engine.

configure = read parameters + load spec and weights; activate = serve goals; deactivate =
stop serving (running goals end with NOT_ACTIVE); cleanup/shutdown = free the model.
Every goal that is accepted ends with a result carrying an error code and a message; the
node keeps serving afterwards. Blocking model work runs on a worker thread (see
worker_bridge) so cancel requests, feedback and camera frames keep flowing.

This module is the node itself: parameters, lifecycle transitions, the engine it loads and
frees, and the topics, action servers and service it offers. Each job is a part it composes:
goal_flow (an accepted goal's path: busy policy, worker, terminal state and result),
goal_intake (goal message -> checked RolloutJob), rollout_execution (the job on the model:
predict, stream ``~/predicted/image``, score, write mp4s), camera_input (the camera topics)
and describe (what ``~/describe`` answers).
"""

from __future__ import annotations

from typing import Any

from rclpy.action import ActionServer
from rclpy.callback_groups import ReentrantCallbackGroup
from rclpy.lifecycle import LifecycleNode, LifecycleState, TransitionCallbackReturn
from rclpy.qos import QoSProfile, ReliabilityPolicy
from sensor_msgs.msg import CompressedImage, Image

from dream_engine_msgs.action import Rollout, RolloutBatch
from dream_engine_msgs.srv import DescribeModel
from dream_engine_ros.ros.accepted_goal import AcceptedGoal, GoalHandle, StopCheck
from dream_engine_ros.ros.camera_cache import LatestFrameCache
from dream_engine_ros.ros.camera_input import CameraInput
from dream_engine_ros.ros.describe import describe_node
from dream_engine_ros.ros.engine_protocol import EngineLoader, WorldModelEngine
from dream_engine_ros.ros.error_codes import ErrorCode, GoalFailure
from dream_engine_ros.ros.goal_flow import GoalFlow
from dream_engine_ros.ros.goal_intake import GoalIntake
from dream_engine_ros.ros.goal_results import batch_result, rollout_result
from dream_engine_ros.ros.params import EngineParams, declare_engine_parameters, read_engine_parameters
from dream_engine_ros.ros.rollout_execution import PredictedImageOutlet, RolloutExecution
from dream_engine_ros.ros.rollout_job import RolloutJob, RolloutOutcome
from dream_engine_ros.ros.worker_bridge import require_executor

CLIENT_WATCH_PERIOD_S = 1.0  # how often goals are checked for a client still listening


def load_dream_engine(spec: str, weights: str | None, device: str) -> WorldModelEngine:
    """Default loader: the engine core (imported lazily so this module imports fast)."""
    from dream_engine_ros.engine.runner import DreamEngine

    return DreamEngine.load(spec, weights=weights, device=device)


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
        self._lifecycle_label = "unconfigured"
        self._camera: LatestFrameCache[Image | CompressedImage] = LatestFrameCache()
        self._camera_input = CameraInput(self, self._camera)
        self._predicted = PredictedImageOutlet()
        self._flow = GoalFlow(self, f"{node_name}-rollout", lambda: self.lifecycle_state, lambda: self.engine)
        group = ReentrantCallbackGroup()
        self._rollout_server = ActionServer(
            self,
            Rollout,
            "~/rollout",
            execute_callback=self._execute_rollout,
            goal_callback=self._flow.on_goal_request,
            handle_accepted_callback=self._accept_rollout,
            cancel_callback=self._flow.on_cancel_request,
            callback_group=group,
        )
        self._batch_server = ActionServer(
            self,
            RolloutBatch,
            "~/rollout_batch",
            execute_callback=self._execute_batch,
            goal_callback=self._flow.on_goal_request,
            handle_accepted_callback=self._accept_batch,
            cancel_callback=self._flow.on_cancel_request,
            callback_group=group,
        )
        self._describe_service = self.create_service(
            DescribeModel, "~/describe", self._on_describe, callback_group=group
        )
        self._client_watch = self.create_timer(CLIENT_WATCH_PERIOD_S, self._flow.watch_clients, callback_group=group)

    # ------------------------------------------------------------------ state
    @property
    def lifecycle_state(self) -> str:
        """The primary state the last transition callback left the node in (rclpy has no public
        getter; its state machine is private)."""
        return self._lifecycle_label

    @property
    def engine(self) -> WorldModelEngine | None:
        return self._engine

    @property
    def goals_orphaned(self) -> int:
        """Goals stopped because every client of their action was gone."""
        return self._flow.goals_orphaned

    @property
    def goal_running(self) -> bool:
        """A goal holds the rollout slot (queued ones wait behind it)."""
        return self._flow.goal_running

    # ------------------------------------------------------------------ lifecycle
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
        self._flow.set_busy_policy(params.busy_policy, params.max_queue)
        self._camera_input.open(params.camera_reliability, params.camera_compressed)
        # a lifecycle publisher: it publishes only while the node is active (the base class's
        # on_activate / on_deactivate switch it)
        self._predicted.attach(self.create_lifecycle_publisher(
            Image,
            "~/predicted/image",
            QoSProfile(depth=params.predicted_qos_depth, reliability=ReliabilityPolicy.RELIABLE),
        ))
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
            self._flow.start_serving()
            self._lifecycle_label = "active"
            self.get_logger().info("active: serving ~/rollout and ~/rollout_batch")
        return outcome

    def on_deactivate(self, state: LifecycleState) -> TransitionCallbackReturn:
        self._flow.stop_serving()
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

    def begin_shutdown(self) -> None:
        """Process shutdown, step 1 (executor still spinning): refuse goals, end queued ones
        and make the running worker stop at its next step; see ``is_idle``."""
        self._flow.begin_shutdown()

    def is_idle(self) -> bool:
        """No goal in flight and no worker alive: the context may go away."""
        return self._flow.is_idle()

    def workers_alive(self) -> int:
        return self._flow.workers_alive()

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

    def _release_everything(self) -> None:
        self._flow.stop_serving()
        self._camera_input.close()
        publisher = self._predicted.detach()
        if publisher is not None:
            self.destroy_lifecycle_publisher(publisher)
        self._close_engine()

    # ------------------------------------------------------------------ service
    def _on_describe(self, request: DescribeModel.Request, response: DescribeModel.Response) -> DescribeModel.Response:
        return describe_node(self, response, self.lifecycle_state, self._engine, self._params)

    # ------------------------------------------------------------------ actions: what each one runs
    def _accept_rollout(self, goal_handle: GoalHandle) -> None:
        """handle_accepted_callback of ~/rollout."""
        goal = AcceptedGoal.create(goal_handle, self._run_rollout, self._flow.feedback_topic("rollout"))
        self._flow.admit(goal, self._prepare_rollout)

    def _accept_batch(self, goal_handle: GoalHandle) -> None:
        """handle_accepted_callback of ~/rollout_batch."""
        goal = AcceptedGoal.create(goal_handle, self._run_batch, self._flow.feedback_topic("rollout_batch"))
        self._flow.admit(goal, self._prepare_batch)

    async def _execute_rollout(self, goal_handle: GoalHandle) -> Rollout.Result:
        """execute_callback of ~/rollout."""
        return await self._flow.execute(goal_handle, rollout_result)

    async def _execute_batch(self, goal_handle: GoalHandle) -> RolloutBatch.Result:
        """execute_callback of ~/rollout_batch."""
        return await self._flow.execute(goal_handle, batch_result)

    def _prepare_rollout(self, goal_id: bytes, goal: Rollout.Goal) -> RolloutJob:
        return self._intake().rollout_job(goal_id, goal)

    def _prepare_batch(self, goal_id: bytes, goal: RolloutBatch.Goal) -> RolloutJob:
        return self._intake().batch_job(goal_id, goal)

    def _run_rollout(self, job: RolloutJob, goal_handle: GoalHandle, should_stop: StopCheck) -> RolloutOutcome:
        return self._execution().rollout(job, goal_handle, should_stop)

    def _run_batch(self, job: RolloutJob, goal_handle: GoalHandle, should_stop: StopCheck) -> RolloutOutcome:
        return self._execution().batch(job, goal_handle, should_stop)

    def _intake(self) -> GoalIntake:
        """Checks a goal against the engine loaded now (accepted callback, executor thread)."""
        engine, params = self._require_engine(), self._require_params()
        return GoalIntake(engine, params, self._camera, self.get_clock(), self.resolve_topic_name("image"))

    def _execution(self) -> RolloutExecution:
        """Runs a job on the engine loaded now (worker thread)."""
        engine, params = self._require_engine(), self._require_params()
        return RolloutExecution(engine, params, require_executor(self), self._predicted, self.get_logger())

    def _require_params(self) -> EngineParams:
        if self._params is None or self._engine is None:
            raise GoalFailure(ErrorCode.NOT_ACTIVE, f"node is {self.lifecycle_state}; configure and activate it")
        return self._params

    def _require_engine(self) -> WorldModelEngine:
        self._require_params()
        assert self._engine is not None  # _require_params checked it
        return self._engine
