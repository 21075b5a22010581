"""Rollout runner mechanics on the embedded model: contract, threading, batching, determinism."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from dream_engine_ros.engine.errors import InputError, RolloutCancelled
from dream_engine_ros.engine.preprocess import fit_frame
from dream_engine_ros.engine.runner import ChunkEvent, DreamEngine
from dream_engine_ros.video import write_mp4

STEPS = 3  # few denoising steps: these tests check plumbing, not quality


def plan(rng: np.random.Generator, horizon: int = 24) -> np.ndarray:
    return rng.uniform(60, 450, (horizon, 2)).astype(np.float32)


def test_predict_returns_t_plus_one_frames_and_streams_chunks(engine: DreamEngine, pusht_start, rng) -> None:
    frame, _ = pusht_start
    actions = plan(rng)
    events: list[ChunkEvent] = []
    result = engine.predict(frame, actions, seed=7, num_steps=STEPS, on_chunk=events.append)
    assert result.frames.shape == (25, 96, 96, 3) and result.frames.dtype == np.uint8
    np.testing.assert_array_equal(result.frames[0], fit_frame(frame, 96, 96))
    assert [(e.chunk_index, e.chunks_total, e.first_frame_index) for e in events] == [(0, 2, 0), (1, 2, 13)]
    assert [e.frames.shape[0] for e in events] == [13, 12]
    np.testing.assert_array_equal(np.concatenate([e.frames for e in events]), result.frames)
    assert events[0].elapsed_s <= events[1].elapsed_s
    assert set(result.timings) == {"encode_s", "denoise_s", "decode_s", "total_s"}


def test_later_chunks_depend_on_earlier_chunks_and_not_vice_versa(engine: DreamEngine, pusht_start, rng) -> None:
    """Latent threading: chunk 2 is conditioned on chunk 1's result; chunk 1 never sees chunk 2."""
    frame, _ = pusht_start
    a = plan(rng)
    b = a.copy()
    b[:12] = plan(rng, 12)  # different first chunk, same second chunk
    c = a.copy()
    c[12:] = plan(rng, 12)  # same first chunk, different second chunk
    ra, rb, rc = (engine.predict(frame, x, seed=3, num_steps=STEPS).frames for x in (a, b, c))
    assert np.abs(ra[13:].astype(int) - rb[13:]).mean() > 0.05  # chunk 2 follows what chunk 1 did
    np.testing.assert_array_equal(ra[:13], rc[:13])  # causal: the future plan can't change the past


def test_predict_batch_equals_k_single_predicts_bit_for_bit(engine: DreamEngine, pusht_start, rng) -> None:
    frame, _ = pusht_start
    actions = np.stack([plan(rng) for _ in range(3)])
    seeds = [11, 12, 40]
    batch = engine.predict_batch(frame, actions, seeds=seeds, num_steps=STEPS)
    assert batch.frames.shape == (3, 25, 96, 96, 3)
    for k, seed in enumerate(seeds):
        single = engine.predict(frame, actions[k], seed=seed, num_steps=STEPS)
        np.testing.assert_array_equal(batch.frames[k], single.frames)


def test_same_seed_same_bytes_different_seed_different_video(engine: DreamEngine, pusht_start, rng,
                                                             tmp_path: Path) -> None:
    frame, _ = pusht_start
    actions = plan(rng)
    first = engine.predict(frame, actions, seed=5, num_steps=STEPS).frames
    again = engine.predict(frame, actions, seed=5, num_steps=STEPS).frames
    other = engine.predict(frame, actions, seed=6, num_steps=STEPS).frames
    np.testing.assert_array_equal(first, again)
    assert np.abs(first[1:].astype(int) - other[1:]).sum() > 0
    write_mp4(tmp_path / "a.mp4", first, 10.0)
    write_mp4(tmp_path / "b.mp4", again, 10.0)
    write_mp4(tmp_path / "c.mp4", other, 10.0)
    assert (tmp_path / "a.mp4").read_bytes() == (tmp_path / "b.mp4").read_bytes()
    assert (tmp_path / "a.mp4").read_bytes() != (tmp_path / "c.mp4").read_bytes()


def test_cancel_between_denoising_steps_then_engine_still_works(engine: DreamEngine, pusht_start, rng) -> None:
    frame, _ = pusht_start
    polls: list[int] = []

    def cancel_on_fifth_poll() -> bool:
        polls.append(1)
        return len(polls) >= 5

    with pytest.raises(RolloutCancelled):
        engine.predict(frame, plan(rng), seed=1, num_steps=STEPS, should_cancel=cancel_on_fifth_poll)
    assert len(polls) == 5  # polled once per denoising step, stopped inside chunk 2
    assert engine.predict(frame, plan(rng), seed=1, num_steps=1).frames.shape[0] == 25


def test_guidance_changes_the_prediction(engine: DreamEngine, pusht_start, rng) -> None:
    frame, _ = pusht_start
    actions = plan(rng, 12)
    plain = engine.predict(frame, actions, seed=2, num_steps=STEPS, guidance=0.0).frames
    guided = engine.predict(frame, actions, seed=2, num_steps=STEPS, guidance=2.0).frames
    assert np.abs(plain.astype(int) - guided).sum() > 0


