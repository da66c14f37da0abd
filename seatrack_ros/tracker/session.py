"""One target's life around a tracker, without ROS: pending init, reset, track id, LOST status.

The node, ``seatrack-run`` on benchmark folders and ``seatrack-run`` on rosbag2 recordings all drive
a tracker through `TrackingSession.step`, so that initialisation, rejection of bad init boxes, the
LOST rule and track ids behave the same everywhere. Requests (`request_init`, `request_reset`) may
come from other threads (ROS callbacks); they take effect at the next `step`, which runs on one thread.
"""

from __future__ import annotations

import enum
import math
import threading
import time
from dataclasses import dataclass
from typing import Callable, NamedTuple, Optional

import numpy as np

from ..errors import InputError
from ..geometry.boxes import box_inside_image
from .tracker import check_box

Box = tuple[float, float, float, float]
RESOLUTION_CHANGE = "resolution_change"
# Before the first frame only the box itself can be checked; this stands in for "any image size".
_UNKNOWN_HW = (1 << 30, 1 << 30)


class TrackStatus(enum.IntEnum):
    """Same values as seatrack_ros/Target's STATUS_* constants."""

    WAITING_FOR_INIT = 0
    TRACKING = 1
    LOST = 2


@dataclass(frozen=True)
class StepResult:
    """What one `TrackingSession.step` produced.

    box: (x, y, w, h) px of the frame (the init box on an initialisation frame, zeros while waiting),
        always inside the frame with w, h > 0 once a target is set (`box_inside_image`).
    confidence: windowed score-map peak; 1.0 on the initialisation frame, 0.0 while waiting or when
        the network's output was not finite.
    initialized: this frame started a new track (``box`` is the init box).
    init_error: why a pending init box was rejected on this frame, else None (status unchanged).
    model_s: seconds spent in the tracker (initialize or track).
    source: who asked for the init box of this frame's track start ("" otherwise).
    problem: what went wrong on this frame though a result was still produced, for the caller to
        count by ``problem.kind``: ``nonfinite_output`` (the network gave NaN/inf: status LOST, the
        last good box, confidence 0), ``resolution_change`` (the target was re-initialised from the
        last box scaled to the new frame size, or, if that box is refused, dropped: status WAITING).
    """

    box: Box
    confidence: float
    status: TrackStatus
    track_id: int
    initialized: bool = False
    init_error: Optional[InputError] = None
    model_s: float = 0.0
    source: str = ""
    problem: Optional[InputError] = None


class InitOffer(NamedTuple):
    """The answer to an init request: accepted, its track id (0 if not), the message, and whether the
    box was checked against a frame already (False before the first frame)."""

    accepted: bool
    track_id: int
    message: str
    checked_against_frame: bool


