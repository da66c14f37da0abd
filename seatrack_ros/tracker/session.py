"""One target's life around a tracker, without ROS: pending init, reset, track id, LOST status.

The node, ``seatrack-run`` on benchmark folders and ``seatrack-run`` on rosbag2 recordings all drive
a tracker through `TrackingSession.step`, so that initialisation, rejection of bad init boxes, the
LOST rule and track ids behave the same everywhere. Requests (`request_init`, `request_reset`) may
come from other threads (ROS callbacks); they take effect at the next `step`, which runs on one thread.
"""

from __future__ import annotations

import enum
import threading
import time
from dataclasses import dataclass
from typing import Callable, NamedTuple, Optional

import numpy as np

from ..errors import InputError
from .tracker import check_box

Box = tuple[float, float, float, float]
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

    box: (x, y, w, h) px of the frame (the init box on an initialisation frame, zeros while waiting).
    confidence: windowed score-map peak; 1.0 on the initialisation frame, 0.0 while waiting.
    initialized: this frame started a new track (``box`` is the init box).
    init_error: why a pending init box was rejected on this frame, else None (status unchanged).
    model_s: seconds spent in the tracker (initialize or track).
    source: who asked for the init box of this frame's track start ("" otherwise).
    """

    box: Box
    confidence: float
    status: TrackStatus
    track_id: int
    initialized: bool = False
    init_error: Optional[InputError] = None
    model_s: float = 0.0
    source: str = ""


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

        Raises InputError for frames the tracker refuses while tracking (size change, bad arrays); an
        init box the frame refuses is returned as ``init_error`` instead, with the state unchanged.
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
                self.tracker.initialize(rgb, aux, box)
            except InputError as exc:
                height, width = rgb.shape[:2]
                reason = f"init box {box} from {source} rejected on the {width}x{height} frame: {exc}"
                with self._lock:
                    self._last_init_error = reason
                init_error = InputError(exc.kind, reason)  # a target tracked before is kept
            else:
                self._tracking = True
                self.track_id = track_id
                self.status = TrackStatus.TRACKING
                self.box = box
                return StepResult(
                    box,
                    1.0,
                    self.status,
                    track_id,
                    initialized=True,
                    model_s=clock() - started,
                    source=source,
                )
        if not self._tracking:
            return StepResult(
                self.box, 0.0, self.status, self.track_id, init_error=init_error, model_s=clock() - started
            )
        result = self.tracker.track(rgb, aux)
        model_s = clock() - started
        self.box = tuple(float(v) for v in result.box)
        confidence = float(result.score)
        threshold = self.lost_threshold if lost_threshold is None else float(lost_threshold)
        self.status = TrackStatus.TRACKING if confidence >= threshold else TrackStatus.LOST
        return StepResult(
            self.box, confidence, self.status, self.track_id, init_error=init_error, model_s=model_s
        )


def load_tracker(
    modality: str,
    checkpoint=None,
    lora_merged: Optional[bool] = None,
    device: str = "auto",
    *,
    half: bool = False,
    cuda_graphs: bool = False,
    compile_network: bool = False,
):
    """The released variant for ``modality`` (`load_seatrack`) in a `SEATracker` on ``device``
    (`select_device`). Returns (tracker, uses_test_weights). float16, CUDA graphs and compiling
    exist on the CUDA pipeline only; elsewhere the tracker runs float32 eager without a warning.

    Raises ConfigError for an unknown modality or device or a missing file, CheckpointError for an
    unreadable or mismatched file.
    """
    from ..model import load_seatrack, select_device, variant_for_modality
    from .tracker import SEATracker

    torch_device = select_device(device)
    model = load_seatrack(variant_for_modality(modality).name, checkpoint, lora_merged)
    on_cuda = torch_device.type == "cuda"
    tracker = SEATracker(
        model,
        device=torch_device,
        half=bool(half and on_cuda),
        cuda_graphs=bool(cuda_graphs and on_cuda),
        compile_network=bool(compile_network and on_cuda),
    )
    return tracker, checkpoint is None
