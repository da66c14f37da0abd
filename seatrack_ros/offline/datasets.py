"""Benchmark folder layouts and lazy sequence readers.

Supported layouts (one folder per sequence, frames sorted by file name as the authors' runners do):

=============  ==============================  ===============================================  =========
benchmark      frames (RGB / X)                ground truth                                     X
=============  ==============================  ===============================================  =========
``lasher``     ``visible/`` / ``infrared/``    ``visible.txt`` (+ ``infrared.txt``), x,y,w,h    thermal
``rgbt234``    ``visible/`` / ``infrared/``    ``visible.txt`` + ``infrared.txt``, x,y,w,h or   thermal
                                               8-value corners x1,y1,x2,y2,x3,y3,x4,y4
``gtot``       ``v/`` / ``i/``                 ``groundTruth_v.txt`` + ``groundTruth_i.txt``,   thermal
                                               x1 y1 x2 y2
``visevent``   ``vis_imgs/`` / ``event_imgs/``  ``groundtruth.txt`` + ``absent_label.txt``       event
``depthtrack`` ``color/`` / ``depth/``         ``groundtruth.txt`` (``nan`` rows: target absent) depth
=============  ==============================  ===============================================  =========

Images are read as the authors' loaders read them: RGB with ``cv2.imread`` (8-bit BGR) converted to
RGB; the X image with ``cv2.IMREAD_UNCHANGED`` (so 16-bit depth PNGs stay ``uint16`` millimetres and
thermal / event JPEG or BMP frames stay 8-bit BGR). The X image is returned raw with its ROS-style
encoding name; encoding it for the network is the job of :mod:`seatrack_ros.modalities`.

Ground-truth boxes are ``float64`` arrays of shape (N, 4), (x, y, w, h) in pixels, top-left origin,
``nan`` where a row says the target has no box.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator, Optional

import cv2
import numpy as np

from seatrack_ros.errors import InputError

BENCHMARKS = ("lasher", "rgbt234", "gtot", "visevent", "depthtrack")

MODALITY_OF_BENCHMARK = {
    "lasher": "thermal",
    "rgbt234": "thermal",
    "gtot": "thermal",
    "visevent": "event",
    "depthtrack": "depth",
}

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp", ".tif", ".tiff")

# (rgb folder, aux folder) per layout family.
_FRAME_DIRS = {
    "rgbt": ("visible", "infrared"),
    "gtot": ("v", "i"),
    "visevent": ("vis_imgs", "event_imgs"),
    "depthtrack": ("color", "depth"),
}

_DELIMITERS = re.compile(r"[,\s]+")


def parse_number_rows(text: str, source: str = "<text>", dtype=np.float64) -> list[list[float]]:
    """Parse a box text file: one row per non-empty line, values separated by commas, tabs or spaces
    (CRLF tolerated). ``nan`` is accepted. Returns a list of rows (possibly ragged)."""
    rows = []
    for line_no, line in enumerate(text.splitlines(), start=1):
        line = line.strip()
        if not line:
            continue
        try:
            rows.append([float(dtype(v)) for v in _DELIMITERS.split(line) if v])
        except ValueError as exc:
            raise InputError("bad_text", f"{source}:{line_no}: cannot parse {line!r} as numbers") from exc
    return rows


def load_boxes(path: Path | str, dtype=np.float64) -> np.ndarray:
    """Read an (N, 4) box file (x,y,w,h per line, any of the usual delimiters) or an (N, 8) corner file
    (converted to the enclosing axis-aligned box, w = max(x) - min(x)). Returns ``dtype`` (N, 4)."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except OSError as exc:
        raise InputError("missing_file", f"cannot read {path}: {exc}") from exc
    rows = parse_number_rows(text, str(path), dtype)
    if not rows:
        return np.zeros((0, 4), dtype=dtype)
    widths = {len(r) for r in rows}
    if len(widths) != 1 or widths.pop() not in (4, 8):
        raise InputError("bad_text", f"{path}: expected 4 (x,y,w,h) or 8 (corner) values per line")
    arr = np.asarray(rows, dtype=dtype)
    if arr.shape[1] == 8:
        arr = corners_to_ltwh(arr)
    return arr


