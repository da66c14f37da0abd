"""The node's event input without ROS (streams/event_input.py): the test helpers' evt3 / mono encoders
against the decoder, the bounded wait for the packet that closes an RGB frame's window, the problems
reported once per packet or window, and RgbPacer's delivery."""

from __future__ import annotations

import threading
import time
from types import SimpleNamespace

import numpy as np
import pytest

from event_packet_helpers import SyntheticEventCamera, encode_evt3, encode_mono, packet
from seatrack_ros.errors import InputError
from seatrack_ros.modalities.event_packet import EventPacketDecoder
from seatrack_ros.streams.event_input import EventArrayInput, EventPacketInput, RgbPacer, window_bounds

W, H = 64, 48
OFFSET = 1_700_000_000_000_000_000  # ROS minus sensor clock, ns
T0 = OFFSET + 5_000_000_000  # sensor time 5 s


def events(rng, count, t_from, t_to):
    """``count`` random events with times (whole microseconds) in [t_from, t_to), sorted."""
    t = np.sort(rng.integers(t_from // 1000, t_to // 1000, count)) * 1000
    return (rng.integers(0, W, count).astype(np.uint16), rng.integers(0, H, count).astype(np.uint16),
            t.astype(np.int64), rng.integers(0, 2, count).astype(np.uint8))


def as_message(fields):
    return packet(fields["events"], fields["encoding"], fields["width"], fields["height"],
                  fields["time_base"], fields["stamp_ns"], fields["seq"])


class Reports:
    def __init__(self):
        self.calls = []

    def __call__(self, kind, message):
        self.calls.append((kind, message))

    def kinds(self):
        return [kind for kind, _ in self.calls]


@pytest.mark.parametrize("encoding", ["evt3", "mono"])
def test_helper_encoders_decode_back_to_the_events(encoding):
    rng = np.random.default_rng(1)
    x, y, t, p = events(rng, 500, T0, T0 + 20_000_000)
    camera = SyntheticEventCamera(encoding, W, H, OFFSET)
    decoded = EventPacketDecoder().decode_message(as_message(camera.packet(x, y, t, p)))
    np.testing.assert_array_equal(decoded.x, x)
    np.testing.assert_array_equal(decoded.y, y)
    np.testing.assert_array_equal(decoded.polarity, p)
    np.testing.assert_array_equal(decoded.ros_t_ns(), t)  # back on the ROS clock exactly
    # negative control: a flipped polarity bit changes the decoded events
    flipped = EventPacketDecoder().decode(
        encode_evt3(x, y, (t - OFFSET) // 1000, 1 - p) if encoding == "evt3"
        else encode_mono(x, y, t - OFFSET, 1 - p, int(t[0] - OFFSET)), encoding, W, H,
        time_base=int(t[0] - OFFSET) if encoding == "mono" else 0)
    assert not np.array_equal(flipped.polarity, decoded.polarity)


def test_window_bounds():
    assert window_bounds(1000, 900, 500) == (900, 1000)
    assert window_bounds(1000, 0, 500) == (500, 1000)  # first frame: max_window
    assert window_bounds(1000, 100, 500) == (500, 1000)  # a long gap: at most max_window
    assert window_bounds(1000, 1000, 500) == (500, 1000)  # never empty


@pytest.mark.parametrize("encoding", ["evt3", "mono"])
def test_closing_packet_after_the_rgb_frame_is_waited_for(encoding):
    """The RGB frame at T asks for its window before the packet holding the window's last events (and
    one event at T, which closes it) has arrived; that packet comes 0.3 s later from another thread."""
    rng = np.random.default_rng(2)
    reports = Reports()
    source = EventPacketInput(100_000_000, reports)
    camera = SyntheticEventCamera(encoding, W, H, OFFSET)
    t_rgb = T0 + 33_000_000
    early = events(rng, 200, T0, t_rgb - 10_000_000)
    late = events(rng, 100, t_rgb - 10_000_000, t_rgb)
    closing = tuple(np.concatenate([a, b]) for a, b in zip(late, ([5], [6], [t_rgb], [1])))
    source.add(as_message(camera.packet(*early)))
    assert not source.buffer.window_complete(t_rgb)
    sender = threading.Timer(0.3, lambda: source.add(as_message(camera.packet(*closing))))
    sender.start()
    window = source.window(t_rgb, T0, wait_s=30.0)
    sender.join()
    assert window.complete and window.waited_s > 0.2
    assert len(window) == 300  # early and late events, not the one at T (it opens the next window)
    assert sorted(window.events[2].tolist()) == sorted(np.concatenate([early[2], late[2]]).tolist())
    counters = source.counters()
    assert counters["windows_waited"] == 1 and counters["windows_incomplete"] == 0
    assert counters["last_window_events"] == 300 and counters["last_window_complete"] is True
    assert reports.calls == []


def test_missing_closing_packet_ends_the_wait_at_the_bound_then_counts_late_events():
    rng = np.random.default_rng(3)
    reports = Reports()
    source = EventPacketInput(100_000_000, reports)
    camera = SyntheticEventCamera("evt3", W, H, OFFSET)
    t_rgb = T0 + 33_000_000
    early = events(rng, 50, T0, t_rgb - 10_000_000)
    source.add(as_message(camera.packet(*early)))
    window = source.window(t_rgb, T0, wait_s=0.2)
    assert not window.complete and len(window) == 50
    assert 0.19 <= window.waited_s < 5.0  # waited up to the bound, not for ever
    assert reports.kinds() == ["event_window_incomplete"]
    late = events(rng, 20, t_rgb - 10_000_000, t_rgb)
    source.add(as_message(camera.packet(*late)))
    assert reports.kinds() == ["event_window_incomplete", "event_late"]
    assert source.counters()["late_events"] == 20 and source.counters()["windows_incomplete"] == 1
    # the next window is complete at once when its closing packet is already there: nothing reported
    source.add(as_message(camera.packet([1], [1], [t_rgb + 40_000_000], [0])))
    assert source.window(t_rgb + 33_000_000, t_rgb, wait_s=0.0).complete
    assert reports.kinds() == ["event_window_incomplete", "event_late"]


def test_packet_problems_are_reported_per_packet_and_bad_packets_refused():
    rng = np.random.default_rng(4)
    reports = Reports()
    source = EventPacketInput(100_000_000, reports)
    camera = SyntheticEventCamera("evt3", W, H, OFFSET)
    source.add(as_message(camera.packet(*events(rng, 10, T0, T0 + 1_000_000))))
    camera.seq += 3  # three packets lost
    outside = events(rng, 10, T0 + 1_000_000, T0 + 2_000_000)
    outside[0][:4] = W + 7
    source.add(as_message(camera.packet(*outside)))
    assert reports.kinds() == ["event_out_of_range", "event_sequence_gap"]
    assert "3 EventPacket(s) missing" in reports.calls[1][1]
    # time going backwards across packets: reported, the events kept
    source.add(as_message(camera.packet(*events(rng, 10, T0 + 500_000, T0 + 900_000))))
    assert reports.kinds()[2:] == ["event_time_backwards"]
    assert source.counters()["time_backwards"] == 1 and len(source.buffer) == 26  # 4 fell outside
    bad = camera.packet(*events(rng, 10, T0 + 2_000_000, T0 + 3_000_000))
    for change, kind in ((dict(events=bad["events"][:-1]), "event_packet_size"),
                         (dict(encoding="libcaer_cmp"), "event_packet_encoding"),
                         (dict(width=0), "event_packet_geometry")):
        with pytest.raises(InputError) as caught:
            source.add(as_message(dict(bad, **change)))
        assert caught.value.kind == kind
    counters = source.counters()
    assert counters["event_packet_size"] == counters["event_packet_encoding"] == 1
    assert counters["dropped_outside"] == 4 and counters["missing_packets"] == 3
    with pytest.raises(InputError) as caught:
        source.packet_stamp(as_message(dict(bad, stamp_ns=0)))
    assert caught.value.kind == "aux_no_stamp"


def test_event_array_header_stamp_closes_the_window():
    """seatrack_ros/EventArray: the header stamp is the packet's end, so a packet stamped at the RGB
    stamp completes that frame's window although its last event lies before it."""
    reports = Reports()
    source = EventArrayInput(100_000_000, reports)

    def array_msg(stamp_ns, t):
        return SimpleNamespace(header=SimpleNamespace(stamp=SimpleNamespace(sec=stamp_ns // 10**9,
                                                                           nanosec=stamp_ns % 10**9)),
                               height=H, width=W, x=np.array([1, 2, W + 1], np.uint16).tobytes(),
                               y=np.array([1, 2, 3], np.uint16).tobytes(), t_ns=np.asarray(t, np.int64).tobytes(),
                               polarity=np.array([1, 0, 1], np.uint8).tobytes())

    t_rgb = T0 + 33_000_000
    source.add(array_msg(t_rgb - 5_000_000, [t_rgb - 9_000_000] * 3))
    assert not source.buffer.window_complete(t_rgb)  # negative control: stamped before the RGB frame
    source.add(array_msg(t_rgb, [t_rgb - 1_000_000] * 3))
    window = source.window(t_rgb, T0, wait_s=0.0)
    assert window.complete and len(window) == 6 and window.sensor_hw == (H, W)
    assert reports.kinds() == ["event_out_of_range"]


def test_rgb_pacer_delivers_every_rgb_frame_newest_first():
    pacer = RgbPacer(0.025, 10)
    assert pacer.add_aux(5, None) is True
    assert pacer.add_rgb(100, "a") and pacer.add_rgb(200, "b")
    assert pacer.add_rgb(150, "old") is False and pacer.add_rgb(200, "again") is False
    assert pacer.add_rgb(0, "unstamped") is False
    pair = pacer.take(timeout=0)
    assert (pair.rgb, pair.aux, pair.rgb_stamp_ns) == ("b", None, 200)
    assert pacer.take(timeout=0) is None
    stats = pacer.stats()
    assert (stats.rgb_received, stats.aux_received, stats.matched, stats.superseded) == (5, 1, 2, 1)
    assert (stats.too_old, stats.stamp_zero) == (2, 1)
    pacer.reset()
    assert pacer.add_rgb(150, "after a time jump")
    closing = threading.Thread(target=lambda: (time.sleep(0.1), pacer.close()))
    closing.start()
    assert pacer.take(timeout=0).rgb == "after a time jump"
    assert pacer.take(timeout=10) is None  # woken by close()
    closing.join()
