"""A robot command built from an action vector: the message type and the fields it fills are
parameters, so one planner drives any robot whose actions a model's spec describes.

    command_type   "std_msgs/msg/Float32MultiArray" (or "pkg/Type"): imported from ``pkg.msg``
    command_fields "data" | "linear.x,linear.y" | "point.x,point.y": dotted paths into it

A numeric field takes one action value, in order; a numeric sequence field (the only field
then) takes the whole action vector. A message with a ``header`` gets the command's stamp.

Why the checks come in two steps: the type and the fields are checked when the node starts
(`CommandLayout.parse`, a `CommandConfigError` naming the parameter), the count against the
spec's action_dim only once the engine has said what that is (`check_action_dim`).

The type is imported as ``rosidl_runtime_py.utilities.get_message`` does (``importlib`` on
``pkg.msg``): that package is not installed beside the ROS wheels this project runs on.
"""

from __future__ import annotations

import importlib
import re
from dataclasses import dataclass
from typing import Any

import numpy as np

COMMAND_TYPE, COMMAND_FIELDS = "command_type", "command_fields"  # the parameters, named in errors

INTEGER_TYPES = frozenset(f"{sign}int{bits}" for sign in ("", "u") for bits in (8, 16, 32, 64))
FLOAT_TYPES = frozenset({"float", "double"})
NUMERIC_TYPES = INTEGER_TYPES | FLOAT_TYPES
SEQUENCE = re.compile(r"^sequence<(?P<element>\w+)(?:, (?P<bound>\d+))?>$")
ARRAY = re.compile(r"^(?P<element>\w+)\[(?P<size>\d+)\]$")


class CommandConfigError(ValueError):
    """The command parameters name no message type or no numeric field of it."""

    def __init__(self, parameter: str, message: str) -> None:
        super().__init__(f"parameter {parameter}: {message}")
        self.parameter = parameter


@dataclass(frozen=True)
class CommandField:
    """One dotted path into the command message and what it holds."""

    path: tuple[str, ...]
    element: str  # its numeric type (of each value, for a sequence)
    sequence: bool = False
    size: int | None = None  # a fixed array's length
    bound: int | None = None  # a bounded sequence's largest length

    @property
    def name(self) -> str:
        return ".".join(self.path)

    def value(self, values: np.ndarray) -> Any:
        """The values (one, or all for a sequence) as the field's Python type wants them."""
        numbers = ([int(round(float(v))) for v in values] if self.element in INTEGER_TYPES
                   else [float(v) for v in values])
        return numbers if self.sequence else numbers[0]


def message_type(type_name: str) -> type[Any]:
    """'pkg/msg/Type' or 'pkg/Type' -> the generated message class; CommandConfigError otherwise."""
    parts = type_name.strip().split("/")
    if len(parts) == 2:
        parts = [parts[0], "msg", parts[1]]
    if len(parts) != 3 or parts[1] != "msg" or not all(parts):
        raise CommandConfigError(COMMAND_TYPE, f"{type_name!r} is not a message type name like "
                                 "'geometry_msgs/msg/Twist'")
    package, _, name = parts
    try:
        module = importlib.import_module(f"{package}.msg")
    except ImportError as error:
        raise CommandConfigError(COMMAND_TYPE, f"{type_name!r}: no message package {package!r} "
                                 f"({error})") from error
    found = getattr(module, name, None)
    if not isinstance(found, type) or not hasattr(found, "get_fields_and_field_types"):
        raise CommandConfigError(COMMAND_TYPE, f"{type_name!r}: {package}.msg has no message {name!r}")
    return found