def corners_to_ltwh(corners: np.ndarray) -> np.ndarray:
    """(N, 8) polygon corners x1,y1,...,x4,y4 -> (N, 4) enclosing box x, y, w, h (w = max - min)."""
    xs, ys = corners[:, 0::2], corners[:, 1::2]
    x0, y0 = xs.min(axis=1), ys.min(axis=1)
    return np.stack([x0, y0, xs.max(axis=1) - x0, ys.max(axis=1) - y0], axis=1)


def ltrb_to_ltwh(boxes: np.ndarray) -> np.ndarray:
    """(N, 4) x1, y1, x2, y2 (GTOT) -> x, y, w, h with w = x2 - x1, as the authors' GTOT loader."""
    x0 = np.minimum(boxes[:, 0], boxes[:, 2])
    y0 = np.minimum(boxes[:, 1], boxes[:, 3])
    x1 = np.maximum(boxes[:, 0], boxes[:, 2])
    y1 = np.maximum(boxes[:, 1], boxes[:, 3])
    return np.stack([x0, y0, x1 - x0, y1 - y0], axis=1)


@dataclass
class Frame:
    """One frame of a sequence.

    rgb: (H, W, 3) uint8, RGB order. aux: the X image as stored on disk (thermal/event: (H, W, 3) uint8
    BGR or (H, W) mono; depth: (H, W) uint16 millimetres), described by ``aux_encoding`` (a
    sensor_msgs/Image encoding name: ``bgr8`` (alpha dropped), ``mono8``, ``mono16``, ``16UC1``, ``32FC1``).
    """

    index: int
    rgb: np.ndarray
    aux: np.ndarray
    aux_encoding: str
    rgb_path: Path
    aux_path: Path


@dataclass
class Sequence:
    """A benchmark sequence. Frames are read lazily by :meth:`frames`.

    gt: (N, 4) float64 x,y,w,h of the RGB stream; gt_aux: the X-stream ground truth where the
    benchmark has one (RGBT234, GTOT, LasHeR), else None; absent: (N,) bool, True where the target is
    flagged absent (VisEvent ``absent_label.txt`` == 0, DepthTrack ``nan`` rows), else None;
    start: index of the frame the tracker is initialised on (VisEvent skips leading absent frames).
    """

    name: str
    path: Path
    benchmark: str
    gt: np.ndarray
    gt_aux: Optional[np.ndarray] = None
    absent: Optional[np.ndarray] = None
    start: int = 0
    rgb_paths: list = field(default_factory=list)
    aux_paths: list = field(default_factory=list)

    @property
    def modality(self) -> str:
        return MODALITY_OF_BENCHMARK[self.benchmark]

    @property
    def num_frames(self) -> int:
        """Frames that have both an RGB and an X image (the runners pair them by sorted order)."""
        return min(len(self.rgb_paths), len(self.aux_paths))

    @property
    def init_box(self) -> tuple:
        box = self.gt[self.start]
        if not np.all(np.isfinite(box)) or box[2] <= 0 or box[3] <= 0:
            raise InputError("bad_box", f"{self.name}: initial ground-truth box {box.tolist()} is not usable")
        return tuple(float(v) for v in box)

    def frames(self, start: Optional[int] = None) -> Iterator[Frame]:
        """Yield frames ``start`` (default ``self.start``) .. ``num_frames - 1``, reading each on demand."""
        first = self.start if start is None else start
        for idx in range(first, self.num_frames):
            rgb_path, aux_path = self.rgb_paths[idx], self.aux_paths[idx]
            aux, encoding = read_aux_image(aux_path, self.modality)
            yield Frame(idx, read_rgb_image(rgb_path), aux, encoding, rgb_path, aux_path)


def read_rgb_image(path: Path) -> np.ndarray:
    """Read a colour frame as (H, W, 3) uint8 RGB (``cv2.imread`` BGR, then BGR -> RGB)."""
    img = cv2.imread(str(path), cv2.IMREAD_COLOR)
    if img is None:
        raise InputError("unreadable_image", f"cannot read image {path}")
    return cv2.cvtColor(img, cv2.COLOR_BGR2RGB)


