"""Train the frame-autoregressive PushT model (`pusht-structured`, family causal-video).

    python -m dream_engine_ros.envs.pusht.training.causal_data \
        --episodes 800 --steps 64 --seed 0 --out data/causal_train.npz
    python -m dream_engine_ros.envs.pusht.training.train_causal train --steps 20000 --minutes 60
    python -m dream_engine_ros.envs.pusht.training.train_causal export     # EMA -> dream_engine_ros/weights/

One training sample = (the last `context_frames` frames, the last `context_actions` actions,
the next frame). Early frames of an episode repeat frame 0 and action 0, exactly as a rollout
from a single start frame does. The target is the next frame's change relative to the last
context frame, noised on the rectified-flow path x_t = (1 - t) x0 + t noise; the network
predicts x0. Half of the samples use t = 1 (pure noise): that is the one-step default, whose
output is the conditional mean of the change. Context frames get a little Gaussian noise so the
model tolerates its own small errors when it is fed back its predictions. Pixels that change
weigh more in the loss (the agent and the T are a few percent of the image).

The shipped network is a warp model (`FrameNetConfig.warp`): it also predicts where each pixel
comes from in the last frame. That displacement is supervised with the simulator's own rigid
motions of the T and the agent (`pusht_flow`), and the pixel loss trains only the residual.

Seeded; checkpoints every 100 steps (atomically) and resumes from `runs/pusht-structured/ckpt.pt`.
"""

from __future__ import annotations

import argparse
import copy
import dataclasses
import json
import os
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from dream_engine_ros.engine.families.causal_video.frame_unet import FrameDenoiser
from dream_engine_ros.engine.families.causal_video.rollout import gate, to_pixels, to_unit
from dream_engine_ros.engine.spec import ModelSpec, get_spec
from dream_engine_ros.engine.weights import save_module_weights
from dream_engine_ros.envs.pusht.training.pusht_flow import backward_flow
from dream_engine_ros.envs.pusht.training.train_pusht import Checkpoint, log_stage

CHANGE_WEIGHT = 10.0  # extra loss weight on pixels whose value changes (dilated by 2 px)
CONTEXT_NOISE = 0.03  # max std of the Gaussian noise added to context frames, in [-1, 1] units
FLOW_WEIGHT = 0.2  # loss weight of the displacement supervision (pixels, L1) of a warp model
FLOW_HEAD_LR_SCALE = 10.0  # learning-rate multiple of the displacement head
FLOW_FLOOR_WEIGHT = 0.2  # relative weight of floor / goal pixels (should stay put) in that loss


def _unit(a: np.ndarray) -> torch.Tensor:
    """uint8 (..., H, W, 3) -> float (..., 3, H, W) in [-1, 1]."""
    return torch.from_numpy(a).float().div(127.5).sub(1.0).movedim(-1, -3)


def _action_window(actions: np.ndarray, ep: np.ndarray, k: np.ndarray, count: int, spec: ModelSpec) -> torch.Tensor:
    """Normalised actions k - count + 1 .. k of each sample (action 0 standing in before the start)."""
    idx = np.clip(k[:, None] + np.arange(-count + 1, 1)[None], 0, None)
    return torch.from_numpy(spec.normalise_actions(actions[ep[:, None], idx])).float()


def contact_steps(states: np.ndarray) -> np.ndarray:
    """(episode, k) pairs where the block moves between frames k and k + 1 (the agent pushes it)."""
    step = np.abs(np.diff(states[:, :, 2:5], axis=1))
    moving = (np.hypot(step[..., 0], step[..., 1]) > 0.5) | (step[..., 2] > 0.005)
    return np.argwhere(moving)


Batch = tuple[torch.Tensor, torch.Tensor, torch.Tensor, np.ndarray, np.ndarray]


