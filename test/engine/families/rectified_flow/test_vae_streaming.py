"""Causal VAE streaming: pieces with one carried state == one pass over the whole sequence."""

from __future__ import annotations

import pytest
import torch

from dream_engine_ros.engine.families.rectified_flow.wan_vae import StreamState, WanVAE
from dream_engine_ros.envs.pusht.specs import PUSHT_TINY


@pytest.fixture(scope="module")
def vae() -> WanVAE:
    torch.manual_seed(3)
    return WanVAE(PUSHT_TINY.tokenizer).eval()


@torch.inference_mode()
def test_chunked_decode_equals_full_decode(vae: WanVAE) -> None:
    latents = torch.randn(1, 8, 7, 12, 12)
    full = vae.decode(latents, window=7)
    state = StreamState()
    pieces = [vae.decode(latents[:, :, :4], state, window=4), vae.decode(latents[:, :, 4:], state, window=3)]
    assert full.shape == (1, 3, 25, 96, 96)
    assert [p.shape[2] for p in pieces] == [13, 12]
    torch.testing.assert_close(torch.cat(pieces, dim=2), full, atol=1e-5, rtol=1e-5)
    one_by_one = StreamState()
    singles = torch.cat([vae.decode(latents[:, :, i:i + 1], one_by_one) for i in range(7)], dim=2)
    torch.testing.assert_close(singles, full, atol=1e-5, rtol=1e-5)


@torch.inference_mode()
def test_chunked_encode_equals_full_encode(vae: WanVAE) -> None:
    video = torch.rand(1, 3, 13, 96, 96) * 2 - 1
    full = vae.encode(video, window=12)
    state = StreamState()
    first = vae.encode(video[:, :, :5], state)
    rest = vae.encode(video[:, :, 5:], state, window=4)
    assert full.shape == (1, 8, 4, 12, 12)
    torch.testing.assert_close(torch.cat([first, rest], dim=2), full, atol=1e-5, rtol=1e-5)


@torch.inference_mode()
def test_first_latent_depends_on_first_frame_only(vae: WanVAE) -> None:
    video = torch.rand(1, 3, 5, 96, 96) * 2 - 1
    changed = video.clone()
    changed[:, :, 1:] = -changed[:, :, 1:]
    a, b = vae.encode(video), vae.encode(changed)
    torch.testing.assert_close(a[:, :, 0], b[:, :, 0], atol=0, rtol=0)
    assert (a[:, :, 1] - b[:, :, 1]).abs().max() > 1e-3


@torch.inference_mode()
def test_decoder_is_causal(vae: WanVAE) -> None:
    latents = torch.randn(1, 8, 3, 12, 12)
    changed = latents.clone()
    changed[:, :, 2] += 1.0
    a, b = vae.decode(latents), vae.decode(changed)
    torch.testing.assert_close(a[:, :, :5], b[:, :, :5], atol=0, rtol=0)  # frames of latents 0 and 1
    assert (a[:, :, 5:] - b[:, :, 5:]).abs().max() > 1e-3


def test_fresh_stream_frame_count_rule(vae: WanVAE) -> None:
    with pytest.raises(ValueError, match="1 \\+ 4k frames"):
        vae.encode(torch.zeros(1, 3, 4, 96, 96))
