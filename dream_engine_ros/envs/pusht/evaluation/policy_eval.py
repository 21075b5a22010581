"""Policy evaluation inside the world model, and the same policies in the real simulator.

Why: a world model is worth deploying a policy against only if it ranks policies the way reality
does. Each episode starts from a real frame (gym-pusht rendering a seeded start state); the policy
sees the latest frames and returns the next chunk of targets; then

    dream: the world model predicts the chunk from the frames it predicted so far (its last
           frames and actions are handed over as the rollout's history, so the causal model keeps
           its context across chunks exactly as in one long rollout), and the policy sees those
           predicted frames;
    real:  gym-pusht executes the chunk step by step and renders the frames the policy sees.

Outcome of an episode (the same for both): coverage of the goal region at every frame, read from
the pixels (`pusht_coverage`); in the simulator also gym-pusht's own coverage from its state.
Episode score = the maximum coverage over the episode (gym-pusht ends an episode at its first
success, so success = max coverage > 0.95, and the max is what PushT benchmarks report).

Episodes of one policy run together: one network call per frame for all of them (`fused`, the
default) or one by one with rows bit-identical to single predictions (`fused=False`).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

from dream_engine_ros.envs.pusht.evaluation.coverage import GOAL_POSE, SUCCESS_COVERAGE, coverage

Policy = Callable[[np.ndarray, int, np.random.Generator], np.ndarray]
POLICY_FRAMES = 3  # frames a policy is shown (latest last)
HISTORY = 2  # frames and actions handed to the next chunk's rollout (context_frames - 1)

# start distribution: the T displaced from the goal pose by this much, the agent away from it
START_SHIFT = (15.0, 60.0)  # world units
START_TURN = np.pi / 4  # up to +-45 degrees
AGENT_CLEARANCE = 100.0  # agent at least this far from the T's centre of gravity


def start_states(count: int, seed: int) -> np.ndarray:
    """`count` start states [agent x, agent y, block x, block y, angle] near the goal pose:
    reachable in a few chunks by a good pusher, not reached by doing nothing. Deterministic in
    (seed, index); each start depends on its index only."""
    if count < 1:
        raise ValueError(f"count must be >= 1, got {count}")
    starts = []
    for child in np.random.SeedSequence([int(seed), 0x7057]).spawn(count):
        rng = np.random.default_rng(child)
        direction = rng.uniform(-np.pi, np.pi)
        shift = rng.uniform(*START_SHIFT) * np.array([np.cos(direction), np.sin(direction)])
        angle = float(GOAL_POSE[2] + rng.uniform(-START_TURN, START_TURN))
        block = GOAL_POSE[:2] + shift
        c, s = np.cos(angle), np.sin(angle)
        cog = block + np.array([-s * 45.0, c * 45.0])
        while True:
            agent = rng.uniform(60.0, 452.0, size=2)
            if np.hypot(*(agent - cog)) >= AGENT_CLEARANCE:
                break
        starts.append([*agent, *block, angle])
    return np.array(starts, dtype=np.float64)


def episode_generator(seed: int, index: int) -> np.random.Generator:
    """The policy's generator of episode `index` (the same in the dream and in reality)."""
    return np.random.default_rng(np.random.SeedSequence([int(seed), int(index), 0x9011]))


def _chunk_of(policy: Policy, frames: np.ndarray, chunk: int, rng: np.random.Generator) -> np.ndarray:
    actions = np.asarray(policy(frames, chunk, rng), dtype=np.float32)
    if actions.shape != (chunk, 2) or not np.isfinite(actions).all():
        raise ValueError(f"a PushT policy must return ({chunk}, 2) finite targets, got {actions.shape}")
    return np.clip(actions, 0.0, 512.0)


@dataclass
class Episodes:
    """Per-episode coverage curves of one policy (frames 0..T) and what produced them."""

    pixel_coverage: np.ndarray  # (E, T + 1) read from the frames (dreamed or rendered)
    sim_coverage: np.ndarray | None  # (E, T + 1) gym-pusht's own (real episodes only)
    seconds: float
    frames: np.ndarray | None = None  # (E, T + 1, H, W, 3) when kept

    def score(self, curve: np.ndarray) -> np.ndarray:
        return np.asarray(curve.max(axis=1))


