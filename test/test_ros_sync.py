"""Synchronisation and the real-time drop policy through the running node: skewed, missing and
stale stamps, and a camera burst faster than inference (newest pair processed, stale pairs dropped
and counted, no queue)."""

from __future__ import annotations

import json
import time

import numpy as np
import pytest

import rosutil
from seatrack_ros.streams.synthetic import make_sequence

DOMAIN = rosutil.domain_id(4)
H, W = 128, 160
SLOP = 0.02


@pytest.fixture(scope="module")
def node():
    proc = rosutil.NodeProcess(DOMAIN, {"rgb_topic": "/cam/rgb", "aux_topic": "/cam/aux", "modality": "thermal",
                                        "reliable_qos": True, "sync_slop": SLOP, "stats_period": 0.5})
    try:
        proc.wait_for_log("ready: modality=thermal", timeout=120)
        yield proc
    finally:
        proc.stop()
        print(proc.log()[-6000:])  # shown by pytest when a test of this module fails


@pytest.fixture(scope="module")
def client(node):
    from std_msgs.msg import String

    c = rosutil.Client(DOMAIN)
    c.stats = []
    c.node.create_subscription(String, "/seatrack/stats", lambda m: c.stats.append(m.data), 10)
    c.wait_for_subscribers()
    yield c
    c.close()


@pytest.fixture(scope="module")
def frames():
    return make_sequence(40, "thermal", H, W, seed=7)


def stats(client):
    count = len(client.stats)
    # the second new message was certainly published after this call began
    rosutil.wait_until(lambda: len(client.stats) > count + 1, 10, "two stats messages")
    return json.loads(client.stats[-1])


def pair(frame, rgb_stamp, aux_stamp):
    return rosutil.image_msg(frame.rgb, "rgb8", rgb_stamp), rosutil.image_msg(frame.aux, "mono8", aux_stamp)


def stamps_of(targets):
    return [m.header.stamp.sec * 10**9 + m.header.stamp.nanosec for m in targets]


def test_init_box_before_first_frame_is_checked_against_that_frame(client, frames):
    """Before any frame the service cannot know the image size: it accepts the box provisionally,
    and a rejection on the first frame is visible in ~/stats (not only in the log)."""
    from seatrack_ros.msg import Target
    from seatrack_ros.srv import SetInitBox

    answer = client.call(client.set_init, SetInitBox.Request(x=float(W + 50), y=10.0, width=20.0, height=20.0))
    assert answer.success is True
    assert answer.message == "accepted; checked against the next frame"
    stamp = time.time_ns()
    msg = client.send_and_wait(*pair(frames[0], stamp, stamp), timeout=20)
    assert msg.status == Target.STATUS_WAITING_FOR_INIT
    assert msg.track_id == 0
    current = stats(client)
    assert current["problems"].get("init_rejected") == 1, current
    assert "outside" in current["last_init_error"] and f"{W}x{H}" in current["last_init_error"], current
    assert current["status"] == Target.STATUS_WAITING_FOR_INIT


def test_skew_inside_slop_is_matched(client, frames):
    stamp = time.time_ns()
    msg = client.send_and_wait(*pair(frames[0], stamp, stamp + int(0.5 * SLOP * 1e9)), timeout=20)
    assert stamps_of([msg]) == [stamp]  # the output carries the RGB stamp
    stamp += 200_000_000  # far enough after the first pair that the earlier aux stamp is still new
    msg = client.send_and_wait(*pair(frames[1], stamp, stamp - int(0.9 * SLOP * 1e9)), timeout=20)
    assert stamps_of([msg]) == [stamp]


def test_skew_beyond_slop_is_not_matched(client, frames):
    before = stats(client)["sync"]["matched"]
    stamp = time.time_ns()
    client.send_pair(*pair(frames[2], stamp, stamp + int(3 * SLOP * 1e9)))
    time.sleep(1.0)
    assert stamp not in stamps_of(client.targets)
    assert stats(client)["sync"]["matched"] == before
    # a later good pair is matched and evicts the unmatched ones as stale
    stamp2 = time.time_ns()
    client.send_and_wait(*pair(frames[3], stamp2, stamp2), timeout=20)
    after = stats(client)["sync"]
    assert after["rgb_unmatched"] >= 1 and after["aux_unmatched"] >= 1, after


def test_missing_aux_and_stale_stamps(client, frames):
    before = stats(client)["sync"]
    base = time.time_ns()
    for i in range(15):  # RGB only: the queue (10) overflows, nothing is matched
        client.rgb_pub.publish(rosutil.image_msg(frames[i].rgb, "rgb8", base + i * 33_000_000))
        time.sleep(0.03)  # camera rate: the subscription's history (depth 5) must not overflow
    time.sleep(1.0)
    mid = stats(client)["sync"]
    assert mid["matched"] == before["matched"]
    assert mid["rgb_unmatched"] - before["rgb_unmatched"] >= 5
    # a pair older than the last matched one can only be rejected
    stamp = time.time_ns()
    client.send_and_wait(*pair(frames[4], stamp, stamp), timeout=20)
    old = stamp - 300_000_000
    client.send_pair(*pair(frames[5], old, old))
    time.sleep(0.5)
    assert old not in stamps_of(client.targets)
    assert stats(client)["sync"]["too_old"] - mid["too_old"] == 2


