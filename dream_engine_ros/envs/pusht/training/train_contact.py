"""Train the T's contact model (`envs/pusht/contact_model.py`) on gym-pusht transitions.

    1. simulate episodes (states only, no rendering: ~2500 steps/s): half are pushes from just
       behind the T (the held-out `push` kind's generator, other seeds), a third the training
       set's pusher policy (approach, go around, push with an offset), the rest random walks and
       sweeps; no start has the agent inside the T (`--overlapping-starts`: the data the frames'
       shipped model was trained on); every episode depends only on (seed, index);
    2. express every state in pixels at 96 x 96 (the T by its area centroid) as the engine sees it;
    3. train the MLP on windows of `unroll` frames: the T's pose is fed back from the model's own
       prediction while the agent follows the simulator, so the model learns to stay on track over
       a 48-frame rollout, not only for one step; the model also sees the walls near the T
       (`--walls`, the default; the planners' model has them, the frames' does not: docs/envs/pusht.md); every
       window is mirrored across the T's axis of symmetry at random (the T is symmetric, so is
       its physics);
    4. report held-out open-loop pose accuracy (episodes of the evaluation's `push` kind, seeds
       never trained on) and save safetensors with that report in the metadata.

    python -m dream_engine_ros.envs.pusht.training.train_contact --no-walls --overlapping-starts \
        --out dream_engine_ros/weights/pusht-contact.safetensors    # the frames' shipped model

Fine-tuning for planners (the spec's "planner_contact" file): `--init` a model trained as above
(with walls), `--planner-episodes` what the planner drove (`planner_episodes.py`), a share of every
batch (`scripts/train_planner_contact.sh` runs it all).
"""

from __future__ import annotations

import os

os.environ.setdefault("SDL_VIDEODRIVER", "dummy")
os.environ.setdefault("PYGAME_HIDE_SUPPORT_PROMPT", "1")

import argparse  # noqa: E402
import json  # noqa: E402
import time  # noqa: E402
from collections.abc import Callable  # noqa: E402
from pathlib import Path  # noqa: E402
from typing import Any  # noqa: E402

import numpy as np  # noqa: E402
import torch  # noqa: E402
from torch import Tensor, nn  # noqa: E402

from dream_engine_ros.envs.pusht.contact_model import (
    ANGLE_SCALE,
    FEATURES,
    OUTPUTS,
    POSITION_SCALE_PX,
    WALL_FEATURES,
    WALL_REACH_PX,
)
from dream_engine_ros.envs.pusht.evaluation.episodes import generate, push_start, random_start, sweep_plan  # noqa: E402
from dream_engine_ros.envs.pusht.geometry import T_CENTROID_LOCAL, WALL_LINES_WORLD, WORLD_SIZE  # noqa: E402
from dream_engine_ros.envs.pusht.training.pusht_data import (  # noqa: E402
    IMAGE_SIZE,
    policy_pusher,
    policy_smooth,
    sim_of,
    state_of,
)

CENTRE_TOLERANCE_PX = 3.75  # PushT's 20-unit success tolerance at 96 x 96
ANGLE_TOLERANCE_RAD = np.pi / 9


class ContactNet(nn.Module):
    """The MLP the engine runs in numpy: Linear layers named `layers.<i>`, SiLU between them;
    `walls`: it also sees the walls (`wall_features` after the contact features)."""

    def __init__(self, hidden: int = 256, depth: int = 3, walls: bool = False) -> None:
        super().__init__()
        self.walls = walls
        sizes = [FEATURES + (WALL_FEATURES if walls else 0)] + [hidden] * depth + [OUTPUTS]
        self.layers = nn.ModuleList(nn.Linear(a, b) for a, b in zip(sizes[:-1], sizes[1:], strict=True))

    def forward(self, x: Tensor) -> Tensor:
        for i, layer in enumerate(self.layers):
            x = layer(x)
            if i < len(self.layers) - 1:
                x = nn.functional.silu(x)
        return x


def simulate_transitions(episodes: int, steps: int, seed: int,
                         clear_starts: bool = True) -> tuple[np.ndarray, np.ndarray]:
    """States (N, steps + 1, 5) [agent x, y, block x, y, angle (unwrapped)] and actions (N, steps, 2).
    `clear_starts=False`: starts may overlap the T, as in the data of the frames' shipped model."""
    from gym_pusht.envs.pusht import PushTEnv

    env = PushTEnv(obs_type="state")
    states, actions = [], []
    try:
        for child in np.random.SeedSequence([int(seed), 99]).spawn(episodes):
            rng = np.random.default_rng(child)
            act = _episode_plan(env, rng, clear_starts)
            visited, commanded = [state_of(env)], []
            for k in range(steps):
                action = np.asarray(act(k), dtype=np.float32)
                env.step(action.copy())
                commanded.append(action)
                visited.append(state_of(env))
            trajectory = np.stack(visited)
            trajectory[:, 4] = np.unwrap(trajectory[:, 4])
            states.append(trajectory)
            actions.append(np.stack(commanded))
    finally:
        env.close()
    return np.stack(states), np.stack(actions)


