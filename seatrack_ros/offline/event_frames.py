"""Turn the EventPacket topic of a rosbag2 recording into VisEvent-style event frames, for inspection.

Reads ``event_camera_msgs/msg/EventPacket`` (``evt3`` or ``mono``, as metavision_driver and
libcaer_driver record them; also the message's older name ``event_array_msgs/msg/EventArray``) with
``rosbags``, decodes every packet with :class:`~seatrack_ros.modalities.event_packet.EventPacketDecoder`,
and renders one frame per time window with :func:`~seatrack_ros.modalities.event.render_events`:
white canvas, ON red, OFF blue, what SEATrack's RGB-E weights saw in training. The windows are either
those of an RGB topic in the same recording (from the previous RGB stamp to this one, at most
``max_window`` long, as the node cuts them) or fixed periods.

A window is rendered once the event stream has delivered everything before its end (a later packet
reached it), so events of a window that arrive in later packets are included; windows still open when
the recording ends are rendered with what there is and counted as incomplete.

Command line: ``seatrack-event-frames BAG --out DIR [--topic T] [--rgb-topic T | --period S]``; see
``--help`` and docs/offline.md.
"""

from __future__ import annotations

import argparse
import csv
import sys
from collections import deque
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator, Optional

import cv2
import numpy as np

from seatrack_ros.errors import InputError
from seatrack_ros.modalities.event import EventWindowBuffer, render_events
from seatrack_ros.modalities.event_packet import EventPacketDecoder

EVENT_PACKET_TYPE = "event_camera_msgs/msg/EventPacket"
# The message's name before event_camera_msgs 1.0 (same fields, same CDR layout).
EVENT_PACKET_ALIASES = (EVENT_PACKET_TYPE, "event_array_msgs/msg/EventArray")
# The EventPacket fields (event_camera_msgs 1.0), for bags that do not store message definitions.
EVENT_PACKET_DEFINITION = """\
std_msgs/Header header
uint32 height
uint32 width
uint64 seq
uint64 time_base
string encoding
bool is_bigendian
uint8[] events
"""
IMAGE_TYPES = ("sensor_msgs/msg/Image", "sensor_msgs/msg/CompressedImage")
BAG_SUFFIXES = (".mcap", ".db3")


@dataclass
class EventFrame:
    """One rendered window ``[t_start_ns, t_end_ns)``: ``image`` is (H, W, 3) uint8 RGB."""

    index: int
    t_start_ns: int
    t_end_ns: int
    events: int
    complete: bool
    image: np.ndarray


@dataclass
class EventFramesSummary:
    frames: int = 0
    incomplete_frames: int = 0
    packets: int = 0
    bad_packets: dict = field(default_factory=dict)
    decoder: dict = field(default_factory=dict)
    buffer: dict = field(default_factory=dict)


def _typestore():
    from rosbags.typesys import Stores, get_types_from_msg, get_typestore

    store = get_typestore(Stores.ROS2_KILTED)
    for name in EVENT_PACKET_ALIASES:
        store.register(get_types_from_msg(EVENT_PACKET_DEFINITION, name))
    return store


def _stamp_ns(msg) -> int:
    return int(msg.header.stamp.sec) * 1_000_000_000 + int(msg.header.stamp.nanosec)


