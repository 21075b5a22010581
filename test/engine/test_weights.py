"""Checkpoint I/O: round trips, key maps, and errors that name the offending keys."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from safetensors.torch import save_file

from dream_engine_ros.atomic_file import default_file_mode
from dream_engine_ros.engine.errors import WeightsError
from dream_engine_ros.engine.families.rectified_flow.dit import ActionDiT
from dream_engine_ros.engine.families.rectified_flow.loading import REFERENCE_DIT_KEYMAP
from dream_engine_ros.engine.loading import weights_status
from dream_engine_ros.engine.weights import (
    KeyMap,
    load_weights,
    module_state_for_file,
    read_state_file,
    save_module_weights,
)
from dream_engine_ros.envs.gr1.specs import DREAMDOJO_GR1_2B
from dream_engine_ros.envs.pusht.specs import PUSHT_TINY


def _dit() -> ActionDiT:
    torch.manual_seed(0)
    return ActionDiT(PUSHT_TINY.backbone)


def test_safetensors_round_trip(tmp_path: Path) -> None:
    net = _dit()
    path = save_module_weights(net, tmp_path / "dit.safetensors", metadata={"spec": "pusht-tiny"})
    fresh = ActionDiT(PUSHT_TINY.backbone)
    load_weights(fresh, read_state_file(path))
    for key, value in net.state_dict().items():
        assert torch.equal(value, fresh.state_dict()[key]), key
    assert not list(tmp_path.glob("*.tmp"))
    assert path.stat().st_mode & 0o777 == default_file_mode()  # not mkstemp's 0600: readable by every user


def test_reference_keymap_round_trip_through_torch_file(tmp_path: Path) -> None:
    """Reference-style .pt: `net.` prefix, plus training counters that must be ignored."""
    net = _dit()
    state = module_state_for_file(net, REFERENCE_DIT_KEYMAP)
    assert all(key.startswith("net.") for key in state)
    state["net.accum_iteration"] = torch.tensor(5)
    torch.save(state, tmp_path / "model_ema_bf16.pt")
    fresh = ActionDiT(PUSHT_TINY.backbone)
    load_weights(fresh, read_state_file(tmp_path / "model_ema_bf16.pt"), REFERENCE_DIT_KEYMAP)
    assert torch.equal(fresh.final_layer.linear.weight, net.final_layer.linear.weight)
    ema_named = {"net_ema." + key[len("net."):]: v for key, v in state.items()}
    load_weights(ActionDiT(PUSHT_TINY.backbone), ema_named, REFERENCE_DIT_KEYMAP)


def test_keymap_renames_both_ways() -> None:
    keymap = KeyMap(strip_prefixes=("model.",), renames=(("old_block.", "blocks."),), add_prefix_on_save="model.")
    assert keymap.to_module("model.old_block.0.weight") == "blocks.0.weight"
    assert keymap.to_file("blocks.0.weight") == "model.old_block.0.weight"


def test_missing_unexpected_and_mismatched_keys_are_named() -> None:
    state = _dit().state_dict()
    state.pop("final_layer.linear.weight")
    state["blocks.0.extra.weight"] = torch.zeros(1)
    state["t_embedding_norm.weight"] = torch.zeros(7)
    with pytest.raises(WeightsError) as info:
        load_weights(ActionDiT(PUSHT_TINY.backbone), state, source="broken.pt")
    message = str(info.value)
    assert "broken.pt" in message
    assert "missing keys: final_layer.linear.weight" in message
    assert "unexpected keys: blocks.0.extra.weight" in message
    assert "t_embedding_norm.weight (file (7,) vs model (128,))" in message


def test_truncated_file_is_a_clear_error(tmp_path: Path) -> None:
    path = tmp_path / "dit.safetensors"
    save_file({"a": torch.zeros(1000)}, str(path))
    path.write_bytes(path.read_bytes()[:200])
    with pytest.raises(WeightsError, match="truncated or corrupt"):
        read_state_file(path)
    torch_path = tmp_path / "dit.pt"
    torch.save({"a": torch.zeros(1000)}, torch_path)
    torch_path.write_bytes(torch_path.read_bytes()[:300])
    with pytest.raises(WeightsError, match="truncated or corrupt"):
        read_state_file(torch_path)


def test_absent_file_and_status(tmp_path: Path) -> None:
    with pytest.raises(WeightsError, match="not found"):
        read_state_file(tmp_path / "nope.safetensors")
    status = weights_status(DREAMDOJO_GR1_2B, tmp_path)
    assert status["installed"] is False and set(status["files"]) == {"dit", "vae", "text_embedding"}
    assert weights_status(PUSHT_TINY)["installed"] is True  # shipped with the package


def test_bf16_load(tmp_path: Path) -> None:
    net = _dit()
    fresh = ActionDiT(PUSHT_TINY.backbone).to(torch.bfloat16)
    load_weights(fresh, net.state_dict(), dtype=torch.bfloat16)
    assert fresh.final_layer.linear.weight.dtype == torch.bfloat16
    torch.testing.assert_close(fresh.final_layer.linear.weight.float(), net.final_layer.linear.weight,
                               atol=1e-2, rtol=1e-2)
