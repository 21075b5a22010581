"""Checkpoint files <-> modules: reading, key mapping, strict checks, atomic writing.

Checkpoints come from elsewhere (the reference conversion scripts, Wan's release, our own
training), so names differ by prefixes and a few renames, and some files carry training
counters we don't use. `KeyMap` states those differences explicitly; `load_weights` then
insists on an exact match and names every missing, unexpected or mis-shaped key.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file
from torch import Tensor, nn

from dream_engine_ros.atomic_file import atomic_output
from dream_engine_ros.engine.errors import WeightsError

MAX_KEYS_IN_MESSAGE = 12


@dataclass(frozen=True)
class KeyMap:
    """How a file's key names relate to a module's state_dict names.

    strip_prefixes: tried in order, the first that matches is removed ('net.', 'net_ema.').
    renames: (file prefix, module prefix) pairs applied after stripping.
    ignore: regexes of file keys that are known and deliberately unused.
    """

    strip_prefixes: tuple[str, ...] = ()
    renames: tuple[tuple[str, str], ...] = ()
    ignore: tuple[str, ...] = ()
    add_prefix_on_save: str = ""

    def to_module(self, key: str) -> str | None:
        """Module key for a file key, or None if the key is one to ignore."""
        for prefix in self.strip_prefixes:
            if key.startswith(prefix):
                key = key[len(prefix):]
                break
        if any(re.fullmatch(pattern, key) for pattern in self.ignore):
            return None
        for old, new in self.renames:
            if key.startswith(old):
                key = new + key[len(old):]
                break
        return key

    def to_file(self, key: str) -> str:
        """File key for a module key (inverse of `to_module` for non-ignored keys)."""
        for old, new in self.renames:
            if key.startswith(new):
                key = old + key[len(new):]
                break
        return self.add_prefix_on_save + key


IDENTITY = KeyMap()


def read_state_file(path: str | os.PathLike[str]) -> dict[str, Tensor]:
    """Tensors of a .safetensors or torch (.pt/.pth) file; a clear WeightsError otherwise."""
    path = Path(path)
    if not path.is_file():
        raise WeightsError(f"weights file not found: {path}")
    try:
        if path.suffix == ".safetensors":
            return load_file(str(path))
        obj = torch.load(path, map_location="cpu", weights_only=True)
    except (SafetensorError, RuntimeError, EOFError, OSError, ValueError) as exc:
        raise WeightsError(f"cannot read weights file {path} (truncated or corrupt?): {exc}") from exc
    for wrapper in ("state_dict", "model", "module"):
        if isinstance(obj, dict) and wrapper in obj and isinstance(obj[wrapper], dict):
            obj = obj[wrapper]
    if not isinstance(obj, dict) or not all(isinstance(v, Tensor) for v in obj.values()):
        raise WeightsError(f"{path} does not hold a flat dict of tensors")
    return dict(obj)


def _listing(keys: list[str]) -> str:
    shown = ", ".join(keys[:MAX_KEYS_IN_MESSAGE])
    more = len(keys) - MAX_KEYS_IN_MESSAGE
    return shown + (f" (+{more} more)" if more > 0 else "")


def map_state(state: Mapping[str, Tensor], keymap: KeyMap) -> dict[str, Tensor]:
    mapped: dict[str, Tensor] = {}
    for key, value in state.items():
        target = keymap.to_module(key)
        if target is not None:
            mapped[target] = value
    return mapped


def load_weights(module: nn.Module, state: Mapping[str, Tensor], keymap: KeyMap = IDENTITY,
                 source: str = "checkpoint", dtype: torch.dtype | None = None) -> None:
    """Load `state` into `module` strictly; raise WeightsError naming every mismatched key."""
    mapped = map_state(state, keymap)
    expected = module.state_dict()
    missing = sorted(set(expected) - set(mapped))
    unexpected = sorted(set(mapped) - set(expected))
    mismatched = sorted(
        f"{k} (file {tuple(mapped[k].shape)} vs model {tuple(expected[k].shape)})"
        for k in set(mapped) & set(expected)
        if mapped[k].shape != expected[k].shape
    )
    problems = []
    if missing:
        problems.append(f"missing keys: {_listing(missing)}")
    if unexpected:
        problems.append(f"unexpected keys: {_listing(unexpected)}")
    if mismatched:
        problems.append(f"shape mismatches: {_listing(mismatched)}")
    if problems:
        raise WeightsError(f"{source} does not match {type(module).__name__}: " + "; ".join(problems))
    converted = {
        k: (v.to(dtype) if dtype is not None and v.is_floating_point() else v.to(expected[k].dtype))
        for k, v in mapped.items()
    }
    module.load_state_dict(converted, strict=True)


def module_state_for_file(module: nn.Module, keymap: KeyMap = IDENTITY) -> dict[str, Tensor]:
    return {keymap.to_file(k): v.detach().cpu().contiguous() for k, v in module.state_dict().items()}


def save_module_weights(module: nn.Module, path: str | os.PathLike[str], keymap: KeyMap = IDENTITY,
                        metadata: dict[str, str] | None = None) -> Path:
    """Write a module's weights as safetensors, atomically (temp file in the same dir + rename)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_output(path) as tmp:
        save_file(module_state_for_file(module, keymap), str(tmp), metadata=metadata or {})
    return path


def read_metadata(path: str | os.PathLike[str]) -> dict[str, str]:
    """The string metadata of a safetensors file (e.g. latent statistics, spec name)."""
    from safetensors import safe_open

    try:
        with safe_open(str(path), framework="pt") as handle:
            return dict(handle.metadata() or {})
    except (SafetensorError, OSError) as exc:
        raise WeightsError(f"cannot read metadata of {path}: {exc}") from exc