class EventFrameRenderer:
    """Streams packets in, frames out. ``clock`` is ``"ros"`` (event times mapped onto the header
    stamps, comparable with RGB stamps) or ``"sensor"`` (the decoded sensor clock)."""

    def __init__(self, *, clock: str = "ros", period_ns: Optional[int] = None,
                 max_window_ns: int = 100_000_000, decoder: Optional[EventPacketDecoder] = None) -> None:
        if clock not in ("ros", "sensor"):
            raise InputError("parameter", f"clock must be 'ros' or 'sensor', got {clock!r}")
        if period_ns is not None and period_ns <= 0:
            raise InputError("parameter", f"period must be positive, got {period_ns} ns")
        if max_window_ns <= 0:
            raise InputError("parameter", f"max_window must be positive, got {max_window_ns} ns")
        self.clock = clock
        self.period_ns = period_ns
        self.max_window_ns = int(max_window_ns)
        self.decoder = decoder or EventPacketDecoder()
        self.buffer = EventWindowBuffer()
        self.summary = EventFramesSummary()
        self._sensor_hw: Optional[tuple[int, int]] = None
        self._windows: deque[tuple[int, int]] = deque()
        self._previous_end: Optional[int] = None
        self._next_index = 0

    # -------------------------------------------------------------------------------- input
    def add_packet(self, msg) -> Iterator[EventFrame]:
        """Decode one EventPacket; yields the frames it completes."""
        self.summary.packets += 1
        try:
            decoded = self.decoder.decode_message(msg)
        except InputError as exc:
            self.summary.bad_packets[exc.kind] = self.summary.bad_packets.get(exc.kind, 0) + 1
            self.buffer.note_sequence(int(msg.seq))
            return
        self._sensor_hw = (int(msg.height), int(msg.width))
        ros_clock = self.clock == "ros"
        times = decoded.ros_t_ns() if ros_clock else decoded.t_ns
        # Everything before the stream's clock at the end of this packet has arrived (a packet without
        # events still moves it on).
        covers = decoded.ros_end_ns if ros_clock else decoded.end_t_ns
        if times.size:
            covers = max(int(times.max()), covers if covers is not None else int(times.max()))
        # On the ROS clock the header stamp is the reference for implausible times; on the sensor
        # clock the buffer falls back to the packet's median time.
        self.buffer.add(decoded.x, decoded.y, times, decoded.polarity,
                        stamp_ns=_stamp_ns(msg) if ros_clock else None, covers_until_ns=covers,
                        seq=int(msg.seq))
        if self.period_ns is not None:
            if self._previous_end is None and times.size:
                self._previous_end = int(times.min())  # the first window starts at the first event
            self._schedule_periods()
        yield from self._render_covered()

    def add_frame_stamp(self, stamp_ns: int) -> Iterator[EventFrame]:
        """An RGB frame's stamp: its window is from the previous stamp (at most max_window) to it."""
        start = stamp_ns - self.max_window_ns
        if self._previous_end is not None and self._previous_end > start:
            start = self._previous_end
        if start < stamp_ns:
            self._windows.append((start, stamp_ns))
        self._previous_end = max(stamp_ns, self._previous_end or stamp_ns)
        yield from self._render_covered()

    def finish(self) -> Iterator[EventFrame]:
        """Render the windows still waiting (the recording ended before a packet covered them)."""
        if self.period_ns is not None:
            self._schedule_periods(final=True)
        while self._windows:
            yield self._render(*self._windows.popleft(), complete=False)
        self.summary.decoder = dict(self.decoder.counters)
        self.summary.buffer = self.buffer.counters()

    # ------------------------------------------------------------------------------ windows
    def _schedule_periods(self, final: bool = False) -> None:
        """Queue the fixed-period windows the stream has covered (at the end: all that hold events)."""
        if self._previous_end is None:
            return
        covered = self.buffer.covered_until_ns
        newest = self.buffer.newest_t_ns
        while covered is not None and self._previous_end + self.period_ns <= covered:
            self._windows.append((self._previous_end, self._previous_end + self.period_ns))
            self._previous_end += self.period_ns
        while final and newest is not None and self._previous_end <= newest:
            self._windows.append((self._previous_end, self._previous_end + self.period_ns))
            self._previous_end += self.period_ns

    def _render_covered(self) -> Iterator[EventFrame]:
        while self._windows and self.buffer.window_complete(self._windows[0][1]):
            yield self._render(*self._windows.popleft(), complete=True)

    def _render(self, t_start: int, t_end: int, complete: bool) -> EventFrame:
        x, y, t, p = self.buffer.take(t_start, t_end)
        height, width = self._sensor_hw or (1, 1)
        image = render_events(x, y, t, p, height, width, drop_out_of_range=True)
        self.summary.frames += 1
        self.summary.incomplete_frames += not complete
        frame = EventFrame(self._next_index, t_start, t_end, int(x.shape[0]), complete, image)
        self._next_index += 1
        return frame