def _episode_plan(env: Any, rng: np.random.Generator, clear_starts: bool) -> Callable[[int], np.ndarray]:
    """Reset `env` (a gym-pusht PushTEnv: untyped, hence Any) to a drawn start; return the
    episode's target for step k."""
    draw = rng.random()
    if draw < 0.5:
        start, push = push_start(rng, clear_starts)
        env.reset(options={"reset_to_state": start})
        return lambda k: push(k, np.zeros(2))
    start = random_start(rng, clear_starts)
    env.reset(options={"reset_to_state": start})
    if draw < 0.85:
        pusher = policy_pusher(rng, sim_of(env))
        return lambda k: pusher(sim_of(env))
    if draw < 0.93:
        walk = policy_smooth(rng, sim_of(env))
        return lambda k: walk(sim_of(env))
    sweep = sweep_plan(rng, start)
    return lambda k: sweep(k, np.zeros(2))


def to_pixels(states: np.ndarray, actions: np.ndarray, size: int = IMAGE_SIZE) -> tuple[Tensor, ...]:
    """World states/actions -> agent (…, 2), T centroid (…, 2), angle (…), target (…, 2) in pixels."""
    angle = states[..., 4]
    c, s = np.cos(angle), np.sin(angle)
    lx, ly = T_CENTROID_LOCAL
    centroid = states[..., 2:4] + np.stack([c * lx - s * ly, s * lx + c * ly], axis=-1)
    scale = size / WORLD_SIZE
    return tuple(torch.from_numpy(np.ascontiguousarray(v)).double()
                 for v in (states[..., :2] * scale - 0.5, centroid * scale - 0.5, angle, actions * scale - 0.5))


def _rotate(v: Tensor, angle: Tensor) -> Tensor:
    c, s = torch.cos(angle), torch.sin(angle)
    return torch.stack([c * v[..., 0] - s * v[..., 1], s * v[..., 0] + c * v[..., 1]], dim=-1)


def features(agent_prev: Tensor, agent_now: Tensor, agent_next: Tensor, target: Tensor, centre: Tensor,
             centre_prev: Tensor, angle: Tensor, angle_prev: Tensor) -> Tensor:
    """Torch twin of `contact_model.contact_features` (a test keeps them equal)."""
    offsets = [_rotate(p - centre, -angle) / POSITION_SCALE_PX for p in (agent_prev, agent_now, agent_next, target)]
    return torch.cat([*offsets, _rotate(centre - centre_prev, -angle), ((angle - angle_prev) * ANGLE_SCALE)[..., None]],
                     dim=-1)


def wall_features(centre: Tensor, angle: Tensor, pixels: int = IMAGE_SIZE) -> Tensor:
    """Torch twin of `contact_model.wall_features` (a test keeps them equal)."""
    low, high = (w * pixels / WORLD_SIZE - 0.5 for w in WALL_LINES_WORLD)
    distances = torch.stack([centre[..., 0] - low, high - centre[..., 0], centre[..., 1] - low, high - centre[..., 1]],
                            dim=-1)
    nearness = (1.0 - distances / WALL_REACH_PX).clamp(0.0, 1.0)
    normals = torch.tensor([[-1.0, 0.0], [1.0, 0.0], [0.0, -1.0], [0.0, 1.0]], dtype=centre.dtype)
    body = _rotate(normals.expand(*distances.shape, 2), -angle[..., None])
    return (body * nearness[..., None]).flatten(-2)


