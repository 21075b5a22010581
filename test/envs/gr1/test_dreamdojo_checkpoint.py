"""DreamDojo checkpoints: real-size names/shapes on the meta device, and a checkpoint folder end to end.

Part 1 builds the real 2B / 14B ActionDiT and the real Wan2.1 VAE without memory (meta device)
and compares every state_dict key and shape, in the released files' naming, with the layout
derived from the reference module definitions (public NVIDIA/DreamDojo code; summarised in
test/fixtures/dreamdojo/README.md).

Part 2 writes a tiny checkpoint folder in the released formats (`model_ema_bf16.pt` with `net.`
keys and training counters, `Wan2.1_VAE.pth`, `cr1_empty_string_text_embeddings.pt`) from the
golden-fixture weights, loads it through `DreamEngine.load` like a user would, and checks the
rollout against the reference's sampler trace. The multi-GB released files are not used.
"""

from __future__ import annotations

import dataclasses
import json
import shutil
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
import torch
from safetensors.torch import load_file

from dream_engine_ros.engine import sampler
from dream_engine_ros.engine import spec as spec_module
from dream_engine_ros.engine.errors import WeightsError
from dream_engine_ros.engine.families.rectified_flow import pipeline as pipeline_module
from dream_engine_ros.engine.families.rectified_flow.dit import ActionDiT
from dream_engine_ros.engine.families.rectified_flow.loading import REFERENCE_DIT_KEYMAP
from dream_engine_ros.engine.families.rectified_flow.wan_vae import WanVAE
from dream_engine_ros.engine.loading import weights_status
from dream_engine_ros.engine.pixels import unit_to_pixels
from dream_engine_ros.engine.runner import DreamEngine
from dream_engine_ros.engine.spec import DitConfig, ModelSpec, VaeConfig, WeightsLocation, register_spec
from dream_engine_ros.envs.gr1.specs import DREAMDOJO_GR1_2B, DREAMDOJO_GR1_14B

ATOL = RTOL = 1e-4  # fixture README tolerance
META = torch.device("meta")

# --------------------------------------------------------------------------------------------
# Part 1: real-size layout on the meta device
# --------------------------------------------------------------------------------------------


