"""Helpers for the EventPacket tests: reading the kit's recordings with rosbags, a word-by-word
reference decoder for EVT 3.0 written straight from the format description (slow, obvious, used only
to cross-check the vectorised decoder on synthetic streams), and a synthetic EVT 3.0 stream writer."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import numpy as np

REPO = Path(__file__).resolve().parents[1]
# The shared kit sits either inside the checkout (shared/) or beside it (../shared/).
KIT = next((p for p in (REPO / "shared" / "ros2-upstream", REPO.parent / "shared" / "ros2-upstream")
            if p.is_dir()), REPO.parent / "shared" / "ros2-upstream")
DATA = KIT / "data"
EVENT_PACKET_MSG = KIT / "sources" / "event_camera_msgs" / "msg_ros2" / "EventPacket.msg"


def read_recording(name: str) -> list:
    """All messages of a kit recording, deserialized with rosbags as EventPacket (the mono bag stores
    the message's older name, event_array_msgs/msg/EventArray, with the same fields)."""
    from rosbags.highlevel import AnyReader
    from rosbags.typesys import Stores, get_typestore, get_types_from_msg

    store = get_typestore(Stores.ROS2_KILTED)
    text = EVENT_PACKET_MSG.read_text()
    for type_name in ("event_camera_msgs/msg/EventPacket", "event_array_msgs/msg/EventArray"):
        store.register(get_types_from_msg(text, type_name))
    with AnyReader([DATA / name], default_typestore=store) as reader:
        return [store.deserialize_cdr(raw, connection.msgtype) for connection, _, raw in reader.messages()]


def packet(events: bytes, encoding="evt3", width=1280, height=720, time_base=0, stamp_ns=0, seq=0,
           is_bigendian=False):
    """A stand-in EventPacket with the fields the decoder reads."""
    stamp = SimpleNamespace(sec=stamp_ns // 1_000_000_000, nanosec=stamp_ns % 1_000_000_000)
    return SimpleNamespace(header=SimpleNamespace(stamp=stamp), width=width, height=height, seq=seq,
                           time_base=time_base, encoding=encoding, is_bigendian=is_bigendian,
                           events=np.frombuffer(events, np.uint8))


class ReferenceEvt3:
    """EVT 3.0, one word at a time, with event_camera_codecs' conventions (see event_packet.py)."""

    def __init__(self, width: int, height: int):
        self.width, self.height = width, height
        self.valid = False
        self.high = 0  # (wraps << 24) | (high << 12)
        self.low = 0
        self.y = 0
        self.base_x = 0
        self.polarity = 0

    def now_ns(self) -> int:
        return (self.high | self.low) * 1000

    def _set_high(self, value: int) -> None:
        last = (self.high >> 12) & 0xFFF
        wraps = self.high >> 24
        if value < last and last - value > 10:
            wraps += 1
        self.high = (wraps << 24) | (value << 12)

    def decode(self, words, until_ns=None):
        """Returns (cd, triggers, consumed_words, complete): cd = list of (t, x, y, p)."""
        cd, triggers = [], []
        if until_ns is not None and self.valid and self.now_ns() >= until_ns:
            return cd, triggers, 0, len(words) == 0
        i = 0
        seen_high = False
        while not self.valid and i < len(words):
            kind, payload = words[i] >> 12, words[i] & 0xFFF
            if kind == 8:
                self._set_high(payload)
                seen_high = True
            elif kind == 6:
                self.low = payload
                if seen_high:
                    self.valid = True
            i += 1
        for i in range(i, len(words)):
            kind, payload = int(words[i]) >> 12, int(words[i]) & 0xFFF
            if kind == 0:
                self.y = payload & 0x7FF
            elif kind == 2:
                x = payload & 0x7FF
                if x < self.width and self.y < self.height:
                    cd.append((self.now_ns(), x, self.y, payload >> 11))
            elif kind in (4, 5):
                count = 12 if kind == 4 else 8
                for bit in range(count):
                    if payload >> bit & 1:
                        x = (self.base_x + bit) & 0xFFFF
                        if x < self.width and self.y < self.height:
                            cd.append((self.now_ns(), x, self.y, self.polarity))
                self.base_x = (self.base_x + count) & 0xFFFF
            elif kind == 3:
                self.base_x = payload & 0x7FF
                self.polarity = payload >> 11
            elif kind == 6:
                self.low = payload
                if until_ns is not None and self.now_ns() >= until_ns:
                    return cd, triggers, i, False
            elif kind == 8:
                self._set_high(payload)
            elif kind == 10:
                triggers.append((self.now_ns(), payload & 1, (payload >> 8) & 0xF))
        return cd, triggers, len(words), True


def synthetic_evt3(rng: np.random.Generator, n_words: int, width=1280, height=720) -> np.ndarray:
    """A plausible EVT 3.0 word stream using every word type: rows, single events, vectors with random
    masks (some running past the sensor's right edge), time-low steps, time-high steps that wrap the
    24-bit clock, small backward time-high steps (no wrap), triggers, OTHERS / CONTINUED words and a
    few reserved types."""
    words = []
    high = int(rng.integers(0, 4096))
    words += [0x8000 | high, 0x6000 | int(rng.integers(0, 4096))]
    while len(words) < n_words:
        r = rng.random()
        if r < 0.15:
            words.append(0x0000 | int(rng.integers(0, height + 20)))           # ADDR_Y (a few outside)
        elif r < 0.35:
            words.append(0x2000 | int(rng.integers(0, 2)) << 11 | int(rng.integers(0, width + 30)))
        elif r < 0.45:
            words.append(0x3000 | int(rng.integers(0, 2)) << 11 | int(rng.integers(0, width)))
        elif r < 0.60:
            words.append(0x4000 | int(rng.integers(0, 4096)))                  # VECT_12
        elif r < 0.70:
            words.append(0x5000 | int(rng.integers(0, 256)) | int(rng.integers(0, 16)) << 8)  # VECT_8
        elif r < 0.85:
            words.append(0x6000 | int(rng.integers(0, 4096)))                  # TIME_LOW
        elif r < 0.91:
            step = rng.choice([1, 1, 1, 2, -3, -2000])                         # forward, small back, wrap
            high = (high + int(step)) % 4096
            words.append(0x8000 | high)
        elif r < 0.93:
            words.append(0xA000 | int(rng.integers(0, 16)) << 8 | int(rng.integers(0, 2)))
        elif r < 0.98:
            words.append(int(rng.choice([0x7000, 0xE000, 0xF000])) | int(rng.integers(0, 4096)))
        else:
            words.append(int(rng.choice([0x1000, 0x9000, 0xB000, 0xC000, 0xD000])) | int(rng.integers(0, 4096)))
    return np.array(words[:n_words], dtype="<u2")


# ---------------------------------------------------------------------------------------------------
# Encoders: synthetic events -> EventPacket payloads, as a driver would send them. Written from the
# format descriptions (the decoder module's docstring); the tests decode them back to check both ways.

def encode_evt3(x, y, t_us, polarity) -> bytes:
    """EVT 3.0 words for events sorted by time ``t_us`` (integer microseconds of the sensor clock, below
    2^24 unless a wrap is meant): TIME_HIGH + TIME_LOW first, then per event a TIME_HIGH when bits
    12-23 change, a TIME_LOW when bits 0-11 change, an ADDR_Y when the row changes, and one ADDR_X
    (polarity in bit 11). The last word is the last event, so the packet covers up to its time."""
    x, y, t_us, polarity = (np.asarray(a).astype(np.int64) for a in (x, y, t_us, polarity))
    assert np.all(np.diff(t_us) >= 0), "events must be sorted by time"
    words: list[int] = []
    high = low = row = None
    for xi, yi, ti, pi in zip(x.tolist(), y.tolist(), t_us.tolist(), polarity.tolist()):
        ti &= 0xFFFFFF
        if high != ti >> 12 or low is None:
            high = ti >> 12
            words.append(0x8000 | high)
            low = None
        if low != ti & 0xFFF:
            low = ti & 0xFFF
            words.append(0x6000 | low)
        if row != yi:
            row = yi
            words.append(0x0000 | yi)
        words.append(0x2000 | (pi & 1) << 11 | xi)
    return np.array(words, dtype="<u2").tobytes()


def encode_mono(x, y, t_ns, polarity, time_base: int) -> bytes:
    """The deprecated ``mono`` encoding: one little-endian uint64 per event, bit 63 polarity, bits
    48-62 y, bits 32-47 x, bits 0-31 ``t_ns - time_base``."""
    x, y, polarity = (np.asarray(a).astype(np.uint64) for a in (x, y, polarity))
    offset = np.asarray(t_ns, np.int64) - np.int64(time_base)
    assert offset.size == 0 or (offset.min() >= 0 and offset.max() < 2**32)
    words = polarity << np.uint64(63) | y << np.uint64(48) | x << np.uint64(32) | offset.astype(np.uint64)
    return words.astype("<u8").tobytes()


class SyntheticEventCamera:
    """Turns events on the ROS clock (int64 ns) into EventPacket payloads and header fields the way
    the drivers do: a sensor clock running ``ros_minus_sensor_ns`` behind the ROS clock; evt3 packets
    stamped with the ROS time of their first event (metavision_driver), mono packets with ``time_base``
    = the sensor time of their first event and the matching ROS stamp.

    ``packet(x, y, t_ns, polarity)`` returns a dict of EventPacket fields (``events`` as bytes)."""

    def __init__(self, encoding: str, width: int, height: int, ros_minus_sensor_ns: int) -> None:
        assert encoding in ("evt3", "mono")
        self.encoding, self.width, self.height = encoding, width, height
        self.offset = int(ros_minus_sensor_ns)
        self.seq = 0

    def packet(self, x, y, t_ns, polarity) -> dict:
        t_ns = np.asarray(t_ns, np.int64)
        sensor = t_ns - self.offset
        first = int(sensor[0])
        if self.encoding == "evt3":
            assert np.all(sensor % 1000 == 0), "evt3 carries microseconds"
            payload, time_base = encode_evt3(x, y, sensor // 1000, polarity), 0
        else:
            payload, time_base = encode_mono(x, y, sensor, polarity, first), first
        fields = dict(encoding=self.encoding, width=self.width, height=self.height, seq=self.seq,
                      time_base=time_base, stamp_ns=first + self.offset, events=payload)
        self.seq += 1
        return fields


def ros_event_packet(fields: dict):
    """An rclpy event_camera_msgs/msg/EventPacket from ``SyntheticEventCamera.packet``'s fields (any
    of them may be replaced, e.g. to make a bad packet)."""
    import array

    from event_camera_msgs.msg import EventPacket

    from seatrack_ros.streams.stamps import set_stamp

    msg = EventPacket()
    set_stamp(msg.header.stamp, fields["stamp_ns"])
    msg.header.frame_id = "event_camera"
    msg.height, msg.width = int(fields["height"]), int(fields["width"])
    msg.seq, msg.time_base = int(fields["seq"]), int(fields["time_base"])
    msg.encoding, msg.is_bigendian = fields["encoding"], False
    msg.events = array.array("B", bytes(fields["events"]))
    return msg
