"""Scripted pushers that make the episodes: they see the simulator's hand and cube (data generators, not
agents under test) and answer a planar hand velocity in m/s.

Two rules that differ in what they do with the cube, so a model trained on one is tested on motion it
has not seen as such:
  `PushThrough` (training): line up behind the cube in a random direction and keep pushing it, steering
      at its centre, at a slow-to-brisk speed; now and then it turns to a new direction or pauses, and
      at the edge of the pushing area it turns a quarter back inwards.
  `AxisTaps` (held out): short, quick taps along the table's axes (+-x, +-y), each followed by a
      back-off and a still moment, then a tap at right angles to the last one (the cube zig-zags).
Both walk around the cube to get behind it (never through it), and both turn their pushes towards the
middle when the cube nears the edge of the pushing area, so the cube stays on the table and in view.
"""

from __future__ import annotations

import numpy as np

from dream_engine_ros.envs.panda_push.scene import CUBE_SIZE, DT, MAX_SPEED, limit_speed

HALF = CUBE_SIZE / 2
FINGER = 0.03
"""Half the closed fingertips' larger width (they are about 3 cm along x and 6 cm along y)."""
BEHIND = float(HALF * np.sqrt(2)) + FINGER + 0.01
"""Where a push starts: this far behind the cube's centre along the push direction (clear of a cube
turned by up to 45 degrees)."""
SIDE = float(HALF * np.sqrt(2)) + FINGER + 0.02
"""How far sideways the hand passes the cube when it walks around it."""
AREA_LOW = np.array([-0.17, -0.14])
AREA_HIGH = np.array([0.1, 0.14])
"""Where the cube should stay; outside it, pushes turn towards MIDDLE."""
MIDDLE = np.array([-0.025, 0.0])


def unit(v: np.ndarray) -> np.ndarray:
    norm = float(np.linalg.norm(v))
    return v / norm if norm > 1e-9 else np.zeros_like(v)


def heading(angle: float) -> np.ndarray:
    return np.array([np.cos(angle), np.sin(angle)])


def towards_middle(cube: np.ndarray, rng: np.random.Generator, spread: float) -> np.ndarray:
    """A push direction from the cube towards the middle of the table, give or take `spread` rad."""
    to_middle = MIDDLE - cube
    angle = float(np.arctan2(to_middle[1], to_middle[0])) + float(rng.uniform(-spread, spread))
    return heading(angle)


def near_edge(cube: np.ndarray) -> bool:
    return bool(np.any(cube < AREA_LOW) or np.any(cube > AREA_HIGH))


class Approach:
    """Walks the hand to the start of a push along `direction` without touching the cube on the way:
    sideways out of the cube's path, back along its side, then in behind it."""

    def __init__(self, direction: np.ndarray, speed: float) -> None:
        self.direction = unit(direction)
        self.normal = np.array([-self.direction[1], self.direction[0]])
        self.speed = speed
        self.side = 0.0

    def target(self, hand: np.ndarray, cube: np.ndarray) -> np.ndarray:
        rel = hand - cube
        along, lateral = float(rel @ self.direction), float(rel @ self.normal)
        if self.side == 0.0:
            self.side = 1.0 if lateral >= 0 else -1.0
        # the first two waypoints lie past the line that ends their leg, so the hand crosses it at speed
        if along > -BEHIND + 0.01:  # not behind the cube yet
            if abs(lateral) < SIDE - 0.01:  # in its way: step out sideways first
                return cube + along * self.direction + self.side * (SIDE + 0.03) * self.normal
            return cube - (BEHIND + 0.03) * self.direction + self.side * SIDE * self.normal
        return cube - BEHIND * self.direction

    def ready(self, hand: np.ndarray, cube: np.ndarray) -> bool:
        return float(np.linalg.norm(hand - (cube - BEHIND * self.direction))) < 0.015

    def velocity(self, hand: np.ndarray, cube: np.ndarray) -> np.ndarray:
        """Most of the way to the next waypoint in one step, at most `speed`."""
        step: np.ndarray = (self.target(hand, cube) - hand) * (0.7 / DT)
        norm = float(np.linalg.norm(step))
        return step * (self.speed / norm) if norm > self.speed else step


