"""The rectified-flow family: Wan2.1-layout VAE + action-conditioned DiT, chunk by chunk."""
