"""PushT policies of clearly different quality, all of them reading the scene from the image.

Why image-only: the same policy must run on the simulator's rendered frames and on a world
model's predicted frames, so the only thing it may look at is pixels. Each policy reads the agent
and the T with `pusht_reader.read_scenes` and returns the next chunk of absolute targets (env
units, [0, 512]); the agent follows a target with gym-pusht's PD controller.

The scripted pusher: the T is moved quasi-statically by the agent (it stops when the agent
stops), so a push at a point p of the T's outline along the inward normal u moves the block by
about the push length L along u and turns it by about L * cross(p - cog, u) / RHO2. For every
candidate contact (points along the eight edges of the T) and push length, the pusher predicts
the pose error after the push and takes the push that leaves the smallest error (translation in
units of 20, angle in units of pi/9: the scale of the success tolerances); it then walks to the
pre-contact point (around the block when the straight way would hit it) and pushes. Variants
differ in push gain, target noise, and which error they reduce.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from dream_engine_ros.envs.pusht.evaluation.coverage import GOAL_POSE
from dream_engine_ros.envs.pusht.evaluation.reader import T_CENTROID_LOCAL, read_scenes

LOW, HIGH = 20.0, 492.0  # keep targets off the walls (gym-pusht walls at 5 and 506)
AGENT_RADIUS = 15.0
T_COG_LOCAL = np.array([0.0, 45.0])  # gym-pusht's centre of gravity (mean of bar and stem centres)
RHO2 = 2400.0  # effective radius of gyration^2 of the push model (world units^2), tuned in the simulator
CLEARANCE = 110.0  # radius of the detour circle around the block's centre of gravity

# The T's outline in its body frame: (start, end, outward normal) of each edge.
_EDGES = (
    ((-60, 0), (60, 0), (0, -1)), ((60, 0), (60, 30), (1, 0)), ((60, 30), (15, 30), (0, 1)),
    ((15, 30), (15, 120), (1, 0)), ((15, 120), (-15, 120), (0, 1)), ((-15, 120), (-15, 30), (-1, 0)),
    ((-15, 30), (-60, 30), (0, 1)), ((-60, 30), (-60, 0), (-1, 0)),
)


def _contacts(spacing: float = 7.5, inset: float = 6.0) -> tuple[np.ndarray, np.ndarray]:
    """Candidate contact points (N, 2) and outward normals (N, 2) in the body frame."""
    points, normals = [], []
    for start, end, normal in _EDGES:
        a, b = np.asarray(start, float), np.asarray(end, float)
        length = float(np.hypot(*(b - a)))
        for s in np.arange(inset, length - inset + 1e-6, spacing):
            points.append(a + (b - a) * s / length)
            normals.append(np.asarray(normal, float))
    return np.array(points), np.array(normals)


CONTACT_POINTS, CONTACT_NORMALS = _contacts()
PUSH_LENGTHS = np.array([4.0, 8.0, 15.0, 25.0, 40.0])


def _rotation(angle: float) -> np.ndarray:
    c, s = np.cos(angle), np.sin(angle)
    return np.array([[c, -s], [s, c]])


def wrap(angle: np.ndarray | float) -> np.ndarray:
    return (np.asarray(angle) + np.pi) % (2 * np.pi) - np.pi


@dataclass(frozen=True)
class Scene:
    """What a policy reads from one frame (world units); None fields where unreadable."""

    agent: np.ndarray | None
    block_origin: np.ndarray | None  # the T's body origin
    angle: float | None


def read_scene(frame: np.ndarray) -> Scene:
    scene = read_scenes(frame[None])
    agent = scene.agent[0] if np.isfinite(scene.agent[0]).all() else None
    if not np.isfinite(scene.block[0]).all():
        return Scene(agent, None, None)
    angle = float(scene.angle[0])
    return Scene(agent, scene.block[0] - _rotation(angle) @ T_CENTROID_LOCAL, angle)


GOAL_COG = GOAL_POSE[:2] + _rotation(float(GOAL_POSE[2])) @ T_COG_LOCAL


@dataclass(frozen=True)
class Push:
    contact: np.ndarray  # world point on the T's outline
    direction: np.ndarray  # unit push direction (into the block)
    length: float


def choose_push(origin: np.ndarray, angle: float, turn_weight: float = 1.0, toward_goal: bool = True) -> Push:
    """The push whose predicted result is nearest the goal pose (farthest when not `toward_goal`)."""
    rot = _rotation(angle)
    cog = origin + rot @ T_COG_LOCAL
    points = origin + CONTACT_POINTS @ rot.T
    directions = -(CONTACT_NORMALS @ rot.T)
    lever = points - cog
    torque = lever[:, 0] * directions[:, 1] - lever[:, 1] * directions[:, 0]
    error = GOAL_COG - cog
    turn = float(wrap(GOAL_POSE[2] - angle))
    lengths = PUSH_LENGTHS[None, :, None]
    moved = error[None, None, :] - directions[:, None, :] * lengths  # (N, L, 2) error after the push
    turned = turn - lengths[..., 0] * torque[:, None] / RHO2
    cost = np.hypot(moved[..., 0], moved[..., 1]) / 20.0 + turn_weight * np.abs(turned) / (np.pi / 9)
    pick = np.unravel_index(np.argmin(cost) if toward_goal else np.argmax(cost), cost.shape)
    return Push(points[pick[0]], directions[pick[0]], float(PUSH_LENGTHS[pick[1]]))


def _blocked(a: np.ndarray, b: np.ndarray, cog: np.ndarray, radius: float) -> bool:
    """Does the segment a -> b pass within `radius` of the block's centre of gravity?"""
    d = b - a
    t = float(np.clip(np.dot(cog - a, d) / max(float(np.dot(d, d)), 1e-9), 0.0, 1.0))
    return float(np.hypot(*(a + t * d - cog))) < radius


