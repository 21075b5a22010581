"""PushT dataset generator for training the `pusht-tiny` world model.

Runs gym-pusht headless and records 96x96 RGB frames at the env's 10 Hz control rate
together with the raw env actions (absolute agent target (x, y) in [0, 512], float32).
Frame 0 is the observation after reset, frame k the observation after actions[k-1]
(the engine's rollout contract).

Why several policies: a world model must see the agent both moving freely (smooth and
jumpy motion), standing still, and - most importantly - pushing the T block. The
scripted pusher gets behind the block relative to a random push direction and pushes
through it, so a large share of the data has block contact.

Determinism: one `numpy.random.SeedSequence(seed)` is spawned per episode; the episode's
child seeds both the env reset and the policy, so episode i depends only on (seed, i).
"""

from __future__ import annotations

import os

# pygame must never try to open a window; set before gym_pusht imports pygame.
os.environ.setdefault("SDL_VIDEODRIVER", "dummy")
os.environ.setdefault("PYGAME_HIDE_SUPPORT_PROMPT", "1")

from collections.abc import Callable, Sequence  # noqa: E402
from dataclasses import dataclass, field  # noqa: E402
from typing import Any  # noqa: E402

import numpy as np  # noqa: E402

POLICIES: tuple[str, ...] = ("smooth", "pusher", "still", "jumps")
"""Policy names; chosen per episode with the weights below."""

POLICY_WEIGHTS: dict[str, float] = {"smooth": 0.25, "pusher": 0.45, "still": 0.1, "jumps": 0.2}

IMAGE_SIZE = 96
WORKSPACE = 512.0
# Keep targets off the walls (at 5 and 506) so the agent (radius 15) stays fully visible.
LOW, HIGH = 25.0, 487.0


@dataclass
class EpisodeBatch:
    """Everything `generate_episodes_full` records.

    states: (N, steps+1, 5) float32 [agent_x, agent_y, block_x, block_y, block_angle]
    (env units, block position = body origin, angle unwrapped) - handy for checks and
    metrics that should follow the simulator, not needed to train.
    """

    frames: np.ndarray
    actions: np.ndarray
    states: np.ndarray
    policies: list[str]
    reset_seeds: np.ndarray
    seed: int
    extras: dict[str, np.ndarray] = field(default_factory=dict)


@dataclass
class _Sim:
    """The few env quantities a policy may look at."""

    agent: np.ndarray  # (2,)
    block_com: np.ndarray  # (2,) world centre of mass of the T


Policy = Callable[[_Sim], np.ndarray]


def make_env(size: int = IMAGE_SIZE) -> Any:  # gym-pusht is untyped: its PushTEnv is Any
    from gym_pusht.envs.pusht import PushTEnv

    return PushTEnv(
        obs_type="pixels_agent_pos",
        render_mode="rgb_array",
        observation_width=size,
        observation_height=size,
    )


def sim_of(env: Any) -> _Sim:  # env: a gym-pusht PushTEnv (untyped)
    com = env.block.local_to_world(env.block.center_of_gravity)
    return _Sim(agent=np.array(env.agent.position, dtype=np.float64),
                block_com=np.array([com.x, com.y], dtype=np.float64))


def state_of(env: Any) -> np.ndarray:  # env: a gym-pusht PushTEnv (untyped)
    a, b = env.agent.position, env.block.position
    return np.array([a.x, a.y, b.x, b.y, env.block.angle], dtype=np.float64)


def _clip(p: np.ndarray) -> np.ndarray:
    clipped: np.ndarray = np.clip(p, LOW, HIGH)
    return clipped


def _step_towards(cur: np.ndarray, goal: np.ndarray, max_step: float) -> np.ndarray:
    d = goal - cur
    n = float(np.hypot(*d))
    return goal.copy() if n <= max_step else cur + d * (max_step / n)


# ---------------------------------------------------------------------------- policies


def policy_smooth(rng: np.random.Generator, start: _Sim) -> Policy:
    """Target with random velocity and momentum; bounces off the workspace bounds."""
    target = start.agent.copy()
    vel = np.zeros(2)
    speed = rng.uniform(4.0, 18.0)  # px per control step, scale of the random walk
    momentum = rng.uniform(0.75, 0.95)

    def act(sim: _Sim) -> np.ndarray:
        nonlocal target, vel
        vel = momentum * vel + (1.0 - momentum) * rng.normal(0.0, speed * 2.5, size=2)
        n = float(np.hypot(*vel))
        if n > 2.0 * speed:
            vel *= 2.0 * speed / n
        target = target + vel
        for i in range(2):
            if target[i] < LOW or target[i] > HIGH:
                vel[i] = -vel[i]
        target = _clip(target)
        return target.copy()

    return act


