"""A model folder is a spec (engine/model_dir.py): spec.json beside its weights, loaded by path on
every surface, bit-identical to the same spec from the catalog; every broken file is named."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import numpy as np
import pytest

from dream_engine_ros.engine.errors import WeightsError
from dream_engine_ros.engine.model_dir import SPEC_FILE, read_model_dir, spec_from_dict, spec_to_dict
from dream_engine_ros.engine.runner import DreamEngine
from dream_engine_ros.engine.spec import ModelSpec, WeightsLocation, get_spec, list_specs


def test_every_catalog_spec_survives_its_spec_file(tmp_path: Path) -> None:
    for spec in list_specs():
        data = json.loads(json.dumps(spec_to_dict(spec)))
        rebuilt = spec_from_dict(data, tmp_path, "test")
        expected = dataclasses.replace(spec, weights=WeightsLocation(files=dict(spec.weights.files),
                                                                     directory=str(tmp_path)))
        assert rebuilt == expected, spec.name


@pytest.mark.parametrize("catalog_name", ["pusht-tiny", "pusht-structured"])
def test_a_folder_loads_by_path_and_predicts_as_the_catalog_spec(model_folder, catalog_name: str,
                                                                 pusht_start: tuple[np.ndarray, np.ndarray]) -> None:
    folder = model_folder(catalog_name)
    spec = get_spec(str(folder))
    assert spec.name == "my-model" and spec.weights.resolve() == folder.resolve()
    frame, actions = pusht_start
    ours = DreamEngine.load(str(folder), device="cpu").predict(frame, actions[:12], seed=4).frames
    shipped = DreamEngine.load(catalog_name, device="cpu").predict(frame, actions[:12], seed=4).frames
    assert np.array_equal(ours, shipped)


def test_a_plain_name_is_not_a_folder() -> None:
    with pytest.raises(KeyError, match="unknown spec 'no-such-model'"):
        get_spec("no-such-model")


def test_each_broken_file_is_named(tmp_path: Path, model_folder) -> None:
    with pytest.raises(WeightsError, match="does not exist"):
        get_spec(str(tmp_path / "missing"))
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(WeightsError, match=f"{empty / SPEC_FILE}: not found"):
        get_spec(str(empty))

    folder = model_folder("pusht-tiny", "broken")
    spec_file = folder / SPEC_FILE
    good = spec_file.read_text()
    spec_file.write_text(good[:40])
    with pytest.raises(WeightsError, match=f"{spec_file}: unreadable"):
        read_model_dir(folder)
    data = json.loads(good)
    spec_file.write_text(json.dumps({**data, "colour": "red"}))
    with pytest.raises(WeightsError, match="unknown field 'colour'"):
        read_model_dir(folder)
    spec_file.write_text(json.dumps({**data, "guidance": -1.0, "chunk_size": 5}))
    with pytest.raises(WeightsError, match=f"{spec_file}: spec 'broken' is inconsistent"):
        read_model_dir(folder)
    spec_file.write_text(good)
    (folder / data["weights"]["files"]["dit"]).unlink()
    with pytest.raises(WeightsError, match=r"pusht-tiny-dit.safetensors: the dit weights named in .*spec.json"):
        read_model_dir(folder)


def test_weights_that_do_not_fit_the_spec_name_the_file(model_folder) -> None:
    folder = model_folder("pusht-tiny", "wider")
    data = json.loads((folder / SPEC_FILE).read_text())
    data["backbone"]["model_channels"] = 64  # the shipped DiT is 128 wide
    (folder / SPEC_FILE).write_text(json.dumps(data))
    spec: ModelSpec = read_model_dir(folder)
    with pytest.raises(WeightsError, match="pusht-tiny-dit.safetensors"):
        DreamEngine.load(spec, device="cpu")
