"""Where a spec's weight files are and whether they are there: the part every family shares.

Each family builds its own modules from these paths (`families/<family>/loading.py`).
"""

from __future__ import annotations

from pathlib import Path

from dream_engine_ros.engine.errors import WeightsError
from dream_engine_ros.engine.spec import ModelSpec


def weight_paths(spec: ModelSpec, weights_dir: str | Path | None = None) -> dict[str, Path]:
    """Component -> file path for a spec (files need not exist)."""
    root = spec.weights.resolve(weights_dir)
    return {component: root / name for component, name in spec.weights.files.items()}


def weights_status(spec: ModelSpec, weights_dir: str | Path | None = None) -> dict[str, object]:
    """Which of a spec's files are present; `installed` is True only when all are."""
    paths = weight_paths(spec, weights_dir)
    present = {component: path.is_file() for component, path in paths.items()}
    return {
        "directory": str(spec.weights.resolve(weights_dir)),
        "files": {component: str(path) for component, path in paths.items()},
        "present": present,
        "installed": all(present.values()),
    }


def require_weight_file(paths: dict[str, Path], component: str, spec: ModelSpec) -> Path:
    """The file of `component`, or a WeightsError naming the spec, the component and the path."""
    path = paths.get(component)
    if path is None or not path.is_file():
        hint = f" (set {spec.weights.env_var} or pass weights=DIR)" if spec.weights.env_var else ""
        raise WeightsError(f"spec {spec.name!r}: {component} weights not found at {path}{hint}")
    return path