def sample_batch(frames: np.ndarray, actions: np.ndarray, rng: np.random.Generator, batch: int, context: int,
                 context_actions: int, spec: ModelSpec, min_k: int = 0, contacts: np.ndarray | None = None,
                 contact_share: float = 0.0) -> Batch:
    """(context (B, F, 3, H, W), actions (B, A, D), target change (B, 3, H, W), ep, k) in [-1, 1].

    A `contact_share` of the samples is drawn from `contacts` (see `contact_steps`): pushes are
    a minority of all frames but the hardest thing to learn.
    """
    episodes, length = frames.shape[0], actions.shape[1]
    ep = rng.integers(0, episodes, size=batch)
    k = rng.integers(min_k, length, size=batch)  # predict frame k + 1
    if contacts is not None and contact_share > 0:
        pool = contacts[contacts[:, 1] >= min_k]
        chosen = rng.random(batch) < contact_share
        picks = pool[rng.integers(0, len(pool), size=int(chosen.sum()))]
        ep[chosen], k[chosen] = picks[:, 0], picks[:, 1]
    ctx_idx = np.clip(k[:, None] + np.arange(-context + 1, 1)[None], 0, None)
    ctx_t = _unit(frames[ep[:, None], ctx_idx])
    target = _unit(frames[ep, k + 1]) - ctx_t[:, -1]
    return ctx_t, _action_window(actions, ep, k, context_actions, spec), target, ep, k


@torch.no_grad()
def self_forced_context(net: FrameDenoiser, frames: np.ndarray, actions: np.ndarray, ep: np.ndarray, k: np.ndarray,
                        unroll: int, spec: ModelSpec, gen: torch.Generator) -> torch.Tensor:
    """The context for predicting frame k + 1 as the model itself would have made it: start from
    the true frames up to k - unroll and predict the last `unroll` frames with the network (one
    step from noise, gated and rounded to uint8 exactly as a rollout does).

    Why: trained only on true contexts, the model never learns to clean up its own small errors
    (a faint trail behind the agent, a slightly wrong edge), which then pile up over 48 frames.
    Here the target stays the true next frame, so the model learns to pull a drifting rollout back.
    """
    cfg = spec.frame_model
    assert cfg is not None
    start = k - unroll
    idx = np.clip(start[:, None] + np.arange(-cfg.context_frames + 1, 1)[None], 0, None)
    ctx = _unit(frames[ep[:, None], idx])
    for j in range(unroll):
        acts = _action_window(actions, ep, start + j, cfg.context_actions, spec)
        noise = torch.randn(ctx[:, -1].shape, generator=gen)
        change = gate(net(ctx, noise, torch.ones(len(ep)), acts), spec.change_floor)
        nxt = to_unit(to_pixels(ctx[:, -1] + change), torch.device("cpu"))
        ctx = torch.cat([ctx[:, 1:], nxt[:, None]], dim=1)
    return ctx


def change_weight(target: torch.Tensor) -> torch.Tensor:
    moving = (target.abs().amax(dim=1, keepdim=True) > 0.02).float()
    moving = F.max_pool2d(moving, 5, stride=1, padding=2)
    return 1.0 + CHANGE_WEIGHT * moving


def flow_loss(flow: torch.Tensor, states: np.ndarray, frames: np.ndarray, ep: np.ndarray,
              k: np.ndarray) -> torch.Tensor:
    """Weighted mean L1 distance (pixels per component) of a warp model's displacements to the
    simulator's (`pusht_flow`): objects count fully, the floor (which must stay put) by
    FLOW_FLOOR_WEIGHT. A weighted mean, so the few object pixels are not drowned by the floor."""
    truth, labels = backward_flow(frames[ep, k + 1], states[ep, k], states[ep, k + 1])
    weight = torch.from_numpy(np.where(labels >= 2, 1.0, FLOW_FLOOR_WEIGHT).astype(np.float32))[:, None]
    return (weight * (flow - torch.from_numpy(truth)).abs()).sum() / (2.0 * weight.sum())


