"""Training pairs: which two frames, how the boxes are jittered, and the crops the network sees.

Follows the authors' recipe (docs/training.md, "Data sampling" and "Augmentation and crops"):

1. a sequence uniformly at random; a template frame among the visible frames 0 .. N-2; a search frame
   among the visible frames strictly after it and fewer than ``max_gap`` (200) frames later. When there
   is none, both are drawn again with the window 5 frames wider per retry ("causal" mode);
2. the same horizontal flip (p 0.5) of both full frames; box x becomes ``(W-1) - x - w``. The
   reference's 5 % grayscale draw is not made: on 6-channel frames it always fails and the pair is
   drawn again, so it never changes a crop;
3. template crop: centred on the box, factor 2, 128 px. Search crop around the jittered box (w, h times
   ``exp(0.25 N(0,1))`` each; centre moved by ``3 sqrt(w' h') (U(0,1) - 0.5)`` per axis), factor 4,
   256 px, with the tracker's own `sample_crop` (OpenCV bilinear, zero padding, the border quirk);
4. the label in crop coordinates: centre ``(out-1)/2 + (gt_centre - jitter_centre) * out/side``, size
   ``gt_wh * out/side``, divided by ``out``;
5. per crop: brightness ``U(0.8, 1.2) / 255`` on all 6 channels and clamp to [0, 1], a horizontal flip
   (p 0.5, x -> 1 - x - w), ImageNet normalisation of both halves.

Every random draw comes from the ``numpy.random.Generator`` passed in, so a pair is a pure function of
its seed (the trainer seeds it with (run seed, epoch, sample index): resumable and independent of the
number of loader workers).
"""

from __future__ import annotations

import logging
import math
from collections import Counter
from dataclasses import dataclass
from typing import Protocol

import numpy as np

from ..errors import InputError
from ..geometry.crop import crop_window, sample_crop, window_is_regular
from ..model.seatrack import PIXEL_MEAN, PIXEL_STD

LOG = logging.getLogger(__name__)


@dataclass(frozen=True)
class SamplingSettings:
    """The authors' values (``experiments/seatrack/*.yaml`` and the config defaults)."""

    max_gap: int = 200  # MAX_SAMPLE_INTERVAL; the search frame is at most max_gap - 1 frames later
    gap_widening: int = 5  # per failed draw
    template_factor: float = 2.0
    template_size: int = 128
    search_factor: float = 4.0
    search_size: int = 256
    center_jitter: float = 3.0  # search only; the template has no jitter
    scale_jitter: float = 0.25
    brightness_jitter: float = 0.2
    frame_flip_probability: float = 0.5
    crop_flip_probability: float = 0.5
    max_attempts: int = 100  # draws before a sequence is declared unusable
    # Not the authors' (they have 0): the share of pairs whose search frame is drawn among the frames a
    # source marks as ``crossing_frames`` (synthetic scenes: a distractor near the target), when it marks
    # some (`seatrack-train --scene-crossings`; tried for the demo model, not used by its shipped stages).
    crossing_share: float = 0.0


class FrameSource(Protocol):
    """One training sequence: boxes, visibility and random access to encoded frame pairs."""

    name: str
    boxes: np.ndarray  # (N, 4) float64 x, y, w, h px
    visible: np.ndarray  # (N,) bool

    def frame(self, index: int) -> np.ndarray:
        """(H, W, 6) uint8: RGB (RGB order) then the encoded auxiliary image, as the tracker sees them."""
        ...


@dataclass
class TrainingPair:
    """One sample: the two normalised crops and the boxes in normalised crop coordinates."""

    template: np.ndarray  # (6, 128, 128) float32
    search: np.ndarray  # (6, 256, 256) float32
    template_box: np.ndarray  # (4,) float32 x, y, w, h / 128
    search_box: np.ndarray  # (4,) float32 x, y, w, h / 256 (unclamped)
    sequence: str = ""
    frame_ids: tuple[int, int] = (0, 0)


