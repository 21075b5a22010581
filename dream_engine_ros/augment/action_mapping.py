"""Action messages -> the spec's action vector, through a small field-path grammar.

Why a grammar and not one hard-coded type: teleop stacks publish commands as arrays, joint states or
point targets, and the model's action is some fields of them in a fixed order. `--action-fields` names
them, comma separated; every path yields one or more numbers, concatenated in the order given:

    data                 the whole array (Float32MultiArray / Float64MultiArray)
    data[0:2]            a slice; data[3] one element
    position[elbow]      JointState: the position of the joint named `elbow` (looked up in `name`)
    point.x,point.y      nested fields (PointStamped); x,y for Point / Pose2D / Vector3

Without `--action-fields` each supported type has a default (table `DEFAULT_FIELDS`). The stamp of an
action is its header stamp when the message has one (and it is not zero), else the bag's log time.

A recording that stores actions as one vector per frame (a LeRobot dataset's `action` column) has no
message fields: there `--action-fields` picks elements of the vector (`vector_indices`) by index (`3`,
`-1`), slice (`0:2`) or by the names the dataset gives its elements (`x,y`), again in the order given.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from dream_engine_ros.augment.errors import AugmentInputError

DEFAULT_FIELDS: dict[str, tuple[str, ...]] = {
    "std_msgs/msg/Float32MultiArray": ("data",),
    "std_msgs/msg/Float64MultiArray": ("data",),
    "sensor_msgs/msg/JointState": ("position",),
    "geometry_msgs/msg/Point": ("x", "y"),
    "geometry_msgs/msg/PointStamped": ("point.x", "point.y"),
    "geometry_msgs/msg/Vector3": ("x", "y"),
    "geometry_msgs/msg/Vector3Stamped": ("vector.x", "vector.y"),
    "geometry_msgs/msg/Pose2D": ("x", "y"),
}
SUPPORTED_ACTION_TYPES: tuple[str, ...] = tuple(DEFAULT_FIELDS)

_PATH = re.compile(r"^(?P<attrs>[A-Za-z_]\w*(?:\.[A-Za-z_]\w*)*)(?:\[(?P<sel>[^\]]+)\])?$")


@dataclass(frozen=True)
class FieldPath:
    """One parsed path: attribute chain plus an optional index, slice or joint name."""

    attrs: tuple[str, ...]
    index: int | None = None
    slice_: tuple[int | None, int | None] | None = None
    joint: str | None = None

    @classmethod
    def parse(cls, text: str) -> FieldPath:
        match = _PATH.match(text.strip())
        if match is None:
            raise ValueError(f"action field {text!r} is not a path like 'data', 'data[0:2]', 'point.x' or "
                             "'position[joint]'")
        attrs = tuple(match["attrs"].split("."))
        sel = match["sel"]
        if sel is None:
            return cls(attrs)
        sel = sel.strip()
        if re.fullmatch(r"-?\d+", sel):
            return cls(attrs, index=int(sel))
        if re.fullmatch(r"-?\d*:-?\d*", sel):
            low, high = sel.split(":")
            return cls(attrs, slice_=(int(low) if low else None, int(high) if high else None))
        return cls(attrs, joint=sel)

    def values(self, msg: Any) -> np.ndarray:
        value = msg
        for attr in self.attrs:
            if not hasattr(value, attr):
                raise ValueError(f"message has no field {'.'.join(self.attrs)!r}")
            value = getattr(value, attr)
        if self.index is None and self.slice_ is None and self.joint is None:
            return np.atleast_1d(np.asarray(value, dtype=np.float64)).ravel()
        array = np.asarray(value, dtype=np.float64).ravel()
        if self.joint is not None:
            names = list(getattr(msg, "name", []))
            if self.joint not in names:
                raise ValueError(f"joint {self.joint!r} is not in the message's names {names}")
            position = names.index(self.joint)
            if position >= array.size:
                raise ValueError(f"joint {self.joint!r} has no {self.attrs[-1]} value ({array.size} values)")
            return array[position:position + 1]
        if self.index is not None:
            if not -array.size <= self.index < array.size:
                raise ValueError(f"index {self.index} is outside {'.'.join(self.attrs)} of {array.size} values")
            return array[self.index:self.index + 1] if self.index != -1 else array[-1:]
        assert self.slice_ is not None
        return array[slice(*self.slice_)]


@dataclass(frozen=True)
class ActionMapping:
    """How one action topic's messages become action vectors of `action_dim` values."""

    msgtype: str
    paths: tuple[FieldPath, ...]
    action_dim: int | None  # None: any size (the caller fixes it from the first message)
    dim_name: str = "the spec's action_dim"

    @classmethod
    def create(cls, msgtype: str, fields: str | None, action_dim: int | None, source: str, topic: str,
               dim_name: str = "the spec's action_dim") -> ActionMapping:
        """Check the type (and the fields' syntax) before anything is read; errors name file and topic."""
        if fields is None:
            defaults = DEFAULT_FIELDS.get(msgtype)
            if defaults is None:
                raise AugmentInputError(source, f"action message type {msgtype} is not supported; supported: "
                                        f"{', '.join(SUPPORTED_ACTION_TYPES)} (or name fields with --action-fields)",
                                        topic)
            names: Sequence[str] = defaults
        else:
            names = [name for name in fields.split(",") if name.strip()]
            if not names:
                raise AugmentInputError(source, "--action-fields names no field", topic)
        try:
            paths = tuple(FieldPath.parse(name) for name in names)
        except ValueError as exc:
            raise AugmentInputError(source, str(exc), topic) from None
        return cls(msgtype, paths, action_dim, dim_name)

    def vector(self, msg: Any, source: str, topic: str) -> np.ndarray:
        """(action_dim,) float32; a wrong count is an error naming both sizes."""
        try:
            parts = [path.values(msg) for path in self.paths]
        except ValueError as exc:
            raise AugmentInputError(source, str(exc), topic) from None
        vector = np.concatenate(parts) if parts else np.zeros(0)
        if self.action_dim is not None and vector.size != self.action_dim:
            raise AugmentInputError(source, f"action has {vector.size} values but {self.dim_name} is "
                                    f"{self.action_dim} (choose fields with --action-fields)", topic)
        if not np.all(np.isfinite(vector)):
            raise AugmentInputError(source, f"action {vector.tolist()} is not finite", topic)
        return vector.astype(np.float32)


