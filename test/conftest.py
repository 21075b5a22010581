"""Shared pytest setup: repo and test-helper folders on sys.path, headless pygame, the ROS fixtures
(`ros/ros_fixtures.py`) and the fixtures many folders share (golden files, a loaded model, a PushT start)."""

from __future__ import annotations

import os
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))
os.environ.setdefault("SDL_VIDEODRIVER", "dummy")
# helper modules (ros_helpers, node_process, augment_bags, http_helpers) import by name from any test folder
for helpers in ("ros", "augment", "http"):
    if str(REPO / "test" / helpers) not in sys.path:
        sys.path.insert(0, str(REPO / "test" / helpers))

import numpy as np  # noqa: E402
import pytest  # noqa: E402

pytest_plugins = ["ros_fixtures"]  # real rclpy + FastDDS, isolated per run: every ROS test folder shares them


def dreamdojo_fixture_dir() -> Path:
    """The golden files: test/fixtures/dreamdojo in this repository first (a fresh clone has them),
    then $DREAM_ENGINE_FIXTURES, then ../shared/fixtures/dreamdojo beside the checkout."""
    candidates = [REPO / "test" / "fixtures" / "dreamdojo"]
    if os.environ.get("DREAM_ENGINE_FIXTURES"):
        candidates.append(Path(os.environ["DREAM_ENGINE_FIXTURES"]))
    candidates.append(REPO.parent / "shared" / "fixtures" / "dreamdojo")
    for path in candidates:
        if (path / "dit_forward.safetensors").is_file():
            return path
    raise FileNotFoundError(
        "DreamDojo golden fixtures not found; looked in " + ", ".join(str(p) for p in candidates)
    )


@pytest.fixture(scope="session")
def fixture_dir() -> Path:
    return dreamdojo_fixture_dir()


@pytest.fixture(scope="session")
def engine():
    """The embedded default model, loaded once for the whole session (CPU)."""
    from dream_engine_ros.engine.runner import DreamEngine

    return DreamEngine.load("pusht-tiny", device="cpu")


@pytest.fixture(scope="session")
def pusht_start():
    """A real PushT frame and a plausible action plan from the simulator (held-out seed)."""
    from dream_engine_ros.envs.pusht.training.pusht_data import generate_episodes

    frames, actions = generate_episodes(1, 24, seed=90210)
    return frames[0, 0], actions[0]


@pytest.fixture()
def rng() -> np.random.Generator:
    return np.random.default_rng(1234)


@pytest.fixture()
def model_folder(tmp_path: Path):
    """Factory: a shipped spec copied as a model folder (its weight files and a spec.json naming
    them, under another name): what `dream-engine train` leaves, for every surface's `--spec DIR`."""
    import dataclasses
    import shutil

    from dream_engine_ros.engine.loading import weight_paths
    from dream_engine_ros.engine.model_dir import write_spec_file
    from dream_engine_ros.engine.spec import WeightsLocation, get_spec

    def make(catalog_name: str = "pusht-tiny", name: str = "my-model") -> Path:
        spec = get_spec(catalog_name)
        folder = tmp_path / name
        folder.mkdir()
        for path in weight_paths(spec).values():
            shutil.copy(path, folder)
        write_spec_file(dataclasses.replace(spec, name=name, weights=WeightsLocation(files=dict(spec.weights.files))),
                        folder)
        return folder

    return make


@pytest.fixture()
def block_model_folder(tmp_path: Path):
    """Factory: a tiny block-diffusion model folder (32 x 32, chunk 2, actions in [0, 10]^2) with
    random weights, laid out as `dream-engine train` leaves one (spec.json beside the weights)."""
    import torch

    from dream_engine_ros.engine.families.block_diffusion.config import BlockDiffusionConfig
    from dream_engine_ros.engine.families.block_diffusion.dynamics import ChunkDenoiser
    from dream_engine_ros.engine.families.block_diffusion.tokenizer import FrameTokenizer
    from dream_engine_ros.engine.model_dir import write_spec_file
    from dream_engine_ros.engine.spec import ModelSpec, WeightsLocation
    from dream_engine_ros.engine.weights import save_module_weights

    def make(name: str = "my-block-model") -> Path:
        config = BlockDiffusionConfig(action_dim=2, channels=(8, 16), latent_channels=4, patch=2, width=32, depth=2,
                                      heads=2, action_embed=16)
        folder = tmp_path / name
        folder.mkdir()
        torch.manual_seed(0)
        dynamics = ChunkDenoiser(config)
        with torch.no_grad():  # the zero-initialised head and gates get values, so actions change the frames
            for parameter in dynamics.parameters():
                if not parameter.abs().sum():
                    parameter.normal_(0.0, 0.1)
        files = {"tokenizer": "tokenizer.safetensors", "dynamics": "dynamics.safetensors"}
        save_module_weights(FrameTokenizer(config), folder / files["tokenizer"])
        save_module_weights(dynamics, folder / files["dynamics"])
        spec = ModelSpec(name=name, family="block-diffusion", description="tiny block-diffusion folder (tests)",
                         height=32, width=32, chunk_size=2, action_dim=2, fps=10.0, num_steps=2, guidance=0.0,
                         shift=1.0, solver="euler", dtype="float32", threading="latent", uncond="null-action",
                         tokenizer=None, backbone=None, weights=WeightsLocation(files=files),
                         action_low=(0.0, 0.0), action_high=(10.0, 10.0), config=config)
        write_spec_file(spec, folder)
        return folder

    return make