def read_aux_image(path: Path, modality: str) -> tuple[np.ndarray, str]:
    """Read an X frame unchanged (``cv2.IMREAD_UNCHANGED``, as the authors' loader) and name its
    encoding. Returns (array, encoding)."""
    img = cv2.imread(str(path), cv2.IMREAD_UNCHANGED)
    if img is None:
        raise InputError("unreadable_image", f"cannot read image {path}")
    if img.ndim == 2:
        if modality == "depth":
            if img.dtype == np.uint16:
                return img, "16UC1"
            if img.dtype == np.float32:
                return img, "32FC1"
        elif img.dtype == np.uint8:
            return img, "mono8"
        elif img.dtype == np.uint16:
            return img, "mono16"
    elif img.ndim == 3 and img.dtype == np.uint8 and modality != "depth":
        if img.shape[2] == 3:
            return img, "bgr8"
        if img.shape[2] == 4:  # the authors' cv2.imread drops alpha; so do we
            return cv2.cvtColor(img, cv2.COLOR_BGRA2BGR), "bgr8"
    raise InputError(
        "encoding", f"{path}: unsupported {modality} image (dtype {img.dtype}, shape {img.shape})"
    )


def _image_files(folder: Path) -> list:
    return sorted(p for p in folder.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES and p.is_file())


def layout_family(seq_dir: Path) -> Optional[str]:
    """Layout family of a sequence folder ("rgbt", "gtot", "visevent", "depthtrack") from its frame
    folders or, for ground-truth-only folders, its annotation files; None if it is not a sequence."""
    seq_dir = Path(seq_dir)
    for family, (rgb_dir, aux_dir) in _FRAME_DIRS.items():
        if (seq_dir / rgb_dir).is_dir() and (seq_dir / aux_dir).is_dir():
            return family
    if (seq_dir / "groundTruth_v.txt").is_file():
        return "gtot"
    if (seq_dir / "absent_label.txt").is_file():
        return "visevent"
    if (seq_dir / "visible.txt").is_file():
        return "rgbt"
    if (seq_dir / "groundtruth.txt").is_file():
        return "depthtrack"
    return None


_FAMILY_OF_BENCHMARK = {
    "lasher": "rgbt",
    "rgbt234": "rgbt",
    "gtot": "gtot",
    "visevent": "visevent",
    "depthtrack": "depthtrack",
}


def find_sequence_dirs(root: Path) -> list:
    """The sequence folders under ``root`` (``root`` itself if it is one), sorted by name."""
    root = Path(root)
    if not root.is_dir():
        raise InputError("missing_file", f"{root} is not a folder")
    if layout_family(root) is not None:
        return [root]
    seqs = sorted((p for p in root.iterdir() if p.is_dir() and layout_family(p) is not None),
                  key=lambda p: p.name)
    if not seqs:
        raise InputError("layout", f"no sequence folders in a known layout under {root}")
    return seqs


def guess_benchmark(root: Path, seq_dirs: list) -> str:
    """Benchmark of a dataset from its layout. LasHeR and RGBT234 share one layout: RGBT234 is chosen
    when the folder name says so or a ground-truth file has 8-value corner rows, else LasHeR."""
    families = {layout_family(p) for p in seq_dirs}
    if len(families) != 1:
        raise InputError("layout", f"{root}: sequences in several layouts ({sorted(families)})")
    family = families.pop()
    if family != "rgbt":
        return family
    if "234" in Path(root).resolve().name:
        return "rgbt234"
    first_line = ""
    gt_file = seq_dirs[0] / "visible.txt"
    if gt_file.is_file():
        with open(gt_file, encoding="utf-8", errors="replace") as fh:
            first_line = fh.readline()
    if len([v for v in _DELIMITERS.split(first_line.strip()) if v]) == 8:
        return "rgbt234"
    return "lasher"


