"""Hostile and careless input on the running node (issue 12): huge declared images, corrupt PNG/JPEG,
bad stamps, init / reset floods, a resolution change, use_sim_time at run time, and start-up checks
(period ranges, wrong-typed -p beside a params file, a directory or FIFO as checkpoint)."""

from __future__ import annotations

import json
import os
import struct
import time
import zlib

import pytest

import rosutil
from seatrack_ros.streams.synthetic import make_sequence

H, W = 128, 160
DOMAIN = rosutil.domain_id(33)
START_DOMAIN = rosutil.domain_id(34)


@pytest.fixture(scope="module")
def node():
    params = {"rgb_topic": "/cam/rgb", "aux_topic": "/cam/aux", "reliable_qos": True, "stats_period": 0.5,
              "sync_slop": 0.01, "rgb_transport": "compressed", "aux_transport": "compressed",
              "max_image_pixels": 200_000}
    proc = rosutil.NodeProcess(DOMAIN, params, params_file=rosutil.ROOT / "config" / "rgbt.yaml")
    try:
        proc.wait_for_log("ready: modality=thermal", timeout=180)
        yield proc
    finally:
        proc.stop()


@pytest.fixture(scope="module")
def client(node):
    from sensor_msgs.msg import CompressedImage
    from std_msgs.msg import String

    c = rosutil.Client(DOMAIN, aux_type=CompressedImage, rgb_type=CompressedImage)
    c.stats = []
    c.node.create_subscription(String, "/seatrack/stats", lambda m: c.stats.append(m.data), 10)
    c.wait_for_subscribers()
    yield c
    c.close()


def png_msg(data: bytes, stamp: int, fmt: str = "png"):
    from sensor_msgs.msg import CompressedImage

    msg = CompressedImage()
    rosutil.stamp_msg(msg.header, stamp)
    msg.format = fmt
    msg.data = data
    return msg


def encode(image, ext=".png") -> bytes:
    import cv2

    ok, data = cv2.imencode(ext, image)
    assert ok
    return data.tobytes()


def frame_pair(frame, stamp, rgb_bytes=None):
    import cv2

    rgb = rgb_bytes if rgb_bytes is not None else encode(cv2.cvtColor(frame.rgb, cv2.COLOR_RGB2BGR))
    return png_msg(rgb, stamp), png_msg(encode(frame.aux), stamp)


def latest_stats(client):
    count = len(client.stats)
    rosutil.wait_until(lambda: len(client.stats) > count + 1, 10, "two stats messages")
    return json.loads(client.stats[-1])


def still_alive(client, frame):
    time.sleep(0.3)
    stamp = time.time_ns()
    msg = client.send_and_wait(*frame_pair(frame, stamp), timeout=60)
    assert msg.header.stamp.sec * 10**9 + msg.header.stamp.nanosec == stamp
    return msg


@pytest.fixture(scope="module")
def frames():
    return make_sequence(4, "thermal", H, W, seed=7)


def big_declared_png(width: int, height: int) -> bytes:
    def chunk(kind, body):
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(body, zlib.crc32(kind)))

    compressor = zlib.compressobj(9)
    body = b"".join(compressor.compress(b"\x00" * (width + 1)) for _ in range(height)) + compressor.flush()
    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", body) + chunk(b"IEND", b"")


