"""Train the embedded `pusht-tiny` world model on CPU: VAE, then latents, then the DiT.

Stages (each resumable from its checkpoint in the run directory, each seeded):
  vae      causal video VAE on 8-pixel-aligned crops of 5-frame clips (L1 + MSE + tiny latent L2)
  vae-long the same VAE fine-tuned on 13-frame clips (one chunk's stream)
  latents  encode every chunk window (13 frames) as a fresh stream, as the runner does, and
           its condition frame held still (the residual reference); per-channel statistics
  dit      rectified-flow DiT on windows of 4 latents (1 condition + 3 predicted) with the
           12 actions that produce them, denoising the change relative to the still
           reference; 10 % action dropout for classifier-free guidance
  export   EMA weights -> safetensors files the engine loads, plus the latent statistics

Why crops for the VAE: every VAE layer but the middle attention is convolutional, so a crop
teaches the same filters at a quarter of the cost, which is what makes CPU training feasible.
"""

from __future__ import annotations

import argparse
import copy
import json
import math
import os
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from dream_engine_ros.engine.families.rectified_flow.dit import ActionDiT
from dream_engine_ros.engine.families.rectified_flow.wan_vae import StreamState, WanVAE
from dream_engine_ros.engine.pixels import pixels_to_unit
from dream_engine_ros.engine.spec import ModelSpec
from dream_engine_ros.engine.weights import save_module_weights
from dream_engine_ros.envs.pusht.specs import PUSHT_TINY

CLIP_FRAMES = 5
CROP = 48
CROP_CANDIDATES = 4
FOREGROUND_WEIGHT = 4.0
WINDOW_LATENTS = 4


def log_stage(stage: str, **fields: Any) -> None:
    print(json.dumps({"stage": stage, **fields}), flush=True)


def _save_atomically(obj: Any, path: Path) -> None:
    """torch.save through a temporary file, so an interrupted stage never leaves half a file."""
    tmp = path.with_suffix(".tmp")
    torch.save(obj, tmp)
    os.replace(tmp, path)


class Checkpoint:
    """Save/restore model + optimiser + step + RNG so an interrupted stage resumes exactly."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def save(self, **state: Any) -> None:
        _save_atomically({**state, "torch_rng": torch.get_rng_state(), "np_rng": np.random.get_state()}, self.path)

    def load(self) -> dict[str, Any] | None:
        if not self.path.exists():
            return None
        state: dict[str, Any] = torch.load(self.path, weights_only=False)
        torch.set_rng_state(state.pop("torch_rng"))
        np.random.set_state(state.pop("np_rng"))
        return state


def _lr(step: int, total: int, peak: float, warmup: int) -> float:
    if step < warmup:
        return peak * (step + 1) / warmup
    progress = min(1.0, (step - warmup) / max(1, total - warmup))
    return peak * (0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * progress)))


# ------------------------------------------------------------------------------------ VAE


def _foreground(video: torch.Tensor) -> torch.Tensor:
    """1 where a pixel differs from its clip's background colour (the per-channel median)."""
    background = video.flatten(2).median(dim=2).values[:, :, None, None, None]
    return ((video - background).abs().amax(dim=1, keepdim=True) > 0.1).float()


def _pick_crops(frames: np.ndarray, ep: np.ndarray, t0: np.ndarray, crop: int = CROP) -> tuple[np.ndarray, np.ndarray]:
    """Per clip, the 8-aligned crop (of a few random candidates) showing the most objects.

    PushT frames are mostly empty floor; crops without the block or agent teach the VAE little.
    """
    grid = (96 - crop) // 8 + 1
    ys = np.random.randint(0, grid, (len(ep), CROP_CANDIDATES)) * 8
    xs = np.random.randint(0, grid, (len(ep), CROP_CANDIDATES)) * 8
    best_y, best_x = np.empty(len(ep), dtype=int), np.empty(len(ep), dtype=int)
    for i, (e, t) in enumerate(zip(ep, t0, strict=True)):
        image = frames[e, t].astype(np.int16)
        busy = (np.abs(image - np.median(image.reshape(-1, 3), axis=0)).max(axis=2) > 12)
        scores = [busy[y:y + crop, x:x + crop].sum() for y, x in zip(ys[i], xs[i], strict=True)]
        j = int(np.argmax(scores))
        best_y[i], best_x[i] = ys[i, j], xs[i, j]
    return best_y, best_x


