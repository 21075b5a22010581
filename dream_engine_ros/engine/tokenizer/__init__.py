"""Video tokenizers (VAEs) that turn pixels into the latents the backbone denoises."""

from .wan_vae import StreamState, WanVAE, pixels_to_unit, unit_to_pixels

__all__ = ["StreamState", "WanVAE", "pixels_to_unit", "unit_to_pixels"]
