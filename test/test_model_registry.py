"""The variant registry, `load_seatrack`, `select_device` and the one spelling of the LoRA flag."""

from __future__ import annotations

import argparse
import re
from pathlib import Path

import pytest
import torch
import yaml

from seatrack_ros.cli import add_lora_merged_option, resolve_lora_merged
from seatrack_ros.errors import ConfigError
from seatrack_ros.model import VARIANTS, load_seatrack, select_device, variant_for_modality
from seatrack_ros.model.build import RELEASED_VARIANTS

ROOT = Path(__file__).resolve().parents[1]


def test_released_variants_name_modality_file_and_convention():
    facts = {
        name: (VARIANTS[name].modality, VARIANTS[name].release_file, VARIANTS[name].lora_merged)
        for name in RELEASED_VARIANTS
    }
    assert facts == {
        "rgbt": ("thermal", "SEATrack_ep0060.pth.tar", True),
        "rgbd": ("depth", "SEATrack_ep0025.pth.tar", True),
        "rgbe": ("event", "SEATrack_ep0045.pth.tar", False),
    }
    assert variant_for_modality("event").name == "rgbe"
    with pytest.raises(ConfigError):
        variant_for_modality("sonar")


@pytest.mark.parametrize("variant", RELEASED_VARIANTS)
def test_config_files_agree_with_the_registry(variant):
    shipped = yaml.safe_load((ROOT / "config" / f"{variant}.yaml").read_text())["/**"]["ros__parameters"]
    spec = VARIANTS[variant]
    assert shipped["modality"] == spec.modality and shipped["lora_merged"] is spec.lora_merged
    # only what differs per modality is in the file
    assert set(shipped) <= {"modality", "aux_topic", "aux_transport", "lora_merged"}


def test_docs_name_only_the_released_files():
    released = {VARIANTS[name].release_file for name in RELEASED_VARIANTS} | {"OSTrack_ep0300.pth.tar"}
    # the files seatrack-train writes (seatrack_ros.training.trainer): named in docs/training.md
    from seatrack_ros.training.trainer import LATEST

    released |= {LATEST, "SEATrack_epNNNN.pth.tar", "SEATrack_ep0005.pth.tar"}
    # the shipped demo model and the stages' outputs its model card (docs/demo-model.md) names
    released |= {VARIANTS["demo"].release_file, "SEATrack_ep0010.pth.tar", "SEATrack_ep0001.pth.tar",
                 "SEATrack_ep0002.pth.tar", "demo_event.pth"}
    texts = [
        ROOT / "README.md",
        *sorted((ROOT / "docs").glob("*.md")),
        *sorted((ROOT / "launch").glob("*.py")),
        ROOT / "seatrack_ros" / "offline" / "run.py",
        ROOT / "seatrack_ros" / "ros" / "demo.py",
        ROOT / "scripts" / "demo.sh",
    ]
    named = {m for path in texts for m in re.findall(r"[\w.-]*\.pth(?:\.tar)?\b", path.read_text())}
    assert named and named <= released, sorted(named - released)


def test_tiny_variant_is_small_and_seeded():
    a, b = load_seatrack("tiny"), load_seatrack("tiny")
    assert sum(p.numel() for p in a.parameters()) < 1_000_000
    assert all(torch.equal(x, y) for x, y in zip(a.state_dict().values(), b.state_dict().values()))
    assert all(layer.merged for layer in a.lora_layers())
    assert not any(layer.merged for layer in load_seatrack("tiny", merge=False).lora_layers())


def test_load_seatrack_errors(tmp_path):
    with pytest.raises(ConfigError, match="unknown SEATrack variant"):
        load_seatrack("rgbx")
    with pytest.raises(ConfigError, match="checkpoint file not found"):
        load_seatrack("rgbt", tmp_path / "missing.pth.tar")
    with pytest.raises(ConfigError, match="no released file"):
        load_seatrack("tiny", {"x": torch.zeros(1)})


def test_lora_convention_defaults_to_the_released_files(merged_weights, unmerged_model):
    """A merged-convention dict loads right as rgbt (released merged) and wrong as rgbe (released
    unmerged) unless lora_merged says so: the registry's convention is what None means."""

    def qkv(model):
        return {k: v for k, v in model.state_dict().items() if k.endswith("qkv.weight")}

    expected = qkv(unmerged_model)
    assert expected and all(
        torch.equal(v, expected[k]) for k, v in qkv(load_seatrack("rgbt", merged_weights)).items()
    )
    wrong = qkv(load_seatrack("rgbe", merged_weights))
    assert not all(torch.equal(v, expected[k]) for k, v in wrong.items())
    right = qkv(load_seatrack("rgbe", merged_weights, lora_merged=True))
    assert all(torch.equal(v, expected[k]) for k, v in right.items())


def test_select_device(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    assert select_device("auto") == torch.device("cpu") and select_device("cpu") == torch.device("cpu")
    with pytest.raises(ConfigError, match="no CUDA device is available"):
        select_device("cuda")
    with pytest.raises(ConfigError):
        select_device("tpu")


@pytest.mark.parametrize(
    "argv, value, warned",
    [
        ([], None, False),
        (["--lora-merged", "true"], True, False),
        (["--lora-merged", "false"], False, False),
        (["--lora-merged"], True, False),
        (["--lora", "merged"], True, True),
        (["--lora", "unmerged"], False, True),
        (["--no-lora-merged"], False, True),
    ],
)
def test_one_lora_flag_with_deprecated_aliases(argv, value, warned):
    parser = argparse.ArgumentParser()
    add_lora_merged_option(parser)
    warnings = []
    assert resolve_lora_merged(parser.parse_args(argv), "tool", warnings.append) is value
    assert bool(warnings) is warned and all("deprecated" in w and "--lora-merged" in w for w in warnings)


def test_lora_flag_refuses_other_words():
    parser = argparse.ArgumentParser()
    add_lora_merged_option(parser)
    with pytest.raises(SystemExit):
        parser.parse_args(["--lora-merged", "maybe"])
