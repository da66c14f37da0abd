"""Decoding ``event_camera_msgs/msg/EventPacket``: what ROS 2 event-camera drivers publish.

metavision_driver (Prophesee sensors) publishes the sensor's raw ``evt3`` stream; older drivers and
tools publish ``mono``. Both are decoded here with numpy, a whole packet at a time (no per-event Python
loop), into ``x``, ``y`` (uint16 pixels), ``t_ns`` (int64 nanoseconds of sensor time) and ``polarity``
(uint8, 1 = ON), with external-trigger events kept apart. The results follow event_camera_codecs, the
decoder the ROS drivers ship with, event for event (the tests check its published checksums on its
own recordings).

Encodings
---------
``evt3`` (Prophesee EVT 3.0): a stream of little-endian 16-bit words whose top 4 bits give the word type.
The format only sends what changed, so the decoder keeps state across packets: the current row
(``EVT_ADDR_Y``), the 24-bit microsecond time split into a high part (``EVT_TIME_HIGH``, bits 12-23)
and a low part (``EVT_TIME_LOW``, bits 0-11), the base column and polarity of vector events
(``VECT_BASE_X``, advanced by 12 or 8 after each ``VECT_12`` / ``VECT_8``), and the number of times
the 24-bit clock wrapped (every 2^24 us = 16.8 s; a time-high value that drops by more than 10
counts as a wrap, as in event_camera_codecs, whose tolerance absorbs small backward steps of the
sensor's high word). Nothing is emitted until a time-high word and then a time-low word have been
seen, because the first packets of a stream may begin mid-state. Times are microseconds, returned
in nanoseconds (x 1000). ``time_base`` is unused by evt3. CD events outside the declared sensor are
dropped and counted (event_camera_codecs drops them silently). Word types the decoder does not use
(``OTHERS``, ``CONTINUED_4``, ``CONTINUED_12``) are skipped; the reserved types 1, 9, 11, 12, 13 are
skipped and counted (``unknown_words``) where event_camera_codecs would abort the packet.

``mono`` (deprecated in event_camera_msgs): 64 bits per event: bit 63 polarity, bits 48-62 y,
bits 32-47 x, bits 0-31 a time offset in ns added to the packet's ``time_base``. No state.

Sensor time and ROS time
------------------------
The decoded ``t_ns`` is the sensor's clock, which is what event_camera_codecs returns and what its
checksums pin down. An RGB camera's frames are stamped on the ROS clock, so to cut an RGB frame's
window the events need ROS times. :attr:`DecodedEvents.ros_offset_ns` gives the offset to add:

- mono: ``header.stamp - time_base`` (event_camera_msgs: "to recover the best estimate ROS sensor time
  stamp add dt to the header stamp");
- evt3: metavision_driver stamps a packet with the host time at which its first SDK buffer arrived
  and leaves ``time_base`` at 0, so ``header.stamp - (sensor time of the packet's first event)`` is
  the clock offset plus that packet's transport delay, which jitters by about a millisecond. The
  offset used is the smallest of these over the last 2 s of sensor time (:class:`RosClockMapper`):
  the least-delayed packet is the best estimate, a short window follows the drift between the two
  clocks, and consecutive packets no longer overlap on the ROS clock by their jitter. A jump of the
  raw offset by more than a second, or sensor time going backwards, restarts the estimate.

Bad input
---------
Every packet-level problem raises :class:`EventPacketError` (an :class:`~seatrack_ros.errors.InputError`)
with a stable ``kind``, counted in :attr:`EventPacketDecoder.counters`, before anything sized by the
packet is allocated; the decoder's state is then unchanged, so the next good packet decodes
normally. Kinds: ``event_packet_encoding`` (not evt3 / mono), ``event_packet_geometry`` (width or
height 0, or above the limits), ``event_packet_size`` (a byte count that is not a whole number of
words: a truncated packet), ``event_packet_too_large`` (bytes or events above the limits),
``event_packet_byte_order`` (big-endian evt3), ``event_packet_time`` (a mono time base that does not
fit in int64 nanoseconds). Event-level problems are dropped and counted, never raised:
``dropped_outside`` (pixel outside the sensor), ``unknown_words``; ``time_backwards`` counts packets
whose first event is older than the previous packet's last event (the events are kept; a window
buffer downstream decides what a late event is worth).
"""

from __future__ import annotations

import dataclasses
import threading
from typing import Optional

import numpy as np

