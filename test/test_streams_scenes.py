"""The synthetic scenes behind the demo model: deterministic, random access, and each sensor shows the
target as the module promises (warm, near, moving), with negative controls."""

from __future__ import annotations

import numpy as np
import pytest

from seatrack_ros.modalities import render_events
from seatrack_ros.streams.scenes import HELD_OUT_SEED_START, Scene, SceneSettings, make_scene_sequence

SMALL = SceneSettings(height=256, width=320, frames=40, target_side=(24.0, 50.0))


def _inside(box, settings=SMALL) -> bool:
    x, y, w, h = box
    return x >= 0 and y >= 0 and x + w <= settings.width and y + h <= settings.height and w > 0 and h > 0


def _target_mask(box, shape) -> np.ndarray:
    x, y, w, h = box
    mask = np.zeros(shape, bool)
    # the central half of the box: inside the target whatever its shape (rectangle or ellipse)
    mask[int(y + h / 4):int(y + 3 * h / 4), int(x + w / 4):int(x + 3 * w / 4)] = True
    return mask


def test_a_frame_depends_only_on_seed_and_index():
    a, b = Scene(3, SMALL), Scene(3, SMALL)
    later_first = b.rgb(17)  # drawn out of order
    assert np.array_equal(a.rgb(17), later_first)
    assert np.array_equal(a.thermal(5), b.thermal(5))
    assert np.array_equal(a.depth(9), b.depth(9))
    for x, y in zip(a.events(4, 10**9), b.events(4, 10**9)):
        assert np.array_equal(x, y)
    # negative control: another seed is another scene
    assert not np.array_equal(a.rgb(17), Scene(4, SMALL).rgb(17))


def test_boxes_stay_inside_the_image_and_move():
    for seed in range(6):
        scene = Scene(seed, SMALL)
        assert all(_inside(box) for box in scene.boxes), seed
        centres = scene.boxes[:, :2] + scene.boxes[:, 2:] / 2
        assert np.abs(np.diff(centres, axis=0)).sum() > 20, seed  # the target moves
        sides = np.sqrt(scene.boxes[:, 2] * scene.boxes[:, 3])
        assert sides.min() >= 0.5 * SMALL.target_side[0] and sides.max() <= 1.6 * SMALL.target_side[1]


def test_the_target_is_warm_and_near():
    for seed in range(6):
        scene = Scene(seed, SMALL)
        for index in (0, 20):
            mask = _target_mask(scene.box(index), (SMALL.height, SMALL.width))
            if scene.occluder is not None:  # leave out the occluder's columns / rows
                vertical, lo, hi, _ = scene.occluder
                if vertical:
                    mask[:, max(lo, 0):max(hi, 0)] = False
                else:
                    mask[max(lo, 0):max(hi, 0), :] = False
            if mask.sum() < 10:
                continue
            thermal, depth = scene.thermal(index), scene.depth(index)
            assert np.median(thermal[mask]) >= 170 > np.median(thermal[~mask]) + 40, (seed, index)
            valid = depth > 0
            assert np.median(depth[mask & valid]) <= 2600 < np.median(depth[~mask & valid]), (seed, index)


def test_events_fall_where_things_move():
    settings = SceneSettings(height=256, width=320, frames=40, target_side=(24.0, 50.0), distractors=(0, 0))
    scene = Scene(11, settings)
    index = 10
    x, y, t, p = scene.events(index, 10**9)
    assert len(x) > 50
    assert np.all(np.diff(t) >= 0) and t.min() >= 10**9 - scene.period_ns and t.max() < 10**9
    bx, by, bw, bh = scene.box(index)
    previous = scene.box(index - 1)
    x0, y0 = min(bx, previous[0]) - 16, min(by, previous[1]) - 16
    x1, y1 = max(bx + bw, previous[0] + previous[2]) + 16, max(by + bh, previous[1] + previous[3]) + 16
    near = (x >= x0) & (x < x1) & (y >= y0) & (y < y1)
    area = (x1 - x0) * (y1 - y0) / (settings.width * settings.height)
    assert near.mean() > 0.8 > area  # most events near the moving target, which covers little of the image
    image = render_events(x, y, t, p, settings.height, settings.width)
    assert image.shape == (256, 320, 3) and (image != 255).any()
    # negative control: no motion, no events beyond the sensor noise
    still = Scene(11, SceneSettings(height=256, width=320, path_frequency=(0.0, 0.0), scale_swing=0.0,
                                    distractors=(0, 0)))
    noise = len(still.events(index, 10**9)[0])
    assert noise < 0.003 * settings.width * settings.height < len(x)


def test_make_scene_sequence_matches_the_scene_and_stamps_frames():
    frames = make_scene_sequence(5, "event", 256, 320, fps=20.0, start_ns=10**9, seed=HELD_OUT_SEED_START)
    scene = Scene(HELD_OUT_SEED_START, SceneSettings(height=256, width=320, fps=20.0, frames=5))
    assert [f.stamp_ns for f in frames] == [10**9 + i * 50_000_000 for i in range(5)]
    for i, frame in enumerate(frames):
        assert frame.box == pytest.approx(scene.box(i))
        assert np.array_equal(frame.rgb, scene.rgb(i))
        assert frame.aux is None and frame.events is not None
    thermal = make_scene_sequence(2, "thermal", 256, 320, start_ns=0)
    assert thermal[0].aux.dtype == np.uint8 and thermal[0].aux_encoding == "mono8"
    depth = make_scene_sequence(2, "depth", 256, 320, start_ns=0)
    assert depth[0].aux.dtype == np.uint16 and depth[0].aux_encoding == "16UC1"
    with pytest.raises(ValueError):
        make_scene_sequence(1, "sonar", 64, 64, start_ns=0)