def header_stamp_ns(msg: Any) -> int | None:
    """A message's header stamp in ns, or None when it has no header or the stamp is zero."""
    header = getattr(msg, "header", None)
    if header is None:
        return None
    stamp = int(header.stamp.sec) * 1_000_000_000 + int(header.stamp.nanosec)
    return stamp if stamp > 0 else None


def vector_indices(fields: str | None, size: int, names: Sequence[str] | None, source: str,
                   topic: str) -> list[int]:
    """Which elements of a `size`-vector the action is, in order: all of them without fields, else each
    comma-separated field as an index (`3`, `-1`), a slice (`0:2`) or one of the vector's element `names`."""
    if fields is None:
        return list(range(size))
    chosen: list[int] = []
    known = list(names or [])
    for raw in fields.split(","):
        field = raw.strip()
        if not field:
            continue
        if re.fullmatch(r"-?\d+", field):
            index = int(field)
            if not -size <= index < size:
                raise AugmentInputError(source, f"action field {field} is outside the {size}-value vector", topic)
            chosen.append(index % size)
        elif re.fullmatch(r"-?\d*:-?\d*", field):
            low, high = field.split(":")
            picked = list(range(size))[slice(int(low) if low else None, int(high) if high else None)]
            if not picked:
                raise AugmentInputError(source, f"action field {field} selects nothing of the {size}-value vector",
                                        topic)
            chosen.extend(picked)
        elif field in known:
            chosen.append(known.index(field))
        else:
            described = f"names {known}" if known else "no element names"
            raise AugmentInputError(source, f"unknown action field {field!r}: the vector has {size} values and "
                                    f"{described} (use an index, a slice like 0:2 or a name)", topic)
    if not chosen:
        raise AugmentInputError(source, "--action-fields names no field", topic)
    return chosen