_MIRROR_IN = torch.tensor([-1.0, 1.0] * 5 + [-1.0])  # x across the T's axis, and the turn, change sign
_MIRROR_WALLS = torch.tensor([-1.0, 1.0] * (WALL_FEATURES // 2))  # the walls' directions: x changes sign
_MIRROR_OUT = torch.tensor([-1.0, 1.0, -1.0])


def unroll(net: ContactNet, agent: Tensor, target: Tensor, centre: Tensor, centre_prev: Tensor, angle: Tensor,
           angle_prev: Tensor, mirror: Tensor | None = None) -> tuple[Tensor, Tensor]:
    """agent (B, K + 2, 2) positions t - 1 .. t + K, target (B, K, 2) -> centres (B, K, 2), angles (B, K)."""
    centres, angles = [], []
    for k in range(target.shape[1]):
        x = features(agent[:, k], agent[:, k + 1], agent[:, k + 2], target[:, k], centre, centre_prev, angle,
                     angle_prev)
        flip = _MIRROR_IN
        if net.walls:
            x = torch.cat([x, wall_features(centre, angle)], dim=-1)
            flip = torch.cat([_MIRROR_IN, _MIRROR_WALLS])
        if mirror is not None:
            x = torch.where(mirror[:, None], x * flip.to(x), x)
        y = net(x.float()).double()
        if mirror is not None:
            y = torch.where(mirror[:, None], y * _MIRROR_OUT.to(y), y)
        centre_prev, angle_prev = centre, angle
        centre, angle = centre + _rotate(y[:, :2], angle), angle + y[:, 2] / ANGLE_SCALE
        centres.append(centre)
        angles.append(angle)
    return torch.stack(centres, 1), torch.stack(angles, 1)


Windows = tuple[Tensor, Tensor, Tensor, Tensor, Tensor, Tensor, Tensor, Tensor]


def _window_starts(data: tuple[Tensor, ...], count: int, window: int,
                   generator: torch.Generator) -> tuple[Tensor, Tensor]:
    """(count, 1) episode rows and first frames of random training windows of one data set."""
    episodes, length = data[0].shape[:2]
    rows = torch.randint(0, episodes, (count,), generator=generator)[:, None]
    return rows, torch.randint(1, length - window, (count,), generator=generator)[:, None]


def _windows(data: tuple[Tensor, ...], rows: Tensor, t: Tensor, window: int, generator: torch.Generator,
             agent_noise_px: float) -> Windows:
    """The windows (agent, centre, angle, target in pixels) at `rows`, `t`: the agent seen
    (count, window + 2, 2), the targets, the T's start and previous poses, and its truth."""
    agent, centre, angle, target = data
    ahead = t + 1 + torch.arange(window)[None]
    seen = agent[rows, t - 1 + torch.arange(window + 2)[None]]
    seen = seen + agent_noise_px * torch.randn(seen.shape, generator=generator, dtype=seen.dtype)
    r, s = rows[:, 0], t[:, 0]
    return (seen, target[rows, t + torch.arange(window)[None]], centre[r, s], centre[r, s - 1], angle[r, s],
            angle[r, s - 1], centre[rows, ahead], angle[rows, ahead])


def train(states: np.ndarray, actions: np.ndarray, iterations: int, window: int, batch: int, seed: int,
          log: Callable[[str], None] = print, agent_noise_px: float = 0.0, init: ContactNet | None = None,
          planner: tuple[np.ndarray, np.ndarray] | None = None, planner_share: float = 0.0,
          max_lr: float = 1e-3, walls: bool = False) -> ContactNet:
    """`agent_noise_px`: Gaussian noise on the agent positions the model sees (not on the T it is
    scored against): in the engine the agent is read from predicted frames, a fraction of a pixel off.
    `init`: fine-tune these weights instead of starting afresh; `planner`: (states, actions) of
    planner-driven episodes (`planner_episodes.py`), `planner_share` of every batch; `walls`: a new
    model sees the walls (a fine-tuned one keeps what `init` has)."""
    torch.manual_seed(seed)
    sources = [to_pixels(states, actions)]
    counts = [batch]
    if planner is not None and planner_share > 0:
        sources.append(to_pixels(*planner))
        counts = [batch - round(batch * planner_share), round(batch * planner_share)]
    net = init if init is not None else ContactNet(walls=walls)
    net.train()
    optimiser = torch.optim.Adam(net.parameters(), lr=max_lr)
    schedule = torch.optim.lr_scheduler.OneCycleLR(optimiser, max_lr=max_lr, total_steps=iterations)
    generator = torch.Generator().manual_seed(seed)
    tic = time.perf_counter()
    for it in range(iterations):
        starts = [_window_starts(data, count, window, generator) for data, count in zip(sources, counts, strict=True)]
        mirror = torch.rand(batch, generator=generator) < 0.5  # drawn here: the shipped weights' order of draws
        parts = [_windows(data, rows, t, window, generator, agent_noise_px)
                 for data, (rows, t) in zip(sources, starts, strict=True)]
        seen, targets, c0, c_prev, a0, a_prev, true_centres, true_angles = (
            torch.cat(v) for v in zip(*parts, strict=True))
        centres, angles = unroll(net, seen, targets, c0, c_prev, a0, a_prev, mirror)
        loss = ((centres - true_centres) ** 2).sum(-1).mean() + ((angles - true_angles) * ANGLE_SCALE).pow(2).mean()
        optimiser.zero_grad()
        loss.float().backward()  # type: ignore[no-untyped-call]  # Tensor.backward is untyped in this torch build
        nn.utils.clip_grad_norm_(net.parameters(), 1.0)
        optimiser.step()
        schedule.step()
        if it % 500 == 0 or it == iterations - 1:
            log(f"iteration {it}: loss {loss.item():.4f} ({time.perf_counter() - tic:.0f} s)")
    return net.eval()


def held_out_report(net: ContactNet, count: int, seed: int) -> dict[str, float]:
    """Open-loop pose accuracy on held-out pushes, the agent following the simulator."""
    episodes = generate("push", count, 48, seed)
    states = np.stack([e.states for e in episodes])
    agent, centre, angle, target = to_pixels(states, np.stack([e.actions for e in episodes]))
    with torch.no_grad():
        centres, angles = unroll(net, torch.cat([agent[:, :1], agent], 1), target, centre[:, 0], centre[:, 0],
                                 angle[:, 0], angle[:, 0])
    centres_px, angles_rad, true_centres, true_angles = (v.numpy() for v in (centres, angles, centre, angle))
    report: dict[str, float] = {"episodes": float(count)}
    for frame in (12, 48):
        error = np.hypot(*(centres_px[:, frame - 1] - true_centres[:, frame]).T)
        turn = np.abs((angles_rad[:, frame - 1] - true_angles[:, frame] + np.pi) % (2 * np.pi) - np.pi)
        ok = (error <= CENTRE_TOLERANCE_PX) & (turn <= ANGLE_TOLERANCE_RAD)
        report[f"centre_px_median@{frame}"] = round(float(np.median(error)), 3)
        report[f"angle_deg_median@{frame}"] = round(float(np.degrees(np.median(turn))), 2)
        report[f"pose_ok@{frame}"] = round(float(ok.mean()), 3)
    return report


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--out", type=Path, required=True, help="safetensors file to write")
    parser.add_argument("--episodes", type=int, default=12000)
    parser.add_argument("--steps", type=int, default=64)
    parser.add_argument("--iterations", type=int, default=10000)
    parser.add_argument("--window", type=int, default=12, help="frames unrolled per training window")
    parser.add_argument("--batch", type=int, default=512)
    parser.add_argument("--agent-noise", type=float, default=0.2, help="px of noise on the agent the model sees")
    parser.add_argument("--seed", type=int, default=1001)
    parser.add_argument("--held-out-seed", type=int, default=4242)
    parser.add_argument("--held-out", type=int, default=50)
    parser.add_argument("--init", type=Path, default=None, help="fine-tune these contact weights")
    parser.add_argument("--planner-episodes", type=Path, nargs="+", default=None,
                        help=".npz files of planner_episodes.py (DAgger rounds: all of them)")
    parser.add_argument("--planner-share", type=float, default=0.15, help="share of each batch from it")
    parser.add_argument("--max-lr", type=float, default=1e-3)
    parser.add_argument("--walls", action=argparse.BooleanOptionalAction, default=True,
                        help="a new model also sees the walls (wall_features); --no-walls: the frames' model")
    parser.add_argument("--overlapping-starts", action="store_true",
                        help="let episodes start with the agent inside the T (the data of the frames' model)")
    args = parser.parse_args(argv)
    from safetensors.torch import load_file, save_file

    init = None
    if args.init is not None:
        state = load_file(str(args.init))
        init = ContactNet(walls=state["layers.0.weight"].shape[1] == FEATURES + WALL_FEATURES)
        init.load_state_dict(state)
    planner = None
    if args.planner_episodes is not None:
        states_list, actions_list = [], []
        for path in args.planner_episodes:
            with np.load(path) as recorded:
                states_list.append(recorded["states"])
                actions_list.append(recorded["actions"])
        planner = (np.concatenate(states_list), np.concatenate(actions_list))
        print(f"planner episodes: {planner[0].shape[0]} x {planner[1].shape[1]} steps", flush=True)

    tic = time.perf_counter()
    states, actions = simulate_transitions(args.episodes, args.steps, args.seed, not args.overlapping_starts)
    print(f"simulated {states.shape[0]} episodes x {args.steps} steps in {time.perf_counter() - tic:.0f} s", flush=True)
    net = train(states, actions, args.iterations, args.window, args.batch, args.seed,
                log=lambda line: print(line, flush=True), agent_noise_px=args.agent_noise, init=init,
                planner=planner, planner_share=args.planner_share, max_lr=args.max_lr, walls=args.walls)
    report = held_out_report(net, args.held_out, args.held_out_seed)
    print(json.dumps(report), flush=True)
    config = {k: [str(p) for p in v] if k == "planner_episodes" and v else str(v) if isinstance(v, Path) else v
              for k, v in vars(args).items() if k != "out"}
    metadata = {"config": json.dumps(config), "held_out": json.dumps(report)}
    args.out.parent.mkdir(parents=True, exist_ok=True)
    tmp = args.out.with_suffix(".tmp")
    save_file({k: v.contiguous() for k, v in net.state_dict().items()}, str(tmp), metadata=metadata)
    os.replace(tmp, args.out)
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
