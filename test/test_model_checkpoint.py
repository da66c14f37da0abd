"""Reading checkpoints safely and loading them strictly."""

from __future__ import annotations

import sys
import types

import pytest
import torch

from seatrack_ros.errors import CheckpointError
from seatrack_ros.model import build_seatrack, load_checkpoint, load_ostrack_pretrained, read_state_dict
from seatrack_ros.model.checkpoint import is_peft_key, read_checkpoint_file


def _foreign_module():
    """A stand-in for the training code's ``lib.train.admin`` classes, importable only while registered."""
    module = types.ModuleType("lib_train_admin_settings")

    class Settings:
        def __init__(self):
            self.env = {"workspace_dir": "/somewhere"}

    class AverageMeter:
        def __init__(self):
            self.avg, self.count = 0.5, 3

    Settings.__module__ = AverageMeter.__module__ = module.__name__
    Settings.__qualname__, AverageMeter.__qualname__ = "Settings", "AverageMeter"
    module.Settings, module.AverageMeter = Settings, AverageMeter
    return module


@pytest.fixture(scope="module")
def training_checkpoint(tmp_path_factory, test_weights):
    """A file shaped like the released ones: ``net`` plus pickled objects of training-code classes."""
    module = _foreign_module()
    sys.modules[module.__name__] = module
    try:
        path = tmp_path_factory.mktemp("ckpt") / "SEATrack_ep0045.pth.tar"
        torch.save(
            {"epoch": 45, "net": test_weights, "settings": module.Settings(), "stats": {"Loss": module.AverageMeter()}},
            path,
        )
    finally:
        del sys.modules[module.__name__]
    return path


def test_plain_torch_load_cannot_read_a_training_checkpoint(training_checkpoint):
    """Why the restricted reader exists: without the training code the file does not load."""
    with pytest.raises(Exception):
        torch.load(training_checkpoint, map_location="cpu", weights_only=True)
    with pytest.raises(ModuleNotFoundError):
        torch.load(training_checkpoint, map_location="cpu", weights_only=False)


def test_training_checkpoint_loads_without_the_training_code(training_checkpoint, test_weights):
    obj = read_checkpoint_file(training_checkpoint)
    assert obj["epoch"] == 45
    assert type(obj["settings"]).__name__ == "Opaque_Settings"
    assert obj["settings"].source == "lib_train_admin_settings.Settings"
    state = read_state_dict(training_checkpoint)
    assert sorted(state) == sorted(test_weights)
    assert all(torch.equal(state[k], test_weights[k]) for k in test_weights)
    model = load_checkpoint(build_seatrack(), training_checkpoint, lora_merged=False)
    assert all(layer.merged for layer in model.lora_layers())


def test_bare_state_dict_file_loads(tmp_path, merged_weights, unmerged_model):
    path = tmp_path / "bare.pth"
    torch.save(merged_weights, path)
    model = load_checkpoint(build_seatrack(), path, lora_merged=True)
    reference = unmerged_model.state_dict()
    assert all(torch.equal(v, reference[k]) for k, v in model.state_dict().items())


def test_nothing_in_the_file_is_executed(tmp_path):
    marker = tmp_path / "pwned"

    class Payload:
        def __reduce__(self):
            return (exec, (f"open({str(marker)!r}, 'w').write('x')",))

    path = tmp_path / "evil.pth"
    torch.save({"net": {"w": torch.zeros(1)}, "payload": Payload()}, path)
    obj = read_checkpoint_file(path)
    assert not marker.exists()
    assert obj["payload"].source.endswith(".exec")  # placeholder, never called
    assert torch.equal(obj["net"]["w"], torch.zeros(1))


def test_missing_unexpected_and_misshapen_keys_are_named(test_weights):
    state = dict(test_weights)
    del state["backbone.blocks.3.attn_moe.gate_thi"]
    state["backbone.extra_prompt"] = torch.zeros(3)
    state["box_head.conv5_size.bias"] = torch.zeros(3)
    with pytest.raises(CheckpointError) as err:
        load_checkpoint(build_seatrack(), state, lora_merged=False)
    message = str(err.value)
    assert "1 missing keys: backbone.blocks.3.attn_moe.gate_thi" in message
    assert "1 unexpected keys: backbone.extra_prompt" in message
    assert "box_head.conv5_size.bias (3,) != (2,)" in message


