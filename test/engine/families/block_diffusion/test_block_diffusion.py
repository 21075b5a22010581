"""The block-diffusion family: spec rules, a tiny model's rollout (T + 1 frames, chunk streaming),
determinism, batch rows == single rollouts, cancel, the decode-free rollout, weights, and that
its tokenizer can learn.

Plumbing is checked on a randomly initialised tiny model written to a temporary weights folder
(32 x 32 frames, chunks of 2): nothing here depends on trained weights or on any environment.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any, cast

import numpy as np
import pytest
import torch

from dream_engine_ros.engine.errors import InputError, RolloutCancelled, WeightsError
from dream_engine_ros.engine.families.block_diffusion.config import BlockDiffusionConfig
from dream_engine_ros.engine.families.block_diffusion.dynamics import ChunkDenoiser
from dream_engine_ros.engine.families.block_diffusion.pipeline import (
    FRAMELESS_SEED,
    BlockDiffusionPipeline,
    BlockFramelessRollout,
    chunk_seed,
)
from dream_engine_ros.engine.families.block_diffusion.plugin import BlockDiffusionFamily
from dream_engine_ros.engine.families.block_diffusion.tokenizer import FrameTokenizer
from dream_engine_ros.engine.family import FAMILIES
from dream_engine_ros.engine.runner import ChunkEvent, DreamEngine
from dream_engine_ros.engine.spec import ModelSpec, WeightsLocation, register_spec, spec_problems, unregister_spec
from dream_engine_ros.engine.weights import save_module_weights

CONFIG = BlockDiffusionConfig(action_dim=2, channels=(8, 16), latent_channels=4, patch=2, width=32, depth=2,
                              heads=2, context_chunks=1, action_embed=16)
FILES = {"tokenizer": "bd_tokenizer.safetensors", "dynamics": "bd_dynamics.safetensors"}


def tiny_spec(directory: str = "", name: str = "bd-tiny-test", **changes: Any) -> ModelSpec:
    fields: dict[str, Any] = dict(
        name=name, family="block-diffusion", description="tiny block-diffusion model (tests)",
        height=32, width=32, chunk_size=2, action_dim=2, fps=10.0, num_steps=2, guidance=0.0, shift=1.0,
        solver="euler", dtype="float32", threading="latent", uncond="null-action", tokenizer=None,
        backbone=None, weights=WeightsLocation(files=dict(FILES), directory=directory),
        action_low=(0.0, 0.0), action_high=(10.0, 10.0), config=CONFIG)
    fields.update(changes)
    return ModelSpec(**fields)


def _random(module: torch.nn.Module) -> torch.nn.Module:
    """Zero-initialised layers (adaLN-zero gates, the output head) get small random values, so a
    random model's output depends on its inputs."""
    with torch.no_grad():
        for p in module.parameters():
            if not p.abs().sum():
                p.normal_(0.0, 0.1)
    return module


def save_random_weights(folder: Path, parts: tuple[str, ...] = ("tokenizer", "dynamics")) -> None:
    torch.manual_seed(0)
    modules = {"tokenizer": FrameTokenizer(CONFIG), "dynamics": _random(ChunkDenoiser(CONFIG))}
    for part in parts:
        save_module_weights(modules[part], folder / FILES[part])


@pytest.fixture(scope="module")
def engine(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DreamEngine]:
    folder = tmp_path_factory.mktemp("block_diffusion")
    save_random_weights(folder)
    spec = tiny_spec(str(folder))
    register_spec(spec)
    try:
        yield DreamEngine.load(spec.name, device="cpu")
    finally:
        unregister_spec(spec.name)


def start_frame() -> np.ndarray:
    frame = np.full((32, 32, 3), 200, dtype=np.uint8)
    frame[8:14, 10:16] = (30, 60, 220)
    return frame


def plan(rng: np.random.Generator, horizon: int = 6, k: int | None = None) -> np.ndarray:
    shape = (horizon, 2) if k is None else (k, horizon, 2)
    return rng.uniform(0.0, 10.0, shape).astype(np.float32)


def pipeline_of(engine: DreamEngine) -> BlockDiffusionPipeline:
    return cast(BlockDiffusionPipeline, engine.pipeline)


# ---------------------------------------------------------------------------------- spec rules