def policy_pusher(rng: np.random.Generator, start: _Sim) -> Policy:
    """Go behind the block w.r.t. a random push direction, then push through it.

    Approach: move out to a circle around the block, walk around it (so the approach
    rarely disturbs the block), then push along the direction with a lateral offset
    (offsets make the T rotate). Repeats with a fresh direction until the episode ends.
    """
    speed = rng.uniform(8.0, 16.0)
    push_speed = rng.uniform(5.0, 12.0)
    target = start.agent.copy()
    plan: dict[str, Any] = {}  # the current push: direction, offset, radius, phase, ...

    def new_push(sim: _Sim) -> None:
        centre = np.array([WORKSPACE / 2, WORKSPACE / 2])
        to_centre = centre - sim.block_com
        if rng.random() < 0.6 and np.hypot(*to_centre) > 1e-6:
            base = float(np.arctan2(to_centre[1], to_centre[0]))
            ang = base + rng.uniform(-np.pi / 2, np.pi / 2)
        else:
            ang = rng.uniform(-np.pi, np.pi)
        plan["dir"] = np.array([np.cos(ang), np.sin(ang)])
        plan["offset"] = rng.uniform(-35.0, 35.0)
        plan["radius"] = rng.uniform(95.0, 115.0)
        plan["length"] = rng.uniform(60.0, 160.0)  # how far past the start point to push
        plan["phase"] = "out"
        plan["t"] = 0

    def act(sim: _Sim) -> np.ndarray:
        nonlocal target
        if not plan:
            new_push(sim)
        d = plan["dir"]
        perp = np.array([-d[1], d[0]])
        r = float(plan["radius"])
        c = sim.block_com
        if plan["phase"] == "out":
            rel = target - c
            n = float(np.hypot(*rel))
            if n < 1e-6:
                rel, n = -d, 1.0
            goal = _clip(c + rel / n * r)
            target = _step_towards(target, goal, speed)
            if np.hypot(*(target - goal)) < 1.0:
                plan["phase"] = "around"
        elif plan["phase"] == "around":
            # Walk along the circle towards the angle behind the block (opposite d).
            rel = target - c
            cur = float(np.arctan2(rel[1], rel[0]))
            want = float(np.arctan2(-d[1], -d[0]))
            diff = (want - cur + np.pi) % (2 * np.pi) - np.pi
            step_ang = speed / r
            if abs(diff) <= step_ang:
                cur = want
                plan["phase"] = "align"
            else:
                cur += np.sign(diff) * step_ang
            target = c + r * np.array([np.cos(cur), np.sin(cur)])
        elif plan["phase"] == "align":
            goal = _clip(c - d * r + perp * float(plan["offset"]))
            target = _step_towards(target, goal, speed)
            if np.hypot(*(target - goal)) < 1.0:
                plan["phase"] = "push"
                plan["pushed"] = 0.0
                plan["t"] = 0
        else:  # push
            target = target + d * push_speed
            plan["pushed"] = float(plan["pushed"]) + push_speed
            hit_wall = np.any(target < LOW) or np.any(target > HIGH)
            if plan["pushed"] >= r + float(plan["length"]) or hit_wall:
                plan.clear()
        if plan:
            # A phase that cannot finish (block against a wall) gives up after a while.
            plan["t"] = int(plan["t"]) + 1
            if plan["phase"] != "push" and int(plan["t"]) > 40:
                plan.clear()
        target = _clip(target)
        return target.copy()

    return act


def _policy_still(rng: np.random.Generator, start: _Sim) -> Policy:
    """Mostly still: small jitter around a slowly drifting anchor near the start."""
    anchor = start.agent.copy()
    jitter = rng.uniform(0.5, 4.0)
    drift = rng.normal(0.0, 0.4, size=2)

    def act(sim: _Sim) -> np.ndarray:
        nonlocal anchor
        anchor = _clip(anchor + drift)
        return _clip(anchor + rng.normal(0.0, jitter, size=2))

    return act


def _policy_jumps(rng: np.random.Generator, start: _Sim) -> Policy:
    """Random waypoints, each held for a few steps (step changes in the action)."""
    state: dict[str, Any] = {"target": start.agent.copy(), "left": 0}

    def act(sim: _Sim) -> np.ndarray:
        if state["left"] <= 0:
            if rng.random() < 0.5:  # near jump
                state["target"] = _clip(sim.agent + rng.normal(0.0, 80.0, size=2))
            else:  # anywhere
                state["target"] = rng.uniform(LOW, HIGH, size=2)
            state["left"] = int(rng.integers(3, 11))
        state["left"] -= 1
        return np.array(state["target"], dtype=np.float64)

    return act