def expected_dit_layout(dim: int, heads: int, blocks: int, rank: int = 256) -> dict[str, tuple[int, ...]]:
    """Released checkpoint keys -> shapes, written out from the reference module definitions."""
    head_dim = dim // heads
    dim_hw = head_dim // 6 * 2
    dim_t = head_dim - 2 * dim_hw
    hidden = 4 * dim
    layout: dict[str, tuple[int, ...]] = {
        "net.x_embedder.proj.1.weight": (dim, 72),  # (16 latent + mask + padding) * 2 * 2
        "net.pos_embedder.seq": (128,),  # max(240 // 2, 240 // 2, 128)
        "net.pos_embedder.dim_spatial_range": (dim_hw // 2,),
        "net.pos_embedder.dim_temporal_range": (dim_t // 2,),
        "net.t_embedder.1.linear_1.weight": (dim, dim),
        "net.t_embedder.1.linear_2.weight": (3 * dim, dim),
        "net.t_embedding_norm.weight": (dim,),
        "net.crossattn_proj.0.weight": (1024, 100352),
        "net.crossattn_proj.0.bias": (1024,),
        "net.final_layer.linear.weight": (64, dim),  # 2 * 2 * 1 * 16
        "net.final_layer.adaln_modulation.1.weight": (rank, dim),
        "net.final_layer.adaln_modulation.2.weight": (2 * dim, rank),
    }
    for name, out in (("B_D", dim), ("B_3D", 3 * dim)):
        layout[f"net.action_embedder_{name}.fc1.weight"] = (hidden, 4 * 384)
        layout[f"net.action_embedder_{name}.fc1.bias"] = (hidden,)
        layout[f"net.action_embedder_{name}.fc2.weight"] = (out, hidden)
        layout[f"net.action_embedder_{name}.fc2.bias"] = (out,)
    for i in range(blocks):
        b = f"net.blocks.{i}."
        for attn, context in (("self_attn", dim), ("cross_attn", 1024)):
            layout[b + f"{attn}.q_proj.weight"] = (dim, dim)
            layout[b + f"{attn}.k_proj.weight"] = (dim, context)
            layout[b + f"{attn}.v_proj.weight"] = (dim, context)
            layout[b + f"{attn}.output_proj.weight"] = (dim, dim)
            layout[b + f"{attn}.q_norm.weight"] = (head_dim,)
            layout[b + f"{attn}.k_norm.weight"] = (head_dim,)
        layout[b + "mlp.layer1.weight"] = (hidden, dim)
        layout[b + "mlp.layer2.weight"] = (dim, hidden)
        for branch in ("self_attn", "cross_attn", "mlp"):
            layout[b + f"adaln_modulation_{branch}.1.weight"] = (rank, dim)
            layout[b + f"adaln_modulation_{branch}.2.weight"] = (3 * dim, rank)
    return layout


def file_layout(module: torch.nn.Module) -> dict[str, tuple[int, ...]]:
    return {REFERENCE_DIT_KEYMAP.to_file(k): tuple(v.shape) for k, v in module.state_dict().items()}


@pytest.mark.parametrize(
    ("spec", "dim", "heads", "blocks", "params"),
    [(DREAMDOJO_GR1_2B, 2048, 16, 28, 2_151_474_176), (DREAMDOJO_GR1_14B, 5120, 40, 36, 14_850_453_504)],
    ids=["2b", "14b"],
)
def test_real_dit_matches_released_key_names_and_shapes(spec: ModelSpec, dim: int, heads: int, blocks: int,
                                                          params: int) -> None:
    with META:
        net = ActionDiT(spec.backbone)
    expected = expected_dit_layout(dim, heads, blocks)
    actual = file_layout(net)
    assert sorted(set(expected) ^ set(actual)) == []
    assert {k: v for k, v in actual.items() if expected[k] != v} == {}
    # Figures of the released checkpoints' module definitions, spelled out once more
    if dim == 2048:
        assert actual["net.blocks.27.adaln_modulation_self_attn.2.weight"] == (6144, 256)
        assert actual["net.blocks.0.cross_attn.k_proj.weight"] == (2048, 1024)
        assert actual["net.action_embedder_B_D.fc1.weight"] == (8192, 1536)
        assert actual["net.action_embedder_B_D.fc2.weight"] == (2048, 8192)
        assert actual["net.action_embedder_B_3D.fc2.weight"] == (6144, 8192)
        assert actual["net.pos_embedder.dim_temporal_range"] == (22,)  # 44/42/42 split
    # parameter count = the layout's parameters (buffers excluded); "2B" is 2.15e9 with the
    # 100352 -> 1024 text projection (103M) and the two action MLPs (92M)
    counted = sum(p.numel() for p in net.parameters())
    from_layout = sum(int(np.prod(s)) for k, s in expected.items() if ".pos_embedder." not in k)
    assert counted == from_layout == params
    # the key map round-trips every name
    assert all(REFERENCE_DIT_KEYMAP.to_module(REFERENCE_DIT_KEYMAP.to_file(k)) == k for k in net.state_dict())
    assert REFERENCE_DIT_KEYMAP.to_module("net_ema.blocks.0.mlp.layer1.weight") == "blocks.0.mlp.layer1.weight"
    assert REFERENCE_DIT_KEYMAP.to_module("net.accum_iteration") is None


def real_vae_shape(key: str, shape: list[int], scale: int) -> tuple[int, ...]:
    """Scale a base-width-8 fixture shape to base width 8 * scale.

    Channel dims of encoder/decoder tensors scale with the width; RGB (3), z (16) and 2z (32)
    ends and the top-level 1x1x1 convs don't, nor do kernel dims.
    """
    out = list(shape)
    if not key.startswith(("encoder.", "decoder.")):
        return tuple(out)
    channel_dims = [0, 1] if key.endswith(".weight") and len(shape) >= 4 else [0]
    fixed = {
        "encoder.conv1.weight": [1], "encoder.head.2.weight": [0], "encoder.head.2.bias": [0],
        "decoder.conv1.weight": [1], "decoder.head.2.weight": [0], "decoder.head.2.bias": [0],
    }.get(key, [])
    for d in channel_dims:
        if d not in fixed:
            out[d] *= scale
    return tuple(out)


def test_real_wan_vae_matches_reference_names_shapes_and_parameter_count(fixture_dir: Path) -> None:
    meta = json.loads((fixture_dir / "vae_roundtrip.json").read_text())
    assert DREAMDOJO_GR1_2B.tokenizer.dim == meta["config_real"]["dim"] == 96
    with META:
        vae = WanVAE(DREAMDOJO_GR1_2B.tokenizer)
    scale = 96 // meta["config_tiny"]["dim"]
    expected = {k: real_vae_shape(k, s, scale) for k, s in meta["param_shapes"].items()}
    actual = {k: tuple(v.shape) for k, v in vae.state_dict().items()}
    assert sorted(set(expected) ^ set(actual)) == []
    assert {k: v for k, v in actual.items() if expected[k] != v} == {}
    assert actual["encoder.conv1.weight"] == (96, 3, 3, 3, 3)
    assert actual["encoder.head.2.weight"] == (32, 384, 3, 3, 3)
    assert actual["decoder.head.2.weight"] == (3, 96, 3, 3, 3)
    assert sum(p.numel() for p in vae.parameters()) == meta["config_real"]["params"] == 126_892_531


# --------------------------------------------------------------------------------------------
# Part 2: a tiny checkpoint folder in the released formats, loaded end to end
# --------------------------------------------------------------------------------------------

TINY = "dreamdojo-tiny"
FILES = {
    "dit": "model_ema_bf16.pt",
    "vae": "Wan2.1_VAE.pth",
    "text_embedding": "cr1_empty_string_text_embeddings.pt",
    "negative_text_embedding": "negative_prompt_embeddings.pt",  # ours, only to test guidance
}


def _params(tensors: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    return {k[len("param."):]: v for k, v in tensors.items() if k.startswith("param.")}


@pytest.fixture(scope="module")
def trace(fixture_dir: Path) -> dict[str, torch.Tensor]:
    return load_file(str(fixture_dir / "sampler_trace.safetensors"))


@pytest.fixture(scope="module")
def tiny_spec(fixture_dir: Path) -> Iterator[ModelSpec]:
    """The 2B spec with the fixture's tiny DiT/VAE at 48x64, float32, registered by name."""
    cfg = json.loads((fixture_dir / "dit_forward.json").read_text())["config_tiny"]
    vae_dim = json.loads((fixture_dir / "vae_roundtrip.json").read_text())["config_tiny"]["dim"]
    spec = dataclasses.replace(
        DREAMDOJO_GR1_2B,
        name=TINY,
        description="test: DreamDojo GR-1 structure at fixture size",
        height=48,
        width=64,
        dtype="float32",
        tokenizer=VaeConfig(dim=vae_dim),
        backbone=DitConfig(
            model_channels=cfg["model_channels"], num_blocks=cfg["num_blocks"], num_heads=cfg["num_heads"],
            adaln_lora_dim=cfg["adaln_lora_dim"], crossattn_in_channels=cfg["crossattn_proj_in_channels"],
            crossattn_emb_channels=cfg["crossattn_emb_channels"], rope_max_len=cfg["max_frames"],
        ),
        weights=WeightsLocation(files=dict(FILES)),
    )
    register_spec(spec, replace=True)
    yield spec
    spec_module.unregister_spec(TINY)  # keep the catalog as other tests expect it


@pytest.fixture(scope="module")
def checkpoint_dir(tmp_path_factory: pytest.TempPathFactory, fixture_dir: Path,
                   trace: dict[str, torch.Tensor]) -> Path:
    """Files as the reference ships/converts them: `net.` DiT keys incl. `accum_*` counters."""
    root = tmp_path_factory.mktemp("dreamdojo_tiny")
    dit = _params(load_file(str(fixture_dir / "dit_forward.safetensors")))
    assert any(k.startswith("accum_") for k in dit)  # the counters travel with the real files too
    torch.save({"net." + k: v for k, v in dit.items()}, root / FILES["dit"])
    torch.save(_params(load_file(str(fixture_dir / "vae_roundtrip.safetensors"))), root / FILES["vae"])
    torch.save(trace["input.text_emb"], root / FILES["text_embedding"])
    torch.save(trace["input.neg_text_emb"], root / FILES["negative_text_embedding"])
    return root


@pytest.fixture(scope="module")
def engine(tiny_spec: ModelSpec, checkpoint_dir: Path) -> DreamEngine:
    return DreamEngine.load(TINY, weights=checkpoint_dir, device="cpu")


def start_frame(trace: dict[str, torch.Tensor]) -> np.ndarray:
    return trace["input.first_frame_uint8"][0, :, 0].permute(1, 2, 0).numpy().copy()  # (48, 64, 3)


def plan(trace: dict[str, torch.Tensor]) -> np.ndarray:
    """Chunk 0 = the fixture's action chunk; chunk 1 = other values in [-1, 1]."""
    later = np.random.default_rng(5).uniform(-1, 1, (12, 384)).astype(np.float32)
    return np.concatenate([trace["input.action"].numpy(), later])


def capture_samples(monkeypatch: pytest.MonkeyPatch) -> list[tuple[torch.Tensor, torch.Tensor]]:
    """Record (initial noise, final latents) of every chunk the runner samples."""
    seen: list[tuple[torch.Tensor, torch.Tensor]] = []
    original = sampler.sample

    def spy(velocity, noise, schedule, solver="unipc", should_cancel=None,  # type: ignore[no-untyped-def]
            on_step=None):
        start = noise.clone()
        out = original(velocity, noise, schedule, solver, should_cancel, on_step)
        seen.append((start, out.clone()))
        return out

    monkeypatch.setattr(pipeline_module.sampler, "sample", spy)
    return seen


def test_checkpoint_folder_reports_installed(tiny_spec: ModelSpec, checkpoint_dir: Path, tmp_path: Path) -> None:
    assert weights_status(tiny_spec, checkpoint_dir)["installed"] is True
    status = weights_status(tiny_spec, tmp_path)
    assert status["installed"] is False and not any(status["present"].values())


def test_rollout_24_actions_first_chunk_matches_reference_trace(engine: DreamEngine, trace: dict[str, torch.Tensor],
                                                               monkeypatch: pytest.MonkeyPatch) -> None:
    """seed 12 -> chunk 0 draws the fixture's noise; 4 steps, shift 5, guidance 0 as in the trace."""
    frame = start_frame(trace)
    # The runner encodes the start frame alone; the reference encodes it + 12 black frames and
    # keeps latent 0, which (causal VAE) depends on frame 0 only.
    with torch.no_grad():
        cond = engine.pipeline.encode_first(frame[None])
    torch.testing.assert_close(cond, trace["shared.cond_latent_x0"][:, :, :1], atol=ATOL, rtol=RTOL)

    seen = capture_samples(monkeypatch)
    result = engine.predict(frame, plan(trace), seed=12, num_steps=4)
    assert result.frames.shape == (25, 48, 64, 3) and result.frames.dtype == np.uint8
    np.testing.assert_array_equal(result.frames[0], frame)
    assert len(seen) == 2
    (noise0, latents0), (noise1, _) = seen
    torch.testing.assert_close(noise0, trace["shared.initial_noise"], atol=0, rtol=0)
    torch.testing.assert_close(noise1, sampler.seeded_noise(24, tuple(noise0.shape)), atol=0, rtol=0)  # seed + 12
    torch.testing.assert_close(latents0, trace["g0.final_latent"], atol=ATOL, rtol=RTOL)
    # frames 1..12 are the reference's decoded chunk (its frame 0 is a re-decode; ours is the input)
    reference = trace["g0.decoded_video_uint8"][0].permute(1, 2, 3, 0).numpy().astype(int)
    assert np.abs(result.frames[1:13].astype(int) - reference[1:]).max() <= 1
    with torch.no_grad():
        decoded = engine.pipeline.model.vae.decode(latents0)
    torch.testing.assert_close(decoded, trace["g0.decoded_video"], atol=ATOL, rtol=RTOL)


def test_guidance_uses_the_negative_embedding_like_the_reference(engine: DreamEngine, trace: dict[str, torch.Tensor],
                                                                monkeypatch: pytest.MonkeyPatch) -> None:
    seen = capture_samples(monkeypatch)
    result = engine.predict(start_frame(trace), plan(trace)[:12], seed=12, num_steps=4, guidance=3.0)
    torch.testing.assert_close(seen[0][1], trace["g3.final_latent"], atol=ATOL, rtol=RTOL)
    reference = unit_to_pixels(trace["g3.decoded_video"])[0].permute(1, 2, 3, 0).numpy().astype(int)
    assert np.abs(result.frames[1:].astype(int) - reference[1:]).max() <= 1


def test_pixel_threading_and_determinism(engine: DreamEngine, trace: dict[str, torch.Tensor]) -> None:
    """Chunk 1 = a fresh rollout from chunk 0's last decoded uint8 frame with seed + 12."""
    frame, actions = start_frame(trace), plan(trace)
    full = engine.predict(frame, actions, seed=12, num_steps=4).frames
    again = engine.predict(frame, actions, seed=12, num_steps=4).frames
    np.testing.assert_array_equal(full, again)
    restarted = engine.predict(full[12], actions[12:], seed=24, num_steps=4).frames
    np.testing.assert_array_equal(restarted[1:], full[13:])
    assert np.abs(full[13:].astype(int) - engine.predict(frame, actions, seed=13, num_steps=4).frames[13:]).sum() > 0


# ----------------------------------------------------------------------- broken checkpoint files


def copy_dir(src: Path, dst: Path) -> Path:
    shutil.copytree(src, dst)
    return dst


def rewrite_dit(folder: Path, edit) -> None:  # type: ignore[no-untyped-def]
    state = torch.load(folder / FILES["dit"], weights_only=True)
    torch.save(edit(dict(state)), folder / FILES["dit"])


def test_missing_keys_are_named(tiny_spec: ModelSpec, checkpoint_dir: Path, tmp_path: Path) -> None:
    folder = copy_dir(checkpoint_dir, tmp_path / "w")
    rewrite_dit(folder, lambda s: {k: v for k, v in s.items()
                                   if k not in ("net.blocks.1.mlp.layer2.weight", "net.final_layer.linear.weight")})
    with pytest.raises(WeightsError, match="missing keys") as err:
        DreamEngine.load(TINY, weights=folder, device="cpu")
    assert "blocks.1.mlp.layer2.weight" in str(err.value) and "final_layer.linear.weight" in str(err.value)
    assert FILES["dit"] in str(err.value)


def test_shape_mismatch_and_unexpected_keys_are_named(tiny_spec: ModelSpec, checkpoint_dir: Path,
                                                      tmp_path: Path) -> None:
    folder = copy_dir(checkpoint_dir, tmp_path / "w")

    def edit(state: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        state["net.x_embedder.proj.1.weight"] = torch.zeros(128, 71)  # e.g. a net without padding mask
        state["net.extra_head.weight"] = torch.zeros(3)
        return state

    rewrite_dit(folder, edit)
    with pytest.raises(WeightsError) as err:
        DreamEngine.load(TINY, weights=folder, device="cpu")
    message = str(err.value)
    assert "x_embedder.proj.1.weight (file (128, 71) vs model (128, 72))" in message
    assert "unexpected keys: extra_head.weight" in message


def test_truncated_file_and_missing_file_fail_clearly(tiny_spec: ModelSpec, checkpoint_dir: Path,
                                                      tmp_path: Path) -> None:
    folder = copy_dir(checkpoint_dir, tmp_path / "w")
    data = (folder / FILES["dit"]).read_bytes()
    (folder / FILES["dit"]).write_bytes(data[: len(data) // 2])
    with pytest.raises(WeightsError, match="truncated or corrupt"):
        DreamEngine.load(TINY, weights=folder, device="cpu")
    (folder / FILES["dit"]).write_bytes(data)
    vae = torch.load(folder / FILES["vae"], weights_only=True)
    torch.save({k: v for k, v in vae.items() if k != "decoder.head.2.bias"}, folder / FILES["vae"])
    with pytest.raises(WeightsError, match=r"missing keys: decoder\.head\.2\.bias"):
        DreamEngine.load(TINY, weights=folder, device="cpu")
    (folder / FILES["vae"]).unlink()
    with pytest.raises(WeightsError, match=r"vae weights not found at .*Wan2\.1_VAE\.pth"):
        DreamEngine.load(TINY, weights=folder, device="cpu")


def test_ema_prefix_bf16_file_and_list_embedding_load(tiny_spec: ModelSpec, checkpoint_dir: Path, tmp_path: Path,
                                                      engine: DreamEngine) -> None:
    """`net_ema.` keys, a bf16 file loaded as fp32 on the CPU, and a [tensor] embedding file."""
    folder = copy_dir(checkpoint_dir, tmp_path / "w")
    rewrite_dit(folder, lambda s: {k.replace("net.", "net_ema.", 1): (v.bfloat16() if v.is_floating_point() else v)
                                   for k, v in s.items()})
    embedding = torch.load(folder / FILES["text_embedding"], weights_only=True)
    torch.save([embedding[0]], folder / FILES["text_embedding"])  # [T, D] in a list, read with [0]
    loaded = DreamEngine.load(TINY, weights=folder, device="cpu")
    weight = loaded.pipeline.model.dit.x_embedder.proj[1].weight
    assert weight.dtype == torch.float32
    torch.testing.assert_close(weight, engine.pipeline.model.dit.x_embedder.proj[1].weight.bfloat16().float())
    assert loaded.pipeline.model.context is not None and engine.pipeline.model.context is not None
    torch.testing.assert_close(loaded.pipeline.model.context, engine.pipeline.model.context)
