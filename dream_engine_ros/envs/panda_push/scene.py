"""A headless 3-D pushing scene: a Franka Panda arm nudges a red cube across a table, seen at 96 x 96.

Built from panda-gym's parts (its PyBullet wrapper and its Panda robot: URDF, joint limits, inverse
kinematics, joint position control) rather than its PandaPush-v3 environment, because that environment
draws its goal as a second, see-through cube (a pixel reader would take it for the object), steps at
25 Hz and takes displacements. Here the cube is the only red thing in view, one step is 0.1 s (the
10 Hz the recordings are stamped at), and the action is a planar hand velocity in m/s: the hand is held
at a pushing height with the gripper closed and pointing down, so the arm pushes like a planar pusher.

Rendering is PyBullet's CPU TinyRenderer in a DIRECT connection: no display and no GPU. Every reset
rebuilds the world, so an episode depends on its seed and actions only, not on what ran before it in
the same process.
"""

from __future__ import annotations

from types import TracebackType
from typing import Any

import numpy as np

from dream_engine_ros.envs.panda_push.camera import DEFAULT_CAMERA, Camera

FPS = 10.0
DT = 1.0 / FPS
PHYSICS_STEP = 1.0 / 500
ACTION_DIM = 2
MAX_SPEED = 0.3
"""m/s: a command is scaled down to this norm (about 2/3 of the cube's edge per step)."""
CUBE_SIZE = 0.05
CUBE_MASS = 0.5
CUBE_RGBA = (0.85, 0.1, 0.1, 1.0)
PUSH_HEIGHT = 0.025
"""Height of the hand's grasp point: the closed fingertips (about 3 cm along x, 6 cm along y) sweep the
cube's sides while the palm (21 cm wide, 3.5 cm above the grasp point) passes over its top."""
HAND_LOW = np.array([-0.3, -0.24])
HAND_HIGH = np.array([0.2, 0.24])
"""Where the hand may go (x, y): far enough inside the table's edges (x up to 0.25, y +-0.35) that the
cube it pushes stays on the table and in the camera's view."""
CUBE_RANGE = 0.1
"""A reset puts the cube's centre in [-CUBE_RANGE, CUBE_RANGE]^2 unless told where."""
MIN_CLEARANCE = 0.07
"""m between hand and cube centres below which a start would overlap them (half the cube's diagonal plus
half the fingertips' width)."""
DOWN = np.array([1.0, 0.0, 0.0, 0.0])  # quaternion (x, y, z, w): the gripper points at the table
ROBOT_BASE = np.array([-0.6, 0.0, 0.0])


def limit_speed(action: np.ndarray) -> np.ndarray:
    """The velocity a step executes: `action` (vx, vy) scaled down to MAX_SPEED if faster."""
    velocity = np.asarray(action, np.float64).reshape(ACTION_DIM).copy()
    if not np.all(np.isfinite(velocity)):
        raise ValueError(f"action {velocity.tolist()} is not finite")
    speed = float(np.linalg.norm(velocity))
    return velocity * (MAX_SPEED / speed) if speed > MAX_SPEED else velocity