def test_invalid_requests_raise_before_model_work(engine: DreamEngine, pusht_start) -> None:
    frame, _ = pusht_start
    with pytest.raises(InputError, match="horizon 13 is not a multiple of chunk_size 12"):
        engine.predict(frame, np.zeros((13, 2), np.float32))
    with pytest.raises(InputError, match="seeds"):
        engine.predict_batch(frame, np.zeros((2, 12, 2), np.float32), seeds=[1])


def test_frame_distance_scores_the_goal(engine: DreamEngine, pusht_start) -> None:
    frame, _ = pusht_start
    other = np.flipud(frame).copy()
    distances = engine.frame_distance(np.stack([frame, other]), frame)
    assert distances[0] == pytest.approx(0.0, abs=1e-6) and distances[1] > 1e-3


def test_start_frame_is_centre_cropped_then_resized() -> None:
    wide = np.zeros((100, 200, 3), dtype=np.uint8)
    wide[:, 50:150] = 255  # the centre square is white, the sides black
    fitted = fit_frame(wide, 96, 96)
    assert fitted.shape == (96, 96, 3) and fitted.min() == 255


def test_latent_threading_streams_one_decoder_state_across_chunks(engine: DreamEngine, pusht_start, rng,
                                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    """A spec may thread chunks through latents: chunk c + 1 is conditioned on chunk c's last
    latent and the decoder's causal state carries over, so the streamed frames equal one
    decode of the whole latent sequence. (pusht-tiny itself threads through pixels.)"""
    import dataclasses

    import torch

    from dream_engine_ros.engine import sampler
    from dream_engine_ros.engine.pixels import unit_to_pixels

    # absolute targets, so the recorded sampler outputs are the latents themselves
    spec = dataclasses.replace(engine.spec, name="pusht-tiny-latent", threading="latent", residual="none",
                               change_floor=0.0, change_full=0.0)
    from dream_engine_ros.engine.families.rectified_flow.pipeline import LatentPipeline

    threaded = DreamEngine(spec, LatentPipeline(spec, engine.pipeline.model, engine.device, engine.dtype),
                           engine.device, engine.dtype)
    frame, _ = pusht_start
    sampled: list[torch.Tensor] = []
    original = sampler.sample

    def recording_sample(*args, **kwargs):  # type: ignore[no-untyped-def]
        sampled.append(original(*args, **kwargs))
        return sampled[-1]

    monkeypatch.setattr(sampler, "sample", recording_sample)
    result = threaded.predict(frame, plan(rng), seed=4, num_steps=STEPS)
    first, second = sampled
    # frame 0 of chunk 2's sample is pinned to chunk 1's last latent
    torch.testing.assert_close(second[:, :, 0], first[:, :, -1], atol=1e-2, rtol=0)
    with torch.inference_mode():
        start = threaded.pipeline.encode_first(result.frames[:1]).float()
        whole = torch.cat([start, first[:, :, 1:], second[:, :, 1:]], dim=2)
        decoded = unit_to_pixels(engine.pipeline.model.vae.decode(whole, window=whole.shape[2]))
    frames = decoded[0].permute(1, 2, 3, 0).numpy()[1:]
    assert frames.shape == result.frames[1:].shape
    assert np.abs(frames.astype(int) - result.frames[1:]).max() <= 1


def test_still_residual_reproduces_a_motionless_chunk_exactly(engine: DreamEngine, pusht_start) -> None:
    """Residual 'still': zero predicted change renders the condition frame itself, pixel for
    pixel, for every frame of the chunk (no VAE blur on what does not move); a change in the
    latents shows up only as a change on top of that frame."""
    import torch

    assert engine.spec.residual == "still"
    frame, _ = pusht_start
    start = fit_frame(frame, 96, 96)
    with torch.inference_mode():
        still = engine.pipeline.encode_still(start)
        motionless = engine.pipeline.render_change(start[None], still, still)
        moved = still.clone()
        moved[:, :, 1:, 4:8, 4:8] += 1.5  # a change in the central 4x4 latent cells of the new frames
        changed = engine.pipeline.render_change(start[None], moved, still)
    assert motionless.shape == (1, 12, 96, 96, 3)
    np.testing.assert_array_equal(motionless[0], np.broadcast_to(start, (12, 96, 96, 3)))
    difference = np.abs(changed[0].astype(int) - start).max(axis=(0, 3))
    assert difference[32:64, 32:64].max() > 10  # the changed region moved
    assert difference.mean() < difference[32:64, 32:64].mean()  # and the change stays local


def test_a_denoiser_run_row_by_row_equals_the_batched_one_on_cpu(engine) -> None:
    """CUDA's exact batches run the DiT one candidate at a time (`rows_apart`); on the CPU both
    ways must give the same bits, so that path is exercised here too."""
    import torch

    from dream_engine_ros.engine import sampler

    spec = engine.spec
    gen = torch.Generator().manual_seed(0)
    shape = (3, spec.latent_channels, 1 + spec.latents_per_chunk, spec.latent_height, spec.latent_width)
    cond = torch.randn((3, spec.latent_channels, 1, spec.latent_height, spec.latent_width), generator=gen)
    noise = torch.randn(shape, generator=gen)
    actions = torch.randn(3, spec.chunk_size, spec.action_dim, generator=gen)
    schedule = sampler.flow_schedule(2, spec.shift)
    with torch.inference_mode():
        batched = engine.pipeline.velocity_fn(cond, noise, actions, 1.5, schedule)(noise, 0)
        apart = engine.pipeline.velocity_fn(cond, noise, actions, 1.5, schedule, rows_apart=True)(noise, 0)
    assert torch.equal(batched, apart)
