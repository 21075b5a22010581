"""Frame decoders of the causal-video family: plug-ins that draw each next frame from the network's output.

Why: the frame network predicts the next frame as the last one moved along a displacement plus a
residual. A decoder may redraw that frame with knowledge the network does not have, e.g. an
environment's object layers (the objects cut from the start frame and moved rigidly). The family
names no decoder: a spec's `FrameNetConfig.layers` names one registered here, and the decoder
checks its own rules and options and loads its own weight files.

    decoder = FRAME_DECODERS.get(spec.frame_model.layers).load(spec, weight_paths)
    per run:   layers = decoder.begin(colours of the start frame)   (or layers of an earlier run)
    per frame: colours = decoder.step(layers, network frame, displacement, step conditioning)
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Protocol

from torch import Tensor

from dream_engine_ros.engine.family import FramelessRollout
from dream_engine_ros.engine.registry import Registry
from dream_engine_ros.engine.spec import ModelSpec


class DecoderLayers(Protocol):
    """One run's decoder state for a group of rows (e.g. object layers cut from the start frame)."""

    def select(self, rows: list[int]) -> DecoderLayers:
        """The state of these rows only."""
        ...


class FrameDecoder(Protocol):
    """A loaded frame decoder: draws frames, and may offer a decode-free rollout for planners."""

    def begin(self, colours: Tensor) -> DecoderLayers:
        """State for rows starting from these frames: (B, 3, H, W) colours in [0, 255]."""
        ...

    def step_inputs(self, actions: Tensor) -> Tensor | None:
        """Normalised actions (K, T, D) -> what `step` needs per row and step (e.g. the commanded
        targets in pixels), computed once per run; None when it needs nothing."""
        ...

    def step(self, layers: DecoderLayers, colours: Tensor, flow: Tensor, inputs: Tensor | None) -> Tensor:
        """The next frame (B, 3, H, W) in [0, 255] from the network's frame (`colours`), its
        displacement (B, 2, H, W) and this step's `step_inputs` rows (B, ...) or None."""
        ...

    def concat(self, parts: Sequence[DecoderLayers]) -> DecoderLayers:
        """The states of several groups as one (rows in order), to continue a run later."""
        ...

    @property
    def frameless(self) -> FramelessRollout | None:
        """The decoder's decode-free rollout (structured models), or None."""
        ...


class FrameDecoderPlugin(Protocol):
    """A registered frame decoder: its spec rules and how it is loaded."""

    def spec_problems(self, spec: ModelSpec) -> list[str]:
        """Every rule of this decoder the spec breaks (options, weight files, action bounds)."""
        ...

    def load(self, spec: ModelSpec, paths: Mapping[str, Path]) -> FrameDecoder:
        """Build the decoder from the spec's weight files (`paths`: component -> file, checked)."""
        ...


FRAME_DECODERS: Registry[FrameDecoderPlugin] = Registry("frame decoder")
