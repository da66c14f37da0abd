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