def run_real(policy: Policy, starts: np.ndarray, seed: int, chunk: int, chunks: int,
             keep_frames: bool = False) -> Episodes:
    """The policy closed-loop in gym-pusht (one physics step per target, its rendered frames)."""
    from dream_engine_ros.envs.pusht.planning.robot import PushTRobot

    tic = time.perf_counter()
    robot = PushTRobot()
    pixel, sim, kept = [], [], []
    try:
        for e, start in enumerate(starts):
            rng = episode_generator(seed, e)
            frames = [robot.reset(start)]
            cover = [robot.env._get_coverage()]
            for _ in range(chunks):
                for action in _chunk_of(policy, np.stack(frames[-POLICY_FRAMES:]), chunk, rng):
                    frames.append(robot.step(action))
                    cover.append(robot.env._get_coverage())
            video = np.stack(frames)
            pixel.append(coverage(video))
            sim.append(np.array(cover))
            if keep_frames:
                kept.append(video)
    finally:
        robot.close()
    return Episodes(np.stack(pixel), np.stack(sim), time.perf_counter() - tic,
                    np.stack(kept) if keep_frames else None)


def render_starts(starts: np.ndarray) -> np.ndarray:
    """The real start frames (E, H, W, 3) of the start states."""
    from dream_engine_ros.envs.pusht.planning.robot import PushTRobot

    robot = PushTRobot()
    try:
        return np.stack([robot.reset(s) for s in starts])
    finally:
        robot.close()


def run_dream(engine: Any, policy: Policy, start_frames: np.ndarray, seed: int, chunks: int,
              fused: bool = True, batch: int = 64, keep_frames: bool = False, chunk: int | None = None) -> Episodes:
    """The policy closed-loop inside a causal-video world model from real start frames.

    Episode e's frame k draws its noise from seed * 1000 + e + k (so chunk c continues the noise
    of one long rollout). Episodes run in groups of `batch` through one rollout call per chunk.
    """
    from dream_engine_ros.engine.preprocess import fit_frame

    spec = engine.spec
    if spec.frame_model is None:  # any other family: through the engine's own predict
        return run_dream_any(engine, policy, start_frames, seed, chunks, keep_frames, chunk)
    if chunk not in (None, spec.chunk_size):
        raise ValueError(f"the causal-video rollout asks a policy once per spec chunk ({spec.chunk_size}), not {chunk}")
    tic = time.perf_counter()
    rollout = engine.pipeline.sampler()  # the causal-video pipeline's frame rollout
    chunk = spec.chunk_size
    pixel, kept = [], []
    for lo in range(0, len(start_frames), batch):
        rows = range(lo, min(lo + batch, len(start_frames)))
        rngs = [episode_generator(seed, e) for e in rows]
        seeds = [(int(seed) * 1000 + e) % 2**32 for e in rows]
        # (B, 1, H, W, 3): every episode's frames so far
        video = np.stack([fit_frame(start_frames[e], spec.height, spec.width) for e in rows])[:, None]
        actions = np.empty((len(rows), 0, 2), np.float32)
        for c in range(chunks):
            plan = np.stack([_chunk_of(policy, video[i, -POLICY_FRAMES:], chunk, rngs[i]) for i in range(len(rows))])
            history = None
            if c > 0:
                history = (video[:, -1 - HISTORY:-1], spec.normalise_actions(actions[:, -HISTORY:]))
            out, _ = rollout.run(video[:, -1], spec.normalise_actions(plan), [s + c * chunk for s in seeds],
                                 spec.num_steps, None, None, fused, history, rollout.last_scene if c > 0 else None)
            video = np.concatenate([video, out[:, 1:]], axis=1)
            actions = np.concatenate([actions, plan], axis=1)
        pixel.append(coverage(video))
        if keep_frames:
            kept.append(video)
    return Episodes(np.concatenate(pixel), None, time.perf_counter() - tic,
                    np.concatenate(kept) if keep_frames else None)


