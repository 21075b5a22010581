"""The causal-video denoiser's warp head: it starts as the plain network and moves pixels whole."""

from __future__ import annotations

import dataclasses

import torch

from dream_engine_ros.engine.families.causal_video.frame_unet import FrameDenoiser, warp
from dream_engine_ros.engine.spec import FrameNetConfig
from dream_engine_ros.envs.pusht.specs import PUSHT_STRUCTURED


def _config(use_warp: bool) -> FrameNetConfig:
    assert PUSHT_STRUCTURED.frame_model is not None
    return dataclasses.replace(PUSHT_STRUCTURED.frame_model, warp=use_warp)


def _inputs() -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    gen = torch.Generator().manual_seed(3)
    context = torch.rand(2, 3, 3, 96, 96, generator=gen) * 2 - 1
    noisy = torch.randn(2, 3, 96, 96, generator=gen)
    actions = torch.rand(2, 3, 2, generator=gen) * 2 - 1
    return context, noisy, torch.ones(2), actions


def test_a_fresh_warp_head_leaves_the_plain_networks_output_unchanged() -> None:
    torch.manual_seed(0)
    plain = FrameDenoiser(_config(False))
    with torch.no_grad():
        plain.head.weight.normal_(0.0, 0.05)
    warped = FrameDenoiser(_config(True))
    missing, unexpected = warped.load_state_dict(plain.state_dict(), strict=False)
    assert sorted(missing) == ["flow_head.bias", "flow_head.weight"] and not unexpected
    inputs = _inputs()
    with torch.no_grad():
        change, flow = warped.change_and_flow(*inputs)
    assert flow is not None and float(flow.abs().max()) == 0.0
    with torch.no_grad():
        torch.testing.assert_close(change, plain(*inputs), atol=1e-4, rtol=0.0)
        assert plain.change_and_flow(*inputs)[1] is None


def test_a_uniform_displacement_moves_the_last_frame_by_that_many_pixels() -> None:
    net = FrameDenoiser(_config(True))
    assert net.flow_head is not None
    with torch.no_grad():  # x displacement of every output pixel = +2 (channel order of pixel_shuffle)
        net.flow_head.bias.copy_(torch.tensor([2.0] * 16 + [0.0] * 16))
    context, noisy, t, actions = _inputs()
    with torch.no_grad():
        change, flow = net.change_and_flow(context, noisy, t, actions)
    assert flow is not None
    assert torch.all(flow[:, 0] == 2.0) and torch.all(flow[:, 1] == 0.0)
    next_frame = context[:, -1] + change  # the residual head is still zero
    torch.testing.assert_close(next_frame[..., :-2], context[:, -1, ..., 2:], atol=1e-4, rtol=0.0)


def test_warp_repeats_the_border_outside_the_image() -> None:
    image = torch.arange(16.0).reshape(1, 1, 4, 4)
    flow = torch.zeros(1, 2, 4, 4)
    flow[:, 0] = 10.0
    torch.testing.assert_close(warp(image, flow), image[..., -1:].expand(1, 1, 4, 4))
