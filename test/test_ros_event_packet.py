"""The node on event_camera_msgs/EventPacket over DDS: RGB frames plus evt3 or mono packets built here
from synthetic events (the test helpers' encoders, packets cut and stamped as the drivers do), the node
started from the shipped config/rgbe.yaml (whose aux_transport is event_packet) in a second process.

Each RGB frame's window is closed by a packet published 0.4 s after the RGB frame: the node must
wait for it (bounded by event_wait_timeout) and render the whole window, which the debug image shows
pixel for pixel. Then bad packets: each kind logged once, counted, and tracking goes on.
"""

from __future__ import annotations

import json
import os
import time

import numpy as np
import pytest

import rosutil
from event_packet_helpers import SyntheticEventCamera, ros_event_packet
from seatrack_ros.streams.synthetic import make_sequence

try:
    import event_camera_msgs.msg  # noqa: F401

    HAVE_EVENT_CAMERA_MSGS = True
except ImportError:
    HAVE_EVENT_CAMERA_MSGS = False

pytestmark = pytest.mark.skipif(
    not HAVE_EVENT_CAMERA_MSGS,
    reason="event_camera_msgs is not installed (scripts/test.sh installs it from ../shared/ros2-upstream; "
           "a ROS 2 install: apt install ros-<distro>-event-camera-msgs)")

