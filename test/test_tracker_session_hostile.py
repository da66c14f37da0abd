"""TrackingSession under hostile input (issue 12): nothing non-finite or outside the image is ever
returned, a resolution change re-initialises from the scaled box, and of back-to-back reset / init
requests the last one wins."""

from __future__ import annotations

import math
import random

import numpy as np
import pytest
import torch

from offline_helpers import FakeResult, FakeTracker
from seatrack_ros.errors import InputError
from seatrack_ros.geometry.boxes import box_inside_image
from seatrack_ros.tracker import SEATracker, TrackingSession, TrackStatus

RGB = np.zeros((40, 60, 3), np.uint8)


def assert_inside(box, hw):
    """What a subscriber checks on the float32 fields of seatrack_ros/Target."""
    height, width = hw
    x, y, w, h = (float(np.float32(v)) for v in box)
    assert all(math.isfinite(v) for v in (x, y, w, h)), box
    assert w > 0 and h > 0, box
    assert x >= 0 and y >= 0 and x + w <= width and y + h <= height, (box, hw)


class ScriptedTracker(FakeTracker):
    """Returns the boxes and scores it is given, in order (then repeats the last)."""

    def __init__(self, outputs):
        super().__init__()
        self.outputs = list(outputs)

    def track(self, rgb, aux):
        self.calls.append(("track", None, None, None))
        box, score = self.outputs.pop(0) if len(self.outputs) > 1 else self.outputs[0]
        return FakeResult(box, score)


@pytest.mark.parametrize(
    "bad", [((float("nan"), 2, 10, 10), 0.9), ((1, 2, 10, 10), float("nan")), ((1, 2, float("inf"), 10), 0.5)]
)
def test_a_non_finite_output_is_lost_at_the_last_good_box(bad):
    session = TrackingSession(ScriptedTracker([((5, 6, 10, 12), 0.9), bad, ((7, 6, 10, 12), 0.8)]))
    session.request_init((1, 2, 10, 12))
    session.step(RGB, RGB)
    good = session.step(RGB, RGB)
    assert good.box == (5.0, 6.0, 10.0, 12.0) and good.problem is None
    step = session.step(RGB, RGB)
    assert step.status == TrackStatus.LOST and step.confidence == 0.0 and step.box == good.box
    assert step.problem is not None and step.problem.kind == "nonfinite_output"
    assert step.track_id == 1
    after = session.step(RGB, RGB)  # the next finite output tracks again
    assert after.status == TrackStatus.TRACKING and after.box == (7.0, 6.0, 10.0, 12.0)


def test_the_real_tracker_keeps_its_last_state_when_the_network_gives_nan():
    from seatrack_ros.model import load_seatrack

    model = load_seatrack("tiny")
    frame = np.random.default_rng(0).integers(0, 255, (64, 80, 3), dtype=np.uint8)
    tracker = SEATracker(model)
    session = TrackingSession(tracker)
    session.request_init((20, 20, 16, 16))
    session.step(frame, frame)
    good = session.step(frame, frame)
    assert good.problem is None and all(math.isfinite(v) for v in good.box)
    state = list(tracker.state)
    with torch.no_grad():
        next(p for name, p in model.named_parameters() if name.startswith("box_head")).fill_(float("nan"))
    step = session.step(frame, frame)
    assert step.problem is not None and step.problem.kind == "nonfinite_output", step
    assert step.status == TrackStatus.LOST and step.confidence == 0.0 and step.box == good.box
    assert tracker.state == state  # not cropped around NaN from now on


def test_the_init_frame_echoes_the_box_cut_to_the_image():
    session = TrackingSession(FakeTracker())
    session.request_init((-20, 30, 50, 40))  # overlaps the 60x40 frame
    step = session.step(RGB, RGB)
    assert step.initialized and step.box == (0.0, 30.0, 30.0, 10.0)
    session.request_init((10, 5, 119, 79))  # up to twice the image
    step = session.step(RGB, RGB)
    assert step.box == (10.0, 5.0, 50.0, 35.0)