from seatrack_ros.errors import InputError
from seatrack_ros.modalities.event import DEFAULT_MAX_PACKET_EVENTS, DEFAULT_MAX_SENSOR_PIXELS

ENCODINGS = ("evt3", "mono")
#: Largest ``events`` payload accepted by default. Drivers send packets of a few kB to a few hundred
#: kB (metavision_driver: about 1 ms of events or a size threshold). Decoding holds about 25 bytes per
#: payload byte plus 65 per decoded event at its peak (measured with tracemalloc), so with both
#: defaults one packet costs at most a few hundred MB, however it is made.
DEFAULT_MAX_PACKET_BYTES = 4 * 1024 * 1024
# The most CD events one packet may decode to defaults to the window buffer's per-packet limit,
# DEFAULT_MAX_PACKET_EVENTS (a 4 MB evt3 packet of vector words could hold ~25M events; a real 1 ms
# packet at 100 Mev/s holds 100k).

# EVT 3.0 word types (the top 4 bits of each 16-bit word).
_ADDR_Y, _ADDR_X, _VECT_BASE_X, _VECT_12, _VECT_8, _TIME_LOW, _TIME_HIGH, _EXT_TRIGGER = 0, 2, 3, 4, 5, 6, 8, 10
# CONTINUED_4, OTHERS, CONTINUED_12 (7, 14, 15) carry nothing this decoder uses; 1, 9, 11, 12 and 13
# are reserved (counted as unknown_words).
# A time-high value that drops by more than this is a wrap of the 24-bit clock; smaller drops happen
# without one (event_camera_codecs uses the same tolerance, so the decoded times agree).
_WRAP_TOLERANCE = 10
# For a 12-bit validity mask: how many bits are set, and the position of its k-th set bit.
_POPCOUNT_12 = np.array([bin(v).count("1") for v in range(4096)], dtype=np.int64)
_KTH_SET_BIT = np.zeros((4096, 12), dtype=np.int64)
for _value in range(4096):
    _set = [bit for bit in range(12) if _value >> bit & 1]
    _KTH_SET_BIT[_value, :len(_set)] = _set
del _value, _set
_KTH_SET_BIT = _KTH_SET_BIT.ravel()  # [mask * 12 + k]
# (Comparisons rather than table lookups classify the word types below, and gathers use intp indices:
# both several times faster in numpy on arrays of this size.)
_US_TO_NS = 1000


class EventPacketError(InputError):
    """An EventPacket that cannot be decoded; ``kind`` says why (see the module docstring)."""


@dataclasses.dataclass
class DecodedEvents:
    """The events of one packet (or of the part decoded before a time limit).

    ``x``, ``y``: uint16 pixels; ``t_ns``: int64 sensor time in ns; ``polarity``: uint8, 1 = ON.
    ``trigger_t_ns`` (int64), ``trigger_edge`` (uint8, 1 = rising), ``trigger_id`` (uint8): external
    trigger events. ``complete`` is False when decoding stopped at ``until_ns``; then
    ``consumed_bytes`` says where (decode ``events[consumed_bytes:]`` later to continue) and
    ``next_time_ns`` is the sensor time at that point. ``end_t_ns`` is the sensor time the stream has
    reached after this packet (evt3: its clock after the last word decoded, even in a packet without
    events; mono: the last event, or ``time_base``): everything before it has been delivered.
    ``ros_offset_ns`` is what to add to sensor times for the ROS-clock estimate (None until a packet
    anchored it).
    """

    x: np.ndarray
    y: np.ndarray
    t_ns: np.ndarray
    polarity: np.ndarray
    trigger_t_ns: np.ndarray
    trigger_edge: np.ndarray
    trigger_id: np.ndarray
    complete: bool = True
    consumed_bytes: int = 0
    next_time_ns: Optional[int] = None
    dropped_outside: int = 0
    unknown_words: int = 0
    time_went_backwards: bool = False
    ros_offset_ns: Optional[int] = None
    anchor_t_ns: Optional[int] = None  # the sensor time the header stamp stands for
    end_t_ns: Optional[int] = None

    def __len__(self) -> int:
        return int(self.x.shape[0])

    @property
    def ros_end_ns(self) -> Optional[int]:
        """``end_t_ns`` on the ROS clock: the stream has delivered every event before it (pass it to
        :meth:`EventWindowBuffer.add` as ``covers_until_ns``)."""
        if self.end_t_ns is None or self.ros_offset_ns is None:
            return None
        return self.end_t_ns + self.ros_offset_ns

    def ros_t_ns(self) -> np.ndarray:
        """Event times on the ROS clock (int64 ns): ``t_ns + ros_offset_ns``."""
        if self.ros_offset_ns is None:
            return self.t_ns.copy()
        return self.t_ns + np.int64(self.ros_offset_ns)