def load_init(net: torch.nn.Module, path: Path) -> list[str]:
    """Load another run's EMA weights; a new warp head missing there keeps its zero start.
    Returns the keys that were not in the file."""
    init = torch.load(path, weights_only=False)["ema"]
    missing, unexpected = net.load_state_dict(init, strict=False)
    if unexpected or any(not key.startswith("flow_head.") for key in missing):
        raise ValueError(f"{path}: does not fit this network (missing {missing}, unexpected {unexpected})")
    return list(missing)


def train(spec: ModelSpec, data_path: Path, run: Path, steps: int, batch: int, minutes: float, seed: int,
          lr: float = 1e-3, self_forcing: float = 0.0, max_unroll: int = 6, init_from: Path | None = None,
          contact_share: float = 0.0) -> None:
    """`self_forcing` = share of steps whose context the model made itself (1..max_unroll frames);
    `init_from` = start a new run (own checkpoint, own schedule) from another run's EMA weights;
    `contact_share` = share of samples taken where the block moves."""
    cfg = spec.frame_model
    assert cfg is not None
    data = np.load(data_path)
    frames, actions, states = data["frames"], data["actions"], data["states"]
    contacts = contact_steps(states) if contact_share > 0 else None
    torch.manual_seed(seed)
    net = FrameDenoiser(cfg)
    ema = copy.deepcopy(net).requires_grad_(False)
    # a new displacement head learns from zero next to a trunk that is already trained: faster
    head = [p for name, p in net.named_parameters() if name.startswith("flow_head.")]
    trunk = [p for name, p in net.named_parameters() if not name.startswith("flow_head.")]
    opt = torch.optim.AdamW([{"params": trunk, "lr_scale": 1.0}, {"params": head, "lr_scale": FLOW_HEAD_LR_SCALE}],
                            lr=lr, weight_decay=0.01)
    if init_from is not None and not (run / "ckpt.pt").exists():
        fresh = load_init(net, init_from)
        ema.load_state_dict(net.state_dict())
        log_stage("causal", init=str(init_from), fresh=len(fresh))
    ckpt = Checkpoint(run / "ckpt.pt")
    step, rng_state = 0, None
    if (state := ckpt.load()) is not None:
        net.load_state_dict(state["model"])
        ema.load_state_dict(state["ema"])
        opt.load_state_dict(state["opt"])
        step, rng_state = state["step"], state["rng"]
    rng = np.random.default_rng(seed)
    if rng_state is not None:
        rng.bit_generator.state = rng_state
    gen = torch.Generator().manual_seed(seed + step)
    deadline = time.time() + minutes * 60
    tic, losses, flow_losses = time.time(), [], []
    while step < steps and time.time() < deadline:
        unroll = int(rng.integers(1, max_unroll + 1)) if rng.random() < self_forcing else 0
        ctx, acts, target, ep, k = sample_batch(frames, actions, rng, batch, cfg.context_frames,
                                                cfg.context_actions, spec, min_k=unroll, contacts=contacts,
                                                contact_share=contact_share)
        if unroll:
            ctx = self_forced_context(net, frames, actions, ep, k, unroll, spec, gen)
            target = _unit(frames[ep, k + 1]) - ctx[:, -1]
        sigma = torch.rand(batch, 1, 1, 1, 1, generator=gen) * CONTEXT_NOISE
        ctx = ctx + sigma * torch.randn(ctx.shape, generator=gen)
        t = torch.rand(batch, generator=gen)
        t = torch.where(torch.rand(batch, generator=gen) < 0.5, torch.ones_like(t), t)
        noise = torch.randn(target.shape, generator=gen)
        noisy = (1.0 - t[:, None, None, None]) * target + t[:, None, None, None] * noise
        pred, flow = net.change_and_flow(ctx, noisy, t, acts, flow_gradient=False)
        loss = (change_weight(target) * (pred - target) ** 2).mean()
        if flow is not None:
            displacement = flow_loss(flow, states, frames, ep, k)
            flow_losses.append(displacement.item())
            loss = loss + FLOW_WEIGHT * displacement
        for group in opt.param_groups:
            schedule = min(1.0, (step + 1) / 300) * (0.1 + 0.9 * 0.5 * (1 + np.cos(np.pi * step / steps)))
            group["lr"] = group["lr_scale"] * lr * schedule
        opt.zero_grad(set_to_none=True)
        loss.backward()  # type: ignore[no-untyped-call]  # Tensor.backward is untyped in this torch build
        torch.nn.utils.clip_grad_norm_(net.parameters(), 1.0)
        opt.step()
        with torch.no_grad():
            decay = min(0.999, (1 + step) / (10 + step))
            for pe, p in zip(ema.parameters(), net.parameters(), strict=True):
                pe.lerp_(p, 1.0 - decay)
        step += 1
        losses.append(loss.item())
        if step % 100 == 0 or step == steps:
            ckpt.save(model=net.state_dict(), ema=ema.state_dict(), opt=opt.state_dict(), step=step,
                      rng=rng.bit_generator.state)
            log_stage("causal", step=step, loss=round(float(np.mean(losses)), 5),
                 flow_px=round(float(np.mean(flow_losses)), 4) if flow_losses else None,
                 s_per_step=round((time.time() - tic) / 100, 3))
            tic, losses, flow_losses = time.time(), [], []
    ckpt.save(model=net.state_dict(), ema=ema.state_dict(), opt=opt.state_dict(), step=step,
              rng=rng.bit_generator.state)
    log_stage("causal", done=step)


