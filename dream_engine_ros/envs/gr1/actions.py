"""GR-1 joint targets -> the 384-d action vectors the DreamDojo GR-1 model was trained on.

A planner thinks in joint positions; the model wants min-max normalised, per-4-frame *deltas*
in slots [0, 29) of a 384-d vector. This module does that conversion so callers can send raw
joint targets. Raw 384-d vectors remain a valid engine input; nothing here is required.

Facts, read from the public reference code (NVIDIA/DreamDojo, Apache-2.0; the names below are
its functions and classes, not files of this repository):

- Joint order: the reference's GR00T config, `construct_modality_config_and_transforms`
  (embodiment "gr1") concatenates action.left_arm, right_arm, left_hand, right_hand, waist
  (7 + 7 + 6 + 6 + 3 = 29) and normalises every key with mode "min_max"; the state uses the
  same key order. Frames and actions are sampled every 2nd step of the 20 Hz data (10 fps),
  with one extra prefix step used only as the delta baseline.
- Statistics: the reference dataset's `LeRobotSingleDataset._get_metadata` always takes
  GR-1 statistics from its unified GR-1 stats file ("action" and "observation.state", fields
  "min"/"max"), indexed by its unified GR-1 modality file (left_arm 0:7, left_hand 7:13,
  right_arm 22:29, right_hand 29:35, waist 41:44 of a 44-d vector). The constants below are
  those values (read from the eugene123tw/DreamDojo fork at 2d56fd0, whose metadata mirrors
  the release; the NVIDIA repo index held no copy).
- Normalisation: the reference's state/action transform `Normalizer`, mode "min_max":
  2 * (x - min) / (max - min) - 1, and 0 where min == max; no clipping.
- Deltas: the reference dataset's `WrappedLeRobotSingleDataset.__getitem__` builds
  `a[t:t+4] - a[t-1]` for t = 1, 5, 9, ... over the normalised actions a[0..T] (a[0] is the
  prefix baseline), i.e. output row k = a[k+1] - a[4 * (k // 4)], written into [:, 0:29] of a
  zero (T, 384) array.
- Quirk: the same function then takes `key = action_seq[0:1, :29]` (a view) and assigns the
  normalised state into it, so row 0 of every training sample holds the normalised state
  (state statistics), not a delta. The reference evaluation (the `inference` function of its
  Cosmos-Predict2 action-conditioned pipeline) slices its 12-action chunks from one such
  sequence, so only row 0 of the whole rollout carries the state; later chunks start with a
  real delta.

Decision: by default (`first_row="state"`) we reproduce the quirk exactly as the reference
evaluation sees it (row 0 of the sequence only), because that is what the released weights saw
in training and what the reference numbers were produced with. `first_row="delta"` gives the
clean delta everywhere, for callers who prefer it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np
from numpy.typing import ArrayLike

ACTION_DIM = 384
ACTIONS_PER_GROUP = 4  # the DiT packs 4 consecutive actions into one latent frame

GR1_GROUPS: tuple[tuple[str, int], ...] = (
    ("left_arm", 7), ("right_arm", 7), ("left_hand", 6), ("right_hand", 6), ("waist", 3),
)
GR1_NUM_JOINTS = sum(size for _, size in GR1_GROUPS)  # 29
GR1_SLOT = slice(0, GR1_NUM_JOINTS)  # "Fourier GR-1" slots of the 384-d layout

FirstRow = Literal["state", "delta"]

# The reference's unified GR-1 statistics, reordered to the concat order above.
_ACTION_MIN: dict[str, tuple[float, ...]] = {
    "left_arm": (-2.291214942932129, 9.999999974752427e-07, -2.4999990463256836, -2.1999990940093994,
                 -1.990696668624878, -0.9498744010925293, -0.6499990224838257),
    "right_arm": (-2.0708367824554443, -2.2475438117980957, -1.5707952976226807, -2.1999990940093994,
                  -1.9999990463256836, -0.9499989748001099, -0.6499990224838257),
    "left_hand": (-1.9597030878067017, -1.8635213375091553, -1.9709523916244507, -0.5345953702926636,
                  0.0, 5.7711950773864373e-08),
    "right_hand": (-0.5808770656585693, -0.5084361433982849, -0.5363699197769165, -1.1787790060043335,
                   0.0, 3.1221401286529726e-07),
    "waist": (-0.7853971719741821, 0.0, -9.999999974752427e-07),
}
_ACTION_MAX: dict[str, tuple[float, ...]] = {
    "left_arm": (1.046176552772522, 1.8901419639587402, 1.2993468046188354, -9.999999974752427e-07,
                 1.8093901872634888, 0.9499989748001099, 0.6499990224838257),
    "right_arm": (1.1345248222351074, -9.999999974752427e-07, 2.236121654510498, -9.999999974752427e-07,
                  1.9609193801879883, 0.9499989748001099, 0.6499990224838257),
    "left_hand": (1.5707963705062866, 1.646651268005371, 1.709236979484558, 2.0620639324188232,
                  0.9479697346687317, 1.7448381185531616),
    "right_hand": (1.5707963705062866, 1.7183797359466553, 3.979951858520508, 3.9879753589630127,
                   0.9479697346687317, 1.7448405027389526),
    "waist": (0.7853971719741821, 0.523597776889801, 0.0),
}
_STATE_MIN: dict[str, tuple[float, ...]] = {
    "left_arm": (-1.7112884521484375, -0.05192652717232704, -1.6571800708770752, -2.2253382205963135,
                 -1.5812596082687378, -0.8077027797698975, -0.7319396138191223),
    "right_arm": (-2.0094008445739746, -2.0107927322387695, -1.5552369356155396, -2.236074447631836,
                  -1.570620059967041, -0.8967300057411194, -1.0318788290023804),
    "left_hand": (-1.3877787807814457e-17, -3.469446951953614e-18, -3.469446951953614e-18,
                  -3.469446951953614e-18, -1.734723475976807e-18, -3.469446951953614e-18),
    "right_hand": (-3.469446951953614e-18,) * 6,
    "waist": (-0.8075597882270813, -0.06663085520267487, -0.10379424691200256),
}
_STATE_MAX: dict[str, tuple[float, ...]] = {
    "left_arm": (1.0017889738082886, 1.5781080722808838, 1.294211983680725, 0.04977008327841759,
                 1.600113868713379, 0.8699901103973389, 0.7041063904762268),
    "right_arm": (1.0682319402694702, 0.07876992970705032, 1.6531550884246826, 0.048908114433288574,
                  1.8550424575805664, 0.8390809297561646, 1.2081018686294556),
    "left_hand": (1.472766399383545, 1.4828513860702515, 1.4850744009017944, 1.4901424646377563,
                  0.9792539477348328, 1.4872463941574097),
    "right_hand": (1.4650918245315552, 1.4477157592773438, 1.4720423221588135, 1.475951910018921,
                   1.057526707649231, 1.504188060760498),
    "waist": (0.8042352199554443, 0.7102982997894287, 0.08468786627054214),
}


def _flatten(groups: dict[str, tuple[float, ...]]) -> tuple[float, ...]:
    return tuple(v for name, _ in GR1_GROUPS for v in groups[name])


@dataclass(frozen=True)
class Gr1Stats:
    """Per-joint min/max of the actions and of the state, 29 values each, in GR-1 concat order.

    A fine-tuned model trained on other statistics passes its own instance.
    """

    action_min: tuple[float, ...]
    action_max: tuple[float, ...]
    state_min: tuple[float, ...]
    state_max: tuple[float, ...]

    def __post_init__(self) -> None:
        for name in ("action_min", "action_max", "state_min", "state_max"):
            values = np.asarray(getattr(self, name), dtype=np.float64)
            if values.shape != (GR1_NUM_JOINTS,) or not np.isfinite(values).all():
                raise ValueError(f"Gr1Stats.{name} must be {GR1_NUM_JOINTS} finite numbers, got shape {values.shape}")
        for kind in ("action", "state"):
            low = np.asarray(getattr(self, f"{kind}_min"))
            high = np.asarray(getattr(self, f"{kind}_max"))
            if (high < low).any():
                joint = int(np.argmax(high < low))
                raise ValueError(f"Gr1Stats.{kind}_max < {kind}_min for joint {joint}")


GR1_STATS = Gr1Stats(
    action_min=_flatten(_ACTION_MIN),
    action_max=_flatten(_ACTION_MAX),
    state_min=_flatten(_STATE_MIN),
    state_max=_flatten(_STATE_MAX),
)


def minmax_normalise(values: np.ndarray, low: ArrayLike, high: ArrayLike) -> np.ndarray:
    """2 (x - low) / (high - low) - 1 per joint; 0 where low == high (the reference's rule)."""
    low_arr = np.asarray(low, dtype=np.float64)
    high_arr = np.asarray(high, dtype=np.float64)
    span = high_arr - low_arr
    degenerate = span == 0
    scaled = 2.0 * (values - low_arr) / np.where(degenerate, 1.0, span) - 1.0
    return np.where(degenerate, 0.0, scaled)


def _as_joints(name: str, value: ArrayLike, ndims: tuple[int, ...]) -> np.ndarray:
    arr = np.asarray(value)
    if not (np.issubdtype(arr.dtype, np.floating) or np.issubdtype(arr.dtype, np.integer)):
        raise ValueError(f"{name} must be numeric, got dtype {arr.dtype}")
    if arr.ndim not in ndims or arr.shape[-1] != GR1_NUM_JOINTS:
        raise ValueError(f"{name} must have shape {_shape_hint(name)}, got {arr.shape}")
    arr = arr.astype(np.float64)
    if not np.isfinite(arr).all():
        index = tuple(int(i) for i in np.argwhere(~np.isfinite(arr))[0])
        raise ValueError(f"{name} must be finite; first bad entry at index {index}")
    return arr


def _shape_hint(name: str) -> str:
    return "(T + 1, 29) or (K, T + 1, 29)" if name == "joints" else "(29,) or (K, 29)"


def gr1_slots(values: ArrayLike) -> np.ndarray:
    """Write already-normalised 29-d rows (..., T, 29) into slots [0, 29) of zero 384-d vectors."""
    arr = np.asarray(values, dtype=np.float32)
    if arr.ndim < 1 or arr.shape[-1] != GR1_NUM_JOINTS:
        raise ValueError(f"values must end in {GR1_NUM_JOINTS} joints, got shape {arr.shape}")
    out = np.zeros((*arr.shape[:-1], ACTION_DIM), dtype=np.float32)
    out[..., GR1_SLOT] = arr
    return out


def gr1_joints_to_actions(joints: ArrayLike, *, state: ArrayLike | None = None,
                          first_row: FirstRow = "state", stats: Gr1Stats = GR1_STATS) -> np.ndarray:
    """Raw GR-1 joint positions -> DreamDojo GR-1 action vectors (T, 384) float32.

    joints: (T + 1, 29), or (K, T + 1, 29) for K candidate plans, in radians / the dataset's
        hand units, GR-1 concat order (left arm 7, right arm 7, left hand 6, right hand 6,
        waist 3). Row 0 is the delta baseline: in the reference it is the joint command issued
        one step (0.1 s) before the start frame; the measured joint positions at the start
        frame are the practical stand-in. Row k + 1 is the target commanded at frame k, so
        output row k is the action that leads from frame k to frame k + 1. T must be a
        multiple of 4 (one latent frame per 4 actions); the engine further needs multiples
        of its chunk size (12).
    state: measured joint positions (29,) or (K, 29) for the row-0 quirk; defaults to joints
        row 0. Normalised with the *state* statistics, as in training.
    first_row: "state" reproduces the reference (row 0 of the sequence = normalised state);
        "delta" keeps the delta there.
    """
    if first_row not in ("state", "delta"):
        raise ValueError(f"first_row must be 'state' or 'delta', got {first_row!r}")
    arr = _as_joints("joints", joints, (2, 3))
    horizon = arr.shape[-2] - 1
    if horizon < ACTIONS_PER_GROUP or horizon % ACTIONS_PER_GROUP:
        raise ValueError(
            f"joints must hold T + 1 rows with T a positive multiple of {ACTIONS_PER_GROUP} "
            f"(the baseline row plus one target per action); got {arr.shape[-2]} rows"
        )
    normalised = minmax_normalise(arr, stats.action_min, stats.action_max)
    baselines = (np.arange(horizon) // ACTIONS_PER_GROUP) * ACTIONS_PER_GROUP
    deltas = normalised[..., 1:, :] - normalised[..., baselines, :]

    if first_row == "state":
        if state is None:
            raw_state = arr[..., 0, :]
        else:
            raw_state = _as_joints("state", state, (1, 2))
            if raw_state.shape != arr[..., 0, :].shape:
                raise ValueError(f"state shape {raw_state.shape} does not match joints {arr.shape} "
                                 f"(expected {arr[..., 0, :].shape})")
        deltas[..., 0, :] = minmax_normalise(raw_state, stats.state_min, stats.state_max)
    return gr1_slots(deltas)
