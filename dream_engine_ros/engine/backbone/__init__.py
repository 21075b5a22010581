"""Diffusion backbones that predict the flow velocity of video latents."""

from .dit import ActionDiT

__all__ = ["ActionDiT"]