def route(agent: np.ndarray, goal: np.ndarray, cog: np.ndarray) -> list[np.ndarray]:
    """Waypoints from the agent to `goal`: straight, or around the detour circle when straight
    would run through the block."""
    if not _blocked(agent, goal, cog, 75.0):
        return [goal]
    start_angle = np.arctan2(*(agent - cog)[::-1])
    end_angle = np.arctan2(*(goal - cog)[::-1])
    sweep = float(wrap(end_angle - start_angle))
    steps = max(2, int(abs(sweep) / 0.5) + 1)
    circle = [cog + CLEARANCE * np.array([np.cos(a), np.sin(a)])
              for a in start_angle + sweep * np.linspace(0.0, 1.0, steps)]
    return [*circle, goal]


def along(start: np.ndarray, waypoints: list[np.ndarray], speed: float, count: int) -> list[np.ndarray]:
    """`count` targets walking the waypoints at `speed` units per step (holding the last)."""
    out: list[np.ndarray] = []
    position, queue = np.asarray(start, float), list(waypoints)
    while len(out) < count:
        budget = speed
        while queue and budget > 0:
            d = queue[0] - position
            n = float(np.hypot(*d))
            if n <= budget:
                position, budget = queue.pop(0), budget - n
            else:
                position, budget = position + d * (budget / n), 0.0
        out.append(position.copy())
    return out


Policy = Callable[[np.ndarray, int, np.random.Generator], np.ndarray]
"""(frames (n, H, W, 3) uint8, latest last; chunk size; the episode's generator) -> (chunk, 2)."""


def hold(agent: np.ndarray | None, chunk: int) -> np.ndarray:
    position = agent if agent is not None else np.array([256.0, 256.0])
    return np.repeat(np.asarray(position, np.float32)[None], chunk, axis=0)


@dataclass(frozen=True)
class ScriptedPusher:
    """Reads the T, picks a push (`choose_push`), walks there and pushes with `gain` x its length."""

    gain: float = 1.6  # pushes this much longer than the push model asks: contacts slide (best of a sweep)
    noise: float = 0.0  # std of Gaussian target noise (world units)
    turn_weight: float = 1.0  # 0: translation only
    toward_goal: bool = True  # False: the push that leaves the block farthest from the goal
    speed: float = 30.0  # walking speed (units per step)
    push_speed: float = 6.0
    dwell: int = 3  # steps holding the push's end (the PD-driven agent lags its target by ~2 steps)

    def __call__(self, frames: np.ndarray, chunk: int, rng: np.random.Generator) -> np.ndarray:
        scene = read_scene(np.asarray(frames)[-1])
        if scene.agent is None or scene.block_origin is None or scene.angle is None:
            return hold(scene.agent, chunk)
        agent, origin, angle = np.asarray(scene.agent, float), scene.block_origin, scene.angle
        targets: list[np.ndarray] = []
        while len(targets) < chunk:  # push after push, the block's pose predicted by the push model
            push = choose_push(origin, angle, self.turn_weight, self.toward_goal)
            targets += self._push_targets(agent, origin, angle, push, chunk - len(targets))
            agent = targets[-1]
            origin, angle = predict_push(origin, angle, push, push.length * self.gain)
        out = np.clip(np.array(targets[:chunk]), LOW, HIGH)
        if self.noise > 0:
            out = np.clip(out + rng.normal(0.0, self.noise, out.shape), LOW, HIGH)
        chunk_targets: np.ndarray = out.astype(np.float32)
        return chunk_targets

    def _push_targets(self, agent: np.ndarray, origin: np.ndarray, angle: float, push: Push,
                      count: int) -> list[np.ndarray]:
        """Walk to the pre-contact point (around the block if needed), then push; <= `count`."""
        normal = -push.direction
        pre = push.contact + normal * (AGENT_RADIUS + 6.0)
        end = push.contact + normal * AGENT_RADIUS + push.direction * push.length * self.gain
        cog = origin + _rotation(angle) @ T_COG_LOCAL
        targets: list[np.ndarray] = []
        if float(np.hypot(*(agent - pre))) > 4.0:
            targets = along(agent, route(agent, pre, cog), self.speed, count)
            walked = next((i for i, t in enumerate(targets) if np.allclose(t, pre)), None)
            targets = targets if walked is None else targets[:walked + 1]
        start = targets[-1] if targets else agent
        steps = int(np.ceil(float(np.hypot(*(end - pre))) / self.push_speed)) + self.dwell
        return targets + along(start, [pre, end], self.push_speed, min(steps, count - len(targets)))


