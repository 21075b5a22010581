"""Named registries and plug-in loading (engine/registry.py, engine/family.py): a family added from
outside the package runs through the engine facade with no change to the engine."""

from __future__ import annotations

import importlib.metadata
from pathlib import Path

import numpy as np
import pytest
import torch

from dream_engine_ros.engine import registry
from dream_engine_ros.engine.family import FAMILIES, FamilyPipeline, FramelessRollout
from dream_engine_ros.engine.registry import Registry
from dream_engine_ros.engine.results import BatchRolloutResult, CancelCheck, ChunkCallback, ChunkEvent
from dream_engine_ros.engine.runner import DreamEngine
from dream_engine_ros.engine.spec import ModelSpec, WeightsLocation, get_spec, register_spec, unregister_spec


def test_a_registry_names_what_it_knows_on_a_miss() -> None:
    colours: Registry[int] = Registry("colour")
    colours.register("red", 1)
    with pytest.raises(ValueError, match="colour 'red' already registered"):
        colours.register("red", 2)
    colours.register("red", 3, replace=True)
    assert colours.get("red") == 3 and "red" in colours and colours.names() == ["red"]
    with pytest.raises(KeyError, match="unknown colour 'blue'; known: red"):
        colours.get("blue")
    colours.unregister("red")
    assert colours.names() == []


class StillPipeline:
    """A family that predicts a robot at rest: every frame is the start frame."""

    has_negative_context = False
    frameless: FramelessRollout | None = None

    def __init__(self, spec: ModelSpec) -> None:
        self.spec = spec

    def rollout(self, start: np.ndarray, actions: np.ndarray, seeds: list[int], num_steps: int, guidance: float,
                on_chunk: ChunkCallback | None, should_cancel: CancelCheck | None, fused: bool,
                history: tuple[np.ndarray, np.ndarray] | None) -> BatchRolloutResult:
        frames = np.repeat(start[None, None], actions.shape[0], axis=0).repeat(actions.shape[1] + 1, axis=1)
        chunks = actions.shape[1] // self.spec.chunk_size
        for c in range(chunks):
            if on_chunk is not None:
                lo = 0 if c == 0 else c * self.spec.chunk_size + 1
                on_chunk(ChunkEvent(c, chunks, frames[:, lo:(c + 1) * self.spec.chunk_size + 1], lo, 0.0))
        return BatchRolloutResult(frames, seeds, num_steps, guidance)

    def frame_distance(self, images: np.ndarray) -> np.ndarray:
        return np.zeros(len(images) - 1)

    def close(self) -> None:
        pass


class StillFamily:
    name = "still-test"
    reads_history = False
    has_guidance = False

    def spec_problems(self, spec: ModelSpec) -> list[str]:
        return [] if spec.chunk_size == 4 else ["still-test needs chunk_size 4"]

    def config_from_dict(self, data: object) -> None:
        return None

    def load(self, spec: ModelSpec, weights_dir: str | Path | None, device: torch.device,
             dtype: torch.dtype) -> FamilyPipeline:
        return StillPipeline(spec)


def register_still_family() -> None:
    """What a third-party package's entry point would run."""
    FAMILIES.register(StillFamily.name, StillFamily())
    register_spec(ModelSpec(
        name="still-test-spec", family=StillFamily.name, description="test family", height=8, width=8,
        chunk_size=4, action_dim=1, fps=5.0, num_steps=1, guidance=0.0, shift=1.0, solver="euler",
        dtype="float32", threading="pixel", uncond="null-action", tokenizer=None, backbone=None,
        weights=WeightsLocation()))


def register_broken() -> None:
    raise RuntimeError("this plug-in is broken")


@pytest.fixture()
def fresh_plugins(monkeypatch: pytest.MonkeyPatch):
    """Plug-in loading run again with only two entry points (the built-ins are already registered)."""
    entries = [importlib.metadata.EntryPoint("still", f"{__name__}:register_still_family", registry.ENTRY_POINT_GROUP),
               importlib.metadata.EntryPoint("broken", f"{__name__}:register_broken", registry.ENTRY_POINT_GROUP)]
    registry.load_plugins()
    monkeypatch.setattr(registry, "BUILTIN_PLUGINS", ())
    monkeypatch.setattr(registry.importlib.metadata, "entry_points",
                        lambda group: entries if group == registry.ENTRY_POINT_GROUP else [])
    monkeypatch.setattr(registry, "_loaded", False)
    monkeypatch.setattr(registry, "_load_errors", {})
    yield
    FAMILIES.unregister(StillFamily.name)
    unregister_spec("still-test-spec")


def test_an_entry_point_adds_a_family_and_its_spec_and_the_facade_runs_it(fresh_plugins: None) -> None:
    spec = get_spec("still-test-spec")  # the look-up runs the plug-ins
    assert registry.plugin_errors() == {"broken": "RuntimeError: this plug-in is broken"}
    engine = DreamEngine.load(spec, device="cpu")
    start = np.arange(8 * 8 * 3, dtype=np.uint8).reshape(8, 8, 3)
    events: list[int] = []
    result = engine.predict(start, np.zeros((8, 1), np.float32), on_chunk=lambda e: events.append(e.chunk_index))
    assert result.frames.shape == (9, 8, 8, 3) and (result.frames == start).all() and events == [0, 1]
    assert not engine.can_roll_out_frameless
    with pytest.raises(Exception, match="no unconditional branch"):
        engine.predict(start, np.zeros((8, 1), np.float32), guidance=1.0)
    with pytest.raises(KeyError, match="broken failed to load"):
        get_spec("no-such-spec")


def test_a_spec_of_an_unknown_family_is_refused() -> None:
    with pytest.raises(ValueError, match="family 'teleporter' is not one of"):
        ModelSpec(name="x", family="teleporter", description="", height=8, width=8, chunk_size=4, action_dim=1,
                  fps=5.0, num_steps=1, guidance=0.0, shift=1.0, solver="euler", dtype="float32", threading="pixel",
                  uncond="null-action", tokenizer=None, backbone=None, weights=WeightsLocation())