def sample_frame_ids(visible: np.ndarray, rng: np.random.Generator, settings: SamplingSettings,
                     crossing_frames: np.ndarray | None = None) -> tuple[int, int] | None:
    """(template, search) frame indices, or None when no pair exists within the retries.

    With ``settings.crossing_share`` > 0 and a ``crossing_frames`` mask, that share of the draws takes
    the search frame among the visible marked frames first and then the template among the visible
    frames before it (fewer than ``max_gap`` earlier); the other draws, and a marked draw that finds no
    such pair, follow the authors' rule below. With share 0 no extra random number is drawn, so the
    authors' sampling is unchanged draw for draw.
    """
    if crossing_frames is not None and settings.crossing_share > 0 and rng.random() < settings.crossing_share:
        ids = _sample_crossing_ids(visible, np.asarray(crossing_frames, dtype=bool), rng, settings.max_gap)
        if ids is not None:
            return ids
    count = len(visible)
    widen = 0
    for _ in range(settings.max_attempts):
        template_choices = np.flatnonzero(visible[: max(count - 1, 0)])
        if template_choices.size == 0:
            return None
        template_id = int(rng.choice(template_choices))
        stop = min(template_id + settings.max_gap + widen, count)
        search_choices = np.flatnonzero(visible[template_id + 1 : stop]) + template_id + 1
        if search_choices.size:
            return template_id, int(rng.choice(search_choices))
        widen += settings.gap_widening
    return None


def _sample_crossing_ids(visible: np.ndarray, crossing: np.ndarray, rng: np.random.Generator,
                         max_gap: int) -> tuple[int, int] | None:
    if crossing.shape != visible.shape:
        raise ValueError(f"crossing_frames has shape {crossing.shape}, the sequence {visible.shape}")
    search_choices = np.flatnonzero(visible & crossing)
    search_choices = search_choices[search_choices >= 1]
    if search_choices.size == 0:
        return None
    search_id = int(rng.choice(search_choices))
    first = max(search_id - max_gap + 1, 0)
    template_choices = np.flatnonzero(visible[first:search_id]) + first
    if template_choices.size == 0:
        return None
    return int(rng.choice(template_choices)), search_id


def flip_frame_box(box: np.ndarray, width: int) -> np.ndarray:
    """A box after mirroring its frame, with the reference's one-pixel offset: x -> (W-1) - x - w."""
    x, y, w, h = box
    return np.array([(width - 1) - x - w, y, w, h], dtype=np.float64)


def jitter_box(box: np.ndarray, rng: np.random.Generator, center_jitter: float, scale_jitter: float) -> np.ndarray:
    """The box the search crop is centred on (x, y, w, h). Draws: 2 normals, then 2 uniforms."""
    size = box[2:4] * np.exp(rng.standard_normal(2) * scale_jitter)
    max_offset = math.sqrt(float(size[0] * size[1])) * center_jitter
    centre = box[0:2] + 0.5 * box[2:4] + max_offset * (rng.random(2) - 0.5)
    return np.concatenate([centre - 0.5 * size, size])


def box_in_crop(box: np.ndarray, crop_box: np.ndarray, resize_factor: float, output_size: int) -> np.ndarray:
    """``box`` (x, y, w, h px) in the normalised coordinates of the crop taken around ``crop_box``.

    The crop centre is taken as (out-1)/2 and the rounding of the crop origin is ignored, as in the
    reference's label transform.
    """
    crop_centre = crop_box[0:2] + 0.5 * crop_box[2:4]
    box_centre = box[0:2] + 0.5 * box[2:4]
    centre = (output_size - 1) / 2 + (box_centre - crop_centre) * resize_factor
    size = box[2:4] * resize_factor
    return (np.concatenate([centre - 0.5 * size, size]) / output_size).astype(np.float32)


_MEAN = np.asarray(PIXEL_MEAN, dtype=np.float32).reshape(6, 1, 1)  # RGB and X: the ImageNet triple twice
_STD = np.asarray(PIXEL_STD, dtype=np.float32).reshape(6, 1, 1)


