"""seatrack_ros/EventArray fields -> numpy event arrays, validated (duck-typed, rclpy-free)."""

from __future__ import annotations

from typing import Any

import numpy as np

from seatrack_ros.errors import InputError


def _field(data: Any, dtype) -> np.ndarray:
    return np.frombuffer(data, dtype=dtype) if len(data) else np.zeros(0, dtype)


def event_arrays(msg: Any) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """``(x, y, t_ns, polarity)`` views of an EventArray's fields (uint16, uint16, int64, uint8).

    Raises InputError ``event_size`` (sensor height or width 0), ``event_input`` (arrays of different
    lengths) or ``event_polarity`` (a polarity other than 0/1).
    """
    x = _field(msg.x, np.uint16)
    y = _field(msg.y, np.uint16)
    t = _field(msg.t_ns, np.int64)
    p = _field(msg.polarity, np.uint8)
    if msg.height == 0 or msg.width == 0:
        raise InputError("event_size", "EventArray with height or width 0 dropped")
    if not (len(x) == len(y) == len(t) == len(p)):
        raise InputError(
            "event_input",
            f"EventArray with arrays of different lengths "
            f"(x {len(x)}, y {len(y)}, t_ns {len(t)}, polarity {len(p)}) dropped",
        )
    if len(p) and int(p.max()) > 1:
        raise InputError("event_polarity", "EventArray polarity values other than 0/1 dropped")
    return x, y, t, p


class EventFrames:
    """EventArray packets in, one event window per RGB frame out (the node's raw-event path).

    Each RGB frame gets the events between the previous RGB stamp and its own, at most ``max_window_ns``
    (also the first frame's window). Events outside the sensor are counted and dropped when rendered.
    """

    def __init__(self, max_window_ns: int, max_age_ns: int = 2_000_000_000) -> None:
        from seatrack_ros.modalities import EventWindowBuffer

        self.max_window_ns = int(max_window_ns)
        self.buffer = EventWindowBuffer(max_age_ns=max_age_ns)
        self.sensor_hw: tuple[int, int] | None = None

    def packet_stamp(self, msg: Any) -> int:
        """Check a packet; returns the stamp it stands for ("events up to here arrived"):
        the header stamp, or the newest event's time when the header is unset.

        Raises InputError (see `event_arrays`; ``aux_no_stamp`` for an unstamped, empty packet; the
        buffer's own kinds, prefixed "EventArray dropped").
        """
        from seatrack_ros.streams.stamps import checked_header_stamp_ns

        x, y, t, p = event_arrays(msg)
        stamp_ns = checked_header_stamp_ns(msg, "aux")
        if stamp_ns <= 0:
            if len(t) == 0:
                raise InputError("aux_no_stamp", "EventArray without header.stamp or events dropped")
            stamp_ns = int(t.max())
        return stamp_ns

    def store(self, msg: Any) -> None:
        """After `packet_stamp` and the caller's clock checks: keep the packet's events."""
        from seatrack_ros.streams.stamps import header_stamp_ns

        x, y, t, p = event_arrays(msg)
        stamp_ns = header_stamp_ns(msg)
        try:
            # The header stamp is the packet's end: the stream has delivered everything up to it, so an
            # RGB frame stamped there has its whole window (the bounded wait ends at once).
            self.buffer.add(x, y, t, p, covers_until_ns=stamp_ns if stamp_ns > 0 else None)
        except InputError as exc:
            raise InputError(exc.kind, f"EventArray dropped: {exc}") from None
        self.sensor_hw = (int(msg.height), int(msg.width))

    def clear(self) -> None:
        self.buffer.clear()

    def window(self, rgb_stamp_ns: int, previous_rgb_stamp_ns: int) -> tuple[tuple, tuple[int, int], int]:
        """(events, sensor (H, W), how many lie outside the sensor) for the RGB frame at ``rgb_stamp_ns``."""
        from seatrack_ros.modalities import count_out_of_range

        t_start = rgb_stamp_ns - self.max_window_ns
        if previous_rgb_stamp_ns and previous_rgb_stamp_ns > t_start:
            t_start = previous_rgb_stamp_ns
        x, y, t, p = self.buffer.take(t_start, rgb_stamp_ns)
        height, width = self.sensor_hw
        return (x, y, t, p), (height, width), count_out_of_range(x, y, height, width)
