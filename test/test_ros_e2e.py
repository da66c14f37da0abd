"""End to end over real ROS 2 topics: this process replays frames and subscribes to the targets, the
tracker node runs in a second process. The node's boxes must equal SEATracker's boxes computed here
on the same frames with the same (test) weights; then init by topic and service, lost, reset."""

from __future__ import annotations

import json
import time

import numpy as np
import pytest

import rosutil
from seatrack_ros.streams.synthetic import make_sequence

DOMAIN = rosutil.domain_id(0)
HEIGHT, WIDTH = 256, 320
TRACKED_FRAMES = 3


@pytest.fixture(scope="module")
def frames():
    return make_sequence(12, "thermal", HEIGHT, WIDTH, seed=3)


@pytest.fixture(scope="module")
def reference_boxes(frames):
    """SEATracker in this process on the same frames: init on frame 0, track frames 1..N."""
    from seatrack_ros.model import build_seatrack, load_checkpoint, make_test_state_dict
    from seatrack_ros.modalities import encode_thermal
    from seatrack_ros.tracker import SEATracker

    import torch

    torch.set_num_threads(rosutil.TORCH_THREADS)
    model = build_seatrack()
    load_checkpoint(model, make_test_state_dict(model), lora_merged=False)
    tracker = SEATracker(model, device="cpu")
    tracker.initialize(frames[0].rgb, encode_thermal(frames[0].aux, "mono8"), frames[0].box)
    results = []
    for frame in frames[1:1 + TRACKED_FRAMES]:
        result = tracker.track(frame.rgb, encode_thermal(frame.aux, "mono8"))
        results.append((result.box, result.score))
    return results


@pytest.fixture(scope="module")
def node():
    proc = rosutil.NodeProcess(DOMAIN, {
        "rgb_topic": "/cam/rgb", "aux_topic": "/cam/aux", "modality": "thermal",
        "reliable_qos": True, "sync_slop": 0.01, "stats_period": 1.0,
        "init_box": list(make_sequence(1, "thermal", HEIGHT, WIDTH, seed=3)[0].box),
    })
    try:
        proc.wait_for_log(r"ready: modality=thermal", timeout=120)
        yield proc
    finally:
        proc.stop()


@pytest.fixture(scope="module")
def client(node):
    c = rosutil.Client(DOMAIN)
    c.node.create_subscription(
        __import__("sensor_msgs.msg", fromlist=["Image"]).Image, "/seatrack/debug_image",
        lambda msg: c.debug_images.append(msg), 5)
    c.wait_for_subscribers()
    yield c
    c.close()


def send(client, frame, timeout=60.0):
    """Publish one frame pair stamped now (so latencies are real) and wait for its target."""
    stamp = time.time_ns()
    rgb = rosutil.image_msg(frame.rgb, "rgb8", stamp, "rgb_optical")
    aux = rosutil.image_msg(frame.aux, "mono8", stamp, "thermal_optical")
    return client.send_and_wait(rgb, aux, timeout), stamp


def test_boxes_equal_in_process_tracker(client, frames, reference_boxes, node):
    first, stamp = send(client, frames[0])
    from seatrack_ros.msg import Target

    assert first.status == Target.STATUS_TRACKING
    assert first.track_id == 1
    assert first.test_weights is True
    assert (first.x, first.y, first.width, first.height) == pytest.approx(frames[0].box)
    assert first.header.frame_id == "rgb_optical"
    assert first.header.stamp.sec * 10**9 + first.header.stamp.nanosec == stamp

    for frame, (box, score) in zip(frames[1:1 + TRACKED_FRAMES], reference_boxes):
        msg, stamp = send(client, frame)
        assert msg.header.stamp.sec * 10**9 + msg.header.stamp.nanosec == stamp
        got = np.array([msg.x, msg.y, msg.width, msg.height])
        np.testing.assert_allclose(got, np.array(box, np.float32), rtol=0, atol=1e-3)
        assert msg.confidence == pytest.approx(score, abs=1e-5)
        assert msg.track_id == 1
        parts = [msg.latency_transport, msg.latency_sync, msg.latency_encoding, msg.latency_model,
                 msg.latency_publish]
        assert all(p >= 0 for p in parts)
        assert msg.latency_model > 0.05  # a real forward pass ran
        assert msg.latency == pytest.approx(sum(parts), rel=1e-3)
        assert msg.latency < 30
    assert "DETERMINISTIC TEST WEIGHTS" in node.log()
    assert node.log().count("DETERMINISTIC TEST WEIGHTS") == 1