def _unchecked(**changes: Any) -> ModelSpec:
    """A copy of the tiny spec with fields changed, built without running the consistency check."""
    base = tiny_spec()
    spec = object.__new__(ModelSpec)
    for f in dataclasses.fields(base):
        object.__setattr__(spec, f.name, changes.get(f.name, getattr(base, f.name)))
    return spec


def test_the_family_is_registered_and_the_tiny_spec_is_consistent() -> None:
    assert "block-diffusion" in FAMILIES
    assert spec_problems(tiny_spec()) == []
    summary = tiny_spec().summary()
    assert summary["config"]["channels"] == (8, 16) and summary["config"]["context_chunks"] == 1
    assert summary["latent_shape"] is None and summary["tokenizer"] is None and not tiny_spec().is_latent


@pytest.mark.parametrize(("changes", "words"), [
    ({"config": None}, "needs config=BlockDiffusionConfig"),
    ({"height": 36}, "height 36 is not a positive multiple of 8"),
    ({"width": 0}, "width 0 is not a positive multiple of 8"),
    ({"chunk_size": 0}, "chunk_size 0 must be >= 1"),
    ({"action_dim": 3, "action_low": (), "action_high": ()}, "config.action_dim 2 != action_dim 3"),
    ({"guidance": 1.0}, "guidance must be 0"),
    ({"threading": "pixel"}, "threading must be 'latent'"),
    ({"residual": "still"}, "not read by this family"),
    ({"weights": WeightsLocation(files={"tokenizer": "t.safetensors"})}, "missing ['dynamics']"),
    ({"weights": WeightsLocation(files={**FILES, "vae": "v.pth"})}, "weights files ['vae'] are not read"),
    ({"config": dataclasses.replace(CONFIG, heads=3)}, "heads of an even size"),
    ({"config": dataclasses.replace(CONFIG, context_chunks=-1)}, "context_chunks -1 must be >= 0"),
    ({"config": dataclasses.replace(CONFIG, depth=0)}, "config.depth 0 must be >= 1"),
])
def test_spec_problems_name_each_broken_rule(changes: dict[str, Any], words: str) -> None:
    problems = spec_problems(_unchecked(**changes))
    assert any(words in p for p in problems), problems


def test_an_inconsistent_spec_cannot_be_built() -> None:
    with pytest.raises(ValueError, match="inconsistent"):
        tiny_spec(guidance=2.0)


def test_config_is_read_back_from_a_spec_file_dict() -> None:
    family = BlockDiffusionFamily()
    data = json.loads(json.dumps(dataclasses.asdict(CONFIG)))  # tuples become lists in a file
    assert family.config_from_dict(data) == CONFIG
    assert family.config_from_dict(None) is None
    with pytest.raises(ValueError, match="unknown block-diffusion config keys"):
        family.config_from_dict({**data, "colour": 1})


# ---------------------------------------------------------------------------------- rollout


def test_predict_returns_t_plus_one_frames_and_streams_chunks(engine: DreamEngine, rng: np.random.Generator) -> None:
    events: list[ChunkEvent] = []
    result = engine.predict(start_frame(), plan(rng), seed=7, on_chunk=events.append)
    assert result.frames.shape == (7, 32, 32, 3) and result.frames.dtype == np.uint8
    np.testing.assert_array_equal(result.frames[0], start_frame())
    assert [(e.chunk_index, e.chunks_total, e.first_frame_index, len(e.frames)) for e in events] == \
        [(0, 3, 0, 3), (1, 3, 3, 2), (2, 3, 5, 2)]
    np.testing.assert_array_equal(np.concatenate([e.frames for e in events]), result.frames)
    assert set(result.timings) == {"encode_s", "denoise_s", "decode_s", "total_s"}


def test_batch_streams_every_candidate_per_chunk(engine: DreamEngine, rng: np.random.Generator) -> None:
    events: list[ChunkEvent] = []
    batch = engine.predict_batch(start_frame(), plan(rng, 4, k=2), seeds=3, on_chunk=events.append)
    shapes = [(e.chunk_index, e.first_frame_index, e.frames.shape[:2]) for e in events]
    assert shapes == [(0, 0, (2, 3)), (1, 3, (2, 2))]
    np.testing.assert_array_equal(np.concatenate([e.frames for e in events], axis=1), batch.frames)