def _field(message: Any, path: tuple[str, ...], type_name: str) -> CommandField:
    """Walk `path` through nested messages down to a numeric field (or a numeric sequence)."""
    current = message
    for depth, part in enumerate(path):
        fields: dict[str, str] = current.get_fields_and_field_types()
        where = ".".join(path[:depth]) or type_name
        if part not in fields:
            raise CommandConfigError(COMMAND_FIELDS, f"{'.'.join(path)!r}: {where} has no field {part!r} "
                                     f"(its fields: {', '.join(fields)})")
        kind = fields[part]
        if depth < len(path) - 1:
            if "/" not in kind or "[" in kind or kind.startswith("sequence<"):
                raise CommandConfigError(COMMAND_FIELDS, f"{'.'.join(path)!r}: {part!r} is {kind}, not a message "
                                         "with fields")
            current = getattr(current, part)
            continue
        if kind in NUMERIC_TYPES:
            return CommandField(path, kind)
        sequence, array = SEQUENCE.match(kind), ARRAY.match(kind)
        if sequence and sequence["element"] in NUMERIC_TYPES:
            return CommandField(path, sequence["element"], sequence=True,
                                bound=int(sequence["bound"]) if sequence["bound"] else None)
        if array and array["element"] in NUMERIC_TYPES:
            return CommandField(path, array["element"], sequence=True, size=int(array["size"]))
        raise CommandConfigError(COMMAND_FIELDS, f"{'.'.join(path)!r} is {kind}: not a number or a sequence of "
                                 "numbers")
    raise CommandConfigError(COMMAND_FIELDS, "an empty field path")


@dataclass(frozen=True)
class CommandLayout:
    """Which message carries an action and where each of its values goes."""

    type_name: str
    message_class: type[Any]
    fields: tuple[CommandField, ...]

    @classmethod
    def parse(cls, type_name: str, fields_csv: str) -> CommandLayout:
        """The parameters, checked against the message definition (CommandConfigError naming the parameter)."""
        message_class = message_type(type_name)
        paths = [tuple(part.strip() for part in item.split(".")) for item in fields_csv.split(",") if item.strip()]
        if not paths:
            raise CommandConfigError(COMMAND_FIELDS, f"names no field of {type_name} (e.g. 'data' or "
                                     "'linear.x,linear.y')")
        blank = [".".join(path) for path in paths if not all(path)]
        if blank:
            raise CommandConfigError(COMMAND_FIELDS, f"{blank[0]!r} has an empty part")
        template = message_class()
        fields = tuple(_field(template, path, type_name) for path in paths)
        if len(fields) > 1 and any(field.sequence for field in fields):
            sequence = next(field.name for field in fields if field.sequence)
            raise CommandConfigError(COMMAND_FIELDS, f"{sequence!r} is a sequence: it takes the whole action "
                                     "vector and must be the only field")
        names = [field.name for field in fields]
        if len(set(names)) != len(names):
            raise CommandConfigError(COMMAND_FIELDS, f"names a field twice: {', '.join(names)}")
        return cls(type_name, message_class, fields)

    @property
    def has_header(self) -> bool:
        return "header" in self.message_class.get_fields_and_field_types()

    def check_action_dim(self, action_dim: int) -> str | None:
        """Why actions of `action_dim` values do not fit these fields (None when they do)."""
        if len(self.fields) == 1 and self.fields[0].sequence:
            field = self.fields[0]
            if field.size is not None and field.size != action_dim:
                return (f"{COMMAND_FIELDS} {field.name!r} holds {field.size} values; the spec's actions have "
                        f"{action_dim}")
            if field.bound is not None and field.bound < action_dim:
                return (f"{COMMAND_FIELDS} {field.name!r} holds at most {field.bound} values; the spec's actions "
                        f"have {action_dim}")
            return None
        if len(self.fields) != action_dim:
            return (f"{COMMAND_FIELDS} names {len(self.fields)} field(s) ({', '.join(f.name for f in self.fields)}); "
                    f"the spec's actions have {action_dim} values")
        return None

    def build(self, action: np.ndarray, stamp: Any = None, frame_id: str = "") -> Any:
        """One command message carrying `action` (checked to fit by `check_action_dim`)."""
        values = np.asarray(action, dtype=np.float64).reshape(-1)
        message = self.message_class()
        if self.has_header and stamp is not None:
            message.header.stamp = stamp
            message.header.frame_id = frame_id
        if len(self.fields) == 1 and self.fields[0].sequence:
            _assign(message, self.fields[0].path, self.fields[0].value(values))
            return message
        for index, field in enumerate(self.fields):
            _assign(message, field.path, field.value(values[index:index + 1]))
        return message


def _assign(message: Any, path: tuple[str, ...], value: Any) -> None:
    target = message
    for part in path[:-1]:
        target = getattr(target, part)
    setattr(target, path[-1], value)