_FACTORIES: dict[str, Callable[[np.random.Generator, _Sim], Policy]] = {
    "smooth": policy_smooth,
    "pusher": policy_pusher,
    "still": _policy_still,
    "jumps": _policy_jumps,
}


# ---------------------------------------------------------------------------- generation


def _check_args(num_episodes: int, steps: int, policies: Sequence[str] | None) -> list[str]:
    if int(num_episodes) < 1:
        raise ValueError(f"num_episodes must be >= 1, got {num_episodes}")
    if int(steps) < 1:
        raise ValueError(f"steps must be >= 1, got {steps}")
    names = list(POLICIES if policies is None else policies)
    if not names:
        raise ValueError("policies must name at least one policy")
    unknown = [p for p in names if p not in _FACTORIES]
    if unknown:
        raise ValueError(f"unknown policies {unknown}; known: {list(POLICIES)}")
    return names


def generate_episodes_full(
    num_episodes: int,
    steps: int,
    seed: int,
    policies: Sequence[str] | None = None,
    image_size: int = IMAGE_SIZE,
    progress: Callable[[int, int], None] | None = None,
) -> EpisodeBatch:
    """Generate episodes and keep states/policy names as well (see `generate_episodes`)."""
    names = _check_args(num_episodes, steps, policies)
    weights = np.array([POLICY_WEIGHTS[p] for p in names], dtype=np.float64)
    weights /= weights.sum()

    frames = np.empty((num_episodes, steps + 1, image_size, image_size, 3), dtype=np.uint8)
    actions = np.empty((num_episodes, steps, 2), dtype=np.float32)
    states = np.empty((num_episodes, steps + 1, 5), dtype=np.float32)
    chosen: list[str] = []
    reset_seeds = np.empty((num_episodes,), dtype=np.int64)

    env = make_env(image_size)
    try:
        for ep, child in enumerate(np.random.SeedSequence(int(seed)).spawn(num_episodes)):
            rng = np.random.default_rng(child)
            name = names[int(rng.choice(len(names), p=weights))]
            reset_seed = int(rng.integers(0, 2**31 - 1))
            obs, _ = env.reset(seed=reset_seed)
            frames[ep, 0] = obs["pixels"]
            st = [state_of(env)]
            policy = _FACTORIES[name](rng, sim_of(env))
            for k in range(steps):
                a = np.asarray(policy(sim_of(env)), dtype=np.float32)
                actions[ep, k] = a
                # The env gets exactly the float32 action that is stored.
                obs, *_ = env.step(a.copy())
                frames[ep, k + 1] = obs["pixels"]
                st.append(state_of(env))
            s = np.stack(st)
            s[:, 4] = np.unwrap(s[:, 4])
            states[ep] = s
            chosen.append(name)
            reset_seeds[ep] = reset_seed
            if progress is not None:
                progress(ep + 1, num_episodes)
    finally:
        env.close()
    return EpisodeBatch(frames=frames, actions=actions, states=states, policies=chosen,
                        reset_seeds=reset_seeds, seed=int(seed))


def generate_episodes(
    num_episodes: int,
    steps: int,
    seed: int,
    policies: Sequence[str] | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Return (frames uint8 (N, steps+1, 96, 96, 3), actions float32 (N, steps, 2)).

    frames[:, 0] is the observation after reset; frames[:, k] the one after
    actions[:, k-1]. Actions are raw env targets (x, y) in [0, 512]. `policies` restricts
    the per-episode policy choice (default: all of `POLICIES`). Deterministic in `seed`.
    """
    b = generate_episodes_full(num_episodes, steps, seed, policies)
    return b.frames, b.actions


def block_displacement(states: np.ndarray) -> np.ndarray:
    """Per-episode max displacement of the block origin from its start, in env units."""
    d = states[:, :, 2:4] - states[:, :1, 2:4]
    disp: np.ndarray = np.hypot(d[..., 0], d[..., 1]).max(axis=1)
    return disp


def block_rotation(states: np.ndarray) -> np.ndarray:
    """Per-episode max |angle change| of the block, in radians."""
    rot: np.ndarray = np.abs(states[:, :, 4] - states[:, :1, 4]).max(axis=1)
    return rot


def simulate(reset_seed: int, actions: np.ndarray, image_size: int = IMAGE_SIZE) -> np.ndarray:
    """Frames (T+1, H, W, 3) of the episode that starts from `env.reset(seed=reset_seed)` and
    applies `actions` (T, 2): the ground truth for any plan from that start state."""
    env = make_env(image_size)
    try:
        obs, _ = env.reset(seed=int(reset_seed))
        frames = [obs["pixels"]]
        for action in np.asarray(actions, dtype=np.float32):
            obs, *_ = env.step(action.copy())
            frames.append(obs["pixels"])
    finally:
        env.close()
    return np.stack(frames)