def test_same_seed_same_frames_different_seed_different_frames(engine: DreamEngine, rng: np.random.Generator) -> None:
    actions = plan(rng)
    a, b, c = (engine.predict(start_frame(), actions, seed=s).frames for s in (5, 5, 6))
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c)


def test_future_actions_cannot_change_past_frames(engine: DreamEngine, rng: np.random.Generator) -> None:
    a = plan(rng)
    b = a.copy()
    b[4:] = plan(rng, 2)
    ra, rb = (engine.predict(start_frame(), x, seed=3).frames for x in (a, b))
    np.testing.assert_array_equal(ra[:5], rb[:5])
    assert not np.array_equal(ra[5:], rb[5:])


def test_predict_batch_rows_equal_single_predicts_bit_for_bit(engine: DreamEngine, rng: np.random.Generator) -> None:
    actions = plan(rng, 4, k=3)
    seeds = [11, 12, 40]
    batch = engine.predict_batch(start_frame(), actions, seeds=seeds)
    for k, seed in enumerate(seeds):
        np.testing.assert_array_equal(batch.frames[k], engine.predict(start_frame(), actions[k], seed=seed).frames)


def test_fused_batch_matches_single_predicts_up_to_rounding(engine: DreamEngine, rng: np.random.Generator) -> None:
    actions = plan(rng, 4, k=3)
    fused = engine.predict_batch(start_frame(), actions, seeds=[1, 2, 3], fused=True)
    exact = engine.predict_batch(start_frame(), actions, seeds=[1, 2, 3])
    assert fused.frames.shape == exact.frames.shape
    assert np.abs(fused.frames.astype(int) - exact.frames).max() <= 2


def test_chunk_seeds_of_neighbouring_candidates_do_not_coincide() -> None:
    seeds = {chunk_seed(s, c) for s in range(8) for c in range(50)}
    assert len(seeds) == 8 * 50 and chunk_seed(2**32 - 1, 1) < 2**32


def test_cancel_is_polled_before_every_denoising_step(engine: DreamEngine, rng: np.random.Generator) -> None:
    calls: list[int] = []

    def cancel_on_third() -> bool:
        calls.append(1)
        return len(calls) >= 3

    with pytest.raises(RolloutCancelled):
        engine.predict(start_frame(), plan(rng), seed=1, should_cancel=cancel_on_third)
    assert len(calls) == 3  # 2 steps of chunk 0, then the first step of chunk 1


def test_guidance_is_refused_because_there_is_no_unconditional_branch(engine: DreamEngine,
                                                                       rng: np.random.Generator) -> None:
    with pytest.raises(InputError, match="no unconditional branch"):
        engine.predict(start_frame(), plan(rng), guidance=1.5)


# ---------------------------------------------------------------------------------- planners


def test_frameless_rollout_gives_the_latents_the_frames_are_decoded_from(engine: DreamEngine,
                                                                         rng: np.random.Generator) -> None:
    assert engine.can_roll_out_frameless
    actions = plan(rng, 4, k=3)
    states = engine.rollout_frameless(start_frame(), actions)
    rollout = engine.pipeline.frameless
    assert rollout is not None and rollout.state_size == 4 * 8 * 8
    assert states.shape == (3, 4, rollout.state_size) and states.dtype == np.float32
    for k in range(3):  # rows equal each candidate rolled out alone
        np.testing.assert_array_equal(states[k], engine.rollout_frameless(start_frame(), actions[k:k + 1])[0])
    frames = engine.predict(start_frame(), actions[1], seed=FRAMELESS_SEED).frames
    tokenizer = pipeline_of(engine).model.tokenizer
    latents = torch.from_numpy(states[1]).reshape(4, 4, 8, 8)
    with torch.inference_mode():  # decoded as the rollout does: chunk by chunk
        decoded = torch.cat([tokenizer.decode_pixels(latents[i:i + 2]) for i in (0, 2)]).numpy()
    np.testing.assert_array_equal(decoded, frames[1:])
    fused = BlockFramelessRollout(pipeline_of(engine), fused=True)(start_frame()[None], np.zeros((0, 2)), actions)
    np.testing.assert_allclose(fused, states, atol=1e-4)  # one call for all rows: rounding apart only


