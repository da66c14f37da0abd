"""The network's state-dict layout and the deterministic test weights against the golden schema."""

from __future__ import annotations

import hashlib
import json

import numpy as np
import pytest
import torch

from seatrack_ros.model import build_seatrack, count_parameters
from seatrack_ros.model.recipe import recipe_rule

DTYPES = {"float32": torch.float32, "int64": torch.int64}


def sha256_le(t: torch.Tensor) -> str:
    array = t.detach().cpu().numpy()
    return hashlib.sha256(array.astype(array.dtype.newbyteorder("<"), copy=False).tobytes()).hexdigest()


@pytest.fixture(scope="module")
def schema(golden):
    return json.loads((golden / "state_dict_schema.json").read_text())


def test_state_dict_has_exactly_the_official_keys_shapes_and_dtypes(schema):
    state = build_seatrack().state_dict()
    expected = {k["key"]: k for k in schema["keys"]}
    assert len(expected) == schema["num_keys"] == 470
    assert sorted(state) == sorted(expected)
    for key, entry in expected.items():
        assert list(state[key].shape) == entry["shape"], key
        assert state[key].dtype == DTYPES[entry["dtype"]], key


def test_parameter_report_matches_the_schema(schema):
    report = count_parameters(build_seatrack())
    assert report.total == schema["num_parameter_elements"]  # 93,154,857
    assert report.trainable_by_design == schema["num_trainable_by_design"]  # 636,324
    breakdown = schema["parameter_breakdown"]
    assert report.lora == breakdown["amglora_lora_A_B"]
    assert report.hmoe == breakdown["hmoe_all"]
    assert report.guidance_scalars == breakdown["amg_scaling"]
    assert "93.15M total" in str(report) and "0.64M trainable" in str(report)


def test_trainable_flags_follow_the_schema(schema):
    from seatrack_ros.model.checkpoint import is_peft_key

    for entry in schema["keys"]:
        if entry["kind"] == "parameter":
            assert is_peft_key(entry["key"]) == entry["trainable_by_design"], entry["key"]


def test_recipe_weights_match_the_golden_checksums_key_by_key(golden, test_weights):
    checksums = json.loads((golden / "recipe_checksums.json").read_text())
    assert sorted(checksums) == sorted(test_weights)
    wrong = []
    for key, entry in checksums.items():
        rule, scale, offset, use_abs = recipe_rule(key, tuple(test_weights[key].shape))
        assert (rule, use_abs) == (entry["rule"], entry["abs"]), key
        if entry["scale"] is not None:  # keep_zero entries draw nothing and record no scale
            assert np.float32(scale) == np.float32(entry["scale"]) and offset == entry["offset"], key
        if sha256_le(test_weights[key]) != entry["sha256_le_bytes"]:
            wrong.append(key)
    assert not wrong, f"{len(wrong)} tensors differ from the recipe checksums: {wrong[:5]}"


def test_merged_qkv_weights_match_the_reference_merge(golden_meta, model_io, merged_weights, test_weights):
    changed = [str(k) for k in model_io["merged_changed_keys"]]
    assert sorted(changed) == sorted(golden_meta["merged_checkpoint"])
    rows = model_io["merged_qkv_row_index"]
    for i, key in enumerate(changed):
        merged = merged_weights[key]
        assert sha256_le(merged) == golden_meta["merged_checkpoint"][key]["sha256_le_bytes"], key
        np.testing.assert_array_equal(merged[rows].numpy(), model_io["merged_qkv_rows"][i])
        np.testing.assert_array_equal(merged[:768].numpy(), test_weights[key][:768].numpy())  # Q untouched
    unchanged = [k for k in merged_weights if k not in changed]
    assert all(torch.equal(merged_weights[k], test_weights[k]) for k in unchanged)