def test_burst_faster_than_inference_processes_newest_and_drops_stale(client, frames, node):
    from seatrack_ros.msg import Target
    from seatrack_ros.srv import SetInitBox

    box = frames[10].box
    answer = client.call(client.set_init, SetInitBox.Request(x=box[0], y=box[1], width=box[2], height=box[3]))
    assert answer.success
    now = time.time_ns()
    client.send_and_wait(*pair(frames[10], now, now))
    before = stats(client)["sync"]
    n_before = len(client.targets)

    sent = []
    start = time.monotonic()
    for i in range(30):  # 30 Hz for one second, while one forward pass takes about a second or more
        stamp = time.time_ns()
        client.send_pair(*pair(frames[11 + (i % 25)], stamp, stamp))
        sent.append(stamp)
        time.sleep(max(0.0, start + (i + 1) / 30 - time.monotonic()))
    # the newest pair must be processed (no pair is left parked at the end)
    deadline = time.monotonic() + 30
    while sent[-1] not in stamps_of(client.targets):
        assert time.monotonic() < deadline, "the newest pair was never processed"
        time.sleep(0.1)
    burst_targets = client.targets[n_before:]
    got = stamps_of(burst_targets)
    assert got == sorted(got)  # never older than a frame already answered
    assert len(burst_targets) <= 8, len(burst_targets)  # far fewer than 30: stale pairs were dropped
    after = stats(client)["sync"]
    matched = after["matched"] - before["matched"]
    superseded = after["superseded"] - before["superseded"]
    assert matched == 30
    assert superseded == 30 - len(burst_targets)
    last = burst_targets[-1]
    assert last.dropped_pairs == after["superseded"]
    assert last.status in (Target.STATUS_TRACKING, Target.STATUS_LOST)
    # no backlog: the newest pair waited at most about one inference, not the whole burst
    assert last.latency_sync < last.latency_model + 1.0
    assert "superseded" in node.log()


def test_reset_keeps_synchroniser_and_track_id(client, frames):
    """A tracker reset must not clear the synchroniser's watermarks: a pair older than the last
    processed one is still rejected (output stamps never go backwards)."""
    from std_srvs.srv import Trigger

    from seatrack_ros.msg import Target

    last_id = client.targets[-1].track_id
    assert last_id > 0
    assert client.call(client.reset, Trigger.Request()).success
    stamp = time.time_ns()
    msg = client.send_and_wait(*pair(frames[37], stamp, stamp), timeout=30)
    assert msg.status == Target.STATUS_WAITING_FOR_INIT
    assert msg.track_id == last_id  # kept until the next initialisation
    before = stats(client)["sync"]
    old = stamp - 100_000_000
    client.send_pair(*pair(frames[38], old, old))
    time.sleep(1.0)
    assert old not in stamps_of(client.targets)
    after = stats(client)["sync"]
    assert after["too_old"] - before["too_old"] == 2, after
    assert after["matched"] == before["matched"]


def test_time_jump_resets_synchroniser(client, frames, node):
    earlier = time.time_ns() - 10 * 10**9  # a bag that loops back by ten seconds
    msg = client.send_and_wait(*pair(frames[36], earlier, earlier), timeout=30)
    assert stamps_of([msg]) == [earlier]
    assert node.log().count("[time_jump]") == 1
    assert np.isfinite(msg.latency)


def test_constant_clock_offset_is_not_a_time_jump(client, frames, node):
    """Two cameras whose clocks differ by a constant 3 s: no time jump (the synchroniser is not
    wiped on every message), one diagnostic naming the offset, nothing matched."""
    before = stats(client)
    base = time.time_ns()
    for i in range(8):
        stamp = base + i * 50_000_000
        client.send_pair(*pair(frames[i], stamp, stamp - 3 * 10**9))
        time.sleep(0.05)
    time.sleep(0.5)
    after = stats(client)
    assert after["problems"].get("time_jump", 0) == before["problems"].get("time_jump", 0), after["problems"]
    assert after["problems"].get("streams_apart", 0) >= 1, after["problems"]
    assert after["sync"]["matched"] == before["sync"]["matched"]
    # every message stayed in (or was evicted from) the synchroniser's queues; none was wiped by a reset
    assert after["sync"]["cleared"] == before["sync"]["cleared"]
    log = node.log()
    assert log.count("[streams_apart]") == 1, log[-3000:]
    assert "+3.000 s" in log
