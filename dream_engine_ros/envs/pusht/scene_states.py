"""Decode-free rollouts for planners: the scene's state, not its pixels, moved by the learned dynamics.

Why: a planner scores hundreds of candidate plans per replan. The object-layer model already
holds the scene as a few numbers (the agent's centre, the T's pose) and moves the T with its
contact model; rolled forward in that state, a candidate costs microseconds instead of the
frame network's ~3 ms per frame. Only the chosen plan needs frames (for display), and `predict`
draws them.

    1. read the state from the camera: the agent's centre and the T's pose (the layers' own
       readers, `SceneLayers.from_start`) in the start frame and, with a history, in the frame
       before it (the agent's velocity and the T's last motion follow); without a history the
       robot is at rest;
    2. move the agent by the agent model (`agent_model.py`) under each candidate's targets;
    3. move the T by the contact model, given the agent's positions (`contact_model.py`), with
       all candidates in one matrix product per layer.

A row equals the same candidate scored alone up to float64 rounding of the batched matrix
products (test/engine/test_scene_states.py states the tolerance it keeps).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from dream_engine_ros.engine.errors import InputError
from dream_engine_ros.engine.families.causal_video.rollout import to_colours, to_unit
from dream_engine_ros.engine.spec import ModelSpec
from dream_engine_ros.envs.pusht.agent_model import AgentModel
from dream_engine_ros.envs.pusht.contact_model import ContactModel
from dream_engine_ros.envs.pusht.geometry import world_to_pixels
from dream_engine_ros.envs.pusht.scene_layers import MIN_FIT_PIXELS, SceneLayers

STATE_SIZE = 5  # agent x, y (px), T area centroid x, y (px), T body angle (rad)


@dataclass(frozen=True)
class SceneState:
    """The scene at the start of a rollout, in pixels of the spec's frames."""

    agent_prev: np.ndarray  # (2,) the agent one step before
    agent_now: np.ndarray  # (2,)
    target_prev: np.ndarray  # (2,) the target that moved it from agent_prev to agent_now
    pose_prev: np.ndarray  # (3,) the T one step before [centre x, centre y, angle]
    pose: np.ndarray  # (3,)


def read_scene_state(frames: np.ndarray, actions: np.ndarray) -> SceneState:
    """frames (n + 1, H, W, 3) uint8 oldest first (the start frame last), actions (n, 2) the
    targets in pixels that led from each frame to the next; n = 0 means a robot at rest."""
    last_two = frames[-2:]
    layers = SceneLayers.from_start(to_colours(to_unit(last_two, torch.device("cpu"))))
    agents = layers.agent_start.double().numpy()
    poses = layers.block_pose.numpy()
    seen = layers.block_alpha.double().sum(dim=(1, 2, 3)).numpy() >= MIN_FIT_PIXELS
    for i, name in enumerate(["history_frames[-1]", "start_frame"][-len(last_two):]):
        if agents[i, 0] < 0 or not seen[i]:
            raise InputError(name, "no agent or T", "the scene-state rollout needs the agent and the T in sight")
    if len(last_two) == 1:
        now = agents[0]
        return SceneState(now.copy(), now.copy(), now.copy(), poses[0].copy(), poses[0].copy())
    before = poses[0].copy()  # the angle read nearest the start's (readings wrap at +-pi)
    before[2] = poses[1, 2] - (poses[1, 2] - before[2] + np.pi) % (2 * np.pi) + np.pi
    return SceneState(agents[0], agents[1], np.asarray(actions[-1], dtype=np.float64), before, poses[1])


def rollout_scene_states(state: SceneState, targets: np.ndarray, agent: AgentModel, contact: ContactModel,
                         pixels: int) -> np.ndarray:
    """(K, T, 2) targets in pixels -> (K, T, 5) states after each step (see STATE_SIZE)."""
    k_count, horizon = targets.shape[:2]
    targets = np.asarray(targets, dtype=np.float64)
    agent_prev = np.repeat(state.agent_prev[None], k_count, axis=0)
    agent_now = np.repeat(state.agent_now[None], k_count, axis=0)
    agents = agent.rollout(agent_prev, agent_now, np.repeat(state.target_prev[None], k_count, axis=0), targets)
    pose_prev = np.repeat(state.pose_prev[None], k_count, axis=0)
    pose = np.repeat(state.pose[None], k_count, axis=0)
    out = np.empty((k_count, horizon, STATE_SIZE))
    before, now = agent_prev, agent_now
    for t in range(horizon):
        after = agents[:, t]
        pose, pose_prev = contact.step(before, now, after, targets[:, t], pose, pose_prev, pixels,
                                       exact_rows=False), pose
        out[:, t, :2], out[:, t, 2:] = after, pose
        before, now = now, after
    return out


class SceneStateRollout:
    """The decode-free rollout of a "pusht-contact" spec with an agent model (`FramelessRollout`):
    states (K, T, 5) in pixels, see STATE_SIZE. The camera's reading is remembered for the next
    call with the same frames: a planner's CEM iterations score from one observation, and the
    reading (layers, pose fit) is most of a call's time."""

    state_size = STATE_SIZE

    def __init__(self, spec: ModelSpec, agent: AgentModel, contact: ContactModel) -> None:
        self.spec = spec
        self.agent = agent
        self.contact = contact  # the planners' contact model (fine-tuned on their contacts where shipped)
        self._last: tuple[bytes, SceneState] | None = None

    def encode(self, images: np.ndarray) -> np.ndarray:
        """Each image's scene read as a robot at rest: [agent x, y, T centre x, y, angle] in pixels."""
        rows = []
        for image in images:
            state = read_scene_state(image[None], np.zeros((0, 2)))
            rows.append(np.concatenate([state.agent_now, state.pose]))
        return np.stack(rows)

    def __call__(self, frames: np.ndarray, past_actions: np.ndarray, actions: np.ndarray) -> np.ndarray:
        past_targets = world_to_pixels(past_actions, self.spec.height)
        key = frames.tobytes() + np.ascontiguousarray(past_targets, dtype=np.float64).tobytes()
        if self._last is None or self._last[0] != key:
            self._last = (key, read_scene_state(frames, past_targets))
        targets = world_to_pixels(actions, self.spec.height)
        return rollout_scene_states(self._last[1], targets, self.agent, self.contact, self.spec.height)
