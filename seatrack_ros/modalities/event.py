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

import cv2
import numpy as np

from seatrack_ros.errors import InputError

ON_BGR = (30, 30, 220)
OFF_BGR = (200, 30, 30)
BACKGROUND = 255

_LABEL_ON, _LABEL_OFF = 1, 2
_PALETTE_BGR = np.array([(BACKGROUND,) * 3, ON_BGR, OFF_BGR], dtype=np.uint8)  # indexed by label

_INT32 = np.iinfo(np.int32)


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


def _check_size(height: int, width: int) -> tuple[int, int]:
    try:
        height_i, width_i = int(height), int(width)
    except (TypeError, ValueError) as exc:
        raise InputError("shape", f"events: height and width must be integers, got {height!r}, {width!r}") from exc
    if height_i != height or width_i != width or height_i <= 0 or width_i <= 0:
        raise InputError("shape", f"events: height and width must be positive integers, got {height!r}, {width!r}")
    return height_i, width_i


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

    Returns:
        ``(H, W, 3)`` ``uint8`` in **RGB** order: white (255, 255, 255) where no event fell,
        ON pixels RGB (220, 30, 30), OFF pixels RGB (30, 30, 200); a pixel with both is OFF
        (VisEvent's rule, see the module docstring). With no events the frame is all white.

    Raises:
        InputError: ``"event_input"`` (mismatched lengths, non-integer coordinates, missing ``t``),
            ``"event_polarity"``, ``"event_window"`` (``t_start >= t_end``), ``"shape"`` (bad size),
            ``"event_out_of_range"``.
    """
    height, width = _check_size(height, width)
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


class EventWindowBuffer:
    """Holds incoming event packets until the RGB frame whose window they belong to takes them.

    Events are stored as packets arrive (``x``/``y`` int32 pixels, ``t`` int64 nanoseconds,
    polarity bool with True = ON). Memory is bounded three ways:

    - :meth:`take` discards every event older than the window it was asked for (``t < t_start_ns``),
      on the assumption that later frames ask for later windows; events at or after ``t_end_ns`` stay
      for the next frame. The count is in ``discarded_before_window``.
    - At most ``max_events`` events are kept; when an :meth:`add` goes over, the oldest-arrived events
      are dropped first and counted in ``dropped_overflow``.
    - With ``max_age_ns``, events older than ``newest timestamp seen - max_age_ns`` are dropped on
      :meth:`add` (useful when RGB frames stop arriving) and counted in ``dropped_stale``.

    Packets need not be in time order; windows are selected by timestamp, not position. All methods
    are safe to call from several threads (ROS callbacks on a multi-threaded executor).
    """

    def __init__(self, max_events: int = 5_000_000, max_age_ns: int | None = None) -> None:
        if isinstance(max_events, bool) or not isinstance(max_events, (int, np.integer)) or max_events <= 0:
            raise InputError("event_buffer_config", f"max_events must be a positive integer, got {max_events!r}")
        if max_age_ns is not None and (
            isinstance(max_age_ns, bool) or not isinstance(max_age_ns, (int, np.integer)) or max_age_ns <= 0
        ):
            raise InputError("event_buffer_config", f"max_age_ns must be a positive integer or None, got {max_age_ns!r}")
        self.max_events = int(max_events)
        self.max_age_ns = None if max_age_ns is None else int(max_age_ns)
        self.dropped_overflow = 0
        self.dropped_stale = 0
        self.discarded_before_window = 0
        self._packets: list[tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]] = []
        self._count = 0
        self._newest_t_ns: int | None = None
        self._lock = threading.Lock()

    def __len__(self) -> int:
        with self._lock:
            return self._count

    @property
    def newest_t_ns(self) -> int | None:
        """Largest timestamp added so far (int64 ns), or None before the first event."""
        with self._lock:
            return self._newest_t_ns

    def clear(self) -> None:
        """Forget all stored events (e.g. after a time jump such as a bag restart); counters stay."""
        with self._lock:
            self._packets.clear()
            self._count = 0
            self._newest_t_ns = None

    def add(self, x, y, t_ns, polarity) -> None:
        """Store one packet of events.

        Args:
            x, y: 1-D integer arrays, pixel column and row; must fit in int32.
            t_ns: 1-D integer array, timestamps in nanoseconds (int64). Floats are refused because a
                float64 cannot hold present-day epoch nanoseconds exactly.
            polarity: 1-D bool, or integers 0/1 or -1/1 (1/True = ON).

        Raises:
            InputError: ``"event_input"`` or ``"event_polarity"``; nothing is stored in that case.
        """
        xs = _coordinates(x, "x")
        ys = _coordinates(y, "y")
        times = _as_1d(t_ns, "t_ns")
        length = xs.shape[0]
        if ys.shape[0] != length or times.shape[0] != length:
            raise InputError(
                "event_input", f"events: x, y, t_ns have {length}, {ys.shape[0]}, {times.shape[0]} entries"
            )
        if times.dtype.kind not in "iu":
            raise InputError("event_input", f"events: t_ns must be integer nanoseconds, got {times.dtype}")
        if times.dtype == np.uint64 and length and int(times.max()) > np.iinfo(np.int64).max:
            raise InputError("event_input", "events: t_ns does not fit in int64 nanoseconds")
        for name, coords in (("x", xs), ("y", ys)):
            if coords.dtype.itemsize >= 4 and length and (coords.min() < _INT32.min or coords.max() > _INT32.max):
                raise InputError("event_input", f"events: {name} does not fit in int32")
        on = _polarity_on(polarity, length)
        if length == 0:
            return
        packet = (
            xs.astype(np.int32),
            ys.astype(np.int32),
            times.astype(np.int64),
            on.astype(bool, copy=True),
        )
        with self._lock:
            self._packets.append(packet)
            self._count += length
            packet_newest = int(packet[2].max())
            if self._newest_t_ns is None or packet_newest > self._newest_t_ns:
                self._newest_t_ns = packet_newest
            if self.max_age_ns is not None:
                self.dropped_stale += self._discard_older_than(self._newest_t_ns - self.max_age_ns)
            self._enforce_max_events()

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