def test_frame_distance_is_zero_for_the_goal_itself(engine: DreamEngine) -> None:
    frame = start_frame()
    far = np.full_like(frame, 255)
    distances = engine.frame_distance(np.stack([frame, far]), frame)
    assert distances[0] == 0.0 and distances[1] > 0.0


# ---------------------------------------------------------------------------------- weights


def test_a_missing_weights_file_is_named(tmp_path: Path) -> None:
    spec = tiny_spec(str(tmp_path), name="bd-missing-test")
    with pytest.raises(WeightsError, match="tokenizer weights not found"):
        DreamEngine.load(spec, device="cpu")
    save_random_weights(tmp_path, ("tokenizer",))
    with pytest.raises(WeightsError, match="dynamics weights not found"):
        DreamEngine.load(spec, device="cpu")


def test_weights_of_another_config_are_refused(tmp_path: Path) -> None:
    save_random_weights(tmp_path)
    spec = tiny_spec(str(tmp_path), name="bd-wider-test", config=dataclasses.replace(CONFIG, width=64))
    with pytest.raises(WeightsError, match="shape mismatches"):
        DreamEngine.load(spec, device="cpu")


# ---------------------------------------------------------------------------------- learning


def moving_squares(count: int, size: int = 32) -> np.ndarray:
    """Frames of a 6-px square moving over a plain background (synthetic, no environment)."""
    frames = np.full((count, size, size, 3), 230, dtype=np.uint8)
    for i in range(count):
        x, y = 2 + 3 * i, 4 + 2 * i
        frames[i, y:y + 6, x:x + 6] = (200, 40, 40)
        frames[i, 20:23, 26 - 2 * i:29 - 2 * i] = (20, 20, 160)  # a 3-px object too
    return frames


def test_the_tokenizer_learns_to_reconstruct_moving_squares() -> None:
    torch.manual_seed(0)
    tokenizer = FrameTokenizer(CONFIG)
    frames = torch.from_numpy(moving_squares(8))
    optimiser = torch.optim.Adam(tokenizer.parameters(), lr=3e-3)
    losses = []
    for _ in range(40):
        loss = tokenizer.loss(frames)
        optimiser.zero_grad()
        loss.backward()
        optimiser.step()
        losses.append(float(loss.detach()))
    assert losses[-1] < 0.3 * losses[0], losses


def test_the_dynamics_loss_is_the_rollout_conditioning_and_back_propagates() -> None:
    torch.manual_seed(0)
    dynamics = _random(ChunkDenoiser(CONFIG))
    latents = torch.randn(2, 1 + 2 * 2, 4, 8, 8)
    actions = torch.rand(2, 4, 2) * 2 - 1
    noise = torch.randn(2, 4, 4, 8, 8)
    loss = dynamics.loss(latents, actions, torch.full((2, 2), 0.5), noise)
    loss.backward()
    assert torch.isfinite(loss) and dynamics.head.weight.grad is not None
    with torch.no_grad():  # chunk 1's prediction at t = 1 is the rollout's first step over the same cache
        cache = dynamics.begin(latents[:, 0])
        dynamics.commit(cache, latents[:, 1:3], actions[:, :2])
        expected = dynamics(noise[:, 2:4], torch.ones(2), actions[:, 2:4], cache)[0]
        assert torch.allclose(dynamics.denoise(cache, noise[:, 2:4], actions[:, 2:4], [1.0, 0.0], None), expected)


def test_a_goal_image_is_encoded_into_the_decode_free_states(engine) -> None:  # type: ignore[no-untyped-def]
    """The latent a rollout starts from is the start frame's encoding: the same numbers either way."""
    frame = np.random.default_rng(3).integers(0, 256, size=(engine.spec.height, engine.spec.width, 3), dtype=np.uint8)
    encoded = engine.encode_frameless(np.stack([frame, frame[::-1].copy()]))
    assert encoded.shape == (2, engine.pipeline.state_size)
    assert np.array_equal(encoded[0], engine.encode_frameless(frame)[0])
    start = engine.pipeline.encode(frame[None]).detach().reshape(1, -1).cpu().numpy()
    assert np.array_equal(encoded[:1], start) and not np.array_equal(encoded[0], encoded[1])


