"""The frame tracker on the golden 8-frame sequence: crops byte-exact, boxes and scores in tolerance."""

from __future__ import annotations

import hashlib

import numpy as np
import pytest

from seatrack_ros.model import build_seatrack, load_checkpoint
from seatrack_ros.tracker import SEATracker, hann_window

BOX_TOL = 1e-2  # px
SCORE_TOL = 1e-5


def run_sequence(model, seq):
    frames = seq["frames"]
    tracker = SEATracker(model)
    tracker.initialize(frames[0][..., :3], frames[0][..., 3:], tuple(seq["init_box"]))
    steps = [{"template_crop": tracker.template_crop}]
    for frame in frames[1:]:
        crop_box = list(tracker.state)
        result = tracker.track(frame[..., :3], frame[..., 3:])
        steps.append({"result": result, "crop_box": crop_box, "search_crop": tracker.last_search_crop})
    return steps


@pytest.fixture(scope="module")
def unmerged_steps(unmerged_model, tracker_seq):
    return run_sequence(unmerged_model, tracker_seq)


@pytest.fixture(scope="module")
def merged_steps(merged_weights, tracker_seq):
    return run_sequence(load_checkpoint(build_seatrack(), merged_weights, lora_merged=True), tracker_seq)


def sha(array: np.ndarray) -> str:
    return hashlib.sha256(np.ascontiguousarray(array).tobytes()).hexdigest()


def test_hann_window_is_bitwise_equal(tracker_seq):
    np.testing.assert_array_equal(hann_window(16).numpy(), tracker_seq["hann_window"])


def test_crops_are_byte_exact(unmerged_steps, tracker_seq, golden_meta):
    np.testing.assert_array_equal(unmerged_steps[0]["template_crop"], tracker_seq["template_crop"])
    assert sha(unmerged_steps[0]["template_crop"]) == golden_meta["tracker"]["template_crop_sha256"]
    np.testing.assert_array_equal(unmerged_steps[1]["search_crop"], tracker_seq["search_crop_frame1"])
    hashes = [sha(step["search_crop"]) for step in unmerged_steps[1:]]
    assert hashes == golden_meta["tracker"]["crop_sha256"]
    crop_boxes = np.array([step["crop_box"] for step in unmerged_steps[1:]])
    assert np.abs(crop_boxes - tracker_seq["search_crop_boxes"]).max() <= BOX_TOL


@pytest.mark.parametrize("convention", ["unmerged", "merged"])
def test_boxes_scores_and_peaks_match(convention, request, tracker_seq):
    steps = request.getfixturevalue(f"{convention}_steps")
    results = [step["result"] for step in steps[1:]]
    boxes = np.array([r.box for r in results])
    unclipped = np.array([r.unclipped_box for r in results])
    scores = np.array([r.score for r in results])
    assert np.abs(boxes - tracker_seq["pred_boxes"][1:]).max() <= BOX_TOL
    assert np.abs(unclipped - tracker_seq["pred_boxes_unclipped"][1:]).max() <= BOX_TOL
    assert np.abs(scores - tracker_seq["best_score"][1:]).max() <= SCORE_TOL
    assert [r.peak_index for r in results] == tracker_seq["response_argmax"].tolist()


def test_sequence_exercises_padding_and_clipping(unmerged_steps, tracker_seq):
    """Guard that the golden sequence still covers the border cases (frames 6, 7 clipped at x = 0)."""
    results = [step["result"] for step in unmerged_steps[1:]]
    assert results[-1].box[0] == 0.0 and results[-1].unclipped_box[0] < 0