class TrackingSession:
    """Drives one tracker (`SEATracker` or anything with ``initialize``/``track``/``reset``).

    lost_threshold: confidence under which a tracked frame's status is LOST (the tracker keeps
    following its estimate); `step` may override it per frame (a run-time parameter).
    """

    def __init__(self, tracker, lost_threshold: float = 0.25) -> None:
        self.tracker = tracker
        self.lost_threshold = float(lost_threshold)
        self._lock = threading.Lock()
        self._pending: Optional[tuple[Box, int, str]] = None
        self._reset_requested = False
        self._next_track_id = 1
        self._frame_hw: Optional[tuple[int, int]] = None
        self._last_init_error = ""
        self._tracking = False
        self._track_hw: Optional[tuple[int, int]] = None  # frame size the tracker was initialised on
        self.track_id = 0
        self.status = TrackStatus.WAITING_FOR_INIT
        self.box: Box = (0.0, 0.0, 0.0, 0.0)

    # ------------------------------------------------------------------------- requests (any thread)
    def validate_box(self, box) -> tuple[Box, bool]:
        """`check_box` against the last frame's size. Returns (box, checked_against_a_frame): before
        the first frame only the box itself is checked; `step` checks it against its frame."""
        with self._lock:
            hw = self._frame_hw
        return check_box(box, hw if hw is not None else _UNKNOWN_HW), hw is not None

    def offer_init(self, box, source: str) -> InitOffer:
        """`validate_box` then `request_init`, with the answer for whoever asked.

        Before the first frame its size is unknown: a box outside that frame is then rejected by
        `step` (``init_error``).
        """
        try:
            box, against_frame = self.validate_box(box)
        except InputError as exc:
            return InitOffer(False, 0, f"rejected: {exc}", False)
        track_id = self.request_init(box, source)
        if against_frame:
            return InitOffer(
                True, track_id, f"accepted; tracking starts on the next frame with track id {track_id}", True
            )
        return InitOffer(True, track_id, "accepted; checked against the next frame", False)

    def request_init(self, box, source: str = "init") -> int:
        """Track ``box`` from the next frame on; returns the track id it will get (ids only grow)."""
        with self._lock:
            track_id = self._next_track_id
            self._next_track_id += 1
            self._pending = (tuple(float(v) for v in box), track_id, source)
        return track_id

    def request_reset(self) -> None:
        """Forget the target at the next frame (status WAITING_FOR_INIT; the last track id is kept)."""
        with self._lock:
            self._reset_requested = True
            self._pending = None

    @property
    def frame_hw(self) -> Optional[tuple[int, int]]:
        with self._lock:
            return self._frame_hw

    @property
    def last_init_error(self) -> str:
        with self._lock:
            return self._last_init_error

    # ------------------------------------------------------------------------------ frames (one thread)
    def step(
        self,
        rgb: np.ndarray,
        aux: np.ndarray,
        lost_threshold: Optional[float] = None,
        clock: Callable[[], float] = time.perf_counter,
    ) -> StepResult:
        """Apply a pending reset / init, then track this frame if a target is set.

        Raises InputError for frames the tracker refuses while tracking (bad arrays); an init box the
        frame refuses is returned as ``init_error`` instead, with the state unchanged. A change of
        frame size and a non-finite network output are handled here and returned as ``problem``.
        """
        with self._lock:
            self._frame_hw = tuple(rgb.shape[:2]) if isinstance(rgb, np.ndarray) else None
            reset, self._reset_requested = self._reset_requested, False
            pending, self._pending = self._pending, None
        if reset:
            self.tracker.reset()
            self._tracking = False
            self.status = TrackStatus.WAITING_FOR_INIT
            self.box = (0.0, 0.0, 0.0, 0.0)
        started = clock()
        init_error = None
        if pending is not None:
            box, track_id, source = pending
            try:
                self._start_track(rgb, aux, box, track_id)
            except InputError as exc:
                height, width = rgb.shape[:2]
                reason = f"init box {box} from {source} rejected on the {width}x{height} frame: {exc}"
                with self._lock:
                    self._last_init_error = reason
                init_error = InputError(exc.kind, reason)  # a target tracked before is kept
            else:
                return StepResult(
                    self.box,
                    1.0,
                    self.status,
                    track_id,
                    initialized=True,
                    model_s=clock() - started,
                    source=source,
                )
        problem = None
        if self._tracking and isinstance(rgb, np.ndarray) and tuple(rgb.shape[:2]) != self._track_hw:
            restarted, problem = self._follow_resolution_change(rgb, aux)
            if restarted:
                return StepResult(
                    self.box,
                    1.0,
                    self.status,
                    self.track_id,
                    initialized=True,
                    init_error=init_error,
                    model_s=clock() - started,
                    source=RESOLUTION_CHANGE,
                    problem=problem,
                )
        def last_box(problem):
            """This frame's result without a new box: the session's current box, confidence 0."""
            return StepResult(
                self.box, 0.0, self.status, self.track_id, init_error=init_error, model_s=clock() - started,
                problem=problem,
            )

        if not self._tracking:
            return last_box(problem)
        try:
            result = self.tracker.track(rgb, aux)
            box = tuple(float(v) for v in result.box)
            confidence = float(result.score)
            if not (math.isfinite(confidence) and all(math.isfinite(v) for v in box)):
                raise InputError(
                    "nonfinite_output", f"the tracker gave a non-finite box {box} or score {confidence}"
                )
        except InputError as exc:
            if exc.kind != "nonfinite_output":
                raise
            # Never publish NaN: the target counts as lost at its last good box.
            self.status = TrackStatus.LOST
            return last_box(InputError(exc.kind, f"{exc}; published as LOST at the last good box"))
        model_s = clock() - started
        self.box = box_inside_image(box, self._track_hw)
        threshold = self.lost_threshold if lost_threshold is None else float(lost_threshold)
        self.status = TrackStatus.TRACKING if confidence >= threshold else TrackStatus.LOST
        return StepResult(
            self.box, confidence, self.status, self.track_id, init_error=init_error, model_s=model_s
        )

    def _start_track(self, rgb: np.ndarray, aux: np.ndarray, box: Box, track_id: int) -> None:
        """Initialise the tracker on ``box``; on success the session tracks it as ``track_id``."""
        self.tracker.initialize(rgb, aux, box)
        self._tracking = True
        self._track_hw = tuple(rgb.shape[:2])
        self.track_id = track_id
        self.status = TrackStatus.TRACKING
        # The operator's box is echoed as the frame sees it: cut to the image.
        self.box = box_inside_image(box, self._track_hw)

    def _follow_resolution_change(self, rgb: np.ndarray, aux: np.ndarray) -> tuple[bool, InputError]:
        """The frame size changed while tracking: re-initialise from the last box scaled to the new
        size (a new template, so a new track id). Returns (restarted, the problem to count)."""
        old_h, old_w = self._track_hw
        new_h, new_w = rgb.shape[:2]
        x, y, w, h = self.box
        sx, sy = new_w / old_w, new_h / old_h
        scaled = (x * sx, y * sy, w * sx, h * sy)
        change = f"RGB resolution changed from {old_w}x{old_h} to {new_w}x{new_h} while tracking track {self.track_id}"
        with self._lock:
            track_id = self._next_track_id
            self._next_track_id += 1
        try:
            self._start_track(rgb, aux, scaled, track_id)
        except InputError as exc:
            self._tracking = False
            self.status = TrackStatus.WAITING_FOR_INIT
            self.box = (0.0, 0.0, 0.0, 0.0)
            reason = (
                f"{change}; the last box scaled to {scaled} was refused ({exc}): waiting for a new init box"
            )
            with self._lock:
                self._last_init_error = reason
            return False, InputError(RESOLUTION_CHANGE, reason)
        return True, InputError(
            RESOLUTION_CHANGE,
            f"{change}: re-initialised from the last box scaled to {self.box} as track {track_id}",
        )