@pytest.mark.parametrize("hw", [(6, 8), (9, 5), (4, 4), (3, 200)])
def test_boxes_on_frames_smaller_than_the_clip_margin_stay_inside(hw):
    """The reference's clip_box keeps 10 px inside; on a 8x6 frame that reaches to x = -2."""
    from seatrack_ros.model import load_seatrack

    tracker = SEATracker(load_seatrack("tiny"))
    frame = np.full((*hw, 3), 128, np.uint8)
    session = TrackingSession(tracker)
    session.request_init((0, 0, hw[1], hw[0]))
    steps = [session.step(frame, frame) for _ in range(3)]
    assert min(tracker.state[:2]) < 0  # negative control: the tracker's own (reference) state reaches outside
    for step in steps:
        assert_inside(step.box, hw)


def test_box_inside_image_holds_for_random_boxes_and_float32():
    rng = random.Random(3)
    edges = [0.0, 1e-9, 0.1, 1.0, 9.999999, 1e6, -1e6, 1e30]

    def pick():
        return rng.choice(edges) * rng.choice([1, -1]) if rng.random() < 0.3 else rng.uniform(-2000, 9000)

    for _ in range(5000):
        hw = (rng.choice([1, 2, 7, 480, 513, 4097]), rng.choice([1, 3, 10, 640, 1001, 8191]))
        box = (pick(), pick(), abs(pick()) + 1e-12, abs(pick()) + 1e-12)
        assert_inside(box_inside_image(box, hw), hw)
    # a box already inside is returned unchanged (the published value is the tracker's)
    assert box_inside_image((1.25, 2.5, 10.0, 12.0), (40, 60)) == (1.25, 2.5, 10.0, 12.0)
    # negative control: the float32 rounding that the function guards against is real
    x, w = 0.1, 639.9000000001
    assert float(np.float32(x)) + float(np.float32(w)) > 640
    bx, _, bw, _ = box_inside_image((x, 0, w, 1), (1, 640))
    assert float(np.float32(bx)) + float(np.float32(bw)) <= 640


def test_a_resolution_change_reinitialises_from_the_scaled_box():
    tracker = FakeTracker()
    session = TrackingSession(tracker)
    session.request_init((10, 8, 20, 12))
    session.step(RGB, RGB)
    tracked = session.step(RGB, RGB)  # (12, 8, 20, 12) on 60x40
    bigger = np.zeros((80, 120, 3), np.uint8)
    step = session.step(bigger, bigger)
    assert step.initialized and step.source == "resolution_change" and step.track_id == 2
    assert step.problem is not None and step.problem.kind == "resolution_change"
    assert "60x40 to 120x80" in str(step.problem)
    assert step.box == tuple(2.0 * v for v in tracked.box) == tracker.calls[-1][3]
    assert session.step(bigger, bigger).status == TrackStatus.TRACKING  # tracks on at the new size
    assert session.step(bigger, bigger).problem is None  # reported once per change


def test_a_resolution_change_whose_scaled_box_is_refused_says_why():
    class Refusing(FakeTracker):
        def initialize(self, rgb, aux, box):
            if rgb.shape[0] < 20:
                raise InputError("box_outside", "too small for a template crop")
            super().initialize(rgb, aux, box)

    session = TrackingSession(Refusing())
    session.request_init((10, 8, 20, 12))
    session.step(RGB, RGB)
    tiny = np.zeros((10, 15, 3), np.uint8)
    step = session.step(tiny, tiny)
    assert step.status == TrackStatus.WAITING_FOR_INIT and not step.initialized
    assert step.problem.kind == "resolution_change" and "waiting for a new init box" in str(step.problem)
    assert "60x40 to 15x10" in session.last_init_error


def test_back_to_back_reset_and_init_the_last_request_wins():
    """Random alternations of reset and init requests between frames: after each frame the state is
    what the last request asked for (init -> TRACKING with its track id, reset -> WAITING)."""
    rng = random.Random(12)
    session = TrackingSession(FakeTracker())
    session.tracker.reset = lambda: None
    for _ in range(400):
        last = None
        for _ in range(rng.randint(1, 4)):
            if rng.random() < 0.5:
                session.request_reset()
                last = ("reset", None)
            else:
                last = ("init", session.request_init((rng.uniform(0, 40), 5, 10, 10), "service"))
        step = session.step(RGB, RGB)
        if last[0] == "reset":
            assert step.status == TrackStatus.WAITING_FOR_INIT, last
        else:
            assert step.initialized and step.status == TrackStatus.TRACKING and step.track_id == last[1]
