"""The block-diffusion family: a per-frame conv tokenizer and a transformer denoising a chunk of latents at a time
over a KV cache of the start frame and the last chunks."""