def _empty_events() -> DecodedEvents:
    return DecodedEvents(
        x=np.empty(0, np.uint16), y=np.empty(0, np.uint16), t_ns=np.empty(0, np.int64),
        polarity=np.empty(0, np.uint8), trigger_t_ns=np.empty(0, np.int64),
        trigger_edge=np.empty(0, np.uint8), trigger_id=np.empty(0, np.uint8))


@dataclasses.dataclass
class _Evt3State:
    """What an EVT 3.0 stream carries from one word to the next (and so across packets)."""

    time_valid: bool = False  # a time-high and then a time-low word have been seen
    time_high: int = 0        # (wraps << 24) | (high 12 bits << 12), microseconds
    time_low: int = 0         # low 12 bits of the time, microseconds
    y: int = 0
    base_x: int = 0           # 16-bit, as the sensor's column counter
    polarity: int = 0

    def time_us(self) -> int:
        return self.time_high | self.time_low


def _as_byte_array(events) -> np.ndarray:
    if isinstance(events, np.ndarray):
        if events.dtype != np.uint8 or events.ndim != 1:
            raise EventPacketError("event_packet_size", f"EventPacket events must be a 1-D uint8 array, "
                                   f"got {events.dtype} with shape {events.shape}")
        return np.ascontiguousarray(events)
    try:
        return np.frombuffer(memoryview(events).cast("B"), dtype=np.uint8)
    except (TypeError, ValueError) as exc:
        raise EventPacketError("event_packet_size", f"EventPacket events must be bytes, got "
                               f"{type(events).__name__}") from exc


class RosClockMapper:
    """Offset from a sensor clock to the ROS clock, from (header stamp, sensor time) pairs: the minimum
    of ``stamp - sensor time`` over the pairs of the last ``window_ns`` of sensor time (see the module
    docstring). O(1) per packet (a monotonic queue)."""

    def __init__(self, window_ns: int = 2_000_000_000, jump_ns: int = 1_000_000_000) -> None:
        self.window_ns = int(window_ns)
        self.jump_ns = int(jump_ns)
        self.restarts = 0
        self._candidates: list[tuple[int, int]] = []  # (sensor time, offset), offsets increasing
        self._last_sensor_ns: Optional[int] = None

    def reset(self) -> None:
        self._candidates.clear()
        self._last_sensor_ns = None

    @property
    def offset_ns(self) -> Optional[int]:
        """The offset in use (None before the first packet)."""
        return self._candidates[0][1] if self._candidates else None

    def update(self, stamp_ns: int, sensor_ns: int) -> int:
        """Add one packet's pair; returns the offset to use for it (``ros = sensor + offset``)."""
        offset = int(stamp_ns) - int(sensor_ns)
        if self._candidates and (sensor_ns < self._last_sensor_ns
                                 or abs(offset - self._candidates[0][1]) > self.jump_ns):
            self.restarts += 1
            self.reset()
        self._last_sensor_ns = int(sensor_ns)
        while self._candidates and self._candidates[-1][1] >= offset:
            self._candidates.pop()
        self._candidates.append((int(sensor_ns), offset))
        oldest_kept = int(sensor_ns) - self.window_ns
        drop = 0
        while drop < len(self._candidates) - 1 and self._candidates[drop][0] < oldest_kept:
            drop += 1
        if drop:
            del self._candidates[:drop]
        return self._candidates[0][1]


