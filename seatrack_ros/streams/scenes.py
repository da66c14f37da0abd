"""Synthetic multimodal tracking scenes: the training data of the demo model, and the demo's input.

A scene is a pure function of ``(seed, settings)``; frame ``i`` of it is a pure function of
``(seed, i)``, so training can draw any frame in any order and a held-out scene is one whose seed the
training never used (training: seeds 0 .. 9999, held out: 10000 and up, see docs/demo-model.md).

What is in a scene (a static camera; every object is a textured rectangle or ellipse with an alpha mask):

- a cluttered textured background (coarse and fine colour noise plus random coloured blobs);
- the target: its own texture, moving along a random smooth path (two sinusoids per axis), its size
  swinging around a base size (log-scale sinusoid), a random aspect ratio; motion blur along its
  velocity when it moves fast;
- distractors (0 to 3): objects made like the target, on their own paths, drawn behind it;
- an occluder (in half the scenes): a static bar in front of everything, narrower than half the target,
  so occlusion is only ever partial.

The auxiliary sensors see the same geometry:

- thermal (mono8): the background is cool (40 to ~130 counts), distractors lukewarm (100 to 160), the
  target warm (185 to 245, with a little of its texture), the occluder cold;
- depth (16UC1 mm): background 3 to 8 m (a floor-like gradient plus far blobs), distractors 2.5 to 3.5 m,
  the target 0.8 to 2.5 m (nearer as it grows), the occluder 0.5 to 0.7 m; a few pixels without a return;
- events: from log-intensity differences of consecutive RGB frames (threshold 0.15 in log units, one
  event per pixel, ON for brighter), plus sparse noise events; time stamps spread over the frame interval.

The boxes are the target's full extent in pixels (also while it is partly occluded); the target stays
inside the image.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from typing import Optional

import cv2
import numpy as np

from .synthetic import SyntheticFrame

_LOG_INTENSITY = np.log1p(np.arange(256, dtype=np.float32))  # the event sensor's log response per grey level
HELD_OUT_SEED_START = 10_000  # training uses seeds below this; evaluation, tests and the demo use seeds above


@dataclass(frozen=True)
class SceneSettings:
    """The generator's settings (docs/demo-model.md lists the values the demo model was trained with)."""

    height: int = 512
    width: int = 640
    frames: int = 120
    fps: float = 30.0
    target_side: tuple[float, float] = (40.0, 110.0)  # sqrt(w h) at scale 1, px
    aspect: tuple[float, float] = (0.6, 1.6)  # w / h
    scale_swing: float = 0.35  # size varies as exp(scale_swing * sin(.))
    path_amplitude: tuple[float, float] = (0.08, 0.3)  # per sinusoid, fraction of the image side
    path_frequency: tuple[float, float] = (0.015, 0.09)  # radians per frame
    distractors: tuple[int, int] = (0, 3)  # inclusive range
    occluder_probability: float = 0.5
    blur_speed: float = 4.0  # px per frame above which the target is motion-blurred
    event_threshold: float = 0.15  # log-intensity contrast of one event
    event_noise: float = 0.0008  # fraction of pixels with a noise event per frame


@dataclass
class _Object:
    texture: np.ndarray  # (S, S, 3) uint8, resized to the object's size when drawn
    ellipse: bool
    centre: np.ndarray  # (2,) px
    amplitude: np.ndarray  # (2, 2) px: [axis, sinusoid]
    frequency: np.ndarray  # (2, 2) rad / frame
    phase: np.ndarray  # (2, 2)
    side: float
    aspect: float
    scale_frequency: float
    scale_phase: float
    thermal: float  # mono8 counts
    depth_mm: float