def iter_event_frames(bag_path, topic: str, *, rgb_topic: Optional[str] = None, period_s: Optional[float] = None,
                      clock: str = "ros", max_window_s: float = 0.1,
                      renderer: Optional[EventFrameRenderer] = None) -> Iterator[EventFrame]:
    """Yield the event frames of ``topic`` in a rosbag2 recording (folder, ``.mcap`` or ``.db3``).

    Windows: those of ``rgb_topic`` (header stamps) if given, else ``period_s`` (default 1/30 s).
    After the iterator is exhausted, ``renderer.summary`` holds the counters.
    """
    from rosbags.highlevel import AnyReader

    bag_path = Path(bag_path)
    if not (bag_path.is_dir() and (bag_path / "metadata.yaml").is_file()
            or bag_path.is_file() and bag_path.suffix in BAG_SUFFIXES):
        raise InputError("missing_file", f"{bag_path} is not a rosbag2 folder, .mcap or .db3 file")
    if rgb_topic is not None and clock != "ros":
        raise InputError("parameter", "RGB windows need clock='ros' (RGB stamps are on the ROS clock)")
    if rgb_topic is None and period_s is None:
        period_s = 1 / 30
    if renderer is None:
        renderer = EventFrameRenderer(clock=clock, max_window_ns=int(max_window_s * 1e9),
                                      period_ns=None if rgb_topic is not None else int(period_s * 1e9))
    store = _typestore()
    with AnyReader([bag_path], default_typestore=store) as reader:
        by_topic = {c.topic: c for c in reader.connections}
        for wanted, types in ((topic, EVENT_PACKET_ALIASES), (rgb_topic, IMAGE_TYPES)):
            if wanted is None:
                continue
            if wanted not in by_topic:
                raise InputError("missing_topic", f"{bag_path} has no topic {wanted!r}; it has: "
                                 + ", ".join(sorted(by_topic)))
            if by_topic[wanted].msgtype not in types:
                raise InputError("msgtype", f"topic {wanted!r} carries {by_topic[wanted].msgtype}; expected "
                                 + " or ".join(types))
        connections = [c for c in reader.connections if c.topic in (topic, rgb_topic)]
        for connection, _, raw in reader.messages(connections=connections):
            msg = store.deserialize_cdr(raw, connection.msgtype)
            if connection.topic == topic:
                yield from renderer.add_packet(msg)
            else:
                yield from renderer.add_frame_stamp(_stamp_ns(msg))
    yield from renderer.finish()


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="seatrack-event-frames",
        description="Render the event_camera_msgs/EventPacket topic of a rosbag2 recording (evt3 or mono) "
                    "as VisEvent-style event frames (white, ON red, OFF blue), one image per window.")
    parser.add_argument("bag", type=Path, help="rosbag2 folder, .mcap or .db3 file")
    parser.add_argument("--out", type=Path, required=True, help="output folder (created)")
    parser.add_argument("--topic", default="/event_camera/events", help="EventPacket topic (default %(default)s)")
    windows = parser.add_mutually_exclusive_group()
    windows.add_argument("--rgb-topic", help="cut windows between the stamps of this Image/CompressedImage topic")
    windows.add_argument("--period", type=float, help="fixed window length in seconds (default 1/30 without "
                                                      "--rgb-topic)")
    parser.add_argument("--max-window", type=float, default=0.1,
                        help="longest RGB window in seconds, as the node's event_max_window (default %(default)s)")
    parser.add_argument("--clock", choices=("ros", "sensor"), default="ros",
                        help="window times: ros = events mapped onto the header stamps (default), "
                             "sensor = the decoded sensor clock")
    parser.add_argument("--format", choices=("png", "bmp"), default="png", help="image format (VisEvent used bmp)")
    parser.add_argument("--max-frames", type=int, help="stop after this many frames")
    return parser


def main(argv: Optional[list[str]] = None) -> int:
    args = build_parser().parse_args(argv)
    if args.period is not None and not args.period > 0:
        print("seatrack-event-frames: --period must be positive", file=sys.stderr)
        return 2
    if not args.max_window > 0:
        print("seatrack-event-frames: --max-window must be positive", file=sys.stderr)
        return 2
    period_ns = None
    if args.rgb_topic is None:
        period_ns = int((args.period if args.period is not None else 1 / 30) * 1e9)
    try:
        renderer = EventFrameRenderer(clock=args.clock, max_window_ns=int(args.max_window * 1e9),
                                      period_ns=period_ns)
    except InputError as exc:
        print(f"seatrack-event-frames: {exc}", file=sys.stderr)
        return 2
    args.out.mkdir(parents=True, exist_ok=True)
    written = 0
    try:
        with open(args.out / "frames.csv", "w", newline="") as index_file:
            index = csv.writer(index_file)
            index.writerow(["frame", "file", "t_start_ns", "t_end_ns", "events", "complete"])
            for frame in iter_event_frames(args.bag, args.topic, rgb_topic=args.rgb_topic, clock=args.clock,
                                           renderer=renderer):
                name = f"{frame.index:06d}.{args.format}"
                if not cv2.imwrite(str(args.out / name), cv2.cvtColor(frame.image, cv2.COLOR_RGB2BGR)):
                    print(f"seatrack-event-frames: could not write {args.out / name}", file=sys.stderr)
                    return 1
                index.writerow([frame.index, name, frame.t_start_ns, frame.t_end_ns, frame.events,
                                int(frame.complete)])
                written += 1
                if args.max_frames is not None and written >= args.max_frames:
                    break
    except InputError as exc:
        print(f"seatrack-event-frames: {exc}", file=sys.stderr)
        return 2
    summary = renderer.summary
    decoder = summary.decoder or renderer.decoder.counters
    buffer = summary.buffer or renderer.buffer.counters()
    print(f"{written} frames written to {args.out} ({summary.incomplete_frames} incomplete); "
          f"{summary.packets} packets, {decoder.get('events', 0)} events, {decoder.get('triggers', 0)} triggers")
    problems = {**summary.bad_packets,
                **{k: v for k, v in decoder.items() if k not in ("packets", "events", "triggers") and v},
                **{k: v for k, v in buffer.items() if k.startswith(("dropped", "sequence", "missing", "late")) and v}}
    if problems:
        print("counted: " + ", ".join(f"{k} {v}" for k, v in sorted(problems.items())))
    return 0


if __name__ == "__main__":
    sys.exit(main())
