"""Event-camera streams -> the VisEvent-style event frame SEATrack's RGB-E weights expect.

The RGB-E weights were trained on VisEvent, whose event frames were rendered by the dataset's own
converter (``scripts/read_aedat4.py`` in the VisEvent_SOT_Benchmark repository) and stored as BMP:

- one frame per RGB frame, from the events with ``t_start <= t < t_end`` where ``[t_start, t_end)`` is
  that RGB frame's exposure window (the converter's default mode);
- a white canvas (255, 255, 255);
- every pixel with at least one ON event (polarity 1) painted BGR (30, 30, 220), then every pixel with
  at least one OFF event (polarity 0) painted BGR (200, 30, 30). Colours are flat: no event counts,
  no time decay. Because all OFF events are painted after all ON events, **OFF wins** on a pixel that
  has both, whatever their order in time. We reproduce that rule.

The SEATrack loader reads those BMPs with OpenCV and converts BGR -> RGB, so the network saw
ON = RGB (220, 30, 30) (red) and OFF = RGB (30, 30, 200) (blue) on white. :func:`render_events` returns
that RGB image.

:class:`EventWindowBuffer` collects the event packets a ROS driver publishes so that each RGB frame can
take the events inside its own window.
"""

from __future__ import annotations

import threading
import time
from typing import Optional

import cv2
import numpy as np

from seatrack_ros.errors import InputError

ON_BGR = (30, 30, 220)
OFF_BGR = (200, 30, 30)
BACKGROUND = 255

_LABEL_ON, _LABEL_OFF = 1, 2
_PALETTE_BGR = np.array([(BACKGROUND,) * 3, ON_BGR, OFF_BGR], dtype=np.uint8)  # indexed by label

_INT32 = np.iinfo(np.int32)

#: Largest sensor (width x height) rendered by default. EVT 3.0 addresses at most 2048 x 2048 pixels
#: and today's largest event sensors are 1280 x 960; the renderer allocates 4 bytes per pixel, so a
#: message declaring 20000 x 20000 would cost well over 1.6 GB before a single event is drawn.
DEFAULT_MAX_SENSOR_PIXELS = 2048 * 2048
#: Events whose time lies further than this from their packet's reference time (the header stamp, or
#: the packet's median event time) are dropped as implausible: one event stamped near INT64_MAX would
#: otherwise make every later event look stale.
DEFAULT_MAX_TIME_SKEW_NS = 1_000_000_000
#: Most events one packet may hold by default (the buffer itself holds up to ``max_events``, 5M).
#: A driver's 1 ms packet at 100 Mev/s holds 100k.
DEFAULT_MAX_PACKET_EVENTS = 2_000_000


def _as_1d(values, name: str) -> np.ndarray:
    array = np.asarray(values)
    if array.ndim != 1:
        raise InputError("event_input", f"events: {name} must be a 1-D array, got shape {array.shape}")
    return array


def _coordinates(values, name: str) -> np.ndarray:
    array = _as_1d(values, name)
    if array.dtype.kind not in "iu":
        # Float coordinates would have to be rounded somehow; the sensor gives integers, so ask for them.
        raise InputError("event_input", f"events: {name} must hold integers, got {array.dtype}")
    return array


def _polarity_on(values, length: int) -> np.ndarray:
    """Validate polarity and return a bool array, True for ON.

    Accepted: bool, or integers in {0, 1} or {-1, 1} (both conventions occur in event-camera tools);
    1/True is ON, 0/-1/False is OFF.
    """
    array = _as_1d(values, "polarity")
    if array.shape[0] != length:
        raise InputError("event_input", f"events: polarity has {array.shape[0]} entries, x has {length}")
    if array.dtype.kind == "b":
        return array
    if array.dtype.kind not in "iu":
        raise InputError("event_polarity", f"events: polarity must be bool or integer, got {array.dtype}")
    # Integers within [-1, 1] can only be -1, 0 or 1, so two reductions validate the whole array.
    if array.size and (int(array.min()) < -1 or int(array.max()) > 1):
        bad = np.unique(array[(array < -1) | (array > 1)])[:5]
        raise InputError("event_polarity", f"events: polarity values must be 0/1 or -1/1, found {bad.tolist()}")
    return array == 1


