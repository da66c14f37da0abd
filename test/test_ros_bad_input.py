"""Bad input never kills the node; each kind of problem is logged once and counted.

Three nodes (thermal, depth, event) start in parallel. No target is initialised, so the node only
converts and encodes each pair and publishes a WAITING target; a good pair after each bad one proves
the node is still alive and working.
"""

from __future__ import annotations

import json
import time

import numpy as np
import pytest

import rosutil
from seatrack_ros.streams.synthetic import make_sequence

H, W = 128, 160
DOMAINS = {"thermal": rosutil.domain_id(1), "depth": rosutil.domain_id(2), "event": rosutil.domain_id(3),
           "compressed": rosutil.domain_id(7)}
# aux at half the RGB resolution, mapped onto the RGB image by a scale-2 homography
HOMOGRAPHY = [2.0, 0.0, 0.0, 0.0, 2.0, 0.0, 0.0, 0.0, 1.0]


@pytest.fixture(scope="module")
def nodes():
    common = {"rgb_topic": "/cam/rgb", "aux_topic": "/cam/aux", "reliable_qos": True,
              "stats_period": 0.5, "sync_slop": 0.01}
    # Each node starts from the shipped parameter file of its modality, with test overrides.
    config = rosutil.ROOT / "config"
    procs = {
        "thermal": rosutil.NodeProcess(DOMAINS["thermal"], common, params_file=config / "rgbt.yaml"),
        "depth": rosutil.NodeProcess(DOMAINS["depth"], common, params_file=config / "rgbd.yaml"),
        "event": rosutil.NodeProcess(DOMAINS["event"], dict(common, aux_transport="events"),
                                     params_file=config / "rgbe.yaml"),
        "compressed": rosutil.NodeProcess(DOMAINS["compressed"], dict(
            common, rgb_transport="compressed", aux_transport="compressed", aux_to_rgb_homography=HOMOGRAPHY),
            params_file=config / "rgbt.yaml"),
    }
    try:
        for name, proc in procs.items():
            proc.wait_for_log(f"ready: modality={'thermal' if name == 'compressed' else name}", timeout=180)
        yield procs
    finally:
        for proc in procs.values():
            proc.stop()


def make_client(modality):
    from sensor_msgs.msg import CompressedImage

    from seatrack_ros.msg import EventArray

    if modality == "compressed":
        client = rosutil.Client(DOMAINS[modality], aux_type=CompressedImage, rgb_type=CompressedImage)
    else:
        client = rosutil.Client(DOMAINS[modality], aux_type=EventArray if modality == "event" else None)
    client.stats = []
    from std_msgs.msg import String

    client.node.create_subscription(String, "/seatrack/stats", lambda m: client.stats.append(m.data), 10)
    client.wait_for_subscribers()
    return client


@pytest.fixture(scope="module")
def thermal(nodes):
    c = make_client("thermal")
    yield c
    c.close()


@pytest.fixture(scope="module")
def depth(nodes):
    c = make_client("depth")
    yield c
    c.close()


@pytest.fixture(scope="module")
def event(nodes):
    c = make_client("event")
    yield c
    c.close()


@pytest.fixture(scope="module")
def frame():
    return make_sequence(1, "thermal", H, W, seed=5)[0]


def good_pair(frame, stamp):
    return (rosutil.image_msg(frame.rgb, "rgb8", stamp), rosutil.image_msg(frame.aux, "mono8", stamp))


def still_alive(client, frame):
    """A good pair after the bad one must still produce a target."""
    time.sleep(0.3)  # let the worker finish the bad pair before a newer pair could supersede it
    stamp = time.time_ns()
    msg = client.send_and_wait(*good_pair(frame, stamp), timeout=30)
    assert msg.header.stamp.sec * 10**9 + msg.header.stamp.nanosec == stamp