class PandaPushScene:
    """One PyBullet world: reset(seed) -> step(action)* with render() and the ground truth in between."""

    def __init__(self, camera: Camera = DEFAULT_CAMERA) -> None:
        from panda_gym.pybullet import PyBullet

        self.camera = camera
        self.sim: Any = PyBullet(render_mode="rgb_array", n_substeps=round(DT / PHYSICS_STEP), renderer="Tiny")
        self.robot: Any = None
        self._view, self._projection = camera.gl_matrices()
        self._build()

    # ------------------------------------------------------------------ world

    def _build(self) -> None:
        from panda_gym.envs.robots.panda import Panda

        client = self.sim.physics_client
        client.resetSimulation()
        client.setTimeStep(PHYSICS_STEP)
        client.setGravity(0, 0, -9.81)
        self.robot = Panda(self.sim, block_gripper=True, base_position=ROBOT_BASE, control_type="ee")
        self.sim.create_plane(z_offset=-0.4)
        self.sim.create_table(length=1.1, width=0.7, height=0.4, x_offset=-0.3)
        half = CUBE_SIZE / 2
        self.sim.create_box(body_name="cube", half_extents=np.full(3, half), mass=CUBE_MASS,
                            position=np.array([0.0, 0.0, half]), rgba_color=np.array(CUBE_RGBA))

    def close(self) -> None:
        self.sim.close()

    def __enter__(self) -> PandaPushScene:
        return self

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None,
                 trace: TracebackType | None) -> None:
        self.close()

    # ------------------------------------------------------------------ episode

    def reset(self, seed: int, cube_xy: np.ndarray | None = None, hand_xy: np.ndarray | None = None) -> np.ndarray:
        """A fresh world with the cube (yaw random) and the hand where given, else drawn from `seed`
        (a drawn hand at least 12 cm from the cube, a given one at least MIN_CLEARANCE). Returns the
        first frame."""
        rng = np.random.default_rng(seed)
        cube = rng.uniform(-CUBE_RANGE, CUBE_RANGE, 2) if cube_xy is None else np.asarray(cube_xy, np.float64)
        yaw = float(rng.uniform(-np.pi / 4, np.pi / 4))
        if hand_xy is None:
            hand = rng.uniform(HAND_LOW, HAND_HIGH)
            while np.linalg.norm(hand - cube) < 0.12:
                hand = rng.uniform(HAND_LOW, HAND_HIGH)
        else:
            hand = np.asarray(hand_xy, np.float64)
            if np.linalg.norm(hand - cube) < MIN_CLEARANCE:
                raise ValueError(f"hand {hand.tolist()} would start inside or against the cube at {cube.tolist()}")
        self._build()
        client = self.sim.physics_client
        self.sim.set_base_pose("cube", np.array([cube[0], cube[1], CUBE_SIZE / 2]),
                               np.asarray(client.getQuaternionFromEuler([0.0, 0.0, yaw])))
        self.robot.reset()
        target = np.array([hand[0], hand[1], PUSH_HEIGHT])
        for _ in range(8):  # IK from the neutral pose converges in a few rounds
            angles = self._arm_angles(target)
            self.robot.set_joint_angles(np.concatenate([angles, [0.0, 0.0]]))
        self._hold(target)
        self.sim.step()
        return self.render()

    def step(self, action: np.ndarray) -> None:
        """Move the hand with planar velocity `action` (vx, vy) m/s for one step (DT)."""
        velocity = limit_speed(action)
        goal = np.clip(self.hand_position()[:2] + velocity * DT, HAND_LOW, HAND_HIGH)
        self._hold(np.array([goal[0], goal[1], PUSH_HEIGHT]))
        self.sim.step()

    def _arm_angles(self, target: np.ndarray) -> np.ndarray:
        return np.asarray(self.robot.inverse_kinematics(link=self.robot.ee_link, position=target,
                                                        orientation=DOWN), np.float64)[:7]

    def _hold(self, target: np.ndarray) -> None:
        self.robot.control_joints(target_angles=np.concatenate([self._arm_angles(target), [0.0, 0.0]]))

    # ------------------------------------------------------------------ observation

    def render(self) -> np.ndarray:
        """The camera's frame, (size, size, 3) uint8."""
        client = self.sim.physics_client
        size = self.camera.size
        _, _, rgba, _, _ = client.getCameraImage(size, size, self._view, self._projection, shadow=0,
                                                 renderer=client.ER_TINY_RENDERER,
                                                 flags=client.ER_NO_SEGMENTATION_MASK)
        return np.asarray(rgba, np.uint8).reshape(size, size, 4)[:, :, :3].copy()

    def cube_position(self) -> np.ndarray:
        """Ground truth (evaluation only): the cube's centre (x, y, z) in m."""
        return np.asarray(self.sim.get_base_position("cube"), np.float64)

    def hand_position(self) -> np.ndarray:
        """The grasp point between the closed fingertips (x, y, z) in m."""
        return np.asarray(self.robot.get_ee_position(), np.float64)