def test_huge_declared_and_corrupt_images_are_counted_and_silent(client, node, frames):
    before = latest_stats(client)["problems"]
    stamp = time.time_ns()
    client.send_pair(*frame_pair(frames[0], stamp, rgb_bytes=big_declared_png(1000, 1000)))  # 1e6 > 2e5
    still_alive(client, frames[0])
    good = encode(frames[0].rgb)
    corrupt = bytearray(good)
    corrupt[len(good) // 2] ^= 0xFF
    for data in (bytes(corrupt), good[: len(good) // 2]):
        client.send_pair(*frame_pair(frames[0], time.time_ns(), rgb_bytes=data))
        still_alive(client, frames[0])
    problems = latest_stats(client)["problems"]
    assert problems.get("image_too_large", 0) - before.get("image_too_large", 0) == 1, problems
    assert problems.get("decode", 0) - before.get("decode", 0) == 2, problems
    log = node.log()
    assert log.count("[image_too_large]") == 1 and "1000x1000" in log, log
    assert "libpng" not in log and "Corrupt JPEG" not in log, log


def test_stamps_with_nanosec_of_a_second_or_more_are_refused(client, node, frames):
    rgb, aux = frame_pair(frames[0], time.time_ns())
    for msg in (rgb, aux):
        msg.header.stamp.nanosec = 1_500_000_000
    client.send_pair(rgb, aux)
    still_alive(client, frames[0])
    problems = latest_stats(client)["problems"]
    assert problems.get("rgb_bad_stamp") == 1 and problems.get("aux_bad_stamp") == 1, problems
    assert "nanosec = 1500000000" in node.log()


def test_init_floods_log_once_and_rejected_boxes_are_counted(client, node, frames):
    from std_srvs.srv import Trigger

    from seatrack_ros.msg import InitBox
    from seatrack_ros.srv import SetInitBox

    still_alive(client, frames[0])  # the frame size is known: boxes are checked against it
    x, y, w, h = (float(v) for v in frames[0].box)
    for _ in range(5):
        client.init_pub.publish(InitBox(x=x, y=y, width=w, height=h))
        client.init_pub.publish(InitBox(x=float(W + 50), y=y, width=w, height=h))  # outside: rejected
        assert client.call(client.set_init, SetInitBox.Request(x=x, y=y, width=w, height=h)).success
        assert client.call(client.reset, Trigger.Request()).success
    rosutil.wait_until(lambda: latest_stats(client)["requests"].get("init_topic", 0) >= 5, 20, "5 init topics")
    stats = latest_stats(client)
    assert stats["requests"].get("set_init_box") == 5 and stats["requests"].get("reset") == 5, stats
    assert stats["problems"].get("init_topic_rejected") == 5, stats
    log = node.log()
    assert log.count("[init_topic]") == 1 and log.count("[init_topic_rejected]") == 1, log
    assert log.count("[set_init_box]") == 1 and log.count("[reset]") == 1, log


def test_reset_and_init_back_to_back_the_last_wins(client, frames):
    from std_srvs.srv import Trigger

    from seatrack_ros.msg import Target
    from seatrack_ros.srv import SetInitBox

    x, y, w, h = (float(v) for v in frames[0].box)
    for last in ("init", "reset", "init"):
        for order in (("reset", "init"), ("init", "reset")):
            sequence = order + ((last,) if last != order[-1] else ())
            for request in sequence:
                if request == "reset":
                    assert client.call(client.reset, Trigger.Request()).success
                else:
                    assert client.call(client.set_init, SetInitBox.Request(x=x, y=y, width=w, height=h)).success
            msg = client.send_and_wait(*frame_pair(frames[0], time.time_ns()), timeout=60)
            expected = Target.STATUS_TRACKING if sequence[-1] == "init" else Target.STATUS_WAITING_FOR_INIT
            assert msg.status == expected, sequence


def test_a_resolution_change_reinitialises_and_is_logged_once_per_change(client, node, frames):
    from seatrack_ros.msg import Target
    from seatrack_ros.srv import SetInitBox

    x, y, w, h = (float(v) for v in frames[0].box)
    answer = client.call(client.set_init, SetInitBox.Request(x=x, y=y, width=w, height=h))
    first = client.send_and_wait(*frame_pair(frames[0], time.time_ns()), timeout=60)
    assert first.status == Target.STATUS_TRACKING and first.track_id == answer.track_id
    big = make_sequence(1, "thermal", 2 * H, 2 * W, seed=7)[0]
    changed = client.send_and_wait(*frame_pair(big, time.time_ns()), timeout=60)
    assert changed.track_id == first.track_id + 1 and changed.status == Target.STATUS_TRACKING
    assert changed.x + changed.width <= 2 * W and changed.y + changed.height <= 2 * H
    assert (changed.x, changed.width) == pytest.approx((2 * first.x, 2 * first.width), abs=1e-3)
    tracked = client.send_and_wait(*frame_pair(big, time.time_ns()), timeout=60)
    assert tracked.track_id == changed.track_id  # no change, no new track
    log = node.log()
    assert log.count("[resolution_change]") == 1 and f"from {W}x{H} to {2 * W}x{2 * H}" in log, log


def test_use_sim_time_is_read_only_at_run_time(client, node):
    from rcl_interfaces.msg import Parameter, ParameterType, ParameterValue
    from rcl_interfaces.srv import SetParameters

    setter = client.node.create_client(SetParameters, "/seatrack/set_parameters")
    request = SetParameters.Request(parameters=[Parameter(
        name="use_sim_time", value=ParameterValue(type=ParameterType.PARAMETER_BOOL, bool_value=True))])
    result = client.call(setter, request).results[0]
    assert not result.successful and "read-only" in result.reason
    # negative control: a run-time parameter still changes
    request = SetParameters.Request(parameters=[Parameter(
        name="lost_threshold", value=ParameterValue(type=ParameterType.PARAMETER_DOUBLE, double_value=0.3))])
    assert client.call(setter, request).results[0].successful


@pytest.fixture(scope="module")
def failed_starts(tmp_path_factory):
    folder = tmp_path_factory.mktemp("hostile_start")
    fifo = folder / "checkpoint.fifo"
    os.mkfifo(fifo)
    params_file = folder / "params.yaml"
    params_file.write_text("seatrack:\n  ros__parameters:\n    sync_slop: 0.02\n    stats_period: 1.0\n")
    base = {"rgb_topic": "/cam/rgb", "aux_topic": "/cam/aux"}
    cases = {
        "stats period 1e-12": ({"stats_period": 1e-12}, None),
        "image pixels 0": ({"max_image_pixels": 0}, None),
        "checkpoint directory": ({"checkpoint": str(folder)}, None),
        "checkpoint fifo": ({"checkpoint": str(fifo)}, None),
        "string for a double beside a params file": ({"sync_slop": "abc"}, params_file),
        "number for a string beside a params file": ({"device": 5}, params_file),
    }
    procs = {name: rosutil.NodeProcess(START_DOMAIN, dict(base, **params), params_file=file)
             for name, (params, file) in cases.items()}
    return rosutil.exits_of(procs)


EXPECTED = {
    "stats period 1e-12": r"stats_period must be 0 \(off\) or 0.1..3600 s, got 1e-12",
    "image pixels 0": r"max_image_pixels",
    "checkpoint directory": r"checkpoint .* is a directory",
    "checkpoint fifo": r"checkpoint .* is not a regular file \(a FIFO\)",
    "string for a double beside a params file": r"sync_slop:=abc on the command line is a string, sync_slop needs a number",
    "number for a string beside a params file": r"device:=5 on the command line is a number, device needs a string",
}


@pytest.mark.parametrize("case", sorted(EXPECTED))
def test_bad_start_exits_2_with_the_reason(failed_starts, case):
    import re

    code, log = failed_starts[case]
    assert code == 2, log
    assert re.search(EXPECTED[case], log), log
    assert "Traceback" not in log and "file not found" not in log, log


def test_command_line_overrides_parser():
    from seatrack_ros.ros.params import command_line_overrides

    argv = ["node", "-p", "x:=1", "--ros-args", "-p", "sync_slop:=abc", "--param", "device:=cpu",
            "-p", "other_node:stats_period:=2", "--", "-p", "y:=2"]
    assert command_line_overrides(argv) == {"sync_slop": "abc", "device": "cpu"}