H, W = 128, 160
ENCODINGS = ("evt3", "mono")
DOMAINS = {"evt3": rosutil.domain_id(30), "mono": rosutil.domain_id(31)}
OFFSET = 1_234_567_000_000  # ROS clock minus the event sensor's clock, ns (a whole number of microseconds)
LATE_S = 0.4  # the closing packet follows its RGB frame by this much
WAIT_S = 2.0  # event_wait_timeout: far above LATE_S, so a loaded machine still delivers in time
FRAMES = 3
START_NS = (time.time_ns() // 1000) * 1000


@pytest.fixture(scope="module")
def frames():
    return make_sequence(FRAMES + 2, "event", H, W, start_ns=START_NS, seed=11)


@pytest.fixture(scope="module")
def nodes(frames):
    common = {"rgb_topic": "/cam/rgb", "aux_topic": "/cam/aux", "reliable_qos": True, "stats_period": 0.5,
              "event_wait_timeout": WAIT_S, "init_box": list(frames[0].box)}
    config = rosutil.ROOT / "config" / "rgbe.yaml"  # shipped: aux_transport event_packet
    procs = {name: rosutil.NodeProcess(DOMAINS[name], common, params_file=config) for name in ENCODINGS}
    try:
        for proc in procs.values():
            proc.wait_for_log(r"ready: modality=event rgb=/cam/rgb \(raw\) aux=/cam/aux \(event_packet\)",
                              timeout=180)
        yield procs
    finally:
        for proc in procs.values():
            proc.stop()


class EventClient:
    """The test's client for one node: publishers, targets, stats, debug images, the sent events."""

    def __init__(self, encoding: str) -> None:
        from event_camera_msgs.msg import EventPacket
        from sensor_msgs.msg import Image
        from std_msgs.msg import String

        self.ros = rosutil.Client(DOMAINS[encoding], aux_type=EventPacket)
        self.stats, self.debug = [], []
        self.ros.node.create_subscription(String, "/seatrack/stats", lambda m: self.stats.append(m.data), 10)
        self.ros.node.create_subscription(Image, "/seatrack/debug_image", self.debug.append, 10)
        self.ros.wait_for_subscribers()
        rosutil.wait_until(lambda: self.ros.node.count_publishers("/seatrack/debug_image") > 0, 20, "debug pub")
        self.camera = SyntheticEventCamera(encoding, W, H, OFFSET)
        self.sent = [np.zeros(0, np.uint16), np.zeros(0, np.uint16), np.zeros(0, np.int64), np.zeros(0, np.uint8)]

    def publish(self, x, y, t, p) -> None:
        self.ros.aux_pub.publish(ros_event_packet(self.camera.packet(x, y, t, p)))
        self.sent = [np.concatenate([a, np.asarray(b, a.dtype)]) for a, b in zip(self.sent, (x, y, t, p))]

    def latest_stats(self) -> dict:
        count = len(self.stats)
        rosutil.wait_until(lambda: len(self.stats) > count + 1, 15, "two stats messages")
        return json.loads(self.stats[-1])

    def debug_for(self, target):
        rosutil.wait_until(lambda: any(i.header.stamp == target.header.stamp for i in self.debug), 15,
                           "the debug image")
        image = next(i for i in self.debug if i.header.stamp == target.header.stamp)
        return np.frombuffer(image.data, np.uint8).reshape(image.height, image.width, 3)

    def close(self) -> None:
        self.ros.close()


@pytest.fixture(scope="module", params=ENCODINGS)
def client(request, nodes):
    saved = os.environ.get("ROS_DOMAIN_ID")  # rosutil.Client sets it; later modules' processes inherit it
    c = EventClient(request.param)
    c.encoding = request.param
    c.node = nodes[request.param]
    yield c
    c.close()
    if saved is not None:
        os.environ["ROS_DOMAIN_ID"] = saved


def frame_packets(frame):
    """The frame's events in whole microseconds (rounded up, so none moves into the previous window),
    split into the part published before the RGB frame and the closing part published after it, which
    ends with one event at the RGB stamp (it belongs to the next window and tells the node that the
    stream has reached the stamp)."""
    x, y, t, p = frame.events
    t = -(-t // 1000) * 1000
    early = t < frame.stamp_ns - 10_000_000
    closing_t = -(-frame.stamp_ns // 1000) * 1000
    late = (np.append(x[~early], 0), np.append(y[~early], 0), np.append(t[~early], closing_t),
            np.append(p[~early], 1))
    return (x[early], y[early], t[early], p[early]), late


def expected_view(client, frame, target, previous_stamp, *, without=None):
    from seatrack_ros.modalities import render_events
    from seatrack_ros.streams.debug_view import draw_debug_view

    x, y, t, p = client.sent
    start = previous_stamp if previous_stamp else frame.stamp_ns - 100_000_000
    keep = (t >= start) & (t < frame.stamp_ns)
    if without is not None:
        keep &= ~np.isin(t, without)
    aux = render_events(x[keep], y[keep], t[keep], p[keep], H, W)
    return draw_debug_view(frame.rgb, aux, "event", target), int(np.count_nonzero(keep))


def send_frame(client, frame, timeout=90.0):
    """Early packet, RGB frame, then (LATE_S later) the closing packet; returns the frame's target."""
    early, late = frame_packets(frame)
    client.publish(*early)
    before = len(client.ros.targets)
    client.ros.rgb_pub.publish(rosutil.image_msg(frame.rgb, "rgb8", frame.stamp_ns, "rgb_optical"))
    time.sleep(LATE_S)
    client.publish(*late)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for msg in client.ros.targets[before:]:
            if msg.header.stamp.sec * 10**9 + msg.header.stamp.nanosec == frame.stamp_ns:
                return msg, late
        time.sleep(0.02)
    raise AssertionError(f"no target for the frame at {frame.stamp_ns}:\n{client.node.log()}")


def test_tracks_on_event_packets_with_windows_closed_by_later_packets(client, frames):
    from seatrack_ros.msg import Target

    targets = []
    previous = 0
    for frame in frames[:FRAMES]:
        target, late = send_frame(client, frame)
        targets.append(target)
        canvas = client.debug_for(target)
        expected, count = expected_view(client, frame, target, previous)
        # the node rendered every event of the window, those of the closing packet included
        np.testing.assert_array_equal(canvas, expected)
        without_late, _ = expected_view(client, frame, target, previous, without=late[2])
        assert not np.array_equal(canvas, without_late)  # negative control: the late events show
        previous = frame.stamp_ns
    assert targets[0].status == Target.STATUS_TRACKING
    assert (targets[0].x, targets[0].y, targets[0].width, targets[0].height) == pytest.approx(frames[0].box)
    assert all(t.track_id == 1 and t.test_weights for t in targets)
    stats = client.latest_stats()
    events = stats["events"]
    assert events["windows_incomplete"] == 0 and events["late_events"] == 0, events
    assert events["windows_waited"] >= 1, events  # at least one closing packet came while the node waited
    assert events["windows_ready"] + events["windows_waited"] == FRAMES, events
    assert events["last_window_events"] == count and events["last_window_complete"] is True, events
    assert events["packets"] == 2 * FRAMES and events["sequence_gaps"] == 0, events
    assert stats["processed"] == FRAMES and stats["problems"] == {}, stats


def test_bad_packets_logged_once_counted_and_tracking_goes_on(client, frames):
    """Truncated packets (an odd byte count, a mono packet cut inside a word), an unknown encoding,
    width or height 0 and a sequence gap, between good frames."""
    from seatrack_ros.msg import Target

    rng = np.random.default_rng(5)
    t0 = -(-frames[FRAMES - 1].stamp_ns // 1000) * 1000 + 1_000_000  # whole microseconds
    good = SyntheticEventCamera(client.encoding, W, H, OFFSET)
    sample = good.packet(rng.integers(0, W, 8), rng.integers(0, H, 8), t0 + np.arange(8) * 1000, np.ones(8))
    bad = [
        dict(events=sample["events"][:-1]),  # odd byte count
        dict(events=sample["events"][:-1]),  # the same again: counted, not logged
        dict(encoding="mono", events=bytes(8 * 3 + 4)),  # a mono packet cut inside a 64-bit word
        dict(encoding="libcaer_cmp"),  # libcaer_driver's default encoding: not decoded here
        dict(width=0),
        dict(height=0),
    ]
    processed_before = client.latest_stats()["processed"]
    for change in bad:
        fields = dict(sample, **change, seq=client.camera.seq)
        client.camera.seq += 1
        client.ros.aux_pub.publish(ros_event_packet(fields))
        time.sleep(0.1)  # the node's input queue keeps the last 5 messages
    client.camera.seq += 2  # two packets never sent: a sequence gap
    time.sleep(0.5)
    for frame in frames[FRAMES:]:
        target, _ = send_frame(client, frame)
        assert target.status in (Target.STATUS_TRACKING, Target.STATUS_LOST) and target.track_id == 1
    stats = client.latest_stats()
    problems, events = stats["problems"], stats["events"]
    expected = {"event_packet_size": 3, "event_packet_encoding": 1, "event_packet_geometry": 2,
                "event_sequence_gap": 1}
    assert {kind: problems.get(kind) for kind in expected} == expected, problems
    assert {kind: events.get(kind) for kind in expected if kind != "event_sequence_gap"} == \
        {kind: n for kind, n in expected.items() if kind != "event_sequence_gap"}, events
    assert events["missing_packets"] == 2, events
    log = client.node.log()
    for kind in expected:
        assert log.count(f"[{kind}]") == 1, log
    assert stats["processed"] == processed_before + len(frames) - FRAMES