def test_an_untrained_model_copies_the_last_clean_frame_and_learns_only_changes() -> None:
    """`reference`: the head starts at zero, so x0 = the reference; the cache's reference moves
    to each committed chunk's last frame."""
    torch.manual_seed(0)
    dynamics = ChunkDenoiser(CONFIG)
    latents = torch.randn(2, 1 + 2 * 2, 4, 8, 8)
    actions = torch.rand(2, 4, 2) * 2 - 1
    cache = dynamics.begin(latents[:, 0])
    first = dynamics.denoise(cache, torch.randn(2, 2, 4, 8, 8), actions[:, :2], [1.0, 0.5, 0.0], None)
    assert torch.equal(first, latents[:, :1].expand(-1, 2, -1, -1, -1))
    dynamics.commit(cache, latents[:, 1:3], actions[:, :2])
    assert cache.last is not None and torch.equal(cache.last, latents[:, 2])
    second = dynamics.denoise(cache, torch.randn(2, 2, 4, 8, 8), actions[:, 2:4], [1.0, 0.0], None)
    assert torch.equal(second, latents[:, 2:3].expand(-1, 2, -1, -1, -1))
    plain = ChunkDenoiser(dataclasses.replace(CONFIG, reference=False))
    assert not torch.equal(plain.denoise(plain.begin(latents[:, 0]), torch.randn(2, 2, 4, 8, 8), actions[:, :2],
                                         [1.0, 0.0], None), latents[:, :1].expand(-1, 2, -1, -1, -1))


def test_each_token_is_told_its_frame_action_and_its_own_grid_position() -> None:
    actions = torch.tensor([[[0.5, -0.5], [0.25, 0.75]]])  # one row, two frames
    joined = ChunkDenoiser.with_positions(actions, 2, 3)
    assert joined.shape == (1, 2 * 2 * 3, 4)
    assert torch.equal(joined[0, :6, :2], actions[0, :1].expand(6, -1))
    assert torch.equal(joined[0, 6:, :2], actions[0, 1:].expand(6, -1))
    assert torch.equal(joined[0, :6, 2:], joined[0, 6:, 2:])  # the same grid in every frame
    assert joined[0, 0, 2:].tolist() == [-1.0, -1.0] and joined[0, 5, 2:].tolist() == [1.0, 1.0]
    assert joined[0, 1, 2:].tolist() == [-1.0, 0.0]  # (y, x) of the token in row 0, column 1


def test_changed_cells_weigh_more_and_static_ones_weigh_one() -> None:
    from dream_engine_ros.engine.families.block_diffusion.dynamics import change_weights

    reference = torch.zeros(1, 2, 3, 3)
    clean = torch.zeros(1, 2, 2, 3, 3)
    clean[0, 1, :, 1, 2] = 1.0  # one cell of the second frame moved
    weights = change_weights(clean, reference, strength=9.0)
    assert weights.shape == (1, 2, 1, 3, 3)
    assert weights[0, 1, 0, 1, 2] == 10.0 and float(weights.sum()) == 2 * 9 + 9.0


def test_the_loss_conditions_on_the_context_it_is_given() -> None:
    """Same clip, same noise: a corrupted context changes the loss (the cache and reference are built
    from it), the clean context equals the default, and the change weight only adds."""
    config = BlockDiffusionConfig(action_dim=2, channels=(8, 16), latent_channels=4, patch=2, width=32, depth=1,
                                  heads=2, action_embed=16)
    torch.manual_seed(0)
    model = cast(ChunkDenoiser, _random(ChunkDenoiser(config)))
    gen = torch.Generator().manual_seed(1)
    latents = torch.randn(2, 5, 4, 4, 4, generator=gen)
    actions, times = torch.randn(2, 4, 2, generator=gen), torch.rand(2, 2, generator=gen)
    noise = torch.randn(2, 4, 4, 4, 4, generator=gen)
    with torch.no_grad():
        plain = model.loss(latents, actions, times, noise)
        assert torch.equal(model.loss(latents, actions, times, noise, context=latents), plain)
        noisy = latents + 0.5 * torch.randn(latents.shape, generator=gen)
        assert not torch.isclose(model.loss(latents, actions, times, noise, context=noisy), plain)
        assert model.loss(latents, actions, times, noise, change_weight=9.0) > plain