class EventPacketDecoder:
    """Decodes the packets of one event stream (one topic), in arrival order.

    Keep one decoder per stream: evt3 carries state across packets. A change of encoding or sensor
    size starts a new stream (state reset, counted in ``stream_restarts``), as event_camera_codecs
    keeps one decoder per (encoding, width, height).

    Args:
        max_sensor_pixels: largest ``width * height`` accepted (default 2048 x 2048).
        max_packet_bytes: largest ``events`` payload accepted, checked before decoding.
        max_packet_events: most CD events a packet may decode to, counted before the event arrays
            are allocated.
    """

    def __init__(self, max_sensor_pixels: int = DEFAULT_MAX_SENSOR_PIXELS,
                 max_packet_bytes: int = DEFAULT_MAX_PACKET_BYTES,
                 max_packet_events: int = DEFAULT_MAX_PACKET_EVENTS) -> None:
        for name, value in (("max_sensor_pixels", max_sensor_pixels), ("max_packet_bytes", max_packet_bytes),
                            ("max_packet_events", max_packet_events)):
            if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value <= 0:
                raise InputError("event_buffer_config", f"{name} must be a positive integer, got {value!r}")
        self.max_sensor_pixels = int(max_sensor_pixels)
        self.max_packet_bytes = int(max_packet_bytes)
        self.max_packet_events = int(max_packet_events)
        self.counters: dict[str, int] = {
            "packets": 0, "events": 0, "triggers": 0, "dropped_outside": 0, "unknown_words": 0,
            "time_backwards": 0, "stream_restarts": 0,
        }
        self._stream: Optional[tuple[str, int, int]] = None
        self._evt3 = _Evt3State()
        self._last_t_ns: Optional[int] = None
        self.ros_clock = RosClockMapper()

    def reset(self) -> None:
        """Forget the stream state (e.g. after a bag restarts); counters stay."""
        self._stream = None
        self._evt3 = _Evt3State()
        self._last_t_ns = None
        self.ros_clock.reset()

    # ------------------------------------------------------------------------------ public
    def decode_message(self, msg, until_ns: Optional[int] = None) -> DecodedEvents:
        """Decode an EventPacket message (any object with its fields: ``encoding``, ``width``,
        ``height``, ``time_base``, ``is_bigendian``, ``events``, ``header.stamp``) and fill in
        :attr:`DecodedEvents.ros_offset_ns` from its header stamp."""
        stamp = msg.header.stamp
        stamp_ns = int(stamp.sec) * 1_000_000_000 + int(stamp.nanosec)
        result = self.decode(msg.events, msg.encoding, msg.width, msg.height, time_base=msg.time_base,
                             is_bigendian=msg.is_bigendian, until_ns=until_ns)
        if msg.encoding == "evt3":
            if result.anchor_t_ns is not None:
                if result.time_went_backwards:
                    self.ros_clock.reset()
                result.ros_offset_ns = self.ros_clock.update(stamp_ns, result.anchor_t_ns)
            else:
                # a packet without events (a quiet scene) still moves the clock on
                result.ros_offset_ns = self.ros_clock.offset_ns
        elif result.anchor_t_ns is not None:
            result.ros_offset_ns = stamp_ns - result.anchor_t_ns
        return result

    def decode(self, events, encoding: str, width: int, height: int, *, time_base: int = 0,
               is_bigendian: bool = False, until_ns: Optional[int] = None) -> DecodedEvents:
        """Decode one packet's ``events`` bytes.

        Args:
            events: the message's ``events`` (bytes, bytearray, memoryview or 1-D uint8 array).
            encoding: ``"evt3"`` or ``"mono"``.
            width, height: the declared sensor size; CD events outside it are dropped and counted.
            time_base: the message's ``time_base`` (ns; used by mono only).
            is_bigendian: byte order of the words (mono accepts both, evt3 only little-endian).
            until_ns: decode only up to (not including) this sensor time, as event_camera_codecs'
                ``decodeUntil``: evt3 stops at the first time-low word at or after it, mono at the
                first event at or after it.

        Raises:
            EventPacketError: see the module docstring; nothing is decoded and the state is unchanged.
        """
        try:
            return self._decode(events, encoding, width, height, time_base, is_bigendian, until_ns)
        except EventPacketError as exc:
            self.counters[exc.kind] = self.counters.get(exc.kind, 0) + 1
            raise

    # ----------------------------------------------------------------------------- checks
    def _decode(self, events, encoding, width, height, time_base, is_bigendian, until_ns) -> DecodedEvents:
        if not isinstance(encoding, str) or encoding not in ENCODINGS:
            raise EventPacketError("event_packet_encoding", f"EventPacket encoding {encoding!r} is not "
                                   f"supported; supported: {', '.join(ENCODINGS)}")
        width, height = self._check_geometry(width, height)
        data = _as_byte_array(events)
        if data.shape[0] > self.max_packet_bytes:
            raise EventPacketError("event_packet_too_large", f"EventPacket of {data.shape[0]} bytes is above "
                                   f"the limit of {self.max_packet_bytes} bytes")
        word_bytes = 2 if encoding == "evt3" else 8
        if data.shape[0] % word_bytes:
            raise EventPacketError("event_packet_size", f"EventPacket ({encoding}) of {data.shape[0]} bytes "
                                   f"is not a whole number of {word_bytes}-byte words (truncated?)")
        if until_ns is not None and (isinstance(until_ns, bool) or not isinstance(until_ns, (int, np.integer))):
            raise TypeError(f"until_ns must be integer nanoseconds, got {until_ns!r}")
        stream = (encoding, width, height)
        restarting = self._stream is not None and stream != self._stream
        if encoding == "evt3":
            if is_bigendian:
                raise EventPacketError("event_packet_byte_order", "evt3 EventPacket marked big-endian: the "
                                       "sensor stream is little-endian and no driver sends it otherwise")
            # Decode on a copy of the state and keep it only if the packet decodes: a refused packet
            # (e.g. too many events) leaves the stream exactly as it was.
            state = _Evt3State() if restarting else dataclasses.replace(self._evt3)
            result = self._decode_evt3(np.frombuffer(data, dtype="<u2"), width, height, until_ns, state)
        else:
            result = self._decode_mono(np.frombuffer(data, dtype=">u8" if is_bigendian else "<u8"),
                                       width, height, time_base, until_ns)
        if restarting:
            self.counters["stream_restarts"] += 1
            self.reset()
        if encoding == "evt3":
            self._evt3 = state
        self._stream = stream
        self._account(result)
        return result

    def _check_geometry(self, width, height) -> tuple[int, int]:
        try:
            width_i, height_i = int(width), int(height)
        except (TypeError, ValueError) as exc:
            raise EventPacketError("event_packet_geometry", f"EventPacket width/height must be integers, got "
                                   f"{width!r} x {height!r}") from exc
        if width_i <= 0 or height_i <= 0:
            raise EventPacketError("event_packet_geometry", f"EventPacket with sensor size {width_i} x "
                                   f"{height_i}: width and height must be positive")
        if width_i > 0xFFFF or height_i > 0xFFFF or width_i * height_i > self.max_sensor_pixels:
            raise EventPacketError("event_packet_geometry", f"EventPacket sensor size {width_i} x {height_i} "
                                   f"is above the limit of {self.max_sensor_pixels} pixels")
        return width_i, height_i

    def _check_event_count(self, count: int) -> None:
        if count > self.max_packet_events:
            raise EventPacketError("event_packet_too_large", f"EventPacket holds {count} events, above the "
                                   f"limit of {self.max_packet_events} per packet")

    def _account(self, result: DecodedEvents) -> None:
        self.counters["packets"] += 1
        self.counters["events"] += len(result)
        self.counters["triggers"] += int(result.trigger_t_ns.shape[0])
        self.counters["dropped_outside"] += result.dropped_outside
        self.counters["unknown_words"] += result.unknown_words
        first, last = _first_and_last_time(result)
        if first is not None:
            if self._last_t_ns is not None and first < self._last_t_ns:
                result.time_went_backwards = True
                self.counters["time_backwards"] += 1
            self._last_t_ns = last

    # ------------------------------------------------------------------------------- mono
    def _decode_mono(self, words: np.ndarray, width: int, height: int, time_base, until_ns) -> DecodedEvents:
        try:
            base = int(time_base)
        except (TypeError, ValueError) as exc:
            raise EventPacketError("event_packet_time", f"mono EventPacket time_base {time_base!r} is not "
                                   "an integer") from exc
        if base < 0 or base > np.iinfo(np.int64).max - 0xFFFFFFFF:
            raise EventPacketError("event_packet_time", f"mono EventPacket time_base {base} does not fit in "
                                   "int64 nanoseconds")
        self._check_event_count(int(words.shape[0]))
        t_ns = (words & np.uint64(0xFFFFFFFF)).astype(np.int64)
        t_ns += np.int64(base)
        consumed = words.shape[0]
        next_time = None
        if until_ns is not None:
            reached = np.flatnonzero(t_ns >= until_ns)
            if reached.size:
                consumed = int(reached[0])
                next_time = int(t_ns[consumed])
                words, t_ns = words[:consumed], t_ns[:consumed]
        x = ((words >> np.uint64(32)) & np.uint64(0xFFFF)).astype(np.uint16)
        y = ((words >> np.uint64(48)) & np.uint64(0x7FFF)).astype(np.uint16)
        polarity = (words >> np.uint64(63)).astype(np.uint8)
        inside = (x < width) & (y < height)
        kept = int(np.count_nonzero(inside))
        result = _empty_events()
        if kept == x.shape[0]:
            result.x, result.y, result.t_ns, result.polarity = x, y, t_ns, polarity
        else:
            result.x, result.y, result.t_ns, result.polarity = x[inside], y[inside], t_ns[inside], polarity[inside]
        result.dropped_outside = int(x.shape[0]) - kept
        result.complete = next_time is None
        result.consumed_bytes = 8 * consumed
        result.next_time_ns = next_time
        result.anchor_t_ns = base
        result.end_t_ns = int(t_ns.max()) if t_ns.shape[0] else base
        return result

    # ------------------------------------------------------------------------------- evt3
    def _decode_evt3(self, words: np.ndarray, width: int, height: int, until_ns,
                     state: _Evt3State) -> DecodedEvents:
        # Each piece of state (time, row, vector base) is carried to the words that use it by a
        # running count of the words that set it: the value in force at word i is the k-th setting,
        # k = how many setting words come at or before i (k = 0: the value carried from the previous
        # packet). Cumulative sums and gathers only: no search, no per-word Python.
        n = int(words.shape[0])
        result = _empty_events()
        if until_ns is not None and state.time_valid and state.time_us() * _US_TO_NS >= until_ns:
            # Already at or past the limit: consume nothing (event_camera_codecs returns 0 here too).
            result.complete = n == 0
            result.next_time_ns = result.end_t_ns = state.time_us() * _US_TO_NS
            return result
        types = (words >> 12).astype(np.uint8)
        payload = words & np.uint16(0x0FFF)

        # Time over the whole packet (time words count even before the stream's time is valid): for
        # each time word, the time in force after it; for each word, how many time words precede it.
        is_time = (types == _TIME_LOW) | (types == _TIME_HIGH)
        time_at = np.flatnonzero(is_time)
        time_is_high = types[time_at] == _TIME_HIGH
        time_payload = payload[time_at].astype(np.int64)
        high_12 = time_payload[time_is_high]
        previous_12 = np.empty_like(high_12)
        if high_12.size:
            previous_12[0] = (state.time_high >> 12) & 0xFFF
            previous_12[1:] = high_12[:-1]
        wraps = np.cumsum((high_12 < previous_12) & (previous_12 - high_12 > _WRAP_TOLERANCE))
        high_values = _with_initial(state.time_high, ((state.time_high >> 24) + wraps) << 24 | high_12 << 12)
        low_values = _with_initial(state.time_low, time_payload[~time_is_high])
        high_in_force = high_values[np.cumsum(time_is_high)]
        low_in_force = low_values[np.cumsum(~time_is_high)]
        time_after = _with_initial(state.time_us(), high_in_force | low_in_force)  # [k]: after k time words
        time_after_ns = time_after * _US_TO_NS
        time_words_before = np.cumsum(is_time)  # [i]: time words at or before word i

        # Where decoding starts: at once if the time is valid, else after the first time-low word that
        # follows a time-high word in this packet.
        start = 0
        time_valid = state.time_valid
        if not time_valid:
            start = n
            first_high = np.flatnonzero(time_is_high)[:1]
            if first_high.size:
                following_low = np.flatnonzero(~time_is_high[first_high[0] + 1:])[:1]
                if following_low.size:
                    start = int(time_at[first_high[0] + 1 + following_low[0]]) + 1
                    time_valid = True
        # Where it ends: the first time-low word (after the start) whose time reaches the limit.
        end = n
        if until_ns is not None and time_valid:
            low_rank = np.flatnonzero(~time_is_high & (time_at >= start))
            reached = np.flatnonzero(time_after[low_rank + 1] * _US_TO_NS >= until_ns)[:1]
            if reached.size:
                end = int(time_at[low_rank[reached[0]]])
                result.complete = False
                result.next_time_ns = int(time_after[low_rank[reached[0]] + 1]) * _US_TO_NS
        result.consumed_bytes = 2 * end

        main_types = types[start:end]
        main_payload = payload[start:end]
        result.unknown_words = int(np.count_nonzero((main_types == 1) | (main_types == 9)
                                                    | ((main_types >= 11) & (main_types <= 13))))

        # Rows: the last EVT_ADDR_Y before each word.
        is_row = main_types == _ADDR_Y
        row_values = _with_initial(state.y, main_payload[is_row] & np.uint16(0x7FF), np.uint16)
        rows_before = np.cumsum(is_row)

        # CD events: ADDR_X words (one event at their own column) and VECT_12 / VECT_8 words (one event
        # per set bit of their 12 / 8 validity bits, at column base + bit).
        has_vector_words = bool(((main_types >= _VECT_BASE_X) & (main_types <= _VECT_8)).any())
        if has_vector_words:
            event_at = np.flatnonzero((main_types == _ADDR_X) | (main_types == _VECT_12) | (main_types == _VECT_8))
        else:
            event_at = np.flatnonzero(main_types == _ADDR_X)
        event_types = main_types[event_at]
        event_payload = main_payload[event_at]
        main_time_words_before = time_words_before[start:end]
        event_time_ns = time_after_ns[main_time_words_before[event_at]]
        event_y = row_values[rows_before[event_at]]
        event_x = event_payload & np.uint16(0x7FF)
        if has_vector_words:
            event_x = event_x.astype(np.int64)  # vector columns are computed in wider integers
        event_polarity = (event_payload >> 11).astype(np.uint8)

        # Vector words: the base column and polarity of the last VECT_BASE_X, the base advanced by 12
        # or 8 for every vector word since (worked out on the subsequence of base and vector words).
        has_vectors = False
        if has_vector_words:
            vector_state_at = np.flatnonzero((main_types >= _VECT_BASE_X) & (main_types <= _VECT_8))
            vs_types = main_types[vector_state_at]
            vs_payload = main_payload[vector_state_at].astype(np.int64)
            is_base = vs_types == _VECT_BASE_X
            step = np.where(vs_types == _VECT_12, 12, np.where(vs_types == _VECT_8, 8, 0))
            steps_through = np.cumsum(step)
            base_values = _with_initial(state.base_x, vs_payload[is_base] & 0x7FF)
            base_polarity = _with_initial(state.polarity, vs_payload[is_base] >> 11)
            steps_at_base = _with_initial(0, steps_through[is_base])
            bases_before = np.cumsum(is_base)
            is_vector = ~is_base
            has_vectors = bool(is_vector.any())
            if has_vectors:
                rank = bases_before[is_vector]
                vector_x = (base_values[rank] + (steps_through - step)[is_vector] - steps_at_base[rank]) & 0xFFFF
                vector_in_events = event_types != _ADDR_X
                event_x[vector_in_events] = vector_x
                event_polarity[vector_in_events] = base_polarity[rank]
            last = int(bases_before[-1])
            state.base_x = (int(base_values[last]) + int(steps_through[-1]) - int(steps_at_base[last])) & 0xFFFF
            state.polarity = int(base_polarity[last])

        if has_vectors:
            valid_bits = np.where(event_types == _ADDR_X, np.uint16(1),
                                  np.where(event_types == _VECT_8, event_payload & np.uint16(0xFF), event_payload))
            valid_bits = valid_bits.astype(np.intp)
            per_word = _POPCOUNT_12[valid_bits]
            total = int(per_word.sum())
            self._check_event_count(total)
            # each word's values repeated once per event it holds; the event's bit is the k-th set bit
            # of its mask, k counting from the word's first event
            first_of_word = np.cumsum(per_word) - per_word
            bit_index = np.repeat(valid_bits * 12 - first_of_word, per_word) + np.arange(total)
            xs = (np.repeat(event_x, per_word) + _KTH_SET_BIT[bit_index]) & 0xFFFF
            ys = np.repeat(event_y, per_word)
            ts = np.repeat(event_time_ns, per_word)
            ps = np.repeat(event_polarity, per_word)
        else:
            total = int(event_at.shape[0])
            self._check_event_count(total)
            xs, ys, ts, ps = event_x, event_y, event_time_ns, event_polarity & np.uint8(1)
        inside = (xs < width) & (ys < height)
        kept = int(np.count_nonzero(inside))
        result.dropped_outside = total - kept
        if kept < total:
            xs, ys, ts, ps = xs[inside], ys[inside], ts[inside], ps[inside]
        result.x, result.y, result.t_ns, result.polarity = xs.astype(np.uint16, copy=False), ys, ts, ps

        trigger_at = np.flatnonzero(main_types == _EXT_TRIGGER)
        trigger_payload = main_payload[trigger_at]
        result.trigger_t_ns = time_after_ns[main_time_words_before[trigger_at]]
        result.trigger_edge = (trigger_payload & np.uint16(1)).astype(np.uint8)
        result.trigger_id = ((trigger_payload >> 8) & np.uint16(0xF)).astype(np.uint8)

        # The state after the last word processed: up to `end`, including the time-low word at `end`
        # when decoding stopped there (its value was read before the limit check).
        time_words_done = int(time_words_before[end]) if not result.complete else int(time_at.shape[0])
        if time_words_done:
            state.time_high = int(high_in_force[time_words_done - 1])
            state.time_low = int(low_in_force[time_words_done - 1])
        state.time_valid = time_valid
        state.y = int(row_values[-1])

        anchors = [t[0] for t in (result.t_ns, result.trigger_t_ns) if t.size]
        result.anchor_t_ns = int(min(anchors)) if anchors else None
        result.end_t_ns = state.time_us() * _US_TO_NS if time_valid else None
        return result


