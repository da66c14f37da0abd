"""Event-camera input of the node, without ROS: packets in (callback thread), one event window per RGB
frame out (worker thread), with a bounded wait for the packet that closes the window.

Two message types carry events, both handled alike:

- ``event_camera_msgs/EventPacket`` (``aux_transport: event_packet``), what the drivers publish (evt3
  from metavision_driver, mono from older tools): :class:`EventPacketInput`, decoded by
  :class:`~seatrack_ros.modalities.event_packet.EventPacketStream` onto the ROS clock;
- our ``seatrack_ros/EventArray`` (``aux_transport: events``): :class:`EventArrayInput`.

An RGB frame stamped ``T`` whose previous RGB frame was stamped ``P`` gets the events with
``max(P, T - max_window) <= t < T``. A driver cuts its packets by its own clock, so the packet holding
the last events before ``T`` may arrive after the RGB frame; the worker therefore waits, at most
``wait_s`` (the ``event_wait_timeout`` parameter), until the stream has delivered everything before
``T`` (a packet reaching ``T`` arrived), then renders. Past the bound it renders what is there: the
window is counted as incomplete, and the events that come afterwards are counted as late. So the
pipeline is never held up by more than the bound, also when the event camera stops altogether (the
frame is then tracked on RGB with an empty event frame).

Pairing: with events the RGB frame alone drives the pipeline, so :class:`RgbPacer` replaces the
stamp synchroniser: every RGB frame is a "pair" at once (newest first, superseded ones counted,
exactly as the synchroniser delivers pairs), and event packets are only counted (``aux_received``).

Problems go to ``report(kind, message)`` (the node's ``ProblemCounter``: logged once per kind, then
counted), one call per packet or window affected; the exact event counts are in :meth:`counters`
(``~/stats``, key ``events``). Kinds: a refused packet's own kind (``event_packet_encoding``,
``event_packet_geometry``, ``event_packet_size``, ``event_packet_too_large``, ...; EventArray:
``event_size``, ``event_input``, ``event_polarity``), ``event_out_of_range``,
``event_sequence_gap``, ``event_time_backwards``, ``event_stream_restart``,
``event_far_from_stamp``, ``event_unknown_words``, ``event_window_incomplete``, ``event_late``.
"""

from __future__ import annotations

import operator
import threading
import time
from dataclasses import dataclass
from typing import Any, Callable, Optional

import numpy as np

from seatrack_ros.errors import InputError
from seatrack_ros.modalities.event_packet import EventPacketStream
from seatrack_ros.streams.event_arrays import EventFrames
from seatrack_ros.streams.stamps import header_stamp_ns
from seatrack_ros.streams.sync import MatchedPair, StampSynchronizer

Report = Callable[[str, str], Any]
#: The node's event_wait_timeout default: the longest an RGB frame waits for its window's events. The
#: drivers send a packet every millisecond or so; 50 ms also covers a loaded machine's delivery delay
#: at the cost of at most one and a half 30 Hz frames when the event camera is silent.
DEFAULT_EVENT_WAIT_S = 0.05


def window_bounds(rgb_stamp_ns: int, previous_rgb_stamp_ns: int, max_window_ns: int) -> tuple[int, int]:
    """``[t_start, t_end)`` of the RGB frame at ``rgb_stamp_ns``: from the previous RGB stamp (0: none),
    at most ``max_window_ns`` long."""
    t_start = rgb_stamp_ns - max_window_ns
    if t_start < previous_rgb_stamp_ns < rgb_stamp_ns:
        t_start = previous_rgb_stamp_ns
    return t_start, rgb_stamp_ns


@dataclass(frozen=True)
class EventWindow:
    """One RGB frame's events: ``events`` = ``(x, y, t_ns, polarity)`` (int32, int32, int64, bool);
    ``sensor_hw`` = the event sensor's (height, width), None before any packet decoded; ``complete``:
    the stream had delivered the whole window when it was taken; ``waited_s``: time spent waiting."""

    events: tuple
    sensor_hw: Optional[tuple[int, int]]
    t_start_ns: int
    t_end_ns: int
    complete: bool
    waited_s: float

    def __len__(self) -> int:
        return int(self.events[0].shape[0])