def latest_stats(client):
    """The next stats message the node publishes."""
    count = len(client.stats)
    # the second new message was certainly published after this call began
    rosutil.wait_until(lambda: len(client.stats) > count + 1, 10, "two stats messages")
    return json.loads(client.stats[-1])


def assert_logged_once(node, kind):
    log = node.log()
    assert log.count(f"[{kind}]") == 1, log


BAD_RGB = {
    "unknown encoding": lambda f, s: rosutil.image_msg(f.rgb, "yuv_weird", s),
    "float RGB": lambda f, s: rosutil.image_msg(f.rgb[:, :, 0].astype(np.float32), "32FC1", s),
    "empty": lambda f, s: rosutil.image_msg(np.zeros((0, 0, 3), np.uint8), "rgb8", s),
    "short data": lambda f, s: _truncated(rosutil.image_msg(f.rgb, "rgb8", s)),
}


def _truncated(msg):
    msg.data = msg.data[:-7]
    return msg


# the problem kind each bad RGB message is counted as
BAD_RGB_KIND = {"unknown encoding": "encoding", "float RGB": "encoding", "empty": "empty", "short data": "size"}


@pytest.mark.parametrize("case", sorted(BAD_RGB))
def test_bad_rgb_is_skipped_twice_counted_twice_and_logged_once(thermal, nodes, frame, case):
    kind = BAD_RGB_KIND[case]
    before = latest_stats(thermal)["problems"].get(kind, 0)
    for _ in range(2):
        stamp = time.time_ns()
        thermal.send_pair(BAD_RGB[case](frame, stamp), rosutil.image_msg(frame.aux, "mono8", stamp))
        still_alive(thermal, frame)
    problems = latest_stats(thermal)["problems"]
    assert problems.get(kind, 0) - before == 2, problems
    assert_logged_once(nodes["thermal"], kind)
    assert nodes["thermal"].proc.poll() is None


def test_missing_stamps_are_counted_not_matched(thermal, nodes, frame):
    for _ in range(3):
        rgb, aux = good_pair(frame, 0)
        thermal.send_pair(rgb, aux)
    still_alive(thermal, frame)
    stats = latest_stats(thermal)
    assert stats["problems"].get("rgb_no_stamp") == 3
    assert stats["problems"].get("aux_no_stamp") == 3
    assert_logged_once(nodes["thermal"], "rgb_no_stamp")


def test_wrong_aux_encoding_and_mono16(thermal, nodes, frame):
    before = latest_stats(thermal)["problems"].get("encoding", 0)
    stamp = time.time_ns()
    thermal.send_pair(rosutil.image_msg(frame.rgb, "rgb8", stamp),
                      rosutil.image_msg(frame.aux.astype(np.float32), "32FC1", stamp))
    still_alive(thermal, frame)
    assert latest_stats(thermal)["problems"].get("encoding", 0) == before + 1
    stamp = time.time_ns()
    msg = thermal.send_and_wait(rosutil.image_msg(frame.rgb, "rgb8", stamp),
                                rosutil.image_msg(frame.aux.astype(np.uint16) * 200, "mono16", stamp))
    assert msg.status == 0  # waiting for init, but processed