def train_vae(spec: ModelSpec, frames: np.ndarray, run: Path, steps: int, batch: int, minutes: float, seed: int,
              clip_frames: int = CLIP_FRAMES, crop: int = CROP, peak_lr: float = 1.5e-3, name: str = "vae",
              init_from: str | None = None) -> None:
    """Train (or, with `init_from`, fine-tune from another stage's weights) the VAE on clips.

    Stage 'vae' learns the spatial code on short 5-frame clips (cheap); stage 'vae-long'
    continues on 13-frame clips, i.e. exactly the stream one chunk decodes, so that latents
    with causal history are in distribution too.
    """
    torch.manual_seed(seed)
    np.random.seed(seed)
    vae = WanVAE(spec.vae)
    if init_from is not None:
        vae.load_state_dict(torch.load(run / init_from, weights_only=False)["model"])
    opt = torch.optim.AdamW(vae.parameters(), lr=peak_lr, weight_decay=0.0, betas=(0.9, 0.99))
    ckpt = Checkpoint(run / f"{name.replace('-', '_')}_ckpt.pt")
    step = 0
    if (state := ckpt.load()) is not None:
        vae.load_state_dict(state["model"])
        opt.load_state_dict(state["opt"])
        step = state["step"]
        log_stage(name, resumed_at=step)
    episodes, length = frames.shape[:2]
    start, last_save = time.monotonic(), time.monotonic()
    while step < steps and time.monotonic() - start < minutes * 60:
        ep = np.random.randint(0, episodes, batch)
        t0 = np.random.randint(0, length - clip_frames + 1, batch)
        y0, x0 = _pick_crops(frames, ep, t0, crop)
        clip = np.stack([
            frames[e, t:t + clip_frames, y:y + crop, x:x + crop] for e, t, y, x in zip(ep, t0, y0, x0, strict=True)
        ])
        video = pixels_to_unit(torch.from_numpy(clip).permute(0, 4, 1, 2, 3))
        for group in opt.param_groups:
            group["lr"] = _lr(step, steps, peak_lr, 50)
        # Deterministic autoencoding (the engine only ever decodes the posterior mean): a little
        # latent noise keeps the decoder tolerant of imperfect DiT latents, a tiny L2 keeps the
        # latent scale bounded. Sampling with the initial unit posterior std would drown the
        # signal early and cost most of a short CPU budget.
        mu, _ = vae.encode_moments(video)
        z = mu + 0.01 * torch.randn_like(mu)
        recon = vae.decoder(vae.conv2(z), StreamState())
        weight = 1.0 + FOREGROUND_WEIGHT * _foreground(video)
        error = recon - video
        rec_loss = (weight * (error.abs() + error.pow(2))).mean() / weight.mean()
        loss = rec_loss + 1e-6 * mu.pow(2).mean()
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(vae.parameters(), 1.0)
        opt.step()
        step += 1
        if step % 25 == 0:
            psnr = 10 * math.log10(4.0 / max(F.mse_loss(recon.detach(), video).item(), 1e-10))
            log_stage(name, step=step, loss=round(loss.item(), 5), psnr_db=round(psnr, 2),
                 elapsed_s=round(time.monotonic() - start, 1))
        if time.monotonic() - last_save > 120:
            ckpt.save(model=vae.state_dict(), opt=opt.state_dict(), step=step)
            last_save = time.monotonic()
    ckpt.save(model=vae.state_dict(), opt=opt.state_dict(), step=step)
    log_stage(name, done_at=step, elapsed_s=round(time.monotonic() - start, 1))


def load_trained_vae(spec: ModelSpec, run: Path) -> WanVAE:
    """The last VAE stage that exists ('vae-long' over 'vae')."""
    path = run / "vae_long_ckpt.pt" if (run / "vae_long_ckpt.pt").exists() else run / "vae_ckpt.pt"
    vae = WanVAE(spec.vae)
    vae.load_state_dict(torch.load(path, weights_only=False)["model"])
    return vae.eval()


# -------------------------------------------------------------------------------- latents


