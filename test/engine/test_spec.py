"""The spec catalog: contents, JSON summary, rejection of inconsistent specs, and former names (aliases)."""

from __future__ import annotations

import dataclasses
import json

import numpy as np
import pytest

from dream_engine_ros.defaults import DEFAULT_SPEC
from dream_engine_ros.engine.spec import (
    SPEC_ALIASES,
    canonical_spec_name,
    get_spec,
    list_specs,
    register_spec,
    register_spec_alias,
    spec_aliases,
    spec_problems,
    unregister_spec,
)
from dream_engine_ros.envs.gr1.specs import DREAMDOJO_GR1_2B, DREAMDOJO_GR1_14B
from dream_engine_ros.envs.pusht.specs import PUSHT_STRUCTURED, PUSHT_TINY


def test_catalog_lists_the_default_and_real_models() -> None:
    names = [spec.name for spec in list_specs()]
    assert DEFAULT_SPEC == "pusht-structured" and DEFAULT_SPEC in names
    assert {"pusht-tiny", "dreamdojo-gr1-2b", "dreamdojo-gr1-14b"} <= set(names)


def test_unknown_spec_error_names_known_specs() -> None:
    with pytest.raises(KeyError, match="pusht-tiny"):
        get_spec("no-such-model")


def test_summary_is_json_with_geometry() -> None:
    summary = json.loads(json.dumps(PUSHT_TINY.summary()))
    assert (summary["height"], summary["width"], summary["chunk_size"], summary["action_dim"]) == (96, 96, 12, 2)
    assert summary["latent_shape"] == [8, 4, 12, 12]
    assert summary["family"] == "rectified-flow"


def test_dreamdojo_geometry_matches_the_reference() -> None:
    spec = DREAMDOJO_GR1_2B
    assert (spec.height, spec.width, spec.chunk_size, spec.action_dim, spec.num_steps) == (480, 640, 12, 384, 35)
    assert (spec.latent_height, spec.latent_width, spec.latents_per_chunk) == (60, 80, 3)
    assert spec.backbone.head_dim == 128 and spec.threading == "pixel"
    big = DREAMDOJO_GR1_14B.backbone
    assert (big.model_channels, big.num_heads, big.num_blocks) == (5120, 40, 36)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"chunk_size": 10}, "chunk_size 10 is not a positive multiple"),
        ({"height": 100}, "height 100 is not a positive multiple of 16"),
        ({"action_dim": 3}, "backbone.action_dim 2 != action_dim 3"),
        ({"num_steps": 0}, "num_steps 0 must be positive"),
        ({"family": "gan"}, "family 'gan' is not one of"),
        ({"threading": "latent"}, "residual 'still' needs threading 'pixel'"),
        ({"residual": "delta"}, "residual 'delta' is not 'none' or 'still'"),
        ({"change_floor": -1.0}, "residual 'still' needs 0 <= change_floor < change_full, got -1.0"),
        ({"change_full": 5.0}, "residual 'still' needs 0 <= change_floor < change_full, got 10.0 and 5.0"),
    ],
)
def test_inconsistent_spec_is_rejected_with_reason(change: dict[str, object], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        dataclasses.replace(PUSHT_TINY, **change)


def test_change_thresholds_need_the_still_residual() -> None:
    with pytest.raises(ValueError, match="used by residual 'still'"):
        dataclasses.replace(DREAMDOJO_GR1_2B, change_floor=4.0, change_full=8.0)


def test_consistent_specs_have_no_problems() -> None:
    assert all(spec_problems(spec) == [] for spec in list_specs())


def test_action_normalisation_maps_bounds_to_unit_range() -> None:
    import numpy as np

    raw = np.array([[0.0, 512.0], [256.0, 128.0]], dtype=np.float32)
    np.testing.assert_allclose(PUSHT_TINY.normalise_actions(raw), [[-1.0, 1.0], [0.0, -0.5]])
    gr1 = np.full((12, 384), 0.3, dtype=np.float32)
    np.testing.assert_array_equal(DREAMDOJO_GR1_2B.normalise_actions(gr1), gr1)  # no bounds: as given
    np.testing.assert_array_equal(PUSHT_TINY.denormalise_actions(PUSHT_TINY.normalise_actions(raw)), raw)
    np.testing.assert_array_equal(DREAMDOJO_GR1_2B.denormalise_actions(gr1), gr1)


def test_a_former_name_resolves_to_the_renamed_spec_and_is_no_model_of_its_own() -> None:
    with pytest.warns(DeprecationWarning, match="'pusht-causal' is deprecated: it is an alias of 'pusht-structured'"):
        spec = get_spec("pusht-causal")
    assert spec is PUSHT_STRUCTURED and spec.name == "pusht-structured"
    assert "pusht-causal" not in [spec.name for spec in list_specs()]  # listed as an alias, not a second model
    assert spec_aliases("pusht-structured") == ["pusht-causal"] and spec_aliases("pusht-tiny") == []
    assert canonical_spec_name("pusht-causal") == "pusht-structured"
    assert canonical_spec_name("pusht-tiny") == "pusht-tiny" and canonical_spec_name("./a/folder") == "./a/folder"


def test_the_demo_scene_of_a_former_name_is_the_renamed_specs() -> None:
    from dream_engine_ros.demo_scenes import demo_start

    assert np.array_equal(demo_start("pusht-causal", 3).rgb, demo_start("pusht-structured", 3).rgb)


def test_an_alias_must_name_a_registered_spec_and_no_spec_may_take_its_name() -> None:
    with pytest.raises(ValueError, match="alias 'old-name' names spec 'no-such-spec', which is not registered"):
        register_spec_alias("old-name", "no-such-spec")
    assert "old-name" not in SPEC_ALIASES
    with pytest.raises(ValueError, match="alias 'pusht-tiny' is already the name of a spec"):
        register_spec_alias("pusht-tiny", "pusht-structured")
    with pytest.raises(ValueError, match="'pusht-causal': that name is an alias of spec 'pusht-structured'"):
        register_spec(dataclasses.replace(PUSHT_TINY, name="pusht-causal"))
    with pytest.raises(ValueError, match="spec alias 'pusht-causal' already registered"):
        register_spec_alias("pusht-causal", "pusht-tiny")


def test_an_alias_whose_spec_was_taken_out_is_named_in_the_error() -> None:
    register_spec(dataclasses.replace(PUSHT_TINY, name="alias-test-spec"))
    try:
        register_spec_alias("alias-test-old", "alias-test-spec")
        with pytest.warns(DeprecationWarning):
            assert get_spec("alias-test-old").name == "alias-test-spec"
        unregister_spec("alias-test-spec")
        with pytest.warns(DeprecationWarning), pytest.raises(
                KeyError, match="alias 'alias-test-old' names spec 'alias-test-spec', which is not registered"):
            get_spec("alias-test-old")
    finally:
        unregister_spec("alias-test-spec")
        SPEC_ALIASES.unregister("alias-test-old")
