"""Training sequences from the benchmark folders `seatrack-run` reads and from rosbag2 recordings.

Every source yields ``(H, W, 6)`` uint8 frames: RGB, then the auxiliary image encoded by the node's own
encoders (`seatrack_ros.modalities.encode_aux`), so a model fine-tuned here sees at training time
exactly what the node feeds it at run time.

- Benchmark folders (LasHeR, RGBT234, GTOT, VisEvent, DepthTrack layouts): read lazily through
  `seatrack_ros.offline.datasets`. Visibility follows the authors' dataset classes: w > 0 and h > 0
  (RGB-T), w > 10 and h > 10 (DepthTrack, NaN rows invisible), the absent label and w > 5 and h > 5
  (VisEvent).
- rosbag2 recordings (mcap / sqlite3) with a box file. The pairs are formed by the node's synchronizer
  (`seatrack_ros.offline.bag.BagPairReader`); each pair gets the box whose stamp is nearest its RGB
  stamp within a tolerance, pairs without a box are left out. Accepted box files: the CSV `seatrack-run`
  writes for a bag (``frame,rgb_stamp_ns,aux_stamp_ns,x,y,w,h,score``), any CSV with a header naming a
  stamp column (``rgb_stamp_ns``, ``stamp_ns`` or ``stamp``, in ns; ``stamp_s`` / ``time`` in seconds)
  and ``x,y,w,h``, or headerless ``stamp,x,y,w,h`` rows (integer stamps are ns, decimals seconds). An
  empty, NaN or non-positive box marks the target absent. The encoded pairs are written once to a
  cache folder (PNG) so that pairs can be drawn in any order without re-reading the bag.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import logging
import math
import os
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Optional

import cv2
import numpy as np

from ..errors import InputError
from ..offline import datasets

LOG = logging.getLogger(__name__)

MODALITY_VARIANT = {"thermal": "rgbt", "depth": "rgbd", "event": "rgbe"}
MAX_BOX_FILE_BYTES = 64 * 1024 * 1024  # a box file is text, one line per frame
CACHE_FORMAT = 1


def make_aux_encoder(modality: str, mono16_range: Optional[tuple] = None) -> Callable:
    """``encode(image, encoding) -> (H, W, 3) uint8``: the node's encoder for ``modality``."""
    from ..modalities import encode_aux

    options = {"mono16_range": tuple(mono16_range)} if (modality == "thermal" and mono16_range) else {}

    def encode(image: np.ndarray, encoding: str) -> np.ndarray:
        return encode_aux(modality, image, encoding, **options)

    return encode


def stack_pair(rgb: np.ndarray, aux: np.ndarray) -> np.ndarray:
    """(H, W, 3) RGB + (H, W, 3) encoded aux -> (H, W, 6) uint8; sizes must agree."""
    from ..tracker.tracker import check_frame_pair

    check_frame_pair(rgb, aux)
    return np.concatenate([rgb, aux], axis=2)


def visible_frames(benchmark: str, boxes: np.ndarray, absent: Optional[np.ndarray] = None) -> np.ndarray:
    """(N,) bool: frames whose box the authors' dataset classes count as visible."""
    finite = np.all(np.isfinite(boxes), axis=1)
    w = np.where(finite, boxes[:, 2], 0.0)
    h = np.where(finite, boxes[:, 3], 0.0)
    min_side = {"depthtrack": 10.0, "visevent": 5.0}.get(benchmark, 0.0)
    visible = finite & (w > min_side) & (h > min_side)
    if absent is not None:
        visible &= ~np.asarray(absent, dtype=bool)[: len(visible)]
    return visible