def window_starts(length: int, chunk: int, episode: int) -> list[int]:
    """Chunk-aligned window starts; odd episodes are offset by half a chunk for variety."""
    offset = (chunk // 2) if episode % 2 else 0
    return list(range(offset, length - chunk, chunk))


def window_index(frames: np.ndarray, chunk: int) -> np.ndarray:
    """(episode, start) of every training window."""
    return np.array([(e, s) for e in range(frames.shape[0]) for s in window_starts(frames.shape[1], chunk, e)])


@torch.inference_mode()
def encode_windows(vae: WanVAE, frames: np.ndarray, index: np.ndarray, chunk: int, still: bool = False,
                   batch: int = 16) -> torch.Tensor:
    """Raw posterior means of every (chunk + 1)-frame window, each encoded as a fresh stream
    exactly as the runner encodes a chunk. With `still`, the window's condition frame held
    still instead: the 'nothing moves' reference the DiT's target is measured from."""
    out = []
    for i in range(0, len(index), batch):
        if still:
            clips = np.stack([np.repeat(frames[e, s][None], chunk + 1, axis=0) for e, s in index[i:i + batch]])
        else:
            clips = np.stack([frames[e, s:s + chunk + 1] for e, s in index[i:i + batch]])
        mu, _ = vae.encode_moments(pixels_to_unit(torch.from_numpy(clips).permute(0, 4, 1, 2, 3)))
        out.append(mu)
    return torch.cat(out)


def make_latents(spec: ModelSpec, frames: np.ndarray, run: Path) -> None:
    """Window latents, their still-frame references and the latent statistics, in latents.pt.

    Resumable per part: an existing file keeps its window latents and only gains what is missing.
    """
    start = time.monotonic()
    vae = load_trained_vae(spec, run)
    path = run / "latents.pt"
    data: dict[str, torch.Tensor] = torch.load(path) if path.exists() else {}
    if "mu" not in data:
        index = window_index(frames, spec.chunk_size)
        mu = encode_windows(vae, frames, index, spec.chunk_size)
        data = {"mu": mu, "index": torch.from_numpy(index), "mean": mu.mean(dim=(0, 2, 3, 4)),
                "std": mu.std(dim=(0, 2, 3, 4))}
        _save_atomically(data, path)
    if "still" not in data:
        data["still"] = encode_windows(vae, frames, data["index"].numpy(), spec.chunk_size, still=True)
        _save_atomically(data, path)
    mean, std = data["mean"], data["std"]
    log_stage("latents", shape=list(data["mu"].shape), mean=[round(v, 4) for v in mean.tolist()],
         std=[round(v, 4) for v in std.tolist()], elapsed_s=round(time.monotonic() - start, 1))


# ------------------------------------------------------------------------------------ DiT


def train_dit(spec: ModelSpec, actions: np.ndarray, run: Path, steps: int, batch: int, minutes: float, seed: int,
              init_from: str | None = None) -> None:
    """Rectified-flow training; with `init_from` (a DiT checkpoint in the run) as a fine-tune."""
    torch.manual_seed(seed)
    np.random.seed(seed)
    data = torch.load(run / "latents.pt")
    mean, std = data["mean"].view(1, -1, 1, 1, 1), data["std"].view(1, -1, 1, 1, 1)
    lat = (data["mu"] - mean) / std
    still = (data["still"] - mean) / std if spec.residual == "still" else None
    acts = torch.from_numpy(spec.normalise_actions(actions))
    net = ActionDiT(spec.dit)
    if init_from is not None:
        net.load_state_dict(torch.load(run / init_from, weights_only=False)["ema"])
    ema = copy.deepcopy(net).requires_grad_(False)
    opt = torch.optim.AdamW(net.parameters(), lr=4e-4, weight_decay=0.01, betas=(0.9, 0.99))
    ckpt = Checkpoint(run / "dit_ckpt.pt")
    step = 0
    if (state := ckpt.load()) is not None:
        net.load_state_dict(state["model"])
        ema.load_state_dict(state["ema"])
        opt.load_state_dict(state["opt"])
        step = state["step"]
        log_stage("dit", resumed_at=step)
    index = data["index"]
    windows, _, _, h, w = lat.shape
    mask = torch.zeros(batch, 1, WINDOW_LATENTS, h, w)
    mask[:, :, 0] = 1.0
    start, last_save = time.monotonic(), time.monotonic()
    while step < steps and time.monotonic() - start < minutes * 60:
        pick = torch.from_numpy(np.random.randint(0, windows, batch))
        x0 = lat[pick]
        cond = x0[:, :, :1]
        if still is not None:
            x0 = x0 - still[pick]  # denoise the change relative to the condition frame held still
        a = torch.stack([acts[int(e), int(s):int(s) + spec.chunk_size] for e, s in index[pick].tolist()])
        u = torch.rand(batch)
        sigma = spec.shift * u / (1 + (spec.shift - 1) * u)
        noise = torch.randn_like(x0)
        s = sigma.view(-1, 1, 1, 1, 1)
        xt = s * noise + (1 - s) * x0
        cond_noise = (torch.rand(batch) < 0.5).float().view(-1, 1, 1, 1, 1) * 0.05
        xt[:, :, :1] = cond + cond_noise * torch.randn_like(cond)
        drop = torch.rand(batch) < 0.1
        for group in opt.param_groups:
            group["lr"] = _lr(step, steps, 4e-4, 200)
        v = net(xt, sigma * 1000.0, mask, a, drop_actions=drop)
        target = noise - x0
        loss = F.mse_loss(v[:, :, 1:], target[:, :, 1:])
        opt.zero_grad(set_to_none=True)
        loss.backward()  # type: ignore[no-untyped-call]  # Tensor.backward is untyped in this torch build
        torch.nn.utils.clip_grad_norm_(net.parameters(), 1.0)
        opt.step()
        step += 1
        decay = min(0.999, (1 + step) / (10 + step))
        with torch.no_grad():
            for pe, pn in zip(ema.parameters(), net.parameters(), strict=True):
                pe.lerp_(pn, 1 - decay)
        if step % 50 == 0:
            log_stage("dit", step=step, loss=round(loss.item(), 5), elapsed_s=round(time.monotonic() - start, 1))
        if time.monotonic() - last_save > 120:
            ckpt.save(model=net.state_dict(), ema=ema.state_dict(), opt=opt.state_dict(), step=step)
            last_save = time.monotonic()
    ckpt.save(model=net.state_dict(), ema=ema.state_dict(), opt=opt.state_dict(), step=step)
    log_stage("dit", done_at=step, elapsed_s=round(time.monotonic() - start, 1))


# --------------------------------------------------------------------------------- export


def export(spec: ModelSpec, run: Path, out_dir: Path) -> None:
    """Write the shipped weight files and print the latent statistics for the spec."""
    data = torch.load(run / "latents.pt")
    mean, std = data["mean"], data["std"]
    vae = load_trained_vae(spec, run)
    dit = ActionDiT(spec.dit)
    dit.load_state_dict(torch.load(run / "dit_ckpt.pt", weights_only=False)["ema"])
    meta = {"spec": spec.name, "latent_mean": json.dumps(mean.tolist()), "latent_std": json.dumps(std.tolist())}
    out_dir.mkdir(parents=True, exist_ok=True)
    save_module_weights(vae, out_dir / spec.weights.files["vae"], metadata=meta)
    save_module_weights(dit, out_dir / spec.weights.files["dit"], metadata=meta)
    log_stage("export", out_dir=str(out_dir), latent_mean=mean.tolist(), latent_std=std.tolist())


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("stage", choices=["vae", "vae-long", "latents", "dit", "export", "all"])
    parser.add_argument("--data", type=Path, default=Path("data/pusht_train.npz"))
    parser.add_argument("--run", type=Path, default=Path("runs/pusht-tiny"))
    parser.add_argument("--out", type=Path, default=Path(__file__).resolve().parent.parent / "weights")
    parser.add_argument("--vae-steps", type=int, default=3000)
    parser.add_argument("--vae-batch", type=int, default=8)
    parser.add_argument("--vae-minutes", type=float, default=20.0)
    parser.add_argument("--long-steps", type=int, default=600)
    parser.add_argument("--long-batch", type=int, default=4)
    parser.add_argument("--long-minutes", type=float, default=11.0)
    parser.add_argument("--dit-steps", type=int, default=6000)
    parser.add_argument("--dit-batch", type=int, default=32)
    parser.add_argument("--dit-minutes", type=float, default=25.0)
    parser.add_argument("--dit-init", default=None, help="fine-tune from this DiT checkpoint in the run dir")
    parser.add_argument("--threads", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    args.run.mkdir(parents=True, exist_ok=True)
    spec = PUSHT_TINY
    stages = ["vae", "vae-long", "latents", "dit", "export"] if args.stage == "all" else [args.stage]
    data = np.load(args.data) if {"vae", "vae-long", "latents", "dit"} & set(stages) else None
    for stage in stages:
        if stage == "vae":
            assert data is not None
            train_vae(spec, data["frames"], args.run, args.vae_steps, args.vae_batch, args.vae_minutes, args.seed)
        elif stage == "vae-long":
            assert data is not None
            train_vae(spec, data["frames"], args.run, args.long_steps, args.long_batch, args.long_minutes,
                      args.seed + 2, clip_frames=spec.chunk_size + 1, crop=CROP, peak_lr=5e-4, name="vae-long",
                      init_from="vae_ckpt.pt")
        elif stage == "latents":
            assert data is not None
            make_latents(spec, data["frames"], args.run)
        elif stage == "dit":
            assert data is not None
            train_dit(spec, data["actions"], args.run, args.dit_steps, args.dit_batch, args.dit_minutes, args.seed + 1,
                      init_from=args.dit_init)
        else:
            export(spec, args.run, args.out)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
