"""seatrack-event-frames: EventPacket topics of rosbag2 recordings -> VisEvent-style event frames."""

from __future__ import annotations

import csv

import cv2
import numpy as np
import pytest

from event_packet_helpers import DATA
from seatrack_ros.offline import event_frames
from seatrack_ros.offline.event_frames import EVENT_PACKET_TYPE, iter_event_frames, main

rosbags = pytest.importorskip("rosbags")
from rosbags.rosbag2 import Writer  # noqa: E402

TS = event_frames._typestore()
Header = TS.types["std_msgs/msg/Header"]
Time = TS.types["builtin_interfaces/msg/Time"]
Image = TS.types["sensor_msgs/msg/Image"]
EventPacket = TS.types[EVENT_PACKET_TYPE]

T0 = 1_700_000_000_000_000_000
MS = 1_000_000
WIDTH, HEIGHT = 256, 64
RGB_STAMPS = [T0 + 33 * MS * k for k in range(5)]
ON_BGR, OFF_BGR, WHITE = (30, 30, 220), (200, 30, 30), (255, 255, 255)


def _header(stamp_ns):
    return Header(stamp=Time(sec=stamp_ns // 1_000_000_000, nanosec=stamp_ns % 1_000_000_000), frame_id="cam")


def mono_packet(j, encoding="mono"):
    """Packet j: 10 events, 1 ms apart from T0 + 10j ms, at x = 10j + i, y = j, polarity i % 2."""
    i = np.arange(10, dtype=np.uint64)
    words = ((i % 2) << np.uint64(63)) | (np.uint64(j) << np.uint64(48)) | ((np.uint64(10 * j) + i) << np.uint64(32)) \
        | (i * np.uint64(MS))
    return EventPacket(header=_header(T0 + 10 * MS * j), height=HEIGHT, width=WIDTH, seq=j, time_base=10 * MS * j,
                       encoding=encoding, is_bigendian=False,
                       events=np.frombuffer(words.astype("<u8").tobytes(), np.uint8))


def write_bag(path, bad_packet_at=None):
    """20 event packets (each received 10 ms after its first event, i.e. after the RGB frames it
    serves) and 5 RGB frames (received 1 ms after their stamps)."""
    with Writer(path, version=9) as writer:
        events = writer.add_connection("/event_camera/events", EVENT_PACKET_TYPE, typestore=TS)
        rgb = writer.add_connection("/camera/image_raw", "sensor_msgs/msg/Image", typestore=TS)
        messages = []
        for j in range(20):
            msg = mono_packet(j, "evt2" if j == bad_packet_at else "mono")
            messages.append((T0 + 10 * MS * j + 10 * MS, events, TS.serialize_cdr(msg, EVENT_PACKET_TYPE)))
        for stamp in RGB_STAMPS:
            image = Image(header=_header(stamp), height=2, width=2, encoding="rgb8", is_bigendian=0, step=6,
                          data=np.zeros(12, np.uint8))
            messages.append((stamp + MS, rgb, TS.serialize_cdr(image, "sensor_msgs/msg/Image")))
        for received, connection, raw in sorted(messages, key=lambda m: m[0]):
            writer.write(connection, received, raw)
    return path


def test_rgb_windows_wait_for_the_packets_that_cover_them(tmp_path):
    bag = write_bag(tmp_path / "bag")
    frames = list(iter_event_frames(bag, "/event_camera/events", rgb_topic="/camera/image_raw", max_window_s=0.1))
    assert [(f.t_start_ns - T0, f.t_end_ns - T0) for f in frames] == \
        [(-100 * MS, 0)] + [(33 * MS * (k - 1), 33 * MS * k) for k in range(1, 5)]
    # every millisecond holds one event; the packets holding a window's last events arrive after its RGB frame
    assert [f.events for f in frames] == [0, 33, 33, 33, 33] and all(f.complete for f in frames)
    frame = frames[1].image  # window [T0, T0 + 33 ms): events 0..32 at x = 10 j + i, y = j
    for n in range(33):
        j, i = divmod(n, 10)
        expected = (220, 30, 30) if i % 2 else (30, 30, 200)  # RGB: ON red, OFF blue
        assert tuple(frame[j, 10 * j + i]) == expected
    assert int(np.count_nonzero(np.any(frame != 255, axis=2))) == 33


def test_fixed_periods_cover_every_event_once(tmp_path):
    bag = write_bag(tmp_path / "bag")
    frames = list(iter_event_frames(bag, "/event_camera/events", period_s=0.05))
    assert [f.t_start_ns - T0 for f in frames] == [0, 50 * MS, 100 * MS, 150 * MS]
    assert [f.events for f in frames] == [50, 50, 50, 50]
    assert [f.complete for f in frames] == [True, True, True, False]  # nothing after the last packet covers it


def test_a_bad_packet_is_counted_and_the_rest_rendered(tmp_path):
    bag = write_bag(tmp_path / "bag", bad_packet_at=3)
    renderer = event_frames.EventFrameRenderer(period_ns=50 * MS)
    frames = list(iter_event_frames(bag, "/event_camera/events", renderer=renderer))
    assert [f.events for f in frames] == [40, 50, 50, 50]
    assert renderer.summary.bad_packets == {"event_packet_encoding": 1}
    assert renderer.summary.decoder["event_packet_encoding"] == 1


def test_command_line_writes_images_and_an_index(tmp_path, capsys):
    bag = write_bag(tmp_path / "bag")
    out = tmp_path / "frames"
    assert main([str(bag), "--out", str(out), "--rgb-topic", "/camera/image_raw", "--format", "bmp"]) == 0
    with open(out / "frames.csv", newline="") as fh:
        rows = list(csv.DictReader(fh))
    assert [int(r["events"]) for r in rows] == [0, 33, 33, 33, 33]
    image = cv2.imread(str(out / rows[1]["file"]))  # BGR on disk, as VisEvent's BMPs
    assert image.shape == (HEIGHT, WIDTH, 3)
    assert tuple(image[0, 1]) == ON_BGR and tuple(image[0, 0]) == OFF_BGR and tuple(image[5, 0]) == WHITE
    assert "5 frames written" in capsys.readouterr().out


def test_command_line_errors(tmp_path, capsys):
    bag = write_bag(tmp_path / "bag")
    assert main([str(bag), "--out", str(tmp_path / "o"), "--topic", "/nope"]) == 2
    assert "has no topic '/nope'" in capsys.readouterr().err
    assert main([str(bag), "--out", str(tmp_path / "o"), "--topic", "/camera/image_raw"]) == 2
    assert "carries sensor_msgs/msg/Image" in capsys.readouterr().err
    assert main([str(tmp_path / "missing"), "--out", str(tmp_path / "o")]) == 2
    assert main([str(bag), "--out", str(tmp_path / "o"), "--period", "0"]) == 2


@pytest.mark.skipif(not DATA.is_dir(), reason="../shared/ros2-upstream/data (the event recordings) is absent")
def test_kit_recordings_render(tmp_path):
    # mono: a diagonal line 1 us per event, 50 per packet: 20 us windows on the sensor clock hold 20 each
    frames = list(iter_event_frames(DATA / "test_data_mono_cd", "/event_camera/events", period_s=20e-6,
                                    clock="sensor"))
    assert [f.events for f in frames] == [20] * 5 and frames[0].image.shape == (480, 640, 3)
    # evt3: every CD event lands in exactly one 10 ms window
    frames = list(iter_event_frames(DATA / "test_data_evt3_trigger", "/event_camera/events", period_s=0.01))
    assert sum(f.events for f in frames) == 82469 and frames[0].image.shape == (720, 1280, 3)