class _EventInput:
    """What both inputs share: the bounded wait, the window report, the last window's facts."""

    def __init__(self, max_window_ns: int, report: Report) -> None:
        self.max_window_ns = int(max_window_ns)
        self._report = report
        self._lock = threading.Lock()  # callbacks may run on several executor threads
        self.last_window: Optional[EventWindow] = None
        self._late_seen = 0

    @property
    def buffer(self):
        raise NotImplementedError

    @property
    def sensor_hw(self) -> Optional[tuple[int, int]]:
        raise NotImplementedError

    def window(self, rgb_stamp_ns: int, previous_rgb_stamp_ns: int, wait_s: float) -> EventWindow:
        """The events of the RGB frame at ``rgb_stamp_ns``, after waiting at most ``wait_s`` seconds for
        the stream to deliver them (see the module docstring)."""
        t_start, t_end = window_bounds(rgb_stamp_ns, previous_rgb_stamp_ns, self.max_window_ns)
        started = time.monotonic()
        complete = self.buffer.wait_for_window(t_end, started + max(0.0, float(wait_s)))
        waited = time.monotonic() - started
        events = self.buffer.take(t_start, t_end)
        window = EventWindow(events, self.sensor_hw, t_start, t_end, complete, waited)
        self.last_window = window
        if not complete:
            covered = self.buffer.covered_until_ns
            behind = "no event packet yet" if covered is None else (
                f"the stream had reached {(t_end - covered) / 1e6:.1f} ms before its end")
            self._report("event_window_incomplete", (
                f"event window of the RGB frame at {t_end} ns not complete after event_wait_timeout "
                f"{wait_s} s ({behind}): rendered with the {len(window)} events that had arrived "
                "(event packets late or missing)"))
        return window

    def _note_late(self) -> None:
        """Report events that arrived after the window covering them was rendered (once per packet)."""
        late = self.buffer.late_events
        if late > self._late_seen:
            self._report("event_late", (
                f"{late - self._late_seen} event(s) arrived after their RGB frame's window was rendered "
                "(raise event_wait_timeout if the event stream lags behind the RGB camera)"))
            self._late_seen = late

    def counters(self) -> dict[str, Any]:
        """The stream's counters for ``~/stats``, plus the last window's event count and completeness."""
        merged = self._counters()
        last = self.last_window
        merged["last_window_events"] = len(last) if last is not None else 0
        merged["last_window_complete"] = bool(last.complete) if last is not None else False
        return merged

    def _counters(self) -> dict[str, Any]:
        raise NotImplementedError

    def clear(self) -> None:
        raise NotImplementedError


class EventPacketInput(_EventInput):
    """``event_camera_msgs/EventPacket`` messages (duck-typed: any object with its fields)."""

    def __init__(self, max_window_ns: int, report: Report, **stream_options) -> None:
        super().__init__(max_window_ns, report)
        self.stream = EventPacketStream(**stream_options)
        self._seen = self._watched()

    @property
    def buffer(self):
        return self.stream.buffer

    @property
    def sensor_hw(self) -> Optional[tuple[int, int]]:
        return self.stream.sensor_hw

    def packet_stamp(self, msg) -> int:
        """The header stamp, what the packet stands for in the time-jump check. Raises InputError
        ``aux_no_stamp`` for an unstamped packet (its events could not be put on the ROS clock)."""
        stamp_ns = header_stamp_ns(msg)
        if stamp_ns <= 0:
            raise InputError("aux_no_stamp", "EventPacket without header.stamp dropped (its events cannot "
                                             "be put on the ROS clock)")
        return stamp_ns

    def add(self, msg) -> None:
        """Decode and store one packet; reports what went wrong with it. Raises the decoder's
        InputError for a packet refused whole (its ``kind``: see the module docstring)."""
        with self._lock:
            decoded = self.stream.add_message(msg)  # EventPacketError (an InputError) propagates
            width, height = int(msg.width), int(msg.height)
            if decoded.dropped_outside:
                self._report("event_out_of_range", (
                    f"{decoded.dropped_outside} event(s) outside the {width}x{height} sensor dropped"))
            if decoded.time_went_backwards:
                self._report("event_time_backwards", (
                    f"EventPacket seq {int(msg.seq)} starts before the previous packet ended (sensor time "
                    "went backwards): its events are kept, the ROS clock mapping restarted"))
            if decoded.unknown_words:
                self._report("event_unknown_words", (
                    f"EventPacket seq {int(msg.seq)}: {decoded.unknown_words} evt3 word(s) of a reserved "
                    "type skipped"))
            self._note_counters(int(msg.seq))
            self._note_late()

    def _watched(self) -> dict[str, int]:
        counters = self.stream.counters()
        return {name: counters[name] for name in (
            "sequence_gaps", "missing_packets", "stream_restarts", "dropped_far_from_stamp")}

    def _note_counters(self, seq: int) -> None:
        now = self._watched()
        seen, self._seen = self._seen, now
        if now["sequence_gaps"] > seen["sequence_gaps"]:
            self._report("event_sequence_gap", (
                f"{now['missing_packets'] - seen['missing_packets']} EventPacket(s) missing before seq {seq} "
                "(sequence gap: lost in transport or dropped by the driver)"))
        if now["stream_restarts"] > seen["stream_restarts"]:
            self._report("event_stream_restart", (
                f"EventPacket encoding or sensor size changed at seq {seq}: the decoder started a new stream"))
        if now["dropped_far_from_stamp"] > seen["dropped_far_from_stamp"]:
            self._report("event_far_from_stamp", (
                f"EventPacket seq {seq}: {now['dropped_far_from_stamp'] - seen['dropped_far_from_stamp']} "
                "event(s) more than 1 s from the header stamp dropped"))

    def _counters(self) -> dict[str, Any]:
        return self.stream.counters()

    def clear(self) -> None:
        self.stream.clear()


