"""seatrack-run on a rosbag2 recording whose aux topic is event_camera_msgs/EventPacket (evt3 and mono),
written here with rosbags: each RGB frame's window is rendered once a later packet covers it, as the
node does, with the events recorded after the RGB frame included."""

from __future__ import annotations

import csv

import numpy as np
import pytest

from event_packet_helpers import SyntheticEventCamera
from offline_helpers import fake_factory
from seatrack_ros.errors import InputError
from seatrack_ros.modalities import render_events
from seatrack_ros.offline import event_frames, run

rosbags = pytest.importorskip("rosbags")
from rosbags.rosbag2 import StoragePlugin, Writer  # noqa: E402

TS = event_frames._typestore()
Header = TS.types["std_msgs/msg/Header"]
Time = TS.types["builtin_interfaces/msg/Time"]
Image = TS.types["sensor_msgs/msg/Image"]
EventPacket = TS.types[event_frames.EVENT_PACKET_TYPE]

H, W = 24, 32
T0 = 1_700_000_000_000_000_000
MS = 1_000_000
PERIOD = 33 * MS
RGB_STAMPS = [T0 + PERIOD * k for k in range(1, 5)]
OFFSET = 5_000_000_000  # ROS minus sensor clock


def _header(stamp_ns):
    return Header(stamp=Time(sec=stamp_ns // 1_000_000_000, nanosec=stamp_ns % 1_000_000_000), frame_id="cam")


def _packet(fields):
    return EventPacket(header=_header(fields["stamp_ns"]), height=fields["height"], width=fields["width"],
                       seq=fields["seq"], time_base=fields["time_base"], encoding=fields["encoding"],
                       is_bigendian=False, events=np.frombuffer(bytes(fields["events"]), np.uint8))


def write_bag(path, encoding, rng):
    """For each RGB frame: a packet with its window's early events recorded before the frame, and one
    with the last 10 ms (plus an event at the RGB stamp that closes the window) recorded 5 ms after it;
    the last frame's closing packet is missing, and one truncated packet sits in the middle. Returns the
    events sent (x, y, t, p) and the times of the events recorded after their RGB frame."""
    camera = SyntheticEventCamera(encoding, W, H, OFFSET)
    sent, late_times, messages = [], [], []
    with Writer(path, version=9, storage_plugin=StoragePlugin.MCAP) as writer:
        c_rgb = writer.add_connection("/cam/rgb", "sensor_msgs/msg/Image", typestore=TS)
        c_events = writer.add_connection("/events", event_frames.EVENT_PACKET_TYPE, typestore=TS)
        for k, stamp in enumerate(RGB_STAMPS):
            count = 40
            t = np.sort(rng.integers((stamp - PERIOD) // 1000, stamp // 1000, count)) * 1000
            x, y, p = rng.integers(0, W, count), rng.integers(0, H, count), rng.integers(0, 2, count)
            early = t < stamp - 10 * MS
            parts = [(early, stamp - 1 * MS)]
            if k < len(RGB_STAMPS) - 1:
                parts.append((~early, stamp + 5 * MS))
            if k == 1:
                parts.append((None, stamp + 2 * MS))  # the truncated packet, recorded before the closing one
                parts.sort(key=lambda part: part[1])  # sequence numbers in recording order
            for mask, recorded in parts:
                if mask is None:
                    bad = dict(camera.packet([1], [1], [stamp + 2 * MS], [1]))
                    bad["events"] = bad["events"][:-1]  # an odd byte count
                    messages.append((recorded, c_events,
                                     TS.serialize_cdr(_packet(bad), event_frames.EVENT_PACKET_TYPE)))
                    continue
                xs, ys, ts, ps = x[mask], y[mask], t[mask], p[mask]
                if recorded > stamp:  # the closing packet: one more event at the RGB stamp
                    xs, ys, ts, ps = (np.append(a, b) for a, b in zip((xs, ys, ts, ps), (0, 0, stamp, 1)))
                    late_times.extend(t[mask].tolist())
                fields = camera.packet(xs, ys, ts, ps)
                messages.append((recorded, c_events, TS.serialize_cdr(_packet(fields), event_frames.EVENT_PACKET_TYPE)))
                sent.append((xs, ys, ts, ps))
            rgb = np.full((H, W, 3), 10 * k, np.uint8)
            image = Image(header=_header(stamp), height=H, width=W, encoding="rgb8", is_bigendian=0, step=3 * W,
                          data=np.frombuffer(rgb.tobytes(), np.uint8))
            messages.append((stamp + 1, c_rgb, TS.serialize_cdr(image, "sensor_msgs/msg/Image")))
        for recorded, connection, raw in sorted(messages, key=lambda m: m[0]):
            writer.write(connection, recorded, raw)
    events = tuple(np.concatenate(column) for column in zip(*sent))
    return path, events, np.array(late_times, np.int64)


def expected_frame(events, t_start, t_end, without=None):
    x, y, t, p = events
    keep = (t >= t_start) & (t < t_end)
    if without is not None:
        keep &= ~np.isin(t, without)
    return render_events(x[keep], y[keep], t[keep], p[keep], H, W)


@pytest.mark.parametrize("encoding", ["evt3", "mono"])
def test_bag_with_event_packets_renders_whole_windows(tmp_path, encoding):
    bag, events, late = write_bag(tmp_path / "rec", encoding, np.random.default_rng(7))
    trackers = []
    out = tmp_path / "boxes.csv"
    summary = run.run_bag(bag, out, fake_factory(trackers), "/cam/rgb", "/events", "event", (3, 4, 8, 8),
                          progress=False, log=lambda *_: None)
    with open(out, newline="") as fh:
        rows = list(csv.DictReader(fh))
    assert [int(r["rgb_stamp_ns"]) for r in rows] == RGB_STAMPS
    calls = trackers[0].calls
    assert [int(c[1][0, 0, 0]) for c in calls] == [0, 10, 20, 30]  # RGB frames in order
    previous = 0
    for stamp, call in zip(RGB_STAMPS, calls):
        t_start = previous or stamp - 100 * MS
        np.testing.assert_array_equal(call[2], expected_frame(events, t_start, stamp))
        previous = stamp
    # negative control: the events recorded after their RGB frame show in what the tracker saw
    assert not np.array_equal(calls[1][2], expected_frame(events, RGB_STAMPS[0], RGB_STAMPS[1], without=late))
    counters = summary["events"]
    assert counters["event_packet_size"] == 1 and counters["windows_incomplete"] == 1, counters
    assert counters["late_events"] == 0 and counters["sequence_gaps"] == 0, counters


def test_cli_on_an_event_packet_bag(tmp_path, capsys):
    bag, _, _ = write_bag(tmp_path / "rec", "evt3", np.random.default_rng(8))
    out = tmp_path / "boxes.csv"
    args = [str(bag), "--out", str(out), "--rgb-topic", "/cam/rgb", "--aux-topic", "/events",
            "--init-box", "3,4,8,8", "--no-progress", "--event-max-window", "0.05"]
    assert run.main(args + ["--modality", "event"], make_tracker=fake_factory()) == 0
    assert len(out.read_text().splitlines()) == 1 + len(RGB_STAMPS)
    assert "event_packet_size" in capsys.readouterr().out
    assert run.main(args + ["--modality", "thermal"], make_tracker=fake_factory()) == 1
    assert "use --modality event" in capsys.readouterr().err
    with pytest.raises(InputError):
        run._event_window_ns(0.0)
