"""The engine's classes reproduce the DreamDojo reference numbers (golden fixtures).

Tolerances are the fixture README's: atol = rtol = 1e-4 on floats, uint8 frames within 1 count.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

from dream_engine_ros.engine import sampler
from dream_engine_ros.engine.families.rectified_flow.dit import ActionDiT, VideoRope3d
from dream_engine_ros.engine.families.rectified_flow.loading import REFERENCE_DIT_KEYMAP
from dream_engine_ros.engine.families.rectified_flow.wan_vae import WanVAE
from dream_engine_ros.engine.pixels import pixels_to_unit, unit_to_pixels
from dream_engine_ros.engine.spec import DitConfig, VaeConfig
from dream_engine_ros.engine.weights import load_weights

ATOL = RTOL = 1e-4


def _params(tensors: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    return {k[len("param."):]: v for k, v in tensors.items() if k.startswith("param.")}


def _tiny_dit_config(fixture_dir: Path) -> DitConfig:
    cfg = json.loads((fixture_dir / "dit_forward.json").read_text())["config_tiny"]
    return DitConfig(
        model_channels=cfg["model_channels"], num_blocks=cfg["num_blocks"], num_heads=cfg["num_heads"],
        adaln_lora_dim=cfg["adaln_lora_dim"], crossattn_in_channels=cfg["crossattn_proj_in_channels"],
        crossattn_emb_channels=cfg["crossattn_emb_channels"], action_dim=cfg["action_dim"],
        rope_max_len=cfg["max_frames"],
    )


@pytest.fixture(scope="module")
def dit_tensors(fixture_dir: Path) -> dict[str, torch.Tensor]:
    return load_file(str(fixture_dir / "dit_forward.safetensors"))


@pytest.fixture(scope="module")
def vae_tensors(fixture_dir: Path) -> dict[str, torch.Tensor]:
    return load_file(str(fixture_dir / "vae_roundtrip.safetensors"))


@pytest.fixture(scope="module")
def tiny_dit(fixture_dir: Path, dit_tensors: dict[str, torch.Tensor]) -> ActionDiT:
    net = ActionDiT(_tiny_dit_config(fixture_dir))
    # The fixture's keys are module-level; the released checkpoints prefix them with `net.`
    # and carry training counters: load through the same key map production uses.
    prefixed = {"net." + k: v for k, v in _params(dit_tensors).items()}
    load_weights(net, prefixed, REFERENCE_DIT_KEYMAP)
    return net.eval()


@pytest.fixture(scope="module")
def tiny_vae(fixture_dir: Path, vae_tensors: dict[str, torch.Tensor]) -> WanVAE:
    cfg = json.loads((fixture_dir / "vae_roundtrip.json").read_text())
    vae = WanVAE(VaeConfig(dim=cfg["config_tiny"]["dim"]))
    load_weights(vae, _params(vae_tensors))
    torch.testing.assert_close(vae.latent_mean.flatten(), vae_tensors["const.latent_mean"])
    torch.testing.assert_close(vae.latent_std.flatten(), vae_tensors["const.latent_std"])
    return vae.eval()


@torch.inference_mode()
def test_dit_forward_matches_reference(tiny_dit: ActionDiT, dit_tensors: dict[str, torch.Tensor]) -> None:
    t = dit_tensors
    out = tiny_dit(t["input.x_B_C_T_H_W"], t["input.timesteps_B_T"], t["input.condition_video_input_mask_B_C_T_H_W"],
                   t["input.action"], t["input.crossattn_emb"], t["input.padding_mask"])
    torch.testing.assert_close(out, t["output.x_B_C_T_H_W"], atol=ATOL, rtol=RTOL)


def test_rope_angles_match_reference_tiny_and_2b(tiny_dit: ActionDiT, dit_tensors: dict[str, torch.Tensor]) -> None:
    torch.testing.assert_close(tiny_dit.pos_embedder(4, 3, 4),
                               dit_tensors["intermediate.rope_angles_L_1_1_Dh"][:, 0, 0])
    angles = VideoRope3d(DitConfig())(2, 2, 2)  # the real 2B config: head dim 128 -> 44/42/42
    torch.testing.assert_close(angles, dit_tensors["reference.rope_angles_2B_headdim128_T2H2W2"][:, 0, 0])


@torch.inference_mode()
def test_vae_encode_decode_matches_reference(tiny_vae: WanVAE, vae_tensors: dict[str, torch.Tensor]) -> None:
    t = vae_tensors
    torch.testing.assert_close(pixels_to_unit(t["input.video_uint8"]), t["input.video"])
    latent = tiny_vae.encode(t["input.video"])
    torch.testing.assert_close(latent, t["output.latent_normalized"], atol=ATOL, rtol=RTOL)
    video = tiny_vae.decode(t["output.latent_normalized"])
    torch.testing.assert_close(video, t["output.decoded_video"], atol=ATOL, rtol=RTOL)


@pytest.mark.parametrize("guidance", [0.0, 3.0])
@torch.inference_mode()
def test_sampler_trace_matches_reference(guidance: float, tiny_dit: ActionDiT, tiny_vae: WanVAE,
                                         fixture_dir: Path) -> None:
    """Whole chunk: encode the frame, 4 UniPC steps with frame-0 conditioning and guidance, decode."""
    t = load_file(str(fixture_dir / "sampler_trace.safetensors"))
    prefix = f"g{int(guidance)}."
    schedule = sampler.flow_schedule(4, 5.0)
    assert list(schedule.timesteps) == t["shared.timesteps_int"].tolist()
    torch.testing.assert_close(torch.tensor(schedule.sigmas), t["shared.sigmas"])
    production = sampler.flow_schedule(35, 5.0)
    assert list(production.timesteps) == t["schedule35.timesteps_int"].tolist()
    torch.testing.assert_close(torch.tensor(production.sigmas), t["schedule35.sigmas"])

    video = torch.cat([t["input.first_frame_uint8"], torch.zeros(1, 3, 12, 48, 64, dtype=torch.uint8)], dim=2)
    cond_latent = tiny_vae.encode(pixels_to_unit(video))
    torch.testing.assert_close(cond_latent, t["shared.cond_latent_x0"], atol=ATOL, rtol=RTOL)
    cond = cond_latent[:, :, :1]
    noise = sampler.seeded_noise(12, (1, 16, 4, 6, 8))
    torch.testing.assert_close(noise, t["shared.initial_noise"], atol=0, rtol=0)
    mask = torch.zeros(1, 1, 4, 6, 8)
    mask[:, :, 0] = 1.0
    action = t["input.action"][None]

    def velocity(x: torch.Tensor, step: int) -> torch.Tensor:
        x_in = torch.cat([cond, x[:, :, 1:]], dim=2)
        timesteps = torch.tensor([schedule.timesteps[step]])
        v_cond = tiny_dit(x_in, timesteps, mask, action, t["input.text_emb"])
        v_uncond = tiny_dit(x_in, timesteps, mask, action, t["input.neg_text_emb"]) if guidance else None
        v = sampler.guided(v_cond, v_uncond, guidance)
        return torch.cat([noise[:, :, :1] - cond, v[:, :, 1:]], dim=2)

    trace: list[tuple[torch.Tensor, torch.Tensor, torch.Tensor]] = []
    final = sampler.sample_unipc(velocity, noise.clone(), schedule,
                                 on_step=lambda i, xi, v, xo: trace.append((xi, v, xo)))
    for step, (x_in, v, x_out) in enumerate(trace):
        torch.testing.assert_close(x_in, t[prefix + "latents_in"][step : step + 1], atol=ATOL, rtol=RTOL)
        torch.testing.assert_close(v, t[prefix + "v_guided"][step : step + 1], atol=ATOL, rtol=RTOL)
        torch.testing.assert_close(x_out, t[prefix + "latents_out"][step : step + 1], atol=ATOL, rtol=RTOL)
    torch.testing.assert_close(final, t[prefix + "final_latent"], atol=ATOL, rtol=RTOL)
    decoded = tiny_vae.decode(final)
    torch.testing.assert_close(decoded, t[prefix + "decoded_video"], atol=ATOL, rtol=RTOL)
    frames = unit_to_pixels(decoded).int()
    assert (frames - t[prefix + "decoded_video_uint8"].int()).abs().max().item() <= 1