def test_step_padding_and_smaller_aux(thermal, nodes, frame):
    """Padded RGB rows must not shear the image: the debug image's left half equals the RGB frame."""
    from sensor_msgs.msg import Image

    images = []
    thermal.node.create_subscription(Image, "/seatrack/debug_image", images.append, 5)
    rosutil.wait_until(lambda: thermal.node.count_publishers("/seatrack/debug_image") > 0, 10, "debug pub")
    time.sleep(0.5)
    stamp = time.time_ns()
    small_aux = frame.aux[::2, ::2].copy()  # 80x64: resized to the RGB size by the node
    msg = thermal.send_and_wait(rosutil.image_msg(frame.rgb, "rgb8", stamp, step=W * 3 + 13),
                                rosutil.image_msg(small_aux, "mono8", stamp, step=W // 2 + 3))
    assert msg.header.stamp.sec * 10**9 + msg.header.stamp.nanosec == stamp
    rosutil.wait_until(lambda: any(i.header.stamp == msg.header.stamp for i in images), 10, "debug image")
    debug = next(i for i in images if i.header.stamp == msg.header.stamp)
    canvas = np.frombuffer(debug.data, np.uint8).reshape(debug.height, debug.width, 3)
    left = canvas[:, :W]
    # the status label is drawn on the top rows; compare below it
    np.testing.assert_array_equal(left[40:], frame.rgb[40:])


def test_nan_depth(depth, nodes, frame):
    depth_m = np.full((H, W), 2.5, np.float32)
    depth_m[:10] = np.nan
    for image, enc in ((np.full((H, W), np.nan, np.float32), "32FC1"), (np.full((H, W), np.nan, np.float32), "32FC1")):
        stamp = time.time_ns()
        depth.send_pair(rosutil.image_msg(frame.rgb, "rgb8", stamp), rosutil.image_msg(image, enc, stamp))
        time.sleep(0.3)
    stamp = time.time_ns()
    msg = depth.send_and_wait(rosutil.image_msg(frame.rgb, "rgb8", stamp), rosutil.image_msg(depth_m, "32FC1", stamp))
    assert msg.header.stamp.sec * 10**9 + msg.header.stamp.nanosec == stamp
    stats = latest_stats(depth)
    assert stats["problems"].get("depth_invalid") == 2, stats["problems"]
    assert_logged_once(nodes["depth"], "depth_invalid")
    # thermal encoding on a depth node
    stamp = time.time_ns()
    depth.send_pair(rosutil.image_msg(frame.rgb, "rgb8", stamp), rosutil.image_msg(frame.aux, "mono8", stamp))
    time.sleep(0.3)
    stamp = time.time_ns()
    depth.send_and_wait(rosutil.image_msg(frame.rgb, "rgb8", stamp),
                        rosutil.image_msg((np.nan_to_num(depth_m) * 1000).astype(np.uint16), "16UC1", stamp))
    assert latest_stats(depth)["problems"].get("encoding") == 1
    assert nodes["depth"].proc.poll() is None


def test_depth_debug_image_shows_the_colour_map_in_rgb(depth, nodes, frame):
    """The depth encoding is BGR (as the network was trained); the rgb8 debug image shows it
    converted to RGB."""
    import cv2
    from sensor_msgs.msg import Image

    from seatrack_ros.modalities import encode_aux

    images = []
    depth.node.create_subscription(Image, "/seatrack/debug_image", images.append, 5)
    rosutil.wait_until(lambda: depth.node.count_publishers("/seatrack/debug_image") > 0, 10, "debug pub")
    time.sleep(0.5)
    depth_mm = np.tile(np.linspace(500, 6000, W, dtype=np.float32), (H, 1)).astype(np.uint16)
    stamp = time.time_ns()
    msg = depth.send_and_wait(rosutil.image_msg(frame.rgb, "rgb8", stamp),
                              rosutil.image_msg(depth_mm, "16UC1", stamp))
    rosutil.wait_until(lambda: any(i.header.stamp == msg.header.stamp for i in images), 10, "debug image")
    debug = next(i for i in images if i.header.stamp == msg.header.stamp)
    assert debug.encoding == "rgb8"
    canvas = np.frombuffer(debug.data, np.uint8).reshape(debug.height, debug.width, 3)
    encoded_bgr = encode_aux("depth", depth_mm, "16UC1")
    expected_rgb = cv2.cvtColor(encoded_bgr, cv2.COLOR_BGR2RGB)
    assert not np.array_equal(encoded_bgr[40:], expected_rgb[40:])  # the colour map is not grey
    np.testing.assert_array_equal(canvas[40:, W:], expected_rgb[40:])


def test_events_out_of_range_and_malformed(event, nodes, frame):
    stamp = time.time_ns()
    xs = np.array([5, 10, W + 50, 3], np.uint16)
    ys = np.array([5, 10, 3, H + 9], np.uint16)
    ts = np.full(4, stamp - 1_000_000, np.int64)
    ps = np.array([1, 0, 1, 1], np.uint8)
    ev = rosutil.event_msg((xs, ys, ts, ps), H, W, stamp)
    msg = event.send_and_wait(rosutil.image_msg(frame.rgb, "rgb8", stamp), ev, timeout=30)
    assert msg.header.stamp.sec * 10**9 + msg.header.stamp.nanosec == stamp

    bad = rosutil.event_msg((xs, ys, ts[:2], ps), H, W, time.time_ns())
    event.aux_pub.publish(bad)
    zero = rosutil.event_msg((xs, ys, ts, ps), 0, 0, time.time_ns())
    event.aux_pub.publish(zero)
    time.sleep(0.3)
    stamp = time.time_ns()
    good = rosutil.event_msg((xs[:2], ys[:2], np.full(2, stamp - 1000, np.int64), ps[:2]), H, W, stamp)
    msg = event.send_and_wait(rosutil.image_msg(frame.rgb, "rgb8", stamp), good, timeout=30)
    assert msg.header.stamp.sec * 10**9 + msg.header.stamp.nanosec == stamp
    problems = latest_stats(event)["problems"]
    assert problems.get("event_out_of_range") == 1, problems
    assert problems.get("event_input") == 1, problems
    assert problems.get("event_size") == 1, problems


@pytest.fixture(scope="module")
def compressed(nodes):
    c = make_client("compressed")
    yield c
    c.close()


def compressed_msg(image, fmt, stamp):
    import cv2
    from sensor_msgs.msg import CompressedImage

    msg = CompressedImage()
    rosutil.stamp_msg(msg.header, stamp)
    ok, data = cv2.imencode(".jpg" if fmt == "jpeg" else ".png", image)
    assert ok
    msg.format = fmt
    msg.data = data.tobytes()
    return msg


def test_compressed_inputs_and_homography(compressed, nodes, frame):
    """JPEG RGB + PNG thermal at half size, mapped by the homography: the debug image shows the RGB
    frame and the aux frame scaled up to the RGB size."""
    import cv2
    from sensor_msgs.msg import Image

    images = []
    compressed.node.create_subscription(Image, "/seatrack/debug_image", images.append, 5)
    rosutil.wait_until(lambda: compressed.node.count_publishers("/seatrack/debug_image") > 0, 10, "debug pub")
    time.sleep(0.5)
    stamp = time.time_ns()
    bgr = cv2.cvtColor(frame.rgb, cv2.COLOR_RGB2BGR)
    small_aux = np.ascontiguousarray(frame.aux[::2, ::2])
    msg = compressed.send_and_wait(compressed_msg(bgr, "jpeg", stamp), compressed_msg(small_aux, "png", stamp))
    rosutil.wait_until(lambda: any(i.header.stamp == msg.header.stamp for i in images), 10, "debug image")
    debug = next(i for i in images if i.header.stamp == msg.header.stamp)
    canvas = np.frombuffer(debug.data, np.uint8).reshape(debug.height, debug.width, 3).astype(int)
    assert np.abs(canvas[40:, :W] - frame.rgb[40:].astype(int)).mean() < 4  # JPEG is lossy
    expected = cv2.warpPerspective(cv2.cvtColor(small_aux, cv2.COLOR_GRAY2RGB),
                                   np.array(HOMOGRAPHY).reshape(3, 3), (W, H), flags=cv2.INTER_LINEAR)
    assert np.abs(canvas[40:, W:] - expected[40:].astype(int)).max() <= 1
    assert nodes["compressed"].log().count("resized") == 0  # the homography did the mapping
