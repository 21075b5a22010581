"""The dynamics stage's latent store is keyed by the tokenizer's weights: a resumed run whose tokenizer
trained further never reads latents the earlier weights encoded."""

from __future__ import annotations

from pathlib import Path

import torch

from dream_engine_ros.engine.families.block_diffusion.config import BlockDiffusionConfig
from dream_engine_ros.engine.families.block_diffusion.tokenizer import FrameTokenizer
from dream_engine_ros.training.block_diffusion import latent_store_folder, tokenizer_fingerprint

CONFIG = BlockDiffusionConfig(action_dim=2, channels=(8, 16), latent_channels=4)


def test_the_fingerprint_follows_the_weights_and_the_latent_statistics() -> None:
    torch.manual_seed(0)
    tokenizer = FrameTokenizer(CONFIG)
    same = FrameTokenizer(CONFIG)
    same.load_state_dict(tokenizer.state_dict())
    assert tokenizer_fingerprint(tokenizer) == tokenizer_fingerprint(same)
    with torch.no_grad():
        same.stem.weight[0, 0, 0, 0] += 1e-3
    assert tokenizer_fingerprint(tokenizer) != tokenizer_fingerprint(same)
    other_stats = FrameTokenizer(CONFIG)
    other_stats.load_state_dict(tokenizer.state_dict())
    other_stats.set_latent_stats(torch.ones(4), torch.full((4,), 2.0))
    assert tokenizer_fingerprint(tokenizer) != tokenizer_fingerprint(other_stats)


def test_a_new_tokenizer_gets_a_new_store_and_the_stale_one_is_removed(tmp_path: Path) -> None:
    torch.manual_seed(0)
    first = FrameTokenizer(CONFIG)
    folder = latent_store_folder(tmp_path, first, rank=0)
    folder.mkdir()
    (folder / "000000.npy").write_bytes(b"old latents")
    other_rank = latent_store_folder(tmp_path, first, rank=1)
    other_rank.mkdir()
    assert latent_store_folder(tmp_path, first, rank=0) == folder and folder.is_dir()  # same weights: kept
    with torch.no_grad():
        first.stem.bias += 0.1  # the tokenizer trained on after a resume
    renewed = latent_store_folder(tmp_path, first, rank=0)
    assert renewed != folder and not folder.exists() and other_rank.is_dir()