class DatasetSequenceSource:
    """A benchmark sequence as a training source (frames read and encoded on demand)."""

    def __init__(self, seq: datasets.Sequence, mono16_range: Optional[tuple] = None) -> None:
        count = min(seq.num_frames, len(seq.gt))
        self.name = f"{seq.benchmark}/{seq.name}"
        self.modality = seq.modality
        self.boxes = np.asarray(seq.gt[:count], dtype=np.float64)
        absent = seq.absent[:count] if seq.absent is not None else None
        self.visible = visible_frames(seq.benchmark, self.boxes, absent)
        self._rgb_paths = list(seq.rgb_paths[:count])
        self._aux_paths = list(seq.aux_paths[:count])
        self._mono16_range = mono16_range
        self._encode = None

    def __len__(self) -> int:
        return len(self.boxes)

    def frame(self, index: int) -> np.ndarray:
        if self._encode is None:  # built lazily: the source is pickled into loader workers
            self._encode = make_aux_encoder(self.modality, self._mono16_range)
        rgb = datasets.read_rgb_image(self._rgb_paths[index])
        aux, encoding = datasets.read_aux_image(self._aux_paths[index], self.modality)
        return stack_pair(rgb, self._encode(aux, encoding))

    def __getstate__(self):
        state = dict(self.__dict__)
        state["_encode"] = None
        return state


class CachedFrameSource:
    """Encoded pairs written by `extract_bag_frames`: ``index.json`` plus ``NNNNNN_rgb.png`` / ``_aux.png``."""

    def __init__(self, folder: Path, name: str, modality: str) -> None:
        self.folder = Path(folder)
        index = json.loads((self.folder / "index.json").read_text(encoding="utf-8"))
        self.name = name
        self.modality = modality
        self.stamps_ns = np.asarray(index["rgb_stamps_ns"], dtype=np.int64)
        self.boxes = np.asarray(index["boxes"], dtype=np.float64).reshape(-1, 4)
        self.visible = visible_frames("bag", self.boxes)

    def __len__(self) -> int:
        return len(self.boxes)

    def frame(self, index: int) -> np.ndarray:
        images = []
        for part in ("rgb", "aux"):
            path = self.folder / f"{index:06d}_{part}.png"
            image = cv2.imread(str(path), cv2.IMREAD_COLOR)
            if image is None:
                raise InputError("unreadable_image", f"cannot read cached frame {path}")
            images.append(cv2.cvtColor(image, cv2.COLOR_BGR2RGB))
        return stack_pair(*images)


# ----------------------------------------------------------------------------------------------------
# Box files for bags.


@dataclass
class StampedBoxes:
    """Boxes by RGB stamp: stamps (M,) int64 ns, sorted; boxes (M, 4) float64 x, y, w, h px (NaN = absent)."""

    stamps_ns: np.ndarray
    boxes: np.ndarray

    def lookup(self, stamp_ns: int, tolerance_ns: int) -> Optional[np.ndarray]:
        """The box nearest ``stamp_ns`` within ``tolerance_ns``, or None."""
        if len(self.stamps_ns) == 0:
            return None
        pos = int(np.searchsorted(self.stamps_ns, stamp_ns))
        best = None
        for j in (pos - 1, pos):
            if 0 <= j < len(self.stamps_ns):
                gap = abs(int(self.stamps_ns[j]) - int(stamp_ns))
                if gap <= tolerance_ns and (best is None or gap < best[0]):
                    best = (gap, j)
        return None if best is None else self.boxes[best[1]]


_STAMP_COLUMNS_NS = ("rgb_stamp_ns", "stamp_ns", "stamp", "timestamp_ns")
_STAMP_COLUMNS_S = ("stamp_s", "time", "timestamp", "t")


def _parse_stamp(text: str, in_seconds: Optional[bool], where: str) -> int:
    text = text.strip()
    try:
        if in_seconds is None:
            in_seconds = any(c in text for c in ".eE")
        if in_seconds:
            value = float(text)
            if not math.isfinite(value):
                raise ValueError(text)
            return int(round(value * 1e9))
        return int(text)
    except ValueError as exc:
        raise InputError("box_file", f"{where}: bad stamp {text!r}") from exc


def _parse_box(values: list, where: str) -> np.ndarray:
    if all(not v.strip() for v in values):
        return np.full(4, np.nan)
    try:
        box = np.asarray([float(v) for v in values], dtype=np.float64)
    except ValueError as exc:
        raise InputError("box_file", f"{where}: bad box {values!r}") from exc
    if not np.all(np.isfinite(box)) or box[2] <= 0 or box[3] <= 0:
        return np.full(4, np.nan)
    return box


