"""Read synchronised (RGB, X) image pairs from a rosbag2 recording (mcap or sqlite3) with ``rosbags``.

Pairs are formed by the node's own synchronizer (:class:`seatrack_ros.streams.sync.StampSynchronizer`):
each message is paired with the closest-stamped message of the other topic within ``slop`` seconds.
Offline, every matched pair is taken at once, so no frame is skipped for being stale as it may be
online when inference is slower than the cameras. Stamps are the messages' ``header.stamp`` (or the
recording time with ``stamp_source="bag"``, for drivers that leave the header stamp at zero).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

import numpy as np

from seatrack_ros.errors import InputError
from seatrack_ros.streams.image_conversions import decode_image, to_rgb8
from seatrack_ros.streams.stamps import header_stamp_ns
from seatrack_ros.streams.sync import DEFAULT_SYNC_SLOP, StampSynchronizer

IMAGE_MSGTYPES = ("sensor_msgs/msg/Image", "sensor_msgs/msg/CompressedImage")
BAG_SUFFIXES = (".mcap", ".db3")


@dataclass
class BagPair:
    """One synchronised pair. rgb: (H, W, 3) uint8 RGB; aux: the X image as decoded, with its ROS
    ``aux_encoding``; stamps in integer nanoseconds."""

    rgb_stamp_ns: int
    aux_stamp_ns: int
    rgb: np.ndarray
    aux: np.ndarray
    aux_encoding: str


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
                 stamp_source: str = "header") -> None:
        if stamp_source not in ("header", "bag"):
            raise InputError("parameter", f"stamp_source must be 'header' or 'bag', got {stamp_source!r}")
        self.bag_path = Path(bag_path)
        if not is_bag_path(self.bag_path):
            raise InputError("missing_file", f"{self.bag_path} is not a rosbag2 folder, .mcap or .db3 file")
        self.rgb_topic, self.aux_topic = rgb_topic, aux_topic
        self.slop, self.stamp_source = slop, stamp_source
        self.sync_stats = None
        self.num_messages = 0

    def __iter__(self) -> Iterator[BagPair]:
        from rosbags.rosbag2 import Reader
        from rosbags.typesys import Stores, get_typestore

        typestore = get_typestore(Stores.ROS2_KILTED)
        sync = StampSynchronizer(self.slop, queue_size=64)
        with Reader(self.bag_path) as reader:
            by_topic = {c.topic: c for c in reader.connections}
            for topic in (self.rgb_topic, self.aux_topic):
                if topic not in by_topic:
                    raise InputError("missing_topic", f"{self.bag_path} has no topic {topic!r}; it has: "
                                                      + ", ".join(sorted(by_topic)))
                if by_topic[topic].msgtype not in IMAGE_MSGTYPES:
                    raise InputError("msgtype", f"topic {topic!r} carries {by_topic[topic].msgtype}; "
                                                f"expected one of {', '.join(IMAGE_MSGTYPES)}")
            wanted = [c for c in reader.connections if c.topic in (self.rgb_topic, self.aux_topic)]
            self.num_messages = sum(c.msgcount for c in wanted)
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