def _with_initial(initial, values: np.ndarray, dtype=np.int64) -> np.ndarray:
    """``[initial, *values]``: index k gives the value after k updates (k = 0: the carried one)."""
    out = np.empty(values.shape[0] + 1, dtype=dtype)
    out[0] = initial
    out[1:] = values
    return out


def _first_and_last_time(result: DecodedEvents) -> tuple[Optional[int], Optional[int]]:
    times = [t for t in (result.t_ns, result.trigger_t_ns) if t.size]
    if not times:
        return None, None
    return min(int(t[0]) for t in times), max(int(t[-1]) for t in times)


class EventPacketStream:
    """One EventPacket topic as the node uses it: decode each packet, keep its events on the ROS clock
    in an :class:`~seatrack_ros.modalities.event.EventWindowBuffer`, and hand an RGB frame its window
    once the stream has delivered it, waiting at most until a deadline.

    ``add_message`` runs in the subscription callback, ``take_window`` in the worker; both are
    thread-safe. ``counters()`` is a flat dict for ``~/stats``: the decoder's counters (packets,
    events, refusals by kind, dropped_outside, unknown_words, time_backwards, stream_restarts) and the
    buffer's (drops by reason, window outcomes, sequence gaps).
    """

    def __init__(self, *, max_sensor_pixels: int = DEFAULT_MAX_SENSOR_PIXELS,
                 max_packet_bytes: int = DEFAULT_MAX_PACKET_BYTES,
                 max_packet_events: int = DEFAULT_MAX_PACKET_EVENTS,
                 max_buffered_events: int = 5_000_000, max_age_ns: Optional[int] = 2_000_000_000,
                 max_time_skew_ns: int = 1_000_000_000) -> None:
        from seatrack_ros.modalities.event import EventWindowBuffer

        self.decoder = EventPacketDecoder(max_sensor_pixels, max_packet_bytes, max_packet_events)
        self.buffer = EventWindowBuffer(max_buffered_events, max_age_ns, max_packet_events=max_packet_events,
                                        max_time_skew_ns=max_time_skew_ns)
        self._sensor_hw: Optional[tuple[int, int]] = None
        self._lock = threading.Lock()

    @property
    def sensor_hw(self) -> Optional[tuple[int, int]]:
        """(height, width) of the last packet that decoded, None before."""
        with self._lock:
            return self._sensor_hw

    def add_message(self, msg) -> DecodedEvents:
        """Decode an EventPacket and store its events. Raises :class:`EventPacketError` (report it by
        its ``kind``) for a packet that cannot be decoded; its sequence number is recorded anyway."""
        stamp = msg.header.stamp
        stamp_ns = int(stamp.sec) * 1_000_000_000 + int(stamp.nanosec)
        with self._lock:  # packets of one stream decode in arrival order
            try:
                decoded = self.decoder.decode_message(msg)
            except EventPacketError:
                self.buffer.note_sequence(int(msg.seq))
                raise
            self._sensor_hw = (int(msg.height), int(msg.width))
        times = decoded.ros_t_ns()
        covers = decoded.ros_end_ns
        if times.size:
            newest = int(times.max())
            covers = newest if covers is None else max(covers, newest)
        self.buffer.add(decoded.x, decoded.y, times, decoded.polarity, stamp_ns=stamp_ns,
                        covers_until_ns=covers, seq=int(msg.seq))
        return decoded

    def take_window(self, t_start_ns: int, t_end_ns: int, deadline: float):
        """Wait (until ``time.monotonic() >= deadline`` at most) for the window to be complete, then
        take its events. Returns ``((x, y, t, p), complete)``."""
        complete = self.buffer.wait_for_window(t_end_ns, deadline)
        return self.buffer.take(t_start_ns, t_end_ns), complete

    def clear(self) -> None:
        """Forget stored events and the stream state (after a time jump); counters stay."""
        with self._lock:
            self.decoder.reset()
        self.buffer.clear()

    def counters(self) -> dict[str, int]:
        with self._lock:
            merged = dict(self.decoder.counters)
        merged.update(self.buffer.counters())
        return merged