def export(spec: ModelSpec, run: Path, out_dir: Path) -> Path:
    assert spec.frame_model is not None
    state: dict[str, Any] = torch.load(run / "ckpt.pt", weights_only=False)
    net = FrameDenoiser(spec.frame_model)
    net.load_state_dict(state["ema"])
    out = save_module_weights(net, out_dir / spec.weights.files["frame_model"],
                              metadata={"spec": spec.name, "train_steps": str(state["step"])})
    log_stage("export", path=str(out), step=state["step"])
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("stage", choices=["train", "export"])
    parser.add_argument("--spec", default="pusht-structured")
    parser.add_argument("--data", type=Path, default=Path("data/causal_train.npz"))
    parser.add_argument("--run", type=Path, default=Path("runs/pusht-structured"))
    parser.add_argument("--out", type=Path, default=Path(__file__).resolve().parent.parent / "weights")
    parser.add_argument("--steps", type=int, default=20000)
    parser.add_argument("--batch", type=int, default=16)
    parser.add_argument("--minutes", type=float, default=60.0)
    parser.add_argument("--lr", type=float, default=1e-3)
    parser.add_argument("--threads", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--self-forcing", type=float, default=0.0,
                        help="share of steps trained on contexts the model predicted itself")
    parser.add_argument("--max-unroll", type=int, default=6, help="most self-predicted context frames")
    parser.add_argument("--init", type=Path, default=None, help="start from this checkpoint's EMA weights")
    parser.add_argument("--contact-share", type=float, default=0.0,
                        help="share of samples drawn from frames where the block moves")
    parser.add_argument("--no-warp", action="store_true",
                        help="train the plain network (change only, no displacement head), as stages 1-4 were")
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    spec = get_spec(args.spec)
    if args.no_warp and spec.frame_model is not None:
        spec = dataclasses.replace(spec, frame_model=dataclasses.replace(spec.frame_model, warp=False))
    args.run.mkdir(parents=True, exist_ok=True)
    if args.stage == "train":
        train(spec, args.data, args.run, args.steps, args.batch, args.minutes, args.seed, args.lr,
              args.self_forcing, args.max_unroll, args.init, args.contact_share)
    else:
        print(json.dumps({"weights": str(export(spec, args.run, args.out))}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