class PushThrough:
    """The training rule (module docstring)."""

    def __init__(self, rng: np.random.Generator) -> None:
        self.rng = rng
        self.noise = float(rng.uniform(0.01, 0.04))
        self.push_speed = float(rng.uniform(0.06, 0.25))
        self.approach = Approach(heading(float(rng.uniform(0, 2 * np.pi))), float(rng.uniform(0.2, MAX_SPEED)))
        self.pushing = False
        self.paused = 0

    def _turn(self, cube: np.ndarray) -> None:
        """A new push direction. At the area's edge: a quarter turn, to whichever side leads back inside,
        bent further inwards; the hand is then already beside the cube, a short walk from behind it."""
        old = self.approach.direction
        if near_edge(cube):
            inwards = unit(MIDDLE - cube)
            side = np.array([-old[1], old[0]])
            side = side if float(side @ inwards) >= 0 else -side
            direction = unit(side + float(self.rng.uniform(0.2, 0.8)) * inwards)
        else:
            direction = heading(float(np.arctan2(old[1], old[0])) + float(self.rng.uniform(-1.2, 1.2)))
        self.approach = Approach(direction, self.approach.speed)
        self.pushing = False

    def __call__(self, hand: np.ndarray, cube: np.ndarray) -> np.ndarray:
        if self.paused > 0:
            self.paused -= 1
            return np.zeros(2)
        if self.rng.random() < 0.03:
            self.paused = int(self.rng.integers(1, 4))
            return np.zeros(2)
        direction = self.approach.direction
        if self.pushing:
            rel = hand - cube
            lost = abs(float(rel @ self.approach.normal)) > HALF + FINGER or float(rel @ direction) > -HALF
            if lost or self.rng.random() < 0.02 or (near_edge(cube) and float((cube - MIDDLE) @ direction) > 0):
                self._turn(cube)
        elif self.approach.ready(hand, cube):
            self.pushing = True
        if self.pushing:  # steer at a point ahead of the cube's centre: the cube stays in front of the fingers
            command = self.push_speed * unit(cube + 0.1 * direction - hand)
        else:
            command = self.approach.velocity(hand, cube)
        return limit_speed(command + self.rng.normal(0.0, self.noise, 2))


class AxisTaps:
    """The held-out rule (module docstring)."""

    def __init__(self, rng: np.random.Generator) -> None:
        self.rng = rng
        self.noise = float(rng.uniform(0.005, 0.02))
        self.axis = int(rng.integers(4))
        self.approach = self._new_approach(np.zeros(2))
        self.phase = "approach"
        self.left = 0
        self.tap_speed = 0.0

    def _new_approach(self, cube: np.ndarray) -> Approach:
        if near_edge(cube):  # the axis that points most towards the middle
            middle = towards_middle(cube, self.rng, 0.0)
            self.axis = int(np.argmax([heading(a * np.pi / 2) @ middle for a in range(4)]))
        else:
            self.axis = (self.axis + (1 if self.rng.random() < 0.5 else 3)) % 4
        jitter = float(self.rng.uniform(-0.15, 0.15))
        return Approach(heading(self.axis * np.pi / 2 + jitter), float(self.rng.uniform(0.2, MAX_SPEED)))

    def __call__(self, hand: np.ndarray, cube: np.ndarray) -> np.ndarray:
        direction = self.approach.direction
        if self.phase == "tap" and near_edge(cube) and float((cube - MIDDLE) @ direction) > 0:
            self.left = 0  # the tap would push the cube out of the area: stop it here
        if self.phase == "approach" and self.approach.ready(hand, cube):
            self.phase, self.left = "tap", int(self.rng.integers(5, 10))
            self.tap_speed = float(self.rng.uniform(0.15, 0.25))
        elif self.phase != "approach" and self.left == 0:
            if self.phase == "tap":
                self.phase, self.left = "back", int(self.rng.integers(2, 4))
            elif self.phase == "back":
                self.phase, self.left = "still", int(self.rng.integers(1, 4))
            else:
                self.approach, self.phase = self._new_approach(cube), "approach"
        if self.phase == "approach":
            command = self.approach.velocity(hand, cube)
        elif self.phase == "tap":
            command = self.tap_speed * unit(cube + 0.1 * direction - hand)
        elif self.phase == "back":
            command = -0.2 * direction
        else:
            command = np.zeros(2)
        if self.phase != "approach":
            self.left -= 1
        return limit_speed(command + self.rng.normal(0.0, self.noise, 2))