def open_sequence(seq_dir: Path, benchmark: str, need_frames: bool = True) -> Sequence:
    """Read a sequence folder's annotations (and its frame lists when ``need_frames``)."""
    seq_dir = Path(seq_dir)
    if benchmark not in BENCHMARKS:
        raise InputError("benchmark", f"unknown benchmark {benchmark!r}; expected one of {BENCHMARKS}")
    family = layout_family(seq_dir)
    if family != _FAMILY_OF_BENCHMARK[benchmark]:
        raise InputError("layout", f"{seq_dir} is not in the {benchmark} layout (found {family})")
    name = seq_dir.name
    gt_aux = absent = None
    start = 0
    if benchmark in ("lasher", "rgbt234"):
        gt_file = seq_dir / "visible.txt"
        if not gt_file.is_file() and (seq_dir / "init.txt").is_file():
            gt_file = seq_dir / "init.txt"
        gt = load_boxes(gt_file)
        if (seq_dir / "infrared.txt").is_file():
            gt_aux = load_boxes(seq_dir / "infrared.txt")
        elif benchmark == "rgbt234":
            raise InputError("missing_file", f"{seq_dir}: RGBT234 needs infrared.txt")
    elif benchmark == "gtot":
        gt = ltrb_to_ltwh(load_boxes(seq_dir / "groundTruth_v.txt"))
        gt_aux = ltrb_to_ltwh(load_boxes(seq_dir / "groundTruth_i.txt"))
    elif benchmark == "visevent":
        gt = load_boxes(seq_dir / "groundtruth.txt")
        labels = np.asarray(
            [r[0] for r in parse_number_rows((seq_dir / "absent_label.txt").read_text(), str(seq_dir))]
        )
        if len(labels) != len(gt):
            raise InputError("length", f"{seq_dir}: {len(labels)} absent labels for {len(gt)} boxes")
        absent = labels == 0  # absent_label.txt: 1 = target visible, 0 = absent
        if absent.all():
            raise InputError("bad_box", f"{seq_dir}: the target is absent in every frame")
        # The benchmark's runner initialises on the first frame where the target is present.
        start = int(np.argmax(~absent))
    else:
        gt = load_boxes(seq_dir / "groundtruth.txt")
        absent = ~np.all(np.isfinite(gt), axis=1)
    seq = Sequence(name=name, path=seq_dir, benchmark=benchmark, gt=gt, gt_aux=gt_aux, absent=absent,
                   start=start)
    if gt_aux is not None and len(gt_aux) != len(gt):
        raise InputError("length", f"{seq_dir}: {len(gt)} RGB boxes but {len(gt_aux)} X boxes")
    if need_frames:
        rgb_dir, aux_dir = _FRAME_DIRS[family]
        seq.rgb_paths = _image_files(seq_dir / rgb_dir)
        seq.aux_paths = _image_files(seq_dir / aux_dir)
        if seq.num_frames == 0:
            raise InputError("layout", f"{seq_dir}: no frames")
        if seq.start >= seq.num_frames:
            raise InputError("length", f"{seq_dir}: first present frame {seq.start} has no image")
    return seq


def open_dataset(root: Path, benchmark: str = "auto", names: Optional[list] = None,
                 need_frames: bool = True) -> tuple[str, list]:
    """Open every sequence under ``root`` (a dataset root or one sequence folder).

    Returns (benchmark, sequences). ``names`` restricts and orders the sequences; a name that is not
    there raises InputError.
    """
    seq_dirs = find_sequence_dirs(root)
    if benchmark == "auto":
        benchmark = guess_benchmark(root, seq_dirs)
    if names is not None:
        by_name = {p.name: p for p in seq_dirs}
        missing = [n for n in names if n not in by_name]
        if missing:
            raise InputError("missing_sequence", f"not under {root}: {', '.join(missing)}")
        seq_dirs = [by_name[n] for n in names]
    return benchmark, [open_sequence(p, benchmark, need_frames) for p in seq_dirs]


def read_sequence_list(path: Path) -> list:
    """Sequence names, one per line (CRLF and missing final newline tolerated)."""
    return [line.strip() for line in Path(path).read_text(encoding="utf-8").splitlines() if line.strip()]