def run_dream_any(engine: Any, policy: Policy, start_frames: np.ndarray, seed: int, chunks: int,
                  keep_frames: bool = False, chunk: int | None = None) -> Episodes:
    """The policy closed-loop inside any world model, through `engine.predict` chunk by chunk.

    Each chunk is one prediction from the last dreamed frame, with the frames and actions before
    it as history where the model reads history; a model that reads none (the block-diffusion
    family) starts each chunk afresh from that frame, so what it knew beyond it is lost between
    chunks. A policy chunk (`chunk`, default the spec's) is a multiple of the spec's chunk size.
    Episode e's chunk c uses seed (seed * 1000 + e + c * chunk) as `run_dream` does."""
    from dream_engine_ros.engine.family import family_of
    from dream_engine_ros.engine.preprocess import fit_frame

    spec = engine.spec
    reads_history = bool(family_of(spec).reads_history)
    chunk = chunk or spec.chunk_size
    tic = time.perf_counter()
    pixel, kept = [], []
    for e, start in enumerate(start_frames):
        rng = episode_generator(seed, e)
        video = fit_frame(start, spec.height, spec.width)[None]
        actions = np.empty((0, 2), np.float32)
        for c in range(chunks):
            plan = _chunk_of(policy, video[-POLICY_FRAMES:], chunk, rng)
            past = min(HISTORY, len(actions)) if reads_history else 0
            history = (video[-1 - past:-1], actions[len(actions) - past:]) if past else (None, None)
            frames = engine.predict_batch(video[-1], plan[None], seeds=[(int(seed) * 1000 + e + c * chunk) % 2**32],
                                          history_frames=history[0], history_actions=history[1]).frames[0]
            video = np.concatenate([video, frames[1:]])
            actions = np.concatenate([actions, plan])
        pixel.append(coverage(video))
        if keep_frames:
            kept.append(video)
    return Episodes(np.stack(pixel), None, time.perf_counter() - tic, np.stack(kept) if keep_frames else None)


@dataclass
class PolicyScore:
    """One policy's outcome, dreamed and real (success rates and mean max coverage in [0, 1])."""

    name: str
    real_success: float
    dream_success: float
    real_coverage: float
    dream_coverage: float
    real_read_success: float  # the simulator's frames read by the pixel reader (reader-only gap)
    real_read_coverage: float
    real_seconds: float
    dream_seconds: float
    per_episode: dict[str, list[float]] = field(default_factory=dict)


def score_policy(name: str, real: Episodes, dream: Episodes) -> PolicyScore:
    assert real.sim_coverage is not None
    real_max = real.score(real.sim_coverage)
    read_max = real.score(real.pixel_coverage)
    dream_max = dream.score(dream.pixel_coverage)

    def success(values: np.ndarray) -> float:
        return float(np.mean(values > SUCCESS_COVERAGE))

    def mean(values: np.ndarray) -> float:
        # rounded: pymunk's contacts can differ in the last bit between runs of the same episode
        return round(float(values.mean()), 6)

    return PolicyScore(name, success(real_max), success(dream_max), mean(real_max), mean(dream_max),
                       success(read_max), mean(read_max), round(real.seconds, 3), round(dream.seconds, 3),
                       {"real": [round(float(v), 4) for v in real_max],
                        "real_read": [round(float(v), 4) for v in read_max],
                        "dream": [round(float(v), 4) for v in dream_max]})


def pearson(x: Sequence[float] | np.ndarray, y: Sequence[float] | np.ndarray) -> float:
    """Pearson r; NaN when either side is constant (no ranking to agree with)."""
    a, b = np.asarray(x, np.float64), np.asarray(y, np.float64)
    if a.size < 2 or a.std() == 0 or b.std() == 0:
        return float("nan")
    return float(np.corrcoef(a, b)[0, 1])


def ranks(values: Sequence[float] | np.ndarray) -> np.ndarray:
    """Ranks 1..n with ties given their mean rank."""
    v = np.asarray(values, np.float64)
    order = np.argsort(v, kind="stable")
    out = np.empty(v.size)
    out[order] = np.arange(1, v.size + 1)
    for value in np.unique(v):
        tied = v == value
        out[tied] = out[tied].mean()
    return out


