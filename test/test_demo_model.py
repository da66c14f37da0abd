"""The shipped demo model tracks: held-out synthetic scenes of each modality through the library (mean
IoU >= 0.5, the issue's bar), with an untrained network of the same architecture as the negative
control; and the file is what docs/demo-model.md says it is."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from seatrack_ros.model import load_seatrack
from seatrack_ros.model.build import DEMO_WEIGHTS, build_seatrack
from seatrack_ros.model.checkpoint import read_checkpoint
from seatrack_ros.streams.scenes import HELD_OUT_SEED_START, Scene, SceneSettings
from seatrack_ros.tracker import SEATracker
from seatrack_ros.training.scenes import encode_scene_frame
from seatrack_ros.training.trainer import init_from_scratch

FRAMES = 120
# The first three held-out scenes (seeds >= 10000 are never used in training), for every modality: one
# scene alone varies too much (the event success AUC of single held-out scenes ranges from 0.13 to 0.83,
# see docs/demo-model.md), so the bar is on their mean.
SCENES = (HELD_OUT_SEED_START, HELD_OUT_SEED_START + 1, HELD_OUT_SEED_START + 2)


def _iou(a, b) -> float:
    width = min(a[0] + a[2], b[0] + b[2]) - max(a[0], b[0])
    height = min(a[1] + a[3], b[1] + b[3]) - max(a[1], b[1])
    inter = max(width, 0.0) * max(height, 0.0)
    return inter / (a[2] * a[3] + b[2] * b[3] - inter)


def _track(model, modality: str, seed: int, frames: int = FRAMES) -> np.ndarray:
    """IoU of every frame after the first."""
    scene = Scene(seed, SceneSettings(frames=frames))
    tracker = SEATracker(model)
    tracker.initialize(*encode_scene_frame(scene, 0, modality), scene.box(0))
    ious = []
    for index in range(1, frames):
        result = tracker.track(*encode_scene_frame(scene, index, modality))
        ious.append(_iou(result.box, scene.box(index)))
    return np.array(ious)


@pytest.fixture(scope="module")
def demo_model():
    return load_seatrack("demo")


def test_the_shipped_file_is_small_float16_and_records_its_convention():
    assert DEMO_WEIGHTS.is_file()
    assert DEMO_WEIGHTS.stat().st_size <= 10 * 1024 * 1024
    state, lora_merged = read_checkpoint(DEMO_WEIGHTS)
    assert lora_merged is False
    floats = [v for v in state.values() if v.is_floating_point()]
    assert floats and all(v.dtype == torch.float16 for v in floats)
    assert set(state) == set(build_seatrack("demo").state_dict())


@pytest.mark.parametrize("modality", ["thermal", "depth", "event"])
def test_the_demo_model_follows_held_out_targets(demo_model, modality):
    per_scene = [float(_track(demo_model, modality, seed).mean()) for seed in SCENES]
    assert np.mean(per_scene) >= 0.5, f"{modality}: mean IoU per scene {per_scene}"


def test_an_untrained_network_does_not(demo_model):
    """Negative control: the same architecture and tracker with random weights loses the target, so the
    bar above measures training, not the scene's ease or the first box."""
    untrained = init_from_scratch(build_seatrack("demo"), seed=0).eval()
    ious = _track(untrained, "thermal", SCENES[0], frames=40)
    assert ious.mean() < 0.3, f"untrained: mean IoU {ious.mean():.3f}"