def _check_size(height: int, width: int, max_pixels: int = DEFAULT_MAX_SENSOR_PIXELS) -> tuple[int, int]:
    try:
        height_i, width_i = int(height), int(width)
    except (TypeError, ValueError) as exc:
        raise InputError("shape", f"events: height and width must be integers, got {height!r}, {width!r}") from exc
    if height_i != height or width_i != width or height_i <= 0 or width_i <= 0:
        raise InputError("shape", f"events: height and width must be positive integers, got {height!r}, {width!r}")
    if height_i * width_i > max_pixels:
        raise InputError("event_sensor_size", f"events: a {width_i}x{height_i} sensor is above the limit of "
                         f"{max_pixels} pixels (max_pixels)")
    return height_i, width_i


def check_sensor_size(height: int, width: int, max_pixels: int = DEFAULT_MAX_SENSOR_PIXELS) -> tuple[int, int]:
    """Validate a sensor size a message declares before anything is allocated for it.

    Returns ``(height, width)`` as ints. Raises ``InputError("shape")`` for sizes that are not positive
    integers and ``InputError("event_sensor_size")`` above ``max_pixels`` (default 2048 x 2048).
    """
    return _check_size(height, width, max_pixels)


def _window_mask(t, length: int, t_start, t_end) -> np.ndarray | None:
    """Boolean mask of events with ``t_start <= t < t_end`` (either bound optional); None = keep all."""
    if t_start is None and t_end is None:
        if t is not None:
            times = _as_1d(t, "t")
            if times.shape[0] != length:
                raise InputError("event_input", f"events: t has {times.shape[0]} entries, x has {length}")
        return None
    if t is None:
        raise InputError("event_input", "events: t is required when t_start or t_end is given")
    times = _as_1d(t, "t")
    if times.shape[0] != length:
        raise InputError("event_input", f"events: t has {times.shape[0]} entries, x has {length}")
    if times.dtype.kind not in "iuf":
        raise InputError("event_input", f"events: t must be numeric, got {times.dtype}")
    if t_start is not None and t_end is not None and not t_start < t_end:
        raise InputError("event_window", f"events: empty time window [{t_start}, {t_end})")
    mask = np.ones(length, dtype=bool)
    if t_start is not None:
        mask &= times >= t_start
    if t_end is not None:
        mask &= times < t_end
    return mask


def _validated(x, y, t, polarity, t_start, t_end):
    xs = _coordinates(x, "x")
    ys = _coordinates(y, "y")
    if ys.shape[0] != xs.shape[0]:
        raise InputError("event_input", f"events: y has {ys.shape[0]} entries, x has {xs.shape[0]}")
    on = _polarity_on(polarity, xs.shape[0])
    mask = _window_mask(t, xs.shape[0], t_start, t_end)
    if mask is not None:
        xs, ys, on = xs[mask], ys[mask], on[mask]
    return xs, ys, on


def _inside(xs: np.ndarray, ys: np.ndarray, height: int, width: int) -> np.ndarray:
    return (xs >= 0) & (xs < width) & (ys >= 0) & (ys < height)


def count_out_of_range(x, y, height: int, width: int, t=None, t_start=None, t_end=None) -> int:
    """Number of events whose pixel lies outside an ``height`` x ``width`` image.

    Only events inside the time window count when ``t_start`` / ``t_end`` are given (same rule as
    :func:`render_events`), so the result is exactly how many events
    ``render_events(..., drop_out_of_range=True)`` drops.
    """
    height, width = _check_size(height, width)
    xs = _coordinates(x, "x")
    ys = _coordinates(y, "y")
    if ys.shape[0] != xs.shape[0]:
        raise InputError("event_input", f"events: y has {ys.shape[0]} entries, x has {xs.shape[0]}")
    mask = _window_mask(t, xs.shape[0], t_start, t_end)
    if mask is not None:
        xs, ys = xs[mask], ys[mask]
    return int(xs.shape[0] - np.count_nonzero(_inside(xs, ys, height, width)))


