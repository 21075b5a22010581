"""The causal-video family: a frame-autoregressive pixel denoiser, one frame at a time."""