class EventArrayInput(_EventInput):
    """``seatrack_ros/EventArray`` messages (decoded fields; the header stamp is the packet's end)."""

    def __init__(self, max_window_ns: int, report: Report) -> None:
        super().__init__(max_window_ns, report)
        self.frames = EventFrames(max_window_ns)
        self.packets = 0

    @property
    def buffer(self):
        return self.frames.buffer

    @property
    def sensor_hw(self) -> Optional[tuple[int, int]]:
        return self.frames.sensor_hw

    def packet_stamp(self, msg) -> int:
        """See :meth:`EventFrames.packet_stamp` (raises InputError for a malformed packet)."""
        return self.frames.packet_stamp(msg)

    def add(self, msg) -> None:
        with self._lock:
            self.frames.store(msg)
            self.packets += 1
            self._note_late()

    def window(self, rgb_stamp_ns: int, previous_rgb_stamp_ns: int, wait_s: float) -> EventWindow:
        window = super().window(rgb_stamp_ns, previous_rgb_stamp_ns, wait_s)
        if window.sensor_hw is not None and len(window):
            x, y = window.events[0], window.events[1]
            height, width = window.sensor_hw
            outside = int(np.count_nonzero((x < 0) | (x >= width) | (y < 0) | (y >= height)))
            if outside:
                self._report("event_out_of_range", f"{outside} event(s) outside the {width}x{height} "
                                                   "sensor ignored")
        return window

    def _counters(self) -> dict[str, Any]:
        return dict(self.buffer.counters(), packets=self.packets)

    def clear(self) -> None:
        self.frames.clear()


def make_event_input(aux_transport: str, max_window_ns: int, report: Report):
    """The input for ``aux_transport`` ``event_packet`` or ``events``; None for image transports."""
    if aux_transport == "event_packet":
        return EventPacketInput(max_window_ns, report)
    if aux_transport == "events":
        return EventArrayInput(max_window_ns, report)
    return None


class RgbPacer(StampSynchronizer):
    """The synchroniser for event inputs: each RGB frame is delivered as a pair on its own (``aux`` is
    None; the worker cuts its event window from the buffer), with the same delivery policy and
    counters as :class:`StampSynchronizer` (newest first, ``superseded``, ``too_old``,
    ``stamp_zero``). Auxiliary messages (event packets) are only counted in ``aux_received``."""

    def add_rgb(self, stamp_ns: int, item) -> bool:
        stamp_ns = operator.index(stamp_ns)
        with self._cond:
            if self._closed:
                return False
            stats = self._stats
            stats.rgb_received += 1
            if stamp_ns <= 0:
                stats.stamp_zero += 1
                return False
            if stamp_ns <= self._watermark_ns[0]:  # older or repeated: a pair older than one delivered
                stats.too_old += 1
                return False
            self._watermark_ns[0] = stamp_ns
            if self._pending is not None:
                stats.superseded += 1
            self._pending = MatchedPair(stamp_ns, stamp_ns, item, None, time.monotonic_ns())
            stats.matched += 1
            self._cond.notify_all()
            return True

    def add_aux(self, stamp_ns: int, item) -> bool:
        """Count an event packet; returns True (it never waits for a partner)."""
        with self._cond:
            if self._closed:
                return False
            self._stats.aux_received += 1
            return True