def test_debug_image_shows_rgb_and_aux_side_by_side(client, frames):
    if not client.debug_images:
        send(client, frames[9])
    rosutil.wait_until(lambda: len(client.debug_images) > 0, 10, "a debug image")
    msg = client.debug_images[-1]
    assert (msg.width, msg.height, msg.encoding) == (2 * WIDTH, HEIGHT, "rgb8")


def test_lost_status_under_threshold(client, frames):
    from rcl_interfaces.msg import Parameter, ParameterType, ParameterValue
    from rcl_interfaces.srv import SetParameters

    from seatrack_ros.msg import Target

    setter = client.node.create_client(SetParameters, "/seatrack/set_parameters")
    request = SetParameters.Request(parameters=[Parameter(
        name="lost_threshold", value=ParameterValue(type=ParameterType.PARAMETER_DOUBLE, double_value=1.0))])
    assert client.call(setter, request).results[0].successful
    msg, _ = send(client, frames[4])
    assert msg.status == Target.STATUS_LOST
    assert msg.confidence < 1.0
    # read-only parameters cannot change at run time
    request = SetParameters.Request(parameters=[Parameter(
        name="sync_slop", value=ParameterValue(type=ParameterType.PARAMETER_DOUBLE, double_value=0.5))])
    assert not client.call(setter, request).results[0].successful
    request = SetParameters.Request(parameters=[Parameter(
        name="lost_threshold", value=ParameterValue(type=ParameterType.PARAMETER_DOUBLE, double_value=0.0))])
    assert client.call(setter, request).results[0].successful
    msg, _ = send(client, frames[5])
    assert msg.status == Target.STATUS_TRACKING


def test_reset_then_init_by_topic_and_service(client, frames, node):
    from std_srvs.srv import Trigger

    from seatrack_ros.msg import InitBox, Target
    from seatrack_ros.srv import SetInitBox

    assert client.call(client.reset, Trigger.Request()).success
    msg, _ = send(client, frames[6])
    assert msg.status == Target.STATUS_WAITING_FOR_INIT
    assert (msg.x, msg.y, msg.width, msg.height) == (0.0, 0.0, 0.0, 0.0)

    init = InitBox()
    init.x, init.y, init.width, init.height = (float(v) for v in frames[7].box)
    client.init_pub.publish(init)
    node.wait_for_log(r"init box .* accepted \(track id 2\)", timeout=10)
    msg, _ = send(client, frames[7])
    assert msg.status == Target.STATUS_TRACKING
    assert msg.track_id == 2
    assert (msg.x, msg.y, msg.width, msg.height) == pytest.approx(frames[7].box)

    outside = client.call(client.set_init, SetInitBox.Request(x=float(WIDTH + 5), y=10.0, width=20.0, height=20.0))
    assert outside.success is False
    assert "outside" in outside.message
    degenerate = client.call(client.set_init, SetInitBox.Request(x=10.0, y=10.0, width=0.0, height=20.0))
    assert degenerate.success is False

    box = frames[8].box
    answer = client.call(client.set_init, SetInitBox.Request(x=box[0], y=box[1], width=box[2], height=box[3]))
    assert answer.success is True and answer.track_id == 3
    msg, _ = send(client, frames[8])
    assert msg.track_id == 3 and msg.status == Target.STATUS_TRACKING


def test_stats_count_processed_pairs_and_no_drops(client):
    from std_msgs.msg import String

    received = []
    client.node.create_subscription(String, "/seatrack/stats", lambda m: received.append(m.data), 5)
    rosutil.wait_until(lambda: received, 10, "a stats message")
    stats = json.loads(received[-1])
    assert stats["processed"] >= 1 + TRACKED_FRAMES + 5
    assert stats["sync"]["superseded"] == 0
    assert stats["test_weights"] is True