def crop_to_tensor(crop: np.ndarray, box: np.ndarray, rng: np.random.Generator, settings: SamplingSettings,
                   augment: bool = True) -> tuple[np.ndarray, np.ndarray]:
    """(S, S, 6) uint8 crop and its normalised box -> normalised (6, S, S) float32 and the box.

    With ``augment``: brightness factor (one uniform draw), then a flip (one uniform draw).
    """
    scale = np.float32(1.0 / 255.0)
    if augment:
        b = settings.brightness_jitter
        scale = np.float32(rng.uniform(max(0.0, 1.0 - b), 1.0 + b) / 255.0)
    image = np.clip(crop.astype(np.float32) * scale, 0.0, 1.0).transpose(2, 0, 1)
    box = box.copy()
    if augment and rng.random() < settings.crop_flip_probability:
        image = image[:, :, ::-1]
        box[0] = 1.0 - box[0] - box[2]
    return np.ascontiguousarray((image - _MEAN) / _STD, dtype=np.float32), box


SKIPPED_PAIRS: Counter = Counter()  # by InputError kind, in this process


def report_skipped_pair(name: str, exc: InputError) -> None:
    """Count a pair that could not be made; log the first of each kind."""
    SKIPPED_PAIRS[exc.kind] += 1
    if SKIPPED_PAIRS[exc.kind] == 1:
        LOG.warning("%s: a training pair was drawn again (%s): %s (reported once per kind)", name, exc.kind, exc)


def make_pair(source: FrameSource, rng: np.random.Generator, settings: SamplingSettings = SamplingSettings(),
              augment: bool = True) -> TrainingPair:
    """Draw one training pair from ``source`` (raises InputError("no_pair") when it has none).

    A pair whose crops cannot be made (a jittered crop side below 1 px, a window outside the frame, an
    unreadable frame) is drawn again, as the reference does with any failing pair.
    """
    last_error: Exception | None = None
    for _ in range(settings.max_attempts):
        ids = sample_frame_ids(source.visible, rng, settings, getattr(source, "crossing_frames", None))
        if ids is None:
            raise InputError("no_pair", f"{source.name}: no visible template/search frame pair")
        try:
            return _pair_from_frames(source, ids, rng, settings, augment)
        except InputError as exc:
            last_error = exc
            report_skipped_pair(source.name, exc)
    raise InputError("no_pair", f"{source.name}: no usable pair in {settings.max_attempts} draws ({last_error})")


def _pair_from_frames(source: FrameSource, ids: tuple[int, int], rng: np.random.Generator,
                      settings: SamplingSettings, augment: bool) -> TrainingPair:
    template_id, search_id = ids
    frames = [source.frame(template_id), source.frame(search_id)]
    boxes = [np.asarray(source.boxes[i], dtype=np.float64) for i in ids]
    if augment and rng.random() < settings.frame_flip_probability:
        frames = [np.ascontiguousarray(f[:, ::-1]) for f in frames]
        boxes = [flip_frame_box(b, f.shape[1]) for b, f in zip(boxes, frames)]

    crops = []
    for frame, box, factor, size, jitter in (
        (frames[0], boxes[0], settings.template_factor, settings.template_size, False),
        (frames[1], boxes[1], settings.search_factor, settings.search_size, augment),
    ):
        crop_box = jitter_box(box, rng, settings.center_jitter, settings.scale_jitter) if jitter else box
        if not np.all(np.isfinite(crop_box)) or math.ceil(math.sqrt(crop_box[2] * crop_box[3]) * factor) < 1:
            raise InputError("box", f"{source.name}: crop around {crop_box.tolist()} is empty")
        if not window_is_regular(crop_window(tuple(crop_box), factor, frame.shape[:2]), frame.shape[:2]):
            raise InputError("box", f"{source.name}: crop around {crop_box.tolist()} lies outside the frame")
        crop, resize_factor = sample_crop(frame, tuple(crop_box), factor, size)
        crops.append((crop, box_in_crop(box, crop_box, resize_factor, size)))
    template, template_box = crop_to_tensor(*crops[0], rng, settings, augment)
    search, search_box = crop_to_tensor(*crops[1], rng, settings, augment)
    return TrainingPair(template, search, template_box, search_box, source.name, (template_id, search_id))
