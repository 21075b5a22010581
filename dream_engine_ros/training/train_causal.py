"""Train the frame-autoregressive PushT model (`pusht-causal`, family causal-video).

    python -m dream_engine_ros.training.causal_data --episodes 800 --steps 64 --seed 0 --out data/causal_train.npz
    python -m dream_engine_ros.training.train_causal train --steps 20000 --minutes 60
    python -m dream_engine_ros.training.train_causal export     # EMA -> dream_engine_ros/weights/

One training sample = (the last `context_frames` frames, the last `context_actions` actions,
the next frame). Early frames of an episode repeat frame 0 and action 0, exactly as a rollout
from a single start frame does. The target is the next frame's change relative to the last
context frame, noised on the rectified-flow path x_t = (1 - t) x0 + t noise; the network
predicts x0. Half of the samples use t = 1 (pure noise): that is the one-step default, whose
output is the conditional mean of the change. Context frames get a little Gaussian noise so the
model tolerates its own small errors when it is fed back its predictions. Pixels that change
weigh more in the loss (the agent and the T are a few percent of the image).

Seeded; checkpoints every 100 steps (atomically) and resumes from `runs/pusht-causal/ckpt.pt`.
"""

from __future__ import annotations

import argparse
import copy
import json
import os
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from ..engine.backbone.frame_unet import FrameDenoiser
from ..engine.spec import ModelSpec, get_spec
from ..engine.weights import save_module_weights
from .train_pusht import _Checkpoint, _log

CHANGE_WEIGHT = 10.0  # extra loss weight on pixels whose value changes (dilated by 2 px)
CONTEXT_NOISE = 0.03  # max std of the Gaussian noise added to context frames, in [-1, 1] units


def sample_batch(frames: np.ndarray, actions: np.ndarray, rng: np.random.Generator, batch: int, context: int,
                 context_actions: int, spec: ModelSpec) -> tuple[torch.Tensor, ...]:
    """(context (B, F, 3, H, W), actions (B, A, D), target change (B, 3, H, W)) in [-1, 1]."""
    episodes, length = frames.shape[0], actions.shape[1]
    ep = rng.integers(0, episodes, size=batch)
    k = rng.integers(0, length, size=batch)  # predict frame k + 1
    ctx_idx = np.clip(k[:, None] + np.arange(-context + 1, 1)[None], 0, None)
    act_idx = np.clip(k[:, None] + np.arange(-context_actions + 1, 1)[None], 0, None)
    ctx = frames[ep[:, None], ctx_idx]  # (B, F, H, W, 3)
    nxt = frames[ep, k + 1]
    acts = spec.normalise_actions(actions[ep[:, None], act_idx])
    to_unit = lambda a: torch.from_numpy(a).float().div(127.5).sub(1.0)  # noqa: E731
    ctx_t = to_unit(ctx).permute(0, 1, 4, 2, 3)
    target = to_unit(nxt).permute(0, 3, 1, 2) - ctx_t[:, -1]
    return ctx_t, torch.from_numpy(acts).float(), target


def change_weight(target: torch.Tensor) -> torch.Tensor:
    moving = (target.abs().amax(dim=1, keepdim=True) > 0.02).float()
    moving = F.max_pool2d(moving, 5, stride=1, padding=2)
    return 1.0 + CHANGE_WEIGHT * moving


def train(spec: ModelSpec, data_path: Path, run: Path, steps: int, batch: int, minutes: float, seed: int,
          lr: float = 1e-3) -> None:
    cfg = spec.frame_model
    assert cfg is not None
    data = np.load(data_path)
    frames, actions = data["frames"], data["actions"]
    torch.manual_seed(seed)
    net = FrameDenoiser(cfg)
    ema = copy.deepcopy(net).requires_grad_(False)
    opt = torch.optim.AdamW(net.parameters(), lr=lr, weight_decay=0.01)
    ckpt = _Checkpoint(run / "ckpt.pt")
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
    tic, losses = time.time(), []
    while step < steps and time.time() < deadline:
        ctx, acts, target = sample_batch(frames, actions, rng, batch, cfg.context_frames, cfg.context_actions, spec)
        sigma = torch.rand(batch, 1, 1, 1, 1, generator=gen) * CONTEXT_NOISE
        ctx = ctx + sigma * torch.randn(ctx.shape, generator=gen)
        t = torch.rand(batch, generator=gen)
        t = torch.where(torch.rand(batch, generator=gen) < 0.5, torch.ones_like(t), t)
        noise = torch.randn(target.shape, generator=gen)
        noisy = (1.0 - t[:, None, None, None]) * target + t[:, None, None, None] * noise
        pred = net(ctx, noisy, t, acts)
        loss = (change_weight(target) * (pred - target) ** 2).mean()
        for group in opt.param_groups:
            group["lr"] = lr * min(1.0, (step + 1) / 300) * (0.1 + 0.9 * 0.5 * (1 + np.cos(np.pi * step / steps)))
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(net.parameters(), 1.0)
        opt.step()
        with torch.no_grad():
            decay = min(0.999, (1 + step) / (10 + step))
            for pe, p in zip(ema.parameters(), net.parameters()):
                pe.lerp_(p, 1.0 - decay)
        step += 1
        losses.append(loss.item())
        if step % 100 == 0 or step == steps:
            ckpt.save(model=net.state_dict(), ema=ema.state_dict(), opt=opt.state_dict(), step=step,
                      rng=rng.bit_generator.state)
            _log("causal", step=step, loss=round(float(np.mean(losses)), 5), s_per_step=round((time.time() - tic) / 100, 3))
            tic, losses = time.time(), []
    ckpt.save(model=net.state_dict(), ema=ema.state_dict(), opt=opt.state_dict(), step=step,
              rng=rng.bit_generator.state)
    _log("causal", done=step)


def export(spec: ModelSpec, run: Path, out_dir: Path) -> Path:
    assert spec.frame_model is not None
    state: dict[str, Any] = torch.load(run / "ckpt.pt", weights_only=False)
    net = FrameDenoiser(spec.frame_model)
    net.load_state_dict(state["ema"])
    out = save_module_weights(net, out_dir / spec.weights.files["frame_model"],
                              metadata={"spec": spec.name, "train_steps": str(state["step"])})
    _log("export", path=str(out), step=state["step"])
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("stage", choices=["train", "export"])
    parser.add_argument("--spec", default="pusht-causal")
    parser.add_argument("--data", type=Path, default=Path("data/causal_train.npz"))
    parser.add_argument("--run", type=Path, default=Path("runs/pusht-causal"))
    parser.add_argument("--out", type=Path, default=Path(__file__).resolve().parent.parent / "weights")
    parser.add_argument("--steps", type=int, default=20000)
    parser.add_argument("--batch", type=int, default=16)
    parser.add_argument("--minutes", type=float, default=60.0)
    parser.add_argument("--lr", type=float, default=1e-3)
    parser.add_argument("--threads", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    spec = get_spec(args.spec)
    args.run.mkdir(parents=True, exist_ok=True)
    if args.stage == "train":
        train(spec, args.data, args.run, args.steps, args.batch, args.minutes, args.seed, args.lr)
    else:
        print(json.dumps({"weights": str(export(spec, args.run, args.out))}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
