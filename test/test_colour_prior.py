"""The colour prior (the demo model's tracker option): its likelihood on hand-built frames, its settings,
both backends applying it alike, and the crossing it exists for (a validation scene whose event track
the demo model loses without it)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from seatrack_ros.engine import TrackEngine
from seatrack_ros.model import load_seatrack
from seatrack_ros.streams.scenes import Scene, SceneSettings
from seatrack_ros.testing import tiny_model as build_tiny_model
from seatrack_ros.tracker import SEATracker, TrackerSettings
from seatrack_ros.tracker.colour_prior import ColourPrior
from seatrack_ros.tracker.host_backend import HostBackend
from seatrack_ros.training.scenes import encode_scene_frame

RED, GREEN = (220, 30, 30), (30, 220, 30)
# The demo's crops: search 128 px at factor 4, an 8 x 8 score grid of 16 px cells.
DEMO = TrackerSettings(template_size=64, search_size=128)
# A 32 x 32 previous box centred at (320, 256): its search crop is 128 px of the image at scale 1, from
# (256, 192); score cell (row r, column c) has its centre at image (264 + 16 c, 200 + 16 r).
STATE = [304.0, 240.0, 32.0, 32.0]


def _grey_frame(seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return rng.integers(112, 144, size=(512, 640, 3), dtype=np.uint8)  # one grey bin per channel or two


def _paint(frame: np.ndarray, centre, colour, side: int = 32) -> None:
    x, y = centre[0] - side // 2, centre[1] - side // 2
    frame[y : y + side, x : x + side] = colour


def _prior_from_red_target(strength: float) -> ColourPrior:
    first = _grey_frame(0)
    _paint(first, (328, 264), RED)  # the target, in its box below
    _paint(first, (60, 60), GREEN)  # far outside the surround (3 box sizes): its colour stays unseen
    return ColourPrior(first, (312, 248, 32, 32), strength)


def _frame_with(distractor_colour) -> np.ndarray:
    frame = _grey_frame(1)
    _paint(frame, (328, 264), RED)  # on score cell (4, 4)
    _paint(frame, (360, 264), distractor_colour)  # on score cell (4, 6), touching the target
    return frame


@pytest.mark.parametrize("strength, distractor_weight", [(1.0, 0.5), (2.0, 0.25)])
def test_a_colour_never_seen_weighs_half_the_targets_and_the_background_nearly_nothing(strength, distractor_weight):
    # Hand-derived: every pixel around cell (4, 4) is red, a target-only colour (likelihood
    # (N + eps) / (N + 2 eps), 1 to 1e-6); green was seen in neither region ((0 + eps) / (0 + 2 eps) =
    # 1/2); the grey background filled the surround and never the box (eps / (M + 2 eps), ~0).
    weights = _prior_from_red_target(strength).weights(_frame_with(GREEN), STATE, DEMO, 8)
    assert weights.shape == (8, 8) and weights.dtype == np.float32
    assert weights[4, 4] == pytest.approx(1.0, abs=1e-5)
    assert weights[4, 6] == pytest.approx(distractor_weight, abs=1e-3)
    assert weights[0, 0] < 1e-3 and weights[7, 1] < 1e-3
    assert np.all(np.isfinite(weights)) and weights.max() == pytest.approx(1.0)


def test_a_look_alike_of_the_targets_own_colour_is_not_told_apart():
    """Control: the prior knows colour only; a distractor in the target's colour weighs as much."""
    weights = _prior_from_red_target(1.0).weights(_frame_with(RED), STATE, DEMO, 8)
    assert weights[4, 6] == pytest.approx(weights[4, 4], abs=1e-5)


def test_a_surround_colour_is_held_against_the_target():
    """Green in the surround at the first frame (not in the box): a green look-alike later weighs ~0."""
    first = _grey_frame(0)
    _paint(first, (328, 264), RED)
    _paint(first, (328, 300), GREEN)  # 36 px below the target's centre: inside the 3x surround, not the box
    weights = ColourPrior(first, (312, 248, 32, 32), 1.0).weights(_frame_with(GREEN), STATE, DEMO, 8)
    assert weights[4, 6] < 1e-3 and weights[4, 4] == pytest.approx(1.0, abs=1e-5)


