"""Engine test fixtures: the reference golden files and a loaded default engine."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

REPO = Path(__file__).resolve().parents[2]


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