def test_bad_files_give_checkpoint_errors(tmp_path):
    with pytest.raises(CheckpointError, match="not found"):
        load_checkpoint(build_seatrack(), tmp_path / "nope.pth", lora_merged=True)
    garbage = tmp_path / "garbage.pth"
    garbage.write_bytes(b"this is not a checkpoint")
    with pytest.raises(CheckpointError, match="cannot read"):
        read_state_dict(garbage)
    not_a_dict = tmp_path / "list.pth"
    torch.save([1, 2, 3], not_a_dict)
    with pytest.raises(CheckpointError, match="expected a dict"):
        read_state_dict(not_a_dict)
    with pytest.raises(CheckpointError, match="non-tensor"):
        read_state_dict({"net": {"a": 1}})


def test_lora_convention_must_be_a_bool(test_weights):
    with pytest.raises(TypeError):
        load_checkpoint(build_seatrack(), test_weights, lora_merged="true")


def test_dataparallel_prefix_is_stripped(test_weights):
    state = read_state_dict({"net": {f"module.{k}": v for k, v in test_weights.items()}})
    assert sorted(state) == sorted(test_weights)


def test_ostrack_pretrained_fills_backbone_and_head_and_initialises_the_rest(test_weights):
    ostrack = {k: v for k, v in test_weights.items() if not is_peft_key(k)}
    model = load_ostrack_pretrained(build_seatrack(), {"net": ostrack}, seed=3)
    state = model.state_dict()
    assert all(torch.equal(state[k], v) for k, v in ostrack.items())
    assert torch.count_nonzero(state["backbone.blocks.1.attn.qkv.lora_B"]) == 0  # update starts at zero
    assert torch.count_nonzero(state["backbone.blocks.1.attn.qkv.lora_A"]) > 0
    assert float(state["backbone.blocks.5.r2dte_scaling"]) == 1.0
    gate = state["backbone.blocks.1.ffn_moe.gate_thi"]
    assert 0.5 / 384**0.5 < float(gate.std()) < 2.0 / 384**0.5
    for name, param in model.named_parameters():
        assert torch.isfinite(param).all(), name


def test_ostrack_loader_rejects_other_files(test_weights):
    with pytest.raises(CheckpointError, match="already has SEATrack keys"):
        load_ostrack_pretrained(build_seatrack(), test_weights)
    ostrack = {k: v for k, v in test_weights.items() if not is_peft_key(k)}
    ostrack["backbone.unknown"] = torch.zeros(1)
    del ostrack["backbone.norm.weight"]
    with pytest.raises(CheckpointError, match="missing keys: backbone.norm.weight.*unexpected keys: backbone.unknown"):
        load_ostrack_pretrained(build_seatrack(), ostrack)


def test_a_recorded_convention_overrules_the_flag(test_weights, caplog):
    """seatrack-train records lora_merged beside 'net'; the loader follows the record (and says so),
    while a file without a record is loaded as the flag says (the negative control)."""
    reference = load_checkpoint(build_seatrack(), test_weights, lora_merged=False)
    recorded = load_checkpoint(build_seatrack(), {"net": test_weights, "lora_merged": False}, lora_merged=True)
    assert "records lora_merged=False" in caplog.text
    qkv = "backbone.blocks.1.attn.qkv.weight"
    assert torch.equal(recorded.state_dict()[qkv], reference.state_dict()[qkv])
    unrecorded = load_checkpoint(build_seatrack(), {"net": test_weights}, lora_merged=True)
    assert not torch.equal(unrecorded.state_dict()[qkv], reference.state_dict()[qkv])
    with pytest.raises(CheckpointError, match="must be true or false"):
        load_checkpoint(build_seatrack(), {"net": test_weights, "lora_merged": "no"}, lora_merged=True)