def load_tracker(
    modality: str,
    checkpoint=None,
    lora_merged: Optional[bool] = None,
    device: str = "auto",
    *,
    variant: Optional[str] = None,
    half: bool = False,
    cuda_graphs: bool = False,
    compile_network: bool = False,
    precision: str = "float32",
):
    """Registry ``variant`` (default: the released variant for ``modality``) loaded by `load_seatrack`
    in a `SEATracker` on ``device`` (`select_device`). Returns (tracker, uses_test_weights): without a
    checkpoint the released variants run deterministic test weights, the ``demo`` variant its shipped
    weights. float16, CUDA graphs and compiling exist on the CUDA pipeline only; elsewhere the tracker
    runs eager without a warning. ``precision`` (float32, bfloat16, auto) applies on the CPU only.

    Raises ConfigError for an unknown modality, variant or device or a missing file, CheckpointError
    for an unreadable or mismatched file.
    """
    from ..model import load_seatrack, select_device, variant_for_modality
    from .tracker import SEATracker

    torch_device = select_device(device)
    name = variant or variant_for_modality(modality).name
    model = load_seatrack(name, checkpoint, lora_merged)
    on_cuda = torch_device.type == "cuda"
    tracker = SEATracker(
        model,
        device=torch_device,
        half=bool(half and on_cuda),
        cuda_graphs=bool(cuda_graphs and on_cuda),
        compile_network=bool(compile_network and on_cuda),
        precision=precision,
    )
    return tracker, checkpoint is None and name != "demo"
