"""PushT's object layers as frame decoders of the causal-video family, and their decode-free rollout.

Two decoders are registered (`FrameNetConfig.layers`):

- "pusht": the T moved by one rigid motion fitted to the network's displacement, the agent read
  as one centre; frames drawn from layers cut from the start frame (`scene_layers.py`);
- "pusht-contact": the same layers, the T moved by the learned contact model (weights "contact",
  `contact_model.py`). Its option "draw-moved-t" draws a moved T afresh as gym-pusht draws it
  (`t_render.py`). With an "agent" weights file it also offers the decode-free scene-state
  rollout planners score (`scene_states.py`; the T moved by "planner_contact" where shipped).

What they know by hand is PushT's: gym-pusht's colours, the T's geometry, the walls.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

import torch
from torch import Tensor

from dream_engine_ros.engine.families.causal_video.decoders import FRAME_DECODERS, DecoderLayers, FrameDecoder
from dream_engine_ros.engine.family import FramelessRollout
from dream_engine_ros.engine.spec import ModelSpec
from dream_engine_ros.engine.weights import read_state_file
from dream_engine_ros.envs.pusht.agent_model import AgentModel
from dream_engine_ros.envs.pusht.contact_model import ContactModel
from dream_engine_ros.envs.pusht.geometry import WORLD_SIZE
from dream_engine_ros.envs.pusht.scene_layers import SceneLayers
from dream_engine_ros.envs.pusht.scene_states import SceneStateRollout

LAYERS = "pusht"
CONTACT_LAYERS = "pusht-contact"
DRAW_MOVED_T = "draw-moved-t"


class PushTLayers:
    """A loaded PushT object-layer decoder (either kind)."""

    def __init__(self, spec: ModelSpec, contact: ContactModel | None = None, draw_moved_t: bool = False,
                 frameless: FramelessRollout | None = None) -> None:
        self.spec = spec
        self.contact = contact
        self.draw_moved_t = draw_moved_t and contact is not None
        self._frameless = frameless

    @property
    def frameless(self) -> FramelessRollout | None:
        return self._frameless

    def begin(self, colours: Tensor) -> DecoderLayers:
        return SceneLayers.from_start(colours, fit_drawing=self.draw_moved_t)

    def step_inputs(self, actions: Tensor) -> Tensor | None:
        """Normalised PushT actions (K, T, 2) -> the commanded targets in pixels (contact layers only;
        the spec's rules guarantee action bounds for them)."""
        if self.contact is None:
            return None
        raw = self.spec.denormalise_actions(actions.cpu().numpy())
        return torch.from_numpy(raw * (self.spec.height / WORLD_SIZE) - 0.5).to(actions.device)

    def step(self, layers: DecoderLayers, colours: Tensor, flow: Tensor, inputs: Tensor | None) -> Tensor:
        assert isinstance(layers, SceneLayers)
        return layers.step(colours, flow, self.contact, inputs, self.draw_moved_t)

    def concat(self, parts: Sequence[DecoderLayers]) -> DecoderLayers:
        scenes = [part for part in parts if isinstance(part, SceneLayers)]
        assert len(scenes) == len(parts)
        return SceneLayers.concat(scenes)


def _option_problems(spec: ModelSpec, allowed: tuple[str, ...]) -> list[str]:
    assert spec.frame_model is not None
    unknown = [option for option in spec.frame_model.layer_options if option not in allowed]
    if not unknown:
        return []
    return [f"frame_model.layer_options {unknown} are not options of layers {spec.frame_model.layers!r} "
            f"({', '.join(allowed) or 'none'})"]


class RigidLayersPlugin:
    """"pusht": no weights of its own, no options."""

    def spec_problems(self, spec: ModelSpec) -> list[str]:
        problems = _option_problems(spec, ())
        extra = sorted(set(spec.weights.files) - {"frame_model"})
        if extra:
            problems.append(f"weights files {extra} are not read by layers {LAYERS!r}")
        return problems

    def load(self, spec: ModelSpec, paths: Mapping[str, Path]) -> FrameDecoder:
        return PushTLayers(spec)


class ContactLayersPlugin:
    """"pusht-contact": weights "contact" (required), "agent" and "planner_contact" (optional)."""

    def spec_problems(self, spec: ModelSpec) -> list[str]:
        problems = _option_problems(spec, (DRAW_MOVED_T,))
        files = set(spec.weights.files)
        if "contact" not in files:
            problems.append(f"frame_model.layers {CONTACT_LAYERS!r} needs a 'contact' weights file")
        extra = sorted(files - {"frame_model", "contact", "agent", "planner_contact"})
        if extra:
            problems.append(f"weights files {extra} are not read by layers {CONTACT_LAYERS!r}")
        if not spec.action_low:
            problems.append(f"frame_model.layers {CONTACT_LAYERS!r} reads targets in pixels: it needs "
                            "action_low/action_high")
        return problems

    def load(self, spec: ModelSpec, paths: Mapping[str, Path]) -> FrameDecoder:
        assert spec.frame_model is not None
        contact = ContactModel.from_state(read_state_file(paths["contact"]), source=str(paths["contact"]))
        frameless = None
        if "agent" in paths:
            agent = AgentModel.from_state(read_state_file(paths["agent"]), source=str(paths["agent"]))
            planner = contact
            if "planner_contact" in paths:
                planner = ContactModel.from_state(read_state_file(paths["planner_contact"]),
                                                  source=str(paths["planner_contact"]))
            frameless = SceneStateRollout(spec, agent, planner)
        return PushTLayers(spec, contact, DRAW_MOVED_T in spec.frame_model.layer_options, frameless)


def register() -> None:
    FRAME_DECODERS.register(LAYERS, RigidLayersPlugin())
    FRAME_DECODERS.register(CONTACT_LAYERS, ContactLayersPlugin())