def read_box_file(path: Path) -> StampedBoxes:
    """Read a stamp -> box file (formats in the module docstring). Raises InputError("box_file")."""
    path = Path(path)
    try:
        size = path.stat().st_size
    except OSError as exc:
        raise InputError("missing_file", f"cannot read box file {path}: {exc}") from exc
    if size > MAX_BOX_FILE_BYTES:
        raise InputError("box_file", f"{path}: {size} bytes is too large for a box file")
    text = path.read_text(encoding="utf-8", errors="replace")
    rows = [r for r in csv.reader(io.StringIO(text.replace("\t", ","))) if r and any(c.strip() for c in r)]
    if not rows:
        raise InputError("box_file", f"{path}: no boxes")
    if len(rows[0]) == 1 and " " in rows[0][0].strip():  # space-separated, no header
        rows = [r[0].split() for r in rows]
    header = [c.strip().lower() for c in rows[0]]
    stamps, boxes = [], []
    if any(c and not _looks_numeric(c) for c in header):
        stamp_col = next((header.index(c) for c in _STAMP_COLUMNS_NS if c in header), None)
        in_seconds = False
        if stamp_col is None:
            stamp_col = next((header.index(c) for c in _STAMP_COLUMNS_S if c in header), None)
            in_seconds = True
        missing = [c for c in ("x", "y", "w", "h") if c not in header]
        if stamp_col is None or missing:
            raise InputError("box_file", f"{path}: header {rows[0]} needs a stamp column "
                                         f"({', '.join(_STAMP_COLUMNS_NS + _STAMP_COLUMNS_S)}) and x, y, w, h")
        box_cols = [header.index(c) for c in ("x", "y", "w", "h")]
        for line_no, row in enumerate(rows[1:], start=2):
            where = f"{path}:{line_no}"
            if len(row) < len(header):
                row = row + [""] * (len(header) - len(row))
            stamps.append(_parse_stamp(row[stamp_col], in_seconds, where))
            boxes.append(_parse_box([row[c] for c in box_cols], where))
    else:
        for line_no, row in enumerate(rows, start=1):
            where = f"{path}:{line_no}"
            if len(row) != 5:
                raise InputError("box_file", f"{where}: expected stamp,x,y,w,h, got {len(row)} values")
            stamps.append(_parse_stamp(row[0], None, where))
            boxes.append(_parse_box(row[1:], where))
    order = np.argsort(np.asarray(stamps, dtype=np.int64), kind="stable")
    return StampedBoxes(np.asarray(stamps, dtype=np.int64)[order], np.asarray(boxes).reshape(-1, 4)[order])


def _looks_numeric(text: str) -> bool:
    try:
        float(text)
        return True
    except ValueError:
        return False


# ----------------------------------------------------------------------------------------------------
# Bags.


@dataclass(frozen=True)
class BagSpec:
    """One recording to train on and how to read it (the same options as `seatrack-run` on a bag)."""

    bag: Path
    boxes: Path
    rgb_topic: str
    aux_topic: str
    modality: str
    slop: float = 0.02
    stamp_source: str = "header"
    mono16_range: Optional[tuple] = None
    box_tolerance: float = 0.005  # seconds between a pair's RGB stamp and its box's stamp


def _bag_fingerprint(spec: BagSpec) -> str:
    parts = []
    bag = Path(spec.bag)
    files = sorted(bag.rglob("*")) if bag.is_dir() else [bag]
    for f in files:
        if f.is_file():
            st = f.stat()
            parts.append(f"{f.name}:{st.st_size}:{st.st_mtime_ns}")
    parts.append(hashlib.sha256(Path(spec.boxes).read_bytes()).hexdigest())
    parts.append(repr((spec.rgb_topic, spec.aux_topic, spec.modality, spec.slop, spec.stamp_source,
                       spec.mono16_range, spec.box_tolerance, CACHE_FORMAT)))
    return hashlib.sha256("\n".join(parts).encode()).hexdigest()