def _noise_texture(rng: np.random.Generator, height: int, width: int, cell: int) -> np.ndarray:
    coarse = rng.integers(0, 256, size=(max(2, height // cell), max(2, width // cell), 3), dtype=np.uint8)
    return cv2.resize(coarse, (width, height), interpolation=cv2.INTER_CUBIC)


def _object_texture(rng: np.random.Generator, size: int = 96) -> np.ndarray:
    """A distinctive pattern: colour noise, plus stripes or a checkerboard of two random colours."""
    texture = _noise_texture(rng, size, size, int(rng.integers(6, 20)))
    colours = rng.integers(0, 256, size=(2, 3))
    yy, xx = np.mgrid[0:size, 0:size]
    period = int(rng.integers(8, 24))
    kind = int(rng.integers(3))
    if kind == 0:
        pattern = ((xx + yy * rng.uniform(-1, 1)) // period) % 2 == 0
    elif kind == 1:
        pattern = ((xx // period) + (yy // period)) % 2 == 0
    else:
        pattern = np.hypot(xx - size / 2, yy - size / 2) // period % 2 == 0
    mix = np.where(pattern[..., None], colours[0], colours[1]).astype(np.float32)
    return np.clip(0.55 * mix + 0.45 * texture, 0, 255).astype(np.uint8)


class Scene:
    """One scene; `frame` renders frame ``index`` for a modality (see the module docstring)."""

    def __init__(self, seed: int, settings: SceneSettings = SceneSettings()) -> None:
        self.seed = int(seed)
        self.settings = s = settings
        h, w = s.height, s.width
        self._backgrounds = None  # made at the first rendering: a training run holds thousands of scenes
        self._last_layers = None  # (index, layers) of the last frame drawn, see `_layers`
        rng = np.random.default_rng([self.seed, 7, 1])
        self.target = self._make_object(rng, target=True)
        count = int(rng.integers(s.distractors[0], s.distractors[1] + 1))
        self.distractors = [self._make_object(rng, target=False) for _ in range(count)]
        for d in self.distractors:  # a distractor sometimes wears the target's texture (a true look-alike)
            if rng.random() < 0.3:
                d.texture = self.target.texture
        self.occluder = None
        if rng.random() < s.occluder_probability:
            side = self.target.side * rng.uniform(0.15, 0.45)
            vertical = bool(rng.random() < 0.5)
            position = rng.uniform(0.2, 0.8) * (w if vertical else h)
            self.occluder = (vertical, int(position - side / 2), int(position + side / 2),
                             rng.integers(0, 256, size=3).astype(np.uint8))
        self.period_ns = int(round(1e9 / s.fps))
        self.boxes = np.array([self.box(i) for i in range(s.frames)], dtype=np.float64)

    def _make_object(self, rng: np.random.Generator, target: bool) -> _Object:
        s = self.settings
        side = float(np.exp(rng.uniform(np.log(s.target_side[0]), np.log(s.target_side[1]))))
        if not target:
            side *= rng.uniform(0.7, 1.3)
        dims = np.array([s.width, s.height], np.float64)
        amplitude = rng.uniform(*s.path_amplitude, size=(2, 2)) * dims[:, None]
        return _Object(
            texture=_object_texture(rng),
            ellipse=bool(rng.random() < 0.4),
            centre=rng.uniform(0.3, 0.7, size=2) * dims,
            amplitude=amplitude,
            frequency=rng.uniform(*s.path_frequency, size=(2, 2)),
            phase=rng.uniform(0, 2 * np.pi, size=(2, 2)),
            side=side,
            aspect=float(np.exp(rng.uniform(np.log(s.aspect[0]), np.log(s.aspect[1])))),
            scale_frequency=float(rng.uniform(0.01, 0.05)),
            scale_phase=float(rng.uniform(0, 2 * np.pi)),
            thermal=float(rng.uniform(185, 245) if target else rng.uniform(100, 160)),
            depth_mm=float(rng.uniform(800, 2500) if target else rng.uniform(2500, 3500)),
        )

    def _background_layers(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(RGB uint8, thermal uint8, depth uint16 mm) of the empty scene, made once."""
        if self._backgrounds is not None:
            return self._backgrounds
        s = self.settings
        h, w = s.height, s.width
        rng = np.random.default_rng([self.seed, 7, 0])
        background = 0.6 * _noise_texture(rng, h, w, int(rng.integers(16, 48))) \
            + 0.4 * _noise_texture(rng, h, w, int(rng.integers(3, 8)))
        rows = np.rint(3000 + 5000 * (1 - np.linspace(0, 1, h))).astype(np.uint16)
        depth = np.ascontiguousarray(np.broadcast_to(rows[:, None], (h, w)))
        grey = cv2.cvtColor(background.astype(np.uint8), cv2.COLOR_RGB2GRAY).astype(np.float32)
        warmth = cv2.resize(rng.uniform(0, 30, size=(4, 5)).astype(np.float32), (w, h), interpolation=cv2.INTER_CUBIC)
        thermal = 40 + grey / 4 + warmth
        for _ in range(int(rng.integers(4, 12))):  # clutter blobs: colour, a little warmth, far away
            cx, cy = rng.uniform(0, w), rng.uniform(0, h)
            axes = (int(rng.uniform(10, 80)), int(rng.uniform(10, 80)))
            mask = np.zeros((h, w), np.uint8)
            cv2.ellipse(mask, (int(cx), int(cy)), axes, float(rng.uniform(0, 180)), 0, 360, 1, -1)
            on = mask.astype(bool)
            background[on] = 0.5 * background[on] + 0.5 * rng.integers(0, 256, size=3)
            thermal[on] += rng.uniform(0, 25)
            depth[on] = int(rng.uniform(3000, 6000))
        self._backgrounds = (np.clip(background + 0.5, 0, 255).astype(np.uint8),
                             np.clip(thermal + 0.5, 0, 255).astype(np.uint8), depth)
        return self._backgrounds

    # -- geometry -------------------------------------------------------------------------------------

    def _size(self, obj: _Object, index: int) -> tuple[float, float, float]:
        scale = math.exp(self.settings.scale_swing * math.sin(obj.scale_frequency * index + obj.scale_phase))
        side = obj.side * scale
        return side * math.sqrt(obj.aspect), side / math.sqrt(obj.aspect), scale

    def _centre(self, obj: _Object, index: float, w: float, h: float) -> np.ndarray:
        offset = (obj.amplitude * np.sin(obj.frequency * index + obj.phase)).sum(axis=1)
        centre = obj.centre + offset
        s = self.settings
        # Fold the path back into the image (a reflection keeps it smooth), keeping the box inside.
        for axis, (extent, half) in enumerate(((s.width, w / 2), (s.height, h / 2))):
            lo, hi = half + 2, extent - half - 2
            span = max(hi - lo, 1e-6)
            u = (centre[axis] - lo) % (2 * span)
            centre[axis] = lo + (u if u <= span else 2 * span - u)
        return centre

    def _rect(self, obj: _Object, index: int) -> tuple[float, float, float, float]:
        w, h, _ = self._size(obj, index)
        cx, cy = self._centre(obj, index, w, h)
        return cx - w / 2, cy - h / 2, w, h

    def box(self, index: int) -> tuple[float, float, float, float]:
        """The target's box (x, y, w, h) in pixels at frame ``index``."""
        x, y, w, h = self._rect(self.target, index)
        return float(x), float(y), float(w), float(h)

    def distractor_distance(self, index: int) -> float:
        """Centre distance from the target to the nearest distractor at frame ``index``, in target sides
        (``sqrt(w h)``); infinite in a scene without distractors. Training uses it to find crossings."""
        x, y, w, h = self._rect(self.target, index)
        nearest = math.inf
        for obj in self.distractors:
            dx, dy, dw, dh = self._rect(obj, index)
            nearest = min(nearest, math.hypot(dx + dw / 2 - x - w / 2, dy + dh / 2 - y - h / 2))
        return nearest / math.sqrt(w * h)

    # -- rendering ------------------------------------------------------------------------------------

    def _layers(self, index: int):
        """Per object, back to front: (object, x0, y0, patch RGB float, alpha float, scale).

        The last frame's layers are kept: a frame's RGB and auxiliary images are drawn from the same
        layers (resized textures, motion blur), which the callers only read."""
        if self._last_layers is not None and self._last_layers[0] == index:
            return self._last_layers[1]
        layers = []
        for obj in [*self.distractors, self.target]:
            w, h, scale = self._size(obj, index)
            centre = self._centre(obj, index, w, h)
            x0, y0 = int(round(centre[0] - w / 2)), int(round(centre[1] - h / 2))
            pw, ph = max(2, int(round(w))), max(2, int(round(h)))
            patch = cv2.resize(obj.texture, (pw, ph), interpolation=cv2.INTER_AREA).astype(np.float32)
            alpha = np.ones((ph, pw), np.float32)
            if obj.ellipse:
                alpha[:] = 0
                cv2.ellipse(alpha, (pw // 2, ph // 2), (max(1, pw // 2), max(1, ph // 2)), 0, 0, 360, 1.0, -1)
            if obj is self.target:
                velocity = centre - self._centre(obj, index - 1, w, h)
                speed = float(np.hypot(*velocity))
                if speed > self.settings.blur_speed:
                    patch, alpha, x0, y0 = _motion_blur(patch, alpha, x0, y0, velocity, speed)
            layers.append((obj, x0, y0, patch, alpha, scale))
        self._last_layers = (index, layers)
        return layers

    def _composite(self, canvas: np.ndarray, x0: int, y0: int, value, alpha: np.ndarray) -> None:
        """canvas = alpha value + (1 - alpha) canvas inside the patch, clipped to the image."""
        height, width = canvas.shape[:2]
        ph, pw = alpha.shape
        xa, ya, xb, yb = max(x0, 0), max(y0, 0), min(x0 + pw, width), min(y0 + ph, height)
        if xa >= xb or ya >= yb:
            return
        a = alpha[ya - y0:yb - y0, xa - x0:xb - x0]
        region = canvas[ya:yb, xa:xb]
        if isinstance(value, np.ndarray):
            v = value[ya - y0:yb - y0, xa - x0:xb - x0]
        else:
            v = value
        if region.ndim == 3:
            a = a[..., None]
        blended = a * v + (1 - a) * region.astype(np.float32)
        if region.dtype != np.float32:  # integer canvases: round and saturate like the sensor would
            info = np.iinfo(region.dtype)
            blended = np.clip(blended + 0.5, info.min, info.max)
        region[...] = blended

    def _occlude(self, canvas: np.ndarray, value) -> None:
        if self.occluder is None:
            return
        vertical, lo, hi, _ = self.occluder
        if vertical:
            canvas[:, max(lo, 0):max(hi, 0)] = value
        else:
            canvas[max(lo, 0):max(hi, 0), :] = value

    def rgb(self, index: int) -> np.ndarray:
        """(H, W, 3) uint8 RGB of frame ``index``."""
        canvas = self._background_layers()[0].copy()
        for _, x0, y0, patch, alpha, _ in self._layers(index):
            self._composite(canvas, x0, y0, patch, alpha)
        if self.occluder is not None:
            self._occlude(canvas, self.occluder[3])
        return canvas

    def thermal(self, index: int) -> np.ndarray:
        """(H, W) uint8 thermal image (mono8)."""
        canvas = self._background_layers()[1].copy()
        for obj, x0, y0, patch, alpha, _ in self._layers(index):
            detail = cv2.cvtColor(patch.astype(np.uint8), cv2.COLOR_RGB2GRAY).astype(np.float32) / 16
            self._composite(canvas, x0, y0, obj.thermal + detail - 8, alpha)
        self._occlude(canvas, 35)
        return canvas

    def depth(self, index: int) -> np.ndarray:
        """(H, W) uint16 depth in millimetres (16UC1); 0 where there is no return."""
        depth = self._background_layers()[2].copy()
        for obj, x0, y0, _, alpha, scale in self._layers(index):
            self._composite(depth, x0, y0, obj.depth_mm / scale, (alpha > 0.5).astype(np.float32))
        self._occlude(depth, 600)
        rng = np.random.default_rng([self.seed, index, 3])
        holes = rng.integers(0, depth.size, size=depth.size // 500)
        depth.reshape(-1)[holes] = 0
        return depth

    def events(self, index: int, stamp_ns: int, now_rgb: Optional[np.ndarray] = None
               ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """Events of the interval ``[stamp_ns - period, stamp_ns)`` before frame ``index`` (the motion
        from frame ``index - 1``, which exists for frame 0 too: the paths are defined before it):
        ``(x uint16, y uint16, t int64 ns, polarity uint8)``, sorted by time. ``now_rgb``: frame
        ``index`` when the caller has already rendered it."""
        s = self.settings
        now_rgb = self.rgb(index) if now_rgb is None else now_rgb
        now = cv2.cvtColor(now_rgb, cv2.COLOR_RGB2GRAY)
        before = cv2.cvtColor(self.rgb(index - 1), cv2.COLOR_RGB2GRAY)
        contrast = _LOG_INTENSITY[now] - _LOG_INTENSITY[before]
        rng = np.random.default_rng([self.seed, index, 5])
        on = contrast > s.event_threshold
        off = contrast < -s.event_threshold
        noise = rng.integers(0, contrast.size, size=rng.binomial(contrast.size, s.event_noise))
        noise_on = rng.random(noise.size) < 0.5
        on.reshape(-1)[noise[noise_on]] = True
        off.reshape(-1)[noise[~noise_on]] = True
        ys_on, xs_on = np.nonzero(on)
        ys_off, xs_off = np.nonzero(off & ~on)
        xs = np.concatenate([xs_on, xs_off]).astype(np.uint16)
        ys = np.concatenate([ys_on, ys_off]).astype(np.uint16)
        polarity = np.concatenate([np.ones(len(xs_on), np.uint8), np.zeros(len(xs_off), np.uint8)])
        times = stamp_ns - self.period_ns + rng.integers(0, self.period_ns, size=len(xs), dtype=np.int64)
        order = np.argsort(times, kind="stable")
        return xs[order], ys[order], times[order], polarity[order]

    def frame(self, index: int, modality: str, start_ns: int = 0) -> SyntheticFrame:
        """Frame ``index`` as the cameras would deliver it (see `SyntheticFrame`)."""
        stamp_ns = start_ns + index * self.period_ns
        rgb = self.rgb(index)
        aux = events = encoding = None
        if modality == "thermal":
            aux, encoding = self.thermal(index), "mono8"
        elif modality == "depth":
            aux, encoding = self.depth(index), "16UC1"
        elif modality == "event":
            events = self.events(index, stamp_ns, now_rgb=rgb)
        else:
            raise ValueError(f"unknown modality {modality!r}")
        return SyntheticFrame(rgb, aux, encoding, events, self.box(index), stamp_ns)


def _motion_blur(patch, alpha, x0, y0, velocity, speed):
    """Blur an object's premultiplied colour and alpha along ``velocity`` (length ``speed`` px)."""
    length = int(min(round(speed), 15)) | 1
    pad = length // 2 + 1
    kernel = np.zeros((length, length), np.float32)
    c = length // 2
    direction = velocity / speed
    for t in np.linspace(-c, c, 2 * length):
        kernel[int(round(c + t * direction[1])), int(round(c + t * direction[0]))] = 1.0
    kernel /= kernel.sum()
    premultiplied = cv2.copyMakeBorder(patch * alpha[..., None], pad, pad, pad, pad, cv2.BORDER_CONSTANT, value=0)
    alpha = cv2.copyMakeBorder(alpha, pad, pad, pad, pad, cv2.BORDER_CONSTANT, value=0)
    premultiplied = cv2.filter2D(premultiplied, -1, kernel, borderType=cv2.BORDER_CONSTANT)
    alpha = cv2.filter2D(alpha, -1, kernel, borderType=cv2.BORDER_CONSTANT)
    colour = premultiplied / np.maximum(alpha[..., None], 1e-3)
    return colour, alpha, x0 - pad, y0 - pad


def make_scene_sequence(count: int, modality: str = "thermal", height: int = 512, width: int = 640,
                        fps: float = 30.0, start_ns: Optional[int] = None, seed: int = HELD_OUT_SEED_START,
                        settings: Optional[SceneSettings] = None) -> list[SyntheticFrame]:
    """``count`` frames of scene ``seed`` for ``modality`` (the same interface as `make_sequence`).
    ``start_ns``: first stamp (default: now)."""
    if start_ns is None:
        start_ns = time.time_ns()
    base = settings or SceneSettings()
    scene = Scene(seed, SceneSettings(**{**base.__dict__, "height": height, "width": width, "fps": fps,
                                         "frames": count}))
    return [scene.frame(i, modality, start_ns) for i in range(count)]
