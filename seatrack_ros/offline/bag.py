"""Read synchronised (RGB, X) image pairs from a rosbag2 recording (mcap or sqlite3) with ``rosbags``.

Pairs are formed by the node's own synchronizer (:class:`seatrack_ros.streams.sync.StampSynchronizer`):
each message is paired with the closest-stamped message of the other topic within ``slop`` seconds.
Offline, every matched pair is taken at once, so no frame is skipped for being stale as it may be
online when inference is slower than the cameras. Stamps are the messages' ``header.stamp`` (or the
recording time with ``stamp_source="bag"``, for drivers that leave the header stamp at zero).

An ``event_camera_msgs/msg/EventPacket`` aux topic (evt3 or mono, as metavision_driver records it; also
the older name ``event_array_msgs/msg/EventArray``) is decoded with
:class:`~seatrack_ros.modalities.event_packet.EventPacketStream`, as the node does: each RGB frame gets
the events between the previous RGB stamp and its own (at most ``event_max_window``), and is handed
out once a later packet has covered its stamp, so events of its window recorded in later packets are
included. Frames still waiting when the recording ends (or more than :data:`MAX_WAITING_FRAMES` of
them) are handed out with what there is and counted as incomplete.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator, Optional

import numpy as np

from seatrack_ros.errors import InputError
from seatrack_ros.offline.event_frames import EVENT_PACKET_ALIASES, _typestore
from seatrack_ros.streams.image_conversions import decode_image, to_rgb8
from seatrack_ros.streams.stamps import header_stamp_ns
from seatrack_ros.streams.sync import DEFAULT_SYNC_SLOP, StampSynchronizer

IMAGE_MSGTYPES = ("sensor_msgs/msg/Image", "sensor_msgs/msg/CompressedImage")
BAG_SUFFIXES = (".mcap", ".db3")
# RGB frames held back while their event window is not yet covered by a packet (each holds its image).
MAX_WAITING_FRAMES = 32


@dataclass
class BagPair:
    """One synchronised pair. rgb: (H, W, 3) uint8 RGB; aux: the X image as decoded, with its ROS
    ``aux_encoding``; stamps in integer nanoseconds. From an EventPacket topic: ``aux`` is the RGB
    frame's events ``(x, y, t_ns, polarity)``, ``aux_encoding`` None, ``sensor_hw`` the event sensor's
    (height, width), ``aux_stamp_ns`` the window's end (= the RGB stamp) and ``events_complete`` False
    for a window the recording never covered."""

    rgb_stamp_ns: int
    aux_stamp_ns: int
    rgb: np.ndarray
    aux: object
    aux_encoding: Optional[str]
    sensor_hw: Optional[tuple[int, int]] = None
    events_complete: bool = True


def is_bag_path(path: Path) -> bool:
    """True for a rosbag2 folder (with ``metadata.yaml``) or a bare ``.mcap`` / ``.db3`` file."""
    path = Path(path)
    if path.is_file():
        return path.suffix in BAG_SUFFIXES
    return path.is_dir() and (path / "metadata.yaml").is_file()


def _stamp_ns(msg, bag_time_ns: int, stamp_source: str) -> int:
    return int(bag_time_ns) if stamp_source == "bag" else header_stamp_ns(msg)


class BagPairReader:
    """Iterate over the synchronised pairs of ``rgb_topic`` and ``aux_topic`` in a rosbag2 recording.

    After iteration, :attr:`sync_stats` holds the synchronizer's counters (unmatched messages etc.).
    """

    def __init__(self, bag_path: Path, rgb_topic: str, aux_topic: str, slop: float = DEFAULT_SYNC_SLOP,
                 stamp_source: str = "header", event_max_window_ns: int = 100_000_000) -> None:
        if stamp_source not in ("header", "bag"):
            raise InputError("parameter", f"stamp_source must be 'header' or 'bag', got {stamp_source!r}")
        self.bag_path = Path(bag_path)
        if not is_bag_path(self.bag_path):
            raise InputError("missing_file", f"{self.bag_path} is not a rosbag2 folder, .mcap or .db3 file")
        self.rgb_topic, self.aux_topic = rgb_topic, aux_topic
        self.slop, self.stamp_source = slop, stamp_source
        self.event_max_window_ns = int(event_max_window_ns)
        self.sync_stats = None
        self.event_counters: Optional[dict] = None  # after iterating an EventPacket aux topic
        self.num_messages = 0
        self.aux_is_events = False  # known once iteration has opened the recording

    def __iter__(self) -> Iterator[BagPair]:
        from rosbags.rosbag2 import Reader

        typestore = _typestore()  # the stored Kilted types plus EventPacket
        sync = StampSynchronizer(self.slop, queue_size=64)
        with Reader(self.bag_path) as reader:
            by_topic = {c.topic: c for c in reader.connections}
            for topic in (self.rgb_topic, self.aux_topic):
                if topic not in by_topic:
                    raise InputError("missing_topic", f"{self.bag_path} has no topic {topic!r}; it has: "
                                                      + ", ".join(sorted(by_topic)))
                allowed = IMAGE_MSGTYPES + (EVENT_PACKET_ALIASES if topic == self.aux_topic else ())
                if by_topic[topic].msgtype not in allowed:
                    raise InputError("msgtype", f"topic {topic!r} carries {by_topic[topic].msgtype}; "
                                                f"expected one of {', '.join(allowed)}")
            wanted = [c for c in reader.connections if c.topic in (self.rgb_topic, self.aux_topic)]
            self.num_messages = sum(c.msgcount for c in wanted)
            self.aux_is_events = by_topic[self.aux_topic].msgtype in EVENT_PACKET_ALIASES
            if self.aux_is_events:
                yield from self._event_pairs(reader, typestore, wanted)
                return
            for conn, bag_time_ns, raw in reader.messages(connections=wanted):
                msg = typestore.deserialize_cdr(raw, conn.msgtype)
                stamp = _stamp_ns(msg, bag_time_ns, self.stamp_source)
                if conn.topic == self.rgb_topic:
                    sync.add_rgb(stamp, msg)
                if conn.topic == self.aux_topic:
                    sync.add_aux(stamp, msg)
                pair = sync.take(timeout=0)
                if pair is not None:
                    rgb, rgb_enc = decode_image(pair.rgb)
                    aux, aux_enc = decode_image(pair.aux)
                    yield BagPair(pair.rgb_stamp_ns, pair.aux_stamp_ns, to_rgb8(rgb, rgb_enc), aux, aux_enc)
        self.sync_stats = sync.stats()

    def _event_pairs(self, reader, typestore, connections) -> Iterator[BagPair]:
        """RGB frames with their event windows (see the module docstring); bad packets are counted by
        kind in ``event_counters`` (the decoder's counters), as the node counts them."""
        from seatrack_ros.modalities.event_packet import EventPacketStream
        from seatrack_ros.streams.event_input import window_bounds

        stream = EventPacketStream()
        waiting: deque = deque()  # (stamp, previous RGB stamp, RGB message), oldest first
        previous = 0
        counts = {"rgb_too_old": 0, "windows_incomplete": 0}

        def pair(stamp_ns, previous_ns, msg, complete) -> BagPair:
            t_start, t_end = window_bounds(stamp_ns, previous_ns, self.event_max_window_ns)
            events = stream.buffer.take(t_start, t_end)
            rgb, rgb_enc = decode_image(msg)
            counts["windows_incomplete"] += not complete
            return BagPair(stamp_ns, t_end, to_rgb8(rgb, rgb_enc), events, None,
                           sensor_hw=stream.sensor_hw, events_complete=complete)

        for conn, bag_time_ns, raw in reader.messages(connections=connections):
            msg = typestore.deserialize_cdr(raw, conn.msgtype)
            if conn.topic == self.aux_topic:
                try:
                    stream.add_message(msg)
                except InputError:
                    pass  # counted by kind in the decoder's counters
            else:
                stamp = _stamp_ns(msg, bag_time_ns, self.stamp_source)
                if stamp <= previous:  # stamps must grow: an older frame's window is gone
                    counts["rgb_too_old"] += 1
                    continue
                waiting.append((stamp, previous, msg))
                previous = stamp
            while waiting and (stream.buffer.window_complete(waiting[0][0]) or len(waiting) > MAX_WAITING_FRAMES):
                stamp_ns, previous_ns, rgb_msg = waiting.popleft()
                yield pair(stamp_ns, previous_ns, rgb_msg, stream.buffer.window_complete(stamp_ns))
            self.event_counters = dict(stream.counters(), **counts)
        while waiting:
            yield pair(*waiting.popleft(), complete=False)
        self.event_counters = dict(stream.counters(), **counts)
