"""CUDA check of the engine: what holds on a GPU, measured in one run and printed as JSON.

CI has no GPU, so this is run by hand where one exists (`device: auto` picks it):

  1. the DreamDojo reference fixtures (tiny DiT forward, tiny VAE round trip) on the GPU:
     largest deviation from the golden outputs, against the CPU tests' 1e-4 tolerance, with
     torch's default kernels (TF32 convolutions) and with the engine's (`exact_cuda_kernels`);
  2. per embedded spec: a T=48 rollout twice with one seed (bit-identical?), predict_batch rows
     against single predicts (equal?), the GPU's frames against this machine's CPU frames
     (pixels that differ, largest difference), and the rollout time on each device;
  3. planning throughput: K=64 candidates x 24 steps, fused, on the GPU.

Usage: python bench/check_cuda.py [--specs pusht-structured pusht-tiny] [--json-out F]
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch
from safetensors.torch import load_file

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from dream_engine_ros.engine.families.rectified_flow.dit import ActionDiT  # noqa: E402
from dream_engine_ros.engine.families.rectified_flow.loading import REFERENCE_DIT_KEYMAP  # noqa: E402
from dream_engine_ros.engine.families.rectified_flow.wan_vae import WanVAE  # noqa: E402
from dream_engine_ros.engine.runner import DreamEngine, exact_cuda_kernels  # noqa: E402
from dream_engine_ros.engine.spec import DitConfig, VaeConfig  # noqa: E402
from dream_engine_ros.engine.weights import load_weights  # noqa: E402

FIXTURES = REPO / "test" / "fixtures" / "dreamdojo"


def _timed(fn: Any, device: torch.device) -> tuple[float, Any]:
    if device.type == "cuda":
        torch.cuda.synchronize()
    tic = time.perf_counter()
    out = fn()
    if device.type == "cuda":
        torch.cuda.synchronize()
    return time.perf_counter() - tic, out


@torch.inference_mode()
def reference_fixtures(device: torch.device) -> dict[str, float]:
    """Largest absolute deviation from the golden DiT output, latent and decoded video."""
    params = {k[len("param."):]: v for k, v in load_file(str(FIXTURES / "dit_forward.safetensors")).items()
              if k.startswith("param.")}
    t = load_file(str(FIXTURES / "dit_forward.safetensors"))
    cfg = json.loads((FIXTURES / "dit_forward.json").read_text())["config_tiny"]
    dit = ActionDiT(DitConfig(
        model_channels=cfg["model_channels"], num_blocks=cfg["num_blocks"], num_heads=cfg["num_heads"],
        adaln_lora_dim=cfg["adaln_lora_dim"], crossattn_in_channels=cfg["crossattn_proj_in_channels"],
        crossattn_emb_channels=cfg["crossattn_emb_channels"], action_dim=cfg["action_dim"],
        rope_max_len=cfg["max_frames"]))
    load_weights(dit, {"net." + k: v for k, v in params.items()}, REFERENCE_DIT_KEYMAP)
    dit = dit.eval().to(device)
    inputs = [t[k].to(device) for k in ("input.x_B_C_T_H_W", "input.timesteps_B_T",
                                         "input.condition_video_input_mask_B_C_T_H_W", "input.action",
                                         "input.crossattn_emb", "input.padding_mask")]
    dit_err = (dit(*inputs).cpu() - t["output.x_B_C_T_H_W"]).abs().max().item()

    v = load_file(str(FIXTURES / "vae_roundtrip.safetensors"))
    vae = WanVAE(VaeConfig(dim=json.loads((FIXTURES / "vae_roundtrip.json").read_text())["config_tiny"]["dim"]))
    load_weights(vae, {k[len("param."):]: x for k, x in v.items() if k.startswith("param.")})
    vae = vae.eval().to(device)
    latent_err = (vae.encode(v["input.video"].to(device)).cpu() - v["output.latent_normalized"]).abs().max().item()
    video_err = (vae.decode(v["output.latent_normalized"].to(device)).cpu()
                 - v["output.decoded_video"]).abs().max().item()
    return {"dit_forward_max_abs_err": dit_err, "vae_latent_max_abs_err": latent_err,
            "vae_decoded_max_abs_err": video_err, "tolerance": 1e-4}


def spec_checks(name: str, gpu: torch.device, horizon: int) -> dict[str, Any]:
    cuda = DreamEngine.load(name, device=str(gpu))
    cpu = DreamEngine.load(name, device="cpu")
    spec = cuda.spec
    rng = np.random.default_rng(7)
    frame = _start_frame(spec)
    low = np.asarray(spec.action_low or [-1.0] * spec.action_dim, dtype=np.float32)
    high = np.asarray(spec.action_high or [1.0] * spec.action_dim, dtype=np.float32)
    plans = rng.uniform(low, high, (4, horizon, spec.action_dim)).astype(np.float32)
    cuda.predict(frame, plans[0], seed=3)  # warm-up
    gpu_s, first = _timed(lambda: cuda.predict(frame, plans[0], seed=3), gpu)
    second = cuda.predict(frame, plans[0], seed=3)
    cpu_s, on_cpu = _timed(lambda: cpu.predict(frame, plans[0], seed=3), torch.device("cpu"))
    batch = cuda.predict_batch(frame, plans, seeds=[3, 4, 5, 6])
    singles = [cuda.predict(frame, p, seed=s).frames for p, s in zip(plans, [3, 4, 5, 6], strict=True)]
    diff = np.abs(first.frames.astype(np.int16) - on_cpu.frames.astype(np.int16))
    return {
        "spec": name, "dtype": str(cuda.dtype).replace("torch.", ""), "horizon": horizon,
        "repeat_bit_identical": bool(np.array_equal(first.frames, second.frames)),
        "batch_rows_equal_single": bool(all(np.array_equal(batch.frames[i], singles[i]) for i in range(4))),
        "gpu_vs_cpu_pixels_differing": float((diff > 0).mean()), "gpu_vs_cpu_max_levels": int(diff.max()),
        "rollout_s_gpu": round(gpu_s, 4), "rollout_s_cpu": round(cpu_s, 4),
        "real_time_factor_gpu": round(horizon / spec.fps / gpu_s, 2),
        "cpu_threads": torch.get_num_threads(),
    }


START_FRAME: Path | None = None  # --start-frame: a rendered PushT frame (.npy, H x W x 3 uint8)


def _start_frame(spec: Any) -> np.ndarray:
    """The given PushT frame where its size fits the spec, else noise (latent specs do not care)."""
    if START_FRAME is not None:
        frame = np.load(START_FRAME)
        if frame.shape == (spec.height, spec.width, 3):
            return frame
    return np.random.default_rng(0).integers(0, 256, (spec.height, spec.width, 3), dtype=np.uint8)


@torch.inference_mode()
def batch_rows_by_stage(name: str, device: torch.device) -> dict[str, float]:
    """Where a batch row departs from the same row alone: DiT forward and VAE decode of 4 rows
    at once vs one by one (largest absolute difference; 0.0 = bit-identical)."""
    engine = DreamEngine.load(name, device=str(device))
    spec, model = engine.spec, engine.pipeline.model  # type: ignore[attr-defined]  # a latent spec's VAE + DiT
    gen = torch.Generator().manual_seed(0)
    x = torch.randn(4, spec.latent_channels, 1 + spec.latents_per_chunk, spec.latent_height, spec.latent_width,
                    generator=gen).to(device, engine.dtype)
    mask = torch.zeros(4, 1, *x.shape[2:], device=device, dtype=engine.dtype)
    t = torch.full((4,), 500, device=device, dtype=torch.int64)
    acts = torch.randn(4, spec.chunk_size, spec.action_dim, generator=gen).to(device, engine.dtype)
    ctx = model.context.expand(4, -1, -1) if model.context is not None else None

    def dit(rows: slice) -> torch.Tensor:
        return model.dit(x[rows], t[rows], mask[rows], acts[rows], None if ctx is None else ctx[rows]).float()

    together = dit(slice(0, 4))
    alone = torch.cat([dit(slice(i, i + 1)) for i in range(4)])
    decoded = model.vae.decode(x).float()
    decoded_alone = torch.cat([model.vae.decode(x[i:i + 1]).float() for i in range(4)])
    return {"dit_max_abs_diff": (together - alone).abs().max().item(),
            "vae_decode_max_abs_diff": (decoded - decoded_alone).abs().max().item()}


def planning_throughput(name: str, gpu: torch.device, candidates: int, horizon: int) -> dict[str, Any]:
    engine = DreamEngine.load(name, device=str(gpu))
    spec = engine.spec
    rng = np.random.default_rng(11)
    low = np.asarray(spec.action_low, dtype=np.float32)
    high = np.asarray(spec.action_high, dtype=np.float32)
    plans = rng.uniform(low, high, (candidates, horizon, spec.action_dim)).astype(np.float32)
    frame = _start_frame(spec)
    engine.predict_batch(frame, plans[:4], seeds=0, fused=True)  # warm-up
    fused_s, _ = _timed(lambda: engine.predict_batch(frame, plans, seeds=0, fused=True), gpu)
    return {"spec": name, "candidates": candidates, "horizon": horizon, "fused_s": round(fused_s, 3),
            "frame_candidates_per_s": round(candidates * horizon / fused_s, 1)}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--specs", nargs="+", default=["pusht-structured", "pusht-tiny"])
    parser.add_argument("--horizon", type=int, default=48)
    parser.add_argument("--json-out", type=Path)
    parser.add_argument("--start-frame", type=Path, help="a rendered PushT frame (.npy) to start from")
    parser.add_argument("--device", default="cuda:0", help="cpu only to dry-run this script")
    args = parser.parse_args()
    global START_FRAME
    START_FRAME = args.start_frame
    gpu = torch.device(args.device)
    if gpu.type == "cuda" and not torch.cuda.is_available():
        print("check_cuda: no CUDA device here", file=sys.stderr)
        return 2
    name = torch.cuda.get_device_name(0) if gpu.type == "cuda" else "none (dry run)"
    report: dict[str, Any] = {"gpu": name, "torch": torch.__version__,
                              "reference_fixtures_torch_defaults": reference_fixtures(gpu)}
    if gpu.type == "cuda":
        exact_cuda_kernels()
    report["reference_fixtures_engine_kernels"] = reference_fixtures(gpu)
    report["batch_rows_by_stage"] = batch_rows_by_stage("pusht-tiny", gpu)
    report["specs"] = [spec_checks(name, gpu, args.horizon) for name in args.specs]
    report["planning"] = planning_throughput("pusht-structured", gpu, 64, 24)
    if gpu.type == "cuda":
        report["peak_cuda_mib"] = round(torch.cuda.max_memory_allocated() / 2**20, 1)
    text = json.dumps(report, indent=1)
    print(text)
    if args.json_out:
        args.json_out.write_text(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