def render_events(
    x,
    y,
    t,
    polarity,
    height: int,
    width: int,
    t_start=None,
    t_end=None,
    *,
    drop_out_of_range: bool = False,
    max_pixels: int = DEFAULT_MAX_SENSOR_PIXELS,
) -> np.ndarray:
    """Render events as the VisEvent event frame the RGB-E weights saw in training.

    Args:
        x, y: 1-D integer arrays, pixel column and row (0-based, top-left origin).
        t: 1-D timestamps (any numeric type; int64 nanoseconds in this package), or None when no window
            is given. Events need not be sorted.
        polarity: 1-D bool, or integers 0/1 or -1/1; 1/True = ON (brightness increase).
        height, width: size of the output image in pixels (the event sensor's resolution, which must
            match the RGB frame the tracker pairs it with).
        t_start, t_end: optional window in the units of ``t``; only events with
            ``t_start <= t < t_end`` are drawn (a missing bound is open). Use the RGB frame's exposure
            window, as VisEvent did.
        drop_out_of_range: if False (default) an in-window event outside the image raises
            ``InputError("event_out_of_range")``; if True such events are skipped (count them with
            :func:`count_out_of_range`).
        max_pixels: largest ``height * width`` rendered; above it ``InputError("event_sensor_size")``
            is raised before the canvas is allocated.

    Returns:
        ``(H, W, 3)`` ``uint8`` in **RGB** order: white (255, 255, 255) where no event fell,
        ON pixels RGB (220, 30, 30), OFF pixels RGB (30, 30, 200); a pixel with both is OFF
        (VisEvent's rule, see the module docstring). With no events the frame is all white.

    Raises:
        InputError: ``"event_input"`` (mismatched lengths, non-integer coordinates, missing ``t``),
            ``"event_polarity"``, ``"event_window"`` (``t_start >= t_end``), ``"shape"`` (bad size),
            ``"event_out_of_range"``, ``"event_sensor_size"``.
    """
    height, width = _check_size(height, width, max_pixels)
    xs, ys, on = _validated(x, y, t, polarity, t_start, t_end)
    inside = _inside(xs, ys, height, width)
    outside = int(xs.shape[0] - np.count_nonzero(inside))
    if outside:
        if not drop_out_of_range:
            raise InputError(
                "event_out_of_range",
                f"events: {outside} event(s) fall outside the {width}x{height} image "
                f"(x in [{xs.min()}, {xs.max()}], y in [{ys.min()}, {ys.max()}])",
            )
        xs, ys, on = xs[inside], ys[inside], on[inside]

    # Writing one label byte per event and looking colours up afterwards is several times faster than
    # writing 3-byte colours per event; the write order (ON, then OFF) is the same as VisEvent's.
    pixel = ys.astype(np.intp) * width + xs.astype(np.intp)
    labels = np.zeros(height * width, dtype=np.uint8)
    labels[pixel[on]] = _LABEL_ON
    labels[pixel[~on]] = _LABEL_OFF  # written last: OFF wins, as in VisEvent's converter
    canvas = _PALETTE_BGR[labels].reshape(height, width, 3)
    return cv2.cvtColor(canvas, cv2.COLOR_BGR2RGB)