@pytest.mark.parametrize("bad", [-0.1, 10.5, float("nan")])
def test_settings_refuse_a_colour_prior_outside_0_10(bad):
    with pytest.raises(ValueError, match="colour_prior"):
        TrackerSettings(colour_prior=bad)


def test_only_the_demo_variant_tracks_with_a_colour_prior():
    assert load_seatrack("demo").tracker_options["colour_prior"] > 0
    tracker = SEATracker(build_tiny_model())  # the authors' settings
    assert tracker.settings.colour_prior == 0.0
    rgb = _grey_frame(0)
    tracker.initialize(rgb, rgb, (312, 248, 32, 32))
    assert tracker.colour_prior is None


def _moving_frames(count: int):
    rng = np.random.default_rng(3)
    base = rng.integers(0, 255, size=(150, 200, 3), dtype=np.uint8)
    for i in range(count):
        rgb = base.copy()
        rgb[40 + 2 * i : 70 + 2 * i, 60 + 3 * i : 100 + 3 * i] = RED
        yield rgb, rgb[..., ::-1].copy()


def test_both_backends_apply_the_weights_alike_and_the_engine_drops_them_when_given_none():
    model = build_tiny_model()
    settings = TrackerSettings()
    engine = TrackEngine(model, torch.device("cpu"), settings)
    host = HostBackend(engine.model, torch.device("cpu"), settings)  # the engine's prepared model
    frames = list(_moving_frames(4))
    box = [60.0, 40.0, 40.0, 30.0]
    engine.initialize(*frames[0], box)
    host.initialize(*frames[0], box)
    feat = engine.window.shape[-1]
    corner = np.full((feat, feat), 1e-6, np.float32)
    corner[0, 0] = 1.0  # all weight on the top-left cell: the peak must go there
    rgb, aux = frames[1]
    plain = host.locate(rgb, aux, box)
    for weights in (np.random.default_rng(0).random((feat, feat), dtype=np.float32), corner):
        expected = host.locate(rgb, aux, box, weights)
        got = engine.locate(rgb, aux, box, weights)
        assert got[1:] == expected[1:]  # the same windowed peak score, cell and resize factor
        # the box at that cell: the engine divides on the host, which can differ in the last bit
        assert torch.allclose(got[0], expected[0], rtol=0, atol=1e-6)
    assert expected[2] == 0 and plain[2] != 0  # the weights moved the peak (negative control)
    again = engine.locate(rgb, aux, box)  # no weights: the plain Hann window again
    assert torch.equal(again[0], plain[0]) and again[1:] == plain[1:]


def _event_iou(model, seed: int, settings: TrackerSettings | None) -> float:
    scene = Scene(seed, SceneSettings(frames=120))
    tracker = SEATracker(model, settings=settings)
    tracker.initialize(*encode_scene_frame(scene, 0, "event"), scene.box(0))
    ious = []
    for index in range(1, 120):
        a, b = tracker.track(*encode_scene_frame(scene, index, "event")).box, scene.box(index)
        w = min(a[0] + a[2], b[0] + b[2]) - max(a[0], b[0])
        h = min(a[1] + a[3], b[1] + b[3]) - max(a[1], b[1])
        inter = max(w, 0.0) * max(h, 0.0)
        ious.append(inter / (a[2] * a[3] + b[2] * b[3] - inter))
    return float(np.mean(ious))


def test_the_prior_keeps_the_demo_model_on_a_target_crossing_a_look_alike():
    """Validation scene 20003 (events): a distractor crosses the target; without the colour prior the
    demo model's box slides onto it and stays (mean IoU ~0.1), with it the box stays on the target
    (~0.74; docs/demo-model.md). The negative control is the same tracker with only the prior off."""
    model = load_seatrack("demo")
    options = dict(model.tracker_options, template_size=64, search_size=128)
    with_prior = _event_iou(model, 20003, None)  # the model's own options
    without = _event_iou(model, 20003, TrackerSettings(**dict(options, colour_prior=0.0)))
    assert with_prior >= 0.5, with_prior
    assert without < 0.3, without