def predict_push(origin: np.ndarray, angle: float, push: Push, length: float) -> tuple[np.ndarray, float]:
    """The push model: the block's pose after pushing `length` at `push.contact`."""
    cog = origin + _rotation(angle) @ T_COG_LOCAL
    lever = push.contact - cog
    torque = lever[0] * push.direction[1] - lever[1] * push.direction[0]
    new_angle = angle + length * torque / RHO2
    new_cog = cog + push.direction * length
    return new_cog - _rotation(new_angle) @ T_COG_LOCAL, float(new_angle)


@dataclass(frozen=True)
class Still:
    """Holds the agent where it is (the T stays where it started)."""

    def __call__(self, frames: np.ndarray, chunk: int, rng: np.random.Generator) -> np.ndarray:
        return hold(read_scene(np.asarray(frames)[-1]).agent, chunk)


@dataclass(frozen=True)
class RandomTargets:
    """A fresh uniform random target every `hold_steps` steps."""

    hold_steps: int = 4

    def __call__(self, frames: np.ndarray, chunk: int, rng: np.random.Generator) -> np.ndarray:
        picks = rng.uniform(LOW, HIGH, size=((chunk + self.hold_steps - 1) // self.hold_steps, 2))
        return np.repeat(picks, self.hold_steps, axis=0)[:chunk].astype(np.float32)


@dataclass(frozen=True)
class DriveToGoal:
    """Drives the agent straight through the goal's centre (bumps the T when it is in the way)."""

    def __call__(self, frames: np.ndarray, chunk: int, rng: np.random.Generator) -> np.ndarray:
        agent = read_scene(np.asarray(frames)[-1]).agent
        start = agent if agent is not None else GOAL_COG
        return np.array(along(start, [GOAL_COG.copy()], 14.0, chunk), dtype=np.float32)


POLICIES: dict[str, Policy] = {
    "pusher": ScriptedPusher(),
    "pusher-cautious": ScriptedPusher(gain=0.8),
    "pusher-noisy": ScriptedPusher(noise=10.0),
    "pusher-overshoot": ScriptedPusher(gain=3.5),
    "pusher-translate-only": ScriptedPusher(turn_weight=0.0),
    "pusher-very-noisy": ScriptedPusher(noise=30.0),
    "drive-to-goal": DriveToGoal(),
    "random": RandomTargets(),
    "still": Still(),
    "pusher-wrong-side": ScriptedPusher(toward_goal=False),
}
"""The shipped set, best first by design (measured order in docs/POLICY_EVAL.md)."""


def get_policy(name: str) -> Policy:
    if name not in POLICIES:
        raise KeyError(f"unknown PushT policy {name!r}; known: {', '.join(POLICIES)}")
    return POLICIES[name]


# `module:callable` entry points for `dream-engine evaluate-policy --policy ...`
pusher = POLICIES["pusher"]
pusher_cautious = POLICIES["pusher-cautious"]
pusher_noisy = POLICIES["pusher-noisy"]
pusher_overshoot = POLICIES["pusher-overshoot"]
pusher_translate_only = POLICIES["pusher-translate-only"]
pusher_very_noisy = POLICIES["pusher-very-noisy"]
drive_to_goal = POLICIES["drive-to-goal"]
random_targets = POLICIES["random"]
still = POLICIES["still"]
pusher_wrong_side = POLICIES["pusher-wrong-side"]