class SequenceTracker:
    """Counts gaps in a stream's message sequence numbers (EventPacket ``seq``).

    ``gaps``: times a number was skipped; ``missing``: how many numbers were skipped in all;
    ``restarts``: times the number did not increase (a driver restart, a bag looping, a duplicate),
    after which counting starts again from that number.
    """

    def __init__(self) -> None:
        self.gaps = 0
        self.missing = 0
        self.restarts = 0
        self._last: Optional[int] = None

    def note(self, seq: int) -> int:
        """Record the next sequence number; returns how many were missing before it (0 if none)."""
        seq = int(seq)
        missing = 0
        if self._last is not None:
            if seq > self._last + 1:
                missing = seq - self._last - 1
                self.gaps += 1
                self.missing += missing
            elif seq <= self._last:
                self.restarts += 1
        self._last = seq
        return missing

    def reset(self) -> None:
        self._last = None


def _middle_value(times: np.ndarray) -> int:
    """The packet's median time as an exact integer (a float64 median would round epoch nanoseconds)."""
    middle = times.shape[0] // 2
    return int(np.partition(times, middle)[middle])


class EventWindowBuffer:
    """Holds incoming event packets until the RGB frame whose window they belong to takes them.

    Events are stored as packets arrive (``x``/``y`` int32 pixels, ``t`` int64 nanoseconds,
    polarity bool with True = ON). Memory is bounded three ways:

    - :meth:`take` discards every event older than the window it was asked for (``t < t_start_ns``),
      on the assumption that later frames ask for later windows; events at or after ``t_end_ns`` stay
      for the next frame. The count is in ``discarded_before_window``.
    - At most ``max_events`` events are kept; when an :meth:`add` goes over, the oldest-arrived events
      are dropped first and counted in ``dropped_overflow``. A single packet above
      ``max_packet_events`` is refused whole before anything is copied (``InputError
      "event_packet_too_large"``, counted in ``rejected_too_large``).
    - With ``max_age_ns``, events older than ``newest timestamp seen - max_age_ns`` are dropped on
      :meth:`add` (useful when RGB frames stop arriving) and counted in ``dropped_stale``.

    Implausible times cannot blind the stream: each packet's events are checked against a reference
    time, the ``stamp_ns`` the caller passes (the message's header stamp) or else the packet's median
    event time, and events further than ``max_time_skew_ns`` from it are dropped and counted in
    ``dropped_far_from_stamp``, so they never become the "newest" time the staleness rule measures
    from. Events that arrive after a window covering their time was taken are counted in
    ``late_events``; those older than that window's start can serve no later window and are dropped
    (``dropped_late``).

    Bounded wait: a window ``[t_start, t_end)`` is complete once the stream is known to have
    delivered everything before ``t_end``, i.e. once a packet reaching ``t_end`` arrived (its newest
    event, or the ``covers_until_ns`` the caller passes, e.g. the header stamp of an empty packet).
    :meth:`window_complete` asks without waiting; :meth:`wait_for_window` waits up to a deadline
    and counts the outcome (``windows_ready``, ``windows_waited``, ``windows_incomplete``).
    Sequence numbers passed to :meth:`add` are checked for gaps (``sequence_gaps``,
    ``missing_packets``, ``sequence_restarts``). :meth:`counters` returns all counters as a dict.

    Packets need not be in time order; windows are selected by timestamp, not position. All methods
    are safe to call from several threads (ROS callbacks on a multi-threaded executor).
    """

    def __init__(self, max_events: int = 5_000_000, max_age_ns: int | None = None, *,
                 max_packet_events: int = DEFAULT_MAX_PACKET_EVENTS,
                 max_time_skew_ns: int = DEFAULT_MAX_TIME_SKEW_NS) -> None:
        if isinstance(max_events, bool) or not isinstance(max_events, (int, np.integer)) or max_events <= 0:
            raise InputError("event_buffer_config", f"max_events must be a positive integer, got {max_events!r}")
        if max_age_ns is not None and (
            isinstance(max_age_ns, bool) or not isinstance(max_age_ns, (int, np.integer)) or max_age_ns <= 0
        ):
            raise InputError("event_buffer_config", f"max_age_ns must be a positive integer or None, got {max_age_ns!r}")
        for name, value in (("max_packet_events", max_packet_events), ("max_time_skew_ns", max_time_skew_ns)):
            if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value <= 0:
                raise InputError("event_buffer_config", f"{name} must be a positive integer, got {value!r}")
        self.max_events = int(max_events)
        self.max_age_ns = None if max_age_ns is None else int(max_age_ns)
        self.max_packet_events = int(max_packet_events)
        self.max_time_skew_ns = int(max_time_skew_ns)
        self.dropped_overflow = 0
        self.dropped_stale = 0
        self.discarded_before_window = 0
        self.dropped_far_from_stamp = 0
        self.dropped_late = 0
        self.late_events = 0
        self.rejected_too_large = 0
        self.windows_ready = 0
        self.windows_waited = 0
        self.windows_incomplete = 0
        self.sequence = SequenceTracker()
        self._packets: list[tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]] = []
        self._count = 0
        self._newest_t_ns: int | None = None
        self._covered_until_ns: int | None = None
        self._taken_window: tuple[int, int] | None = None  # the last window taken, (start, end)
        self._lock = threading.Lock()
        self._arrived = threading.Condition(self._lock)

    def __len__(self) -> int:
        with self._lock:
            return self._count

    @property
    def newest_t_ns(self) -> int | None:
        """Largest timestamp added so far (int64 ns), or None before the first event."""
        with self._lock:
            return self._newest_t_ns

    @property
    def covered_until_ns(self) -> int | None:
        """Time before which the stream has delivered everything it will (see the class docstring)."""
        with self._lock:
            return self._covered_until_ns

    def clear(self) -> None:
        """Forget all stored events (e.g. after a time jump such as a bag restart); counters stay."""
        with self._lock:
            self._packets.clear()
            self._count = 0
            self._newest_t_ns = None
            self._covered_until_ns = None
            self._taken_window = None
            self.sequence.reset()
            self._arrived.notify_all()

    def counters(self) -> dict[str, int]:
        """Every drop and window counter, plus the events held now (for the node's ``~/stats``)."""
        with self._lock:
            return {
                "buffered": self._count,
                "dropped_overflow": self.dropped_overflow,
                "dropped_stale": self.dropped_stale,
                "discarded_before_window": self.discarded_before_window,
                "dropped_far_from_stamp": self.dropped_far_from_stamp,
                "dropped_late": self.dropped_late,
                "late_events": self.late_events,
                "rejected_too_large": self.rejected_too_large,
                "windows_ready": self.windows_ready,
                "windows_waited": self.windows_waited,
                "windows_incomplete": self.windows_incomplete,
                "sequence_gaps": self.sequence.gaps,
                "missing_packets": self.sequence.missing,
                "sequence_restarts": self.sequence.restarts,
            }

    def note_sequence(self, seq: int) -> None:
        """Record a packet's sequence number without adding events (e.g. for a packet that could not
        be decoded), so that gaps are still counted."""
        with self._lock:
            self.sequence.note(seq)

    def add(self, x, y, t_ns, polarity, *, stamp_ns: int | None = None, covers_until_ns: int | None = None,
            seq: int | None = None) -> None:
        """Store one packet of events.

        Args:
            x, y: 1-D integer arrays, pixel column and row; must fit in int32.
            t_ns: 1-D integer array, timestamps in nanoseconds (int64). Floats are refused because a
                float64 cannot hold present-day epoch nanoseconds exactly.
            polarity: 1-D bool, or integers 0/1 or -1/1 (1/True = ON).
            stamp_ns: the packet's header stamp; events further than ``max_time_skew_ns`` from it are
                dropped (counted). Without it the packet's median event time is the reference.
            covers_until_ns: the stream has delivered everything before this time once this packet is
                in (default: the packet's newest kept event). Pass the header stamp for packets whose
                stamp marks their end, or for empty packets, so a quiet scene still completes windows.
            seq: the message's sequence number, checked for gaps.

        Raises:
            InputError: ``"event_input"``, ``"event_polarity"`` or ``"event_packet_too_large"``;
            nothing is stored in that case (a sequence number given is still recorded).
        """
        if seq is not None:
            with self._lock:
                self.sequence.note(seq)
        xs = _coordinates(x, "x")
        ys = _coordinates(y, "y")
        times = _as_1d(t_ns, "t_ns")
        length = xs.shape[0]
        if ys.shape[0] != length or times.shape[0] != length:
            raise InputError(
                "event_input", f"events: x, y, t_ns have {length}, {ys.shape[0]}, {times.shape[0]} entries"
            )
        if length > self.max_packet_events:
            with self._lock:
                self.rejected_too_large += 1
            raise InputError("event_packet_too_large", f"events: a packet of {length} events is above the limit "
                             f"of {self.max_packet_events} (max_packet_events)")
        if times.dtype.kind not in "iu":
            raise InputError("event_input", f"events: t_ns must be integer nanoseconds, got {times.dtype}")
        if times.dtype == np.uint64 and length and int(times.max()) > np.iinfo(np.int64).max:
            raise InputError("event_input", "events: t_ns does not fit in int64 nanoseconds")
        for name, coords in (("x", xs), ("y", ys)):
            if coords.dtype.itemsize >= 4 and length and (coords.min() < _INT32.min or coords.max() > _INT32.max):
                raise InputError("event_input", f"events: {name} does not fit in int32")
        on = _polarity_on(polarity, length)
        for name, value in (("stamp_ns", stamp_ns), ("covers_until_ns", covers_until_ns)):
            if value is not None and (isinstance(value, bool) or not isinstance(value, (int, np.integer))):
                raise InputError("event_input", f"events: {name} must be integer ns, got {value!r}")
        times = times.astype(np.int64)
        keep = None
        far = 0
        if length:
            reference = int(stamp_ns) if stamp_ns is not None else _middle_value(times)
            # |t - reference| <= skew, written so that no int64 subtraction can overflow
            lowest = max(reference - self.max_time_skew_ns, np.iinfo(np.int64).min)
            highest = min(reference + self.max_time_skew_ns, np.iinfo(np.int64).max)
            keep = (times >= lowest) & (times <= highest)
            far = length - int(np.count_nonzero(keep))
        with self._lock:
            self.dropped_far_from_stamp += far
            late = 0
            if length and self._taken_window is not None:
                taken_start, taken_end = self._taken_window
                arrived_late = times < taken_end
                if keep is not None:
                    arrived_late &= keep
                late = int(np.count_nonzero(arrived_late))
                if late:
                    self.late_events += late
                    useless = arrived_late & (times < taken_start)
                    dropped = int(np.count_nonzero(useless))
                    if dropped:
                        self.dropped_late += dropped
                        keep = ~useless if keep is None else keep & ~useless
            if keep is not None and not keep.all():
                xs, ys, times, on = xs[keep], ys[keep], times[keep], on[keep]
            covered = covers_until_ns
            if times.shape[0]:
                packet = (
                    xs.astype(np.int32),
                    ys.astype(np.int32),
                    times,  # already a copy (astype above)
                    on.astype(bool, copy=True),
                )
                self._packets.append(packet)
                self._count += packet[2].shape[0]
                packet_newest = int(packet[2].max())
                if self._newest_t_ns is None or packet_newest > self._newest_t_ns:
                    self._newest_t_ns = packet_newest
                if covered is None:
                    covered = packet_newest
                if self.max_age_ns is not None:
                    self.dropped_stale += self._discard_older_than(self._newest_t_ns - self.max_age_ns)
                self._enforce_max_events()
            if covered is not None and (self._covered_until_ns is None or int(covered) > self._covered_until_ns):
                self._covered_until_ns = int(covered)
            self._arrived.notify_all()

    def window_complete(self, t_end_ns: int) -> bool:
        """True once the stream has delivered every event before ``t_end_ns`` (no waiting, no counting)."""
        with self._lock:
            return self._covered_until_ns is not None and self._covered_until_ns >= t_end_ns

    def wait_for_window(self, t_end_ns: int, deadline: float, *, clock=time.monotonic) -> bool:
        """Wait until the window ending at ``t_end_ns`` is complete, or until ``clock() >= deadline``.

        ``deadline`` is a value of ``clock`` (``time.monotonic()`` seconds by default), so the caller
        bounds the wait: e.g. ``time.monotonic() + event_wait_timeout``. Returns True if the window is
        complete; False if the deadline passed first (then render what is there: the rest of the
        window's events will arrive late and be counted as such). Counted in ``windows_ready``
        (complete at once), ``windows_waited`` (complete after waiting) or ``windows_incomplete``.
        """
        with self._lock:
            waited = False
            while self._covered_until_ns is None or self._covered_until_ns < t_end_ns:
                remaining = deadline - clock()
                if remaining <= 0:
                    self.windows_incomplete += 1
                    return False
                waited = True
                self._arrived.wait(timeout=remaining)
            if waited:
                self.windows_waited += 1
            else:
                self.windows_ready += 1
            return True

    def take(self, t_start_ns: int, t_end_ns: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """Return the events with ``t_start_ns <= t < t_end_ns`` and discard everything older than
        ``t_start_ns``.

        Returns:
            ``(x, y, t, p)``: 1-D arrays of equal length, ``x``/``y`` int32 pixels, ``t`` int64 ns,
            ``p`` bool (True = ON), in arrival order (not re-sorted). Events at or after ``t_end_ns``
            remain stored.

        Raises:
            InputError: ``"event_window"`` unless ``t_start_ns < t_end_ns`` (both integers).
        """
        for value in (t_start_ns, t_end_ns):
            if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
                raise InputError("event_window", f"events: window bounds must be integer ns, got {value!r}")
        t_start_ns, t_end_ns = int(t_start_ns), int(t_end_ns)
        if not t_start_ns < t_end_ns:
            raise InputError("event_window", f"events: empty time window [{t_start_ns}, {t_end_ns})")
        with self._lock:
            selected = []
            for xs, ys, times, on in self._packets:
                mask = (times >= t_start_ns) & (times < t_end_ns)
                if mask.any():
                    selected.append((xs[mask], ys[mask], times[mask], on[mask]))
            self.discarded_before_window += self._discard_older_than(t_start_ns)
            if self._taken_window is None or t_end_ns > self._taken_window[1]:
                self._taken_window = (t_start_ns, t_end_ns)
        if not selected:
            return (
                np.empty(0, np.int32),
                np.empty(0, np.int32),
                np.empty(0, np.int64),
                np.empty(0, bool),
            )
        return tuple(np.concatenate(column) for column in zip(*selected))  # type: ignore[return-value]

    # The helpers below run with the lock held.

    def _discard_older_than(self, cutoff_ns: int) -> int:
        kept = []
        removed = 0
        for packet in self._packets:
            keep = packet[2] >= cutoff_ns
            n_keep = int(np.count_nonzero(keep))
            removed += packet[2].shape[0] - n_keep
            if n_keep == packet[2].shape[0]:
                kept.append(packet)
            elif n_keep:
                kept.append(tuple(column[keep] for column in packet))
        self._packets = kept
        self._count -= removed
        return removed

    def _enforce_max_events(self) -> None:
        excess = self._count - self.max_events
        while excess > 0:
            oldest = self._packets[0]
            size = oldest[2].shape[0]
            if size <= excess:
                self._packets.pop(0)
                dropped = size
            else:
                self._packets[0] = tuple(column[excess:] for column in oldest)
                dropped = excess
            self._count -= dropped
            self.dropped_overflow += dropped
            excess -= dropped