def spearman(x: Sequence[float] | np.ndarray, y: Sequence[float] | np.ndarray) -> float:
    return pearson(ranks(x), ranks(y))


def ranking_violations(real: Sequence[float], dream: Sequence[float], margin: float = 0.10) -> list[tuple[int, int]]:
    """Pairs (i, j) whose real values differ by more than `margin` but whose dreamed order is
    not the real order (a tie in the dream counts as a violation)."""
    bad = []
    for i in range(len(real)):
        for j in range(len(real)):
            if real[i] - real[j] > margin and not dream[i] > dream[j]:
                bad.append((i, j))
    return bad


@dataclass
class EvaluationReport:
    spec: str
    episodes: int
    seed: int
    chunks: int
    chunk_size: int
    fused: bool
    policies: list[PolicyScore]
    dream_episodes_per_minute: float
    real_episodes_per_minute: float

    def correlations(self) -> dict[str, Any]:
        p = self.policies
        rs, ds = [s.real_success for s in p], [s.dream_success for s in p]
        rc, dc = [s.real_coverage for s in p], [s.dream_coverage for s in p]
        return {
            "success": {"pearson": pearson(rs, ds), "spearman": spearman(rs, ds),
                        "ranking_violations_10pt": len(ranking_violations(rs, ds))},
            "coverage": {"pearson": pearson(rc, dc), "spearman": spearman(rc, dc),
                         "ranking_violations_10pt": len(ranking_violations(rc, dc))},
            "reader_on_real_coverage": {"pearson": pearson(rc, [s.real_read_coverage for s in p])},
        }

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["correlations"] = self.correlations()
        out["success_coverage"] = SUCCESS_COVERAGE
        return out

    def table(self) -> str:
        """The markdown table of the measured outcome."""
        lines = ["| policy | real success | dreamed success | real coverage | dreamed coverage "
                 "| real frames read: success / coverage |", "| --- | --- | --- | --- | --- | --- |"]
        for s in self.policies:
            lines.append(f"| {s.name} | {s.real_success:.2f} | {s.dream_success:.2f} | {s.real_coverage:.3f} | "
                         f"{s.dream_coverage:.3f} | {s.real_read_success:.2f} / {s.real_read_coverage:.3f} |")
        return "\n".join(lines)


def evaluate(engine: Any, policies: dict[str, Policy], episodes: int, seed: int, chunks: int,
             fused: bool = True, batch: int = 64, log: Callable[[str], None] | None = None,
             policy_chunk: int | None = None) -> EvaluationReport:
    """Every policy from the same `episodes` seeded starts, in the dream and in gym-pusht; a policy
    is asked for `policy_chunk` targets at a time (default the spec's chunk size; any other value
    needs a family that dreams through `predict`, and a multiple of the spec's chunk size)."""
    starts = start_states(episodes, seed)
    frames = render_starts(starts)
    chunk = policy_chunk or engine.spec.chunk_size
    scores = []
    real_s = dream_s = 0.0
    for name, policy in policies.items():
        real = run_real(policy, starts, seed, chunk, chunks)
        dream = run_dream(engine, policy, frames, seed, chunks, fused, batch, chunk=chunk)
        score = score_policy(name, real, dream)
        scores.append(score)
        real_s, dream_s = real_s + real.seconds, dream_s + dream.seconds
        if log is not None:
            log(f"{name}: real success {score.real_success:.2f} coverage {score.real_coverage:.3f} | dream success "
                f"{score.dream_success:.2f} coverage {score.dream_coverage:.3f} | {dream.seconds:.1f} s dream, "
                f"{real.seconds:.1f} s real")
    total = episodes * len(policies)
    return EvaluationReport(engine.spec.name, episodes, seed, chunks, chunk, fused, scores,
                            round(60.0 * total / max(dream_s, 1e-9), 2), round(60.0 * total / max(real_s, 1e-9), 2))
