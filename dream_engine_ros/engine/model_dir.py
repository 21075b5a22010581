"""A model folder is a spec: `spec.json` beside its weight files, usable wherever a catalog name is.

Why: a model trained from a team's recordings (or fine-tuned) must run on every surface (CLI,
ROS node, launch, HTTP, augmentation, gate, planning) without being added to the package. Every
surface resolves specs through `get_spec`; this module is a spec source (`SPEC_SOURCES`) that
recognises a path and reads the folder:

    1. the name is a path (it contains a path separator or starts with '.' or '~', or is a folder);
    2. `spec.json` is read and rebuilt into a `ModelSpec` (nested configs, tuples; a family's own
       config through `Family.config_from_dict`), its weights directory being the folder itself;
    3. the spec's rules run (`ModelSpec.__post_init__`) and every weight file it names must exist;
       any failure is a `WeightsError` naming the file.

`write_spec_file` is the inverse (atomic), used by training and by tests.
"""

from __future__ import annotations

import dataclasses
import json
import os
import typing
from pathlib import Path
from typing import Any

from dream_engine_ros.atomic_file import atomic_output
from dream_engine_ros.engine.errors import WeightsError
from dream_engine_ros.engine.family import FAMILIES
from dream_engine_ros.engine.spec import (
    SPEC_SOURCES,
    DitConfig,
    FrameNetConfig,
    ModelSpec,
    VaeConfig,
    WeightsLocation,
)

SPEC_FILE = "spec.json"
FORMAT = 1
_NESTED = {"tokenizer": VaeConfig, "backbone": DitConfig, "frame_model": FrameNetConfig}


def spec_to_dict(spec: ModelSpec) -> dict[str, Any]:
    """Everything a spec file holds: the spec's fields, its weight files (no directory: the folder is it)."""
    data: dict[str, Any] = {"format": FORMAT}
    for item in dataclasses.fields(ModelSpec):
        value = getattr(spec, item.name)
        if item.name == "weights":
            data["weights"] = {"files": dict(value.files)}
        elif dataclasses.is_dataclass(value) and not isinstance(value, type):
            data[item.name] = dataclasses.asdict(value)
        else:
            data[item.name] = list(value) if isinstance(value, tuple) else value
    return data


def write_spec_file(spec: ModelSpec, folder: str | os.PathLike[str]) -> Path:
    """Write `folder/spec.json` atomically (the folder must exist)."""
    target = Path(folder) / SPEC_FILE
    with atomic_output(target) as tmp:
        tmp.write_text(json.dumps(spec_to_dict(spec), indent=1, sort_keys=True) + "\n")
    return target


def _tuples(cls: type[Any], data: dict[str, Any], where: str) -> Any:
    """A frozen config dataclass from a dict: lists become tuples where the field is a tuple."""
    hints = typing.get_type_hints(cls)
    known = {item.name for item in dataclasses.fields(cls)}
    unknown = sorted(set(data) - known)
    if unknown:
        raise WeightsError(f"{where}: unknown fields {unknown} for {cls.__name__}")
    values = {}
    for key, value in data.items():
        origin = typing.get_origin(hints[key])
        values[key] = tuple(value) if isinstance(value, list) and origin in (tuple,) else value
    return cls(**values)


def spec_from_dict(data: dict[str, Any], folder: Path, source: str) -> ModelSpec:
    """Rebuild the spec of a spec file; its weights live in `folder`."""
    if data.get("format") != FORMAT:
        raise WeightsError(f"{source}: format {data.get('format')!r} is not {FORMAT}")
    fields = {item.name: item for item in dataclasses.fields(ModelSpec)}
    values: dict[str, Any] = {}
    for key, value in data.items():
        if key == "format":
            continue
        if key not in fields:
            raise WeightsError(f"{source}: unknown field {key!r}")
        if key == "weights":
            values[key] = WeightsLocation(files={str(k): str(v) for k, v in value["files"].items()},
                                          directory=str(folder))
        elif key in _NESTED:
            values[key] = None if value is None else _tuples(_NESTED[key], value, f"{source}: {key}")
        elif key == "config":
            family = str(data.get("family", ""))
            if value is not None and family not in FAMILIES:
                raise WeightsError(f"{source}: family {family!r} is not installed ({', '.join(FAMILIES.names())})")
            values[key] = FAMILIES.get(family).config_from_dict(value) if value is not None else None
        elif isinstance(value, list):
            values[key] = tuple(value)
        else:
            values[key] = value
    return ModelSpec(**values)


def is_model_path(name: str) -> bool:
    return os.sep in name or "/" in name or name.startswith((".", "~")) or Path(name).is_dir()


def read_model_dir(folder: str | os.PathLike[str]) -> ModelSpec:
    """The spec of a model folder, checked; a WeightsError names the file at fault."""
    root = Path(folder).expanduser().resolve()
    spec_path = root / SPEC_FILE
    if not root.is_dir():
        raise WeightsError(f"model folder {root} does not exist")
    if not spec_path.is_file():
        raise WeightsError(f"{spec_path}: not found (a model folder holds spec.json and its weight files)")
    try:
        data = json.loads(spec_path.read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
        raise WeightsError(f"{spec_path}: unreadable: {error}") from None
    if not isinstance(data, dict):
        raise WeightsError(f"{spec_path}: expected a JSON object")
    try:
        spec = spec_from_dict(data, root, str(spec_path))
    except (TypeError, ValueError, KeyError, AttributeError) as error:
        raise WeightsError(f"{spec_path}: {error}") from None
    for component, name in spec.weights.files.items():
        if not (root / name).is_file():
            raise WeightsError(f"{root / name}: the {component} weights named in {spec_path} are missing")
    return spec


def spec_from_path(name: str) -> ModelSpec | None:
    """The spec source: a path is read as a model folder; any other name is not ours."""
    return read_model_dir(name) if is_model_path(name) else None


def register() -> None:
    SPEC_SOURCES.register("model-folder", spec_from_path)


__all__ = ["SPEC_FILE", "read_model_dir", "spec_from_dict", "spec_to_dict", "write_spec_file"]