def extract_bag_frames(spec: BagSpec, cache_dir: Path, log: Callable = print) -> CachedFrameSource:
    """Decode, encode and cache the boxed pairs of one recording; reuses a cache made from the same
    bag, box file and options. Pairs with bad data are skipped and counted, each kind logged once."""
    from ..offline.bag import BagPairReader

    if spec.modality not in MODALITY_VARIANT:
        raise InputError("modality", f"unknown modality {spec.modality!r}; expected one of "
                                     f"{', '.join(MODALITY_VARIANT)}")
    cache_dir = Path(cache_dir)
    fingerprint = _bag_fingerprint(spec)
    name = f"bag/{Path(spec.bag).name}"
    index_path = cache_dir / "index.json"
    if index_path.is_file():
        try:
            if json.loads(index_path.read_text(encoding="utf-8")).get("fingerprint") == fingerprint:
                return CachedFrameSource(cache_dir, name, spec.modality)
        except (OSError, ValueError):
            pass
    stamped = read_box_file(spec.boxes)
    encode = make_aux_encoder(spec.modality, spec.mono16_range)
    reader = BagPairReader(Path(spec.bag), spec.rgb_topic, spec.aux_topic, spec.slop, spec.stamp_source)
    cache_dir.mkdir(parents=True, exist_ok=True)
    if index_path.exists():
        index_path.unlink()  # stale cache: its frames are overwritten below
    tolerance_ns = int(round(spec.box_tolerance * 1e9))
    stamps, boxes, problems = [], [], Counter()
    unboxed = 0
    for pair in reader:
        box = stamped.lookup(pair.rgb_stamp_ns, tolerance_ns)
        if box is None:
            unboxed += 1
            continue
        try:
            frame = stack_pair(pair.rgb, encode(pair.aux, pair.aux_encoding))
        except InputError as exc:
            problems[exc.kind] += 1
            if problems[exc.kind] == 1:
                log(f"{name}: skipping the pair at {pair.rgb_stamp_ns} ns ({exc.kind}): {exc} (reported once per kind)")
            continue
        index = len(stamps)
        for part, image in (("rgb", frame[:, :, :3]), ("aux", frame[:, :, 3:])):
            path = cache_dir / f"{index:06d}_{part}.png"
            if not cv2.imwrite(str(path), cv2.cvtColor(image, cv2.COLOR_RGB2BGR)):
                raise InputError("cache", f"cannot write {path}")
        stamps.append(int(pair.rgb_stamp_ns))
        boxes.append([float(v) for v in box])
    if not stamps:
        raise InputError("no_frames", f"{spec.bag}: no synchronised pair has a box in {spec.boxes} "
                                      f"(within {spec.box_tolerance} s of its RGB stamp)")
    index = {"fingerprint": fingerprint, "bag": str(spec.bag), "rgb_stamps_ns": stamps,
             "boxes": [[None if not math.isfinite(v) else v for v in b] for b in boxes]}
    tmp = index_path.with_name("index.json.partial")
    tmp.write_text(json.dumps(index), encoding="utf-8")
    os.replace(tmp, index_path)
    log(f"{name}: {len(stamps)} boxed pairs cached in {cache_dir} ({unboxed} pairs without a box; "
        f"skipped: {dict(problems) or 'none'})")
    return CachedFrameSource(cache_dir, name, spec.modality)


# ----------------------------------------------------------------------------------------------------
# Everything together.


def open_dataset_sources(root: Path, benchmark: str = "auto", names: Optional[list] = None,
                         mono16_range: Optional[tuple] = None) -> tuple[str, list]:
    """(modality, sources) of every sequence under a benchmark folder."""
    benchmark, seqs = datasets.open_dataset(Path(root), benchmark, names)
    return datasets.MODALITY_OF_BENCHMARK[benchmark], [DatasetSequenceSource(s, mono16_range) for s in seqs]


def usable_sources(sources: list, min_frames: int = 20, min_visible: int = 5, log: Callable = print) -> list:
    """The sources the authors' sampler would draw from: at least ``min_frames`` frames and at least
    ``min_visible`` visible ones (the recipe: 20 and more than 4)."""
    kept = [s for s in sources if len(s.boxes) >= min_frames and int(np.sum(s.visible)) >= min_visible]
    dropped = len(sources) - len(kept)
    if dropped:
        log(f"{dropped} of {len(sources)} sequences have fewer than {min_frames} frames or {min_visible} "
            "visible targets and are not used")
    if not kept:
        raise InputError("no_sequences", f"no sequence has at least {min_frames} frames and {min_visible} "
                                         "visible targets (see --min-frames / --min-visible)")
    return kept
