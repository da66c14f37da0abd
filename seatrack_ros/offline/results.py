"""Result files in the layouts the benchmarks' toolkits read, and resuming interrupted runs.

* LasHeR, RGBT234, GTOT, VisEvent: ``<out>/<sequence>.txt``, one ``x,y,w,h`` line per frame, the first
  line being the initialisation box (for VisEvent the first line is the first frame where the target is
  present; earlier frames have no line, as the benchmark's runner writes them).
* DepthTrack (VOT long-term layout): ``<out>/<sequence>/<sequence>_001.txt`` whose first line is ``1``
  (the initialisation frame) followed by one ``x,y,w,h`` line per frame, and
  ``<out>/<sequence>/<sequence>_001_confidence.value`` with an empty first line followed by one
  confidence per frame.

Files are written to a temporary name and renamed when complete, so a file that exists is finished; a
run that is interrupted leaves no partial result and resumes by skipping finished sequences.

:func:`read_result_file` reads result files as other trackers' authors publish them: ``x,y,w,h`` rows
or 8-value corner rows (RGBT234 / GTOT releases), with any of the delimiters, line ends and float
notations the toolkits accept.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Optional, Sequence as Seq

import numpy as np

from seatrack_ros.errors import InputError
from seatrack_ros.offline.datasets import parse_number_rows

VOT_LT_BENCHMARKS = ("depthtrack",)


def result_path(out_dir: Path, benchmark: str, sequence: str) -> Path:
    """Path of the box file of ``sequence`` for ``benchmark`` under ``out_dir``."""
    out_dir = Path(out_dir)
    if benchmark in VOT_LT_BENCHMARKS:
        return out_dir / sequence / f"{sequence}_001.txt"
    return out_dir / f"{sequence}.txt"


def confidence_path(out_dir: Path, sequence: str) -> Path:
    return Path(out_dir) / sequence / f"{sequence}_001_confidence.value"


def is_finished(out_dir: Path, benchmark: str, sequence: str) -> bool:
    done = result_path(out_dir, benchmark, sequence).is_file()
    if benchmark in VOT_LT_BENCHMARKS:
        done = done and confidence_path(out_dir, sequence).is_file()
    return done


def _atomic_write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".partial")
    with open(tmp, "w", encoding="utf-8", newline="\n") as fh:
        fh.write(text)
        fh.flush()
        os.fsync(fh.fileno())  # a finished file must survive a power cut: resume trusts its presence
    os.replace(tmp, path)


def _box_line(box) -> str:
    return ",".join(f"{float(v):.4f}" for v in box)


def write_boxes(path: Path, boxes: np.ndarray) -> None:
    """Write an (N, 4) x,y,w,h array, one comma-separated line per frame."""
    boxes = np.asarray(boxes, dtype=np.float64).reshape(-1, 4)
    _atomic_write(Path(path), "".join(_box_line(b) + "\n" for b in boxes))


def write_vot_longterm(out_dir: Path, sequence: str, boxes: np.ndarray,
                       confidences: Seq[Optional[float]]) -> None:
    """Write a VOT long-term result: boxes (N, 4) where row 0 is the initialisation frame (written as
    ``1``), confidences (N,) with ``None``/nan for frame 0 (written as an empty line)."""
    boxes = np.asarray(boxes, dtype=np.float64).reshape(-1, 4)
    if len(confidences) != len(boxes):
        raise InputError("length", f"{sequence}: {len(boxes)} boxes but {len(confidences)} confidences")
    box_lines = ["1\n"] + [_box_line(b) + "\n" for b in boxes[1:]]
    conf_lines = ["\n"] + [
        "\n" if c is None or not np.isfinite(c) else f"{float(c):.6f}\n" for c in confidences[1:]
    ]
    # Confidence first: the box file marks the sequence as finished.
    _atomic_write(confidence_path(out_dir, sequence), "".join(conf_lines))
    _atomic_write(result_path(out_dir, "depthtrack", sequence), "".join(box_lines))


def read_boxes(path: Path, dtype=np.float32) -> np.ndarray:
    """Read an x,y,w,h result file (commas, tabs or spaces; CRLF tolerated) as (N, 4) ``dtype``.

    float32 is the default because the reference RGB-T toolkit reads results that way; scores can move
    by about 1e-4 when read as float64.
    """
    path = Path(path)
    if not path.is_file():
        raise InputError("missing_file", f"no result file {path}")
    rows = parse_number_rows(path.read_text(encoding="utf-8", errors="replace"), str(path), dtype)
    if any(len(r) != 4 for r in rows):
        raise InputError("bad_text", f"{path}: expected 4 values (x,y,w,h) per line")
    return np.asarray(rows, dtype=dtype).reshape(-1, 4)


BBOX_FORMATS = ("ltwh", "corners")
_VALUES_PER_ROW = {4: "ltwh", 8: "corners"}
# A result file is one box per frame; the longest benchmark sequences have about 12,000 frames (a few
# hundred KiB of text). Anything far larger is not a result file and is refused before it is read.
MAX_RESULT_FILE_BYTES = 64 * 1024 * 1024


@dataclass(frozen=True)
class ResultFile:
    """The rows of one result file as written: ``values`` (N, 4) x,y,w,h or (N, 8) corners
    ``x1 y1 x2 y1 x2 y2 x1 y2`` (float64), ``bbox_format`` ("ltwh" or "corners"), and whether the format
    was detected from the rows (``detected``) or imposed by the caller."""

    values: np.ndarray
    bbox_format: str
    path: Path
    detected: bool = True


def read_result_file(path: Path, bbox_format: str = "auto") -> ResultFile:
    """Read a result file in any layout the RGB-T toolkits read: ``x,y,w,h`` rows or 8-value corner rows,
    values separated by commas, tabs or spaces (``1,2 3`` mixes too), CRLF or LF line ends, a UTF-8 byte
    order mark, any float notation (``%.18e`` included), blank lines skipped.

    bbox_format: "auto" detects the format from the number of values per row (4 or 8, the same in every
    row); "ltwh" or "corners" requires that format. Raises InputError naming the file and the problem."""
    path = Path(path)
    if bbox_format != "auto" and bbox_format not in BBOX_FORMATS:
        raise InputError("bbox_format", f"unknown box format {bbox_format!r}; expected auto or one of {BBOX_FORMATS}")
    try:
        size = path.stat().st_size
    except OSError as exc:
        raise InputError("missing_file", f"cannot read result file {path}: {exc.strerror or exc}") from exc
    if not path.is_file():
        raise InputError("missing_file", f"result file {path} is not a file")
    if size > MAX_RESULT_FILE_BYTES:
        raise InputError("too_large", f"{path}: {size} bytes is not a result file (limit {MAX_RESULT_FILE_BYTES})")
    try:
        text = path.read_bytes().decode("utf-8-sig", errors="replace")
    except OSError as exc:
        raise InputError("missing_file", f"cannot read result file {path}: {exc.strerror or exc}") from exc
    rows = parse_number_rows(text, str(path), np.float64)
    if not rows:
        raise InputError("bad_text", f"{path}: no boxes in the file")
    widths = sorted({len(r) for r in rows})
    if len(widths) > 1:
        first_odd = next(i for i, r in enumerate(rows) if len(r) != len(rows[0]))
        raise InputError("bad_text", f"{path}: rows have {' and '.join(map(str, widths))} values "
                                     f"(box {first_odd + 1} differs from box 1)")
    detected = _VALUES_PER_ROW.get(widths[0])
    if detected is None:
        raise InputError("bad_text", f"{path}: {widths[0]} values per row; expected 4 (x,y,w,h) or 8 (corners)")
    if bbox_format != "auto" and detected != bbox_format:
        raise InputError("bbox_format", f"{path}: rows have {widths[0]} values, not {bbox_format} "
                                        f"({'4' if bbox_format == 'ltwh' else '8'} values)")
    return ResultFile(np.asarray(rows, dtype=np.float64), detected, path, bbox_format == "auto")


def read_vot_longterm(out_dir: Path, sequence: str) -> tuple[np.ndarray, np.ndarray]:
    """Read a VOT long-term result. Returns boxes (N, 4) float64 with row 0 (the ``1`` initialisation
    line) and any special one-value line set to nan, and confidences (N,) float64 with nan where empty."""
    box_file = result_path(out_dir, "depthtrack", sequence)
    conf_file = confidence_path(out_dir, sequence)
    if not box_file.is_file() or not conf_file.is_file():
        raise InputError("missing_file", f"no VOT long-term result for {sequence} under {out_dir}")
    boxes = []
    for line_no, line in enumerate(box_file.read_text(encoding="utf-8").splitlines(), start=1):
        row = parse_number_rows(line, f"{box_file}:{line_no}") if line.strip() else []
        if len(row) == 1 and len(row[0]) == 4:
            boxes.append(row[0])
        elif len(row) == 1 and len(row[0]) == 1:
            boxes.append([np.nan] * 4)  # special frame code (1 = initialisation, 0 = failure)
        else:
            raise InputError("bad_text", f"{box_file}:{line_no}: expected x,y,w,h or a frame code")
    conf = []
    for line in conf_file.read_text(encoding="utf-8").splitlines():
        line = line.strip()
        conf.append(float(line) if line else np.nan)
    if len(conf) != len(boxes):
        raise InputError("length", f"{sequence}: {len(boxes)} boxes but {len(conf)} confidences")
    return np.asarray(boxes, dtype=np.float64).reshape(-1, 4), np.asarray(conf, dtype=np.float64)
