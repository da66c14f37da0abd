"""EventPacket decoding (evt3, mono): upstream's checksums on upstream's recordings, a word-by-word
reference on synthetic streams, and bad input."""

from __future__ import annotations

import numpy as np
import pytest

from seatrack_ros.errors import InputError
from seatrack_ros.modalities.event_packet import EventPacketDecoder, EventPacketError
from event_packet_helpers import DATA, ReferenceEvt3, packet, read_recording, synthetic_evt3

needs_kit = pytest.mark.skipif(not DATA.is_dir(),
                               reason="../shared/ros2-upstream/data (the event recordings) is absent")

EVT3 = "test_data_evt3_trigger"
MONO = "test_data_mono_cd"


@pytest.fixture(scope="module")
def evt3_messages():
    return read_recording(EVT3)


@pytest.fixture(scope="module")
def mono_messages():
    return read_recording(MONO)


class Sums:
    """The checksums event_camera_codecs' decoder_test.cpp accumulates, plus its last-time check."""

    def __init__(self):
        self.cd = [0, 0, 0, 0]  # t, x, y, p
        self.trigger = [0, 0, 0]  # t, edge, id
        self.last_time = 0
        self.cd_events = 0
        self.trigger_events = 0

    def add(self, decoded):
        self.cd[0] += int(decoded.t_ns.sum(dtype=np.int64))
        self.cd[1] += int(decoded.x.sum(dtype=np.int64))
        self.cd[2] += int(decoded.y.sum(dtype=np.int64))
        self.cd[3] += int(decoded.polarity.sum(dtype=np.int64))
        self.trigger[0] += int(decoded.trigger_t_ns.sum(dtype=np.int64))
        self.trigger[1] += int(decoded.trigger_edge.sum(dtype=np.int64))
        self.trigger[2] += int(decoded.trigger_id.sum(dtype=np.int64))
        self.cd_events += len(decoded)
        self.trigger_events += int(decoded.trigger_t_ns.shape[0])
        times = [int(t[-1]) for t in (decoded.t_ns, decoded.trigger_t_ns) if t.size]
        if times:
            self.last_time = max(times)


def decode_all(messages, decoder=None, between=None) -> Sums:
    decoder = decoder or EventPacketDecoder()
    sums = Sums()
    for msg in messages:
        sums.add(decoder.decode_message(msg))
        if between is not None:
            between(decoder)
    return sums


def decode_until(messages, until_ns) -> tuple[Sums, int, int]:
    """Upstream's test_decode_until: each message is handed once to Decoder::decodeUntil(msg, ...),
    whose message-level wrapper resumes at the byte where it stopped in the previous message and counts
    a message as decoded completely when that offset reaches the message's size. That bookkeeping is
    the test harness's (it warns the decoder state gets "messed up"), so it is emulated here around
    our decoder, which gives the offset it stopped at."""
    decoder = EventPacketDecoder()
    sums = Sums()
    bytes_used = complete = 0
    for msg in messages:
        events = np.frombuffer(bytes(msg.events), np.uint8)
        decoded = decoder.decode(events[bytes_used:], msg.encoding, msg.width, msg.height,
                                 time_base=msg.time_base, until_ns=until_ns)
        sums.add(decoded)
        bytes_used += decoded.consumed_bytes
        if bytes_used >= events.shape[0]:
            bytes_used = 0
            complete += 1
    return sums, complete, len(messages)


# ---------------------------------------------------------------------------------- recordings


@needs_kit
def test_evt3_recording_matches_upstream_checksums(evt3_messages):
    sums = decode_all(evt3_messages)
    assert len(evt3_messages) == 105
    assert sums.cd == [1222326831810000, 42078718, 31656267, 41439]
    assert sums.trigger == [29096982000, 1, 0]
    assert (sums.cd_events, sums.trigger_events) == (82469, 2)


@needs_kit
def test_mono_recording_matches_upstream_checksums(mono_messages):
    sums = decode_all(mono_messages)
    assert len(mono_messages) == 2
    assert sums.cd == [4950000, 34450, 26450, 50]
    assert sums.trigger == [0, 0, 0] and sums.cd_events == 100


@needs_kit
@pytest.mark.parametrize("until_ns, cd, last_time", [
    (14252072000, [29004181874000, 897009, 773502, 1028], 14252063000),   # beginning of a packet
    (14251634000, [28491115518000, 880131, 758865, 1006], 14251630000),   # middle of a packet
    (14252063000, [28989929811000, 896982, 773451, 1027], 14252047000),   # exactly a packet's end
])
def test_evt3_decode_until_matches_upstream(evt3_messages, until_ns, cd, last_time):
    sums, complete, messages = decode_until(evt3_messages, until_ns)
    assert sums.cd == cd and sums.last_time == last_time
    assert (complete, messages) == (3, 105)


@needs_kit
@pytest.mark.parametrize("until_ns, cd, last_time, complete", [
    (50000, [1225000, 17225, 13225, 25], 49000, 1),
    (80000, [3160000, 27260, 20860, 40], 79000, 1),
    (49000, [1176000, 16856, 12936, 24], 48000, 0),
])
def test_mono_decode_until_matches_upstream(mono_messages, until_ns, cd, last_time, complete):
    sums, n_complete, messages = decode_until(mono_messages, until_ns)
    assert sums.cd == cd and sums.last_time == last_time
    assert (n_complete, messages) == (complete, 2)


@needs_kit
def test_negative_controls_change_the_evt3_checksums(evt3_messages):
    """The exact sums can fail: decoding with the state dropped between packets, or with only the
    time-high carry dropped, gives other figures."""
    reference = decode_all(evt3_messages).cd

    def forget_everything(decoder):
        decoder.reset()

    def forget_time_high(decoder):
        decoder._evt3.time_high = 0

    assert decode_all(evt3_messages, between=forget_everything).cd != reference
    dropped_carry = decode_all(evt3_messages, between=forget_time_high).cd
    assert dropped_carry[0] != reference[0]


@needs_kit
def test_negative_control_mono_without_time_base(mono_messages):
    decoder = EventPacketDecoder()
    sums = Sums()
    for msg in mono_messages:
        sums.add(decoder.decode(msg.events, msg.encoding, msg.width, msg.height, time_base=0))
    assert sums.cd[0] != 4950000 and sums.cd[1:] == [34450, 26450, 50]


@needs_kit
def test_evt3_recording_split_at_other_boundaries_decodes_the_same(evt3_messages):
    """The state carried across packets makes the packet boundaries irrelevant."""
    stream = np.concatenate([np.frombuffer(bytes(m.events), np.uint8) for m in evt3_messages])
    rng = np.random.default_rng(3)
    cuts = np.sort(rng.choice(np.arange(1, stream.shape[0] // 2), size=400, replace=False)) * 2
    decoder = EventPacketDecoder()
    sums = Sums()
    for chunk in np.split(stream, cuts):
        sums.add(decoder.decode(chunk, "evt3", 1280, 720))
    assert sums.cd == [1222326831810000, 42078718, 31656267, 41439]
    assert sums.trigger == [29096982000, 1, 0]


@needs_kit
def test_ros_time_offsets_follow_the_header_stamps(evt3_messages, mono_messages):
    decoder = EventPacketDecoder()
    for msg in mono_messages:
        decoded = decoder.decode_message(msg)
        stamp = msg.header.stamp.sec * 1_000_000_000 + msg.header.stamp.nanosec
        assert decoded.ros_offset_ns == stamp - msg.time_base
        np.testing.assert_array_equal(decoded.ros_t_ns() - decoded.t_ns, stamp - msg.time_base)
    # evt3: the smallest (stamp - first event's sensor time) so far (the recording spans 1.25 s, inside
    # the 2 s window), so no event lands after its packet's arrival stamp
    decoder = EventPacketDecoder()
    smallest = None
    for msg in evt3_messages:
        decoded = decoder.decode_message(msg)
        stamp = msg.header.stamp.sec * 1_000_000_000 + msg.header.stamp.nanosec
        if not len(decoded):
            continue
        first = min(int(decoded.t_ns[0]), int(decoded.trigger_t_ns[0]) if decoded.trigger_t_ns.size else 1 << 62)
        smallest = stamp - first if smallest is None else min(smallest, stamp - first)
        assert decoded.ros_offset_ns == smallest
        assert int(decoded.ros_t_ns()[0]) <= stamp
        np.testing.assert_array_equal(decoded.ros_t_ns() - decoded.t_ns, smallest)


def test_a_packet_without_events_still_moves_the_stream_clock_on():
    """A quiet scene: packets of time words only must still tell how far the stream has got, or a
    window would wait for its deadline on every frame."""
    decoder = EventPacketDecoder()
    first = decoder.decode_message(packet(np.array([0x8000 | 1, 0x6000 | 2, 0x0000, 0x2000 | 5], "<u2").tobytes(),
                                          stamp_ns=10_000_000_000))
    assert first.end_t_ns == (1 << 12 | 2) * 1000 and first.ros_offset_ns == 10_000_000_000 - first.end_t_ns
    quiet = decoder.decode_message(packet(np.array([0x6000 | 900, 0x8000 | 2, 0x6000 | 7], "<u2").tobytes(),
                                          stamp_ns=10_003_000_000))
    assert len(quiet) == 0 and quiet.end_t_ns == (2 << 12 | 7) * 1000
    assert quiet.ros_offset_ns == first.ros_offset_ns and quiet.ros_end_ns == quiet.end_t_ns + first.ros_offset_ns
    mono = EventPacketDecoder().decode_message(packet(b"", encoding="mono", time_base=500, stamp_ns=2000))
    assert mono.end_t_ns == 500 and mono.ros_end_ns == 2000


@needs_kit
def test_end_time_bounds_every_event_of_the_recording(evt3_messages):
    decoder = EventPacketDecoder()
    for msg in evt3_messages:
        decoded = decoder.decode_message(msg)
        if len(decoded):
            assert decoded.end_t_ns >= int(decoded.t_ns.max())
            assert decoded.ros_end_ns >= int(decoded.ros_t_ns().max())


def test_ros_clock_mapper_window_and_restarts():
    from seatrack_ros.modalities.event_packet import RosClockMapper

    mapper = RosClockMapper(window_ns=100, jump_ns=1000)
    assert [mapper.update(stamp, sensor) for stamp, sensor in
            [(1010, 0), (1060, 50), (1105, 100), (1190, 180), (1260, 250)]] == [1010, 1010, 1005, 1005, 1010]
    # (raw offsets 1010, 1010, 1005, 1010, 1010: the minimum so far, until 1005, seen at sensor time
    # 100, leaves the 100 ns window at sensor time 250)
    assert mapper.update(9000, 260) == 8740 and mapper.restarts == 1  # a jump of the offset
    assert mapper.update(9000, 10) == 8990 and mapper.restarts == 2   # sensor time went backwards


@needs_kit
def test_events_outside_a_smaller_declared_sensor_are_dropped_and_counted(evt3_messages):
    full = EventPacketDecoder()
    small = EventPacketDecoder()
    expected_outside = kept = 0
    for msg in evt3_messages:
        everything = full.decode_message(msg)
        inside = (everything.x < 640) & (everything.y < 360)
        expected_outside += int(np.count_nonzero(~inside))
        kept += int(np.count_nonzero(inside))
        decoded = small.decode(msg.events, "evt3", 640, 360)
        assert decoded.x.max(initial=0) < 640 and decoded.y.max(initial=0) < 360
    assert small.counters["dropped_outside"] == expected_outside > 0
    assert small.counters["events"] == kept


# --------------------------------------------------------------------- synthetic streams, reference


def reference_arrays(cd, triggers):
    cd = np.array(cd, dtype=np.int64).reshape(-1, 4)
    triggers = np.array(triggers, dtype=np.int64).reshape(-1, 3)
    return cd, triggers


def assert_same(decoded, cd, triggers):
    np.testing.assert_array_equal(decoded.t_ns, cd[:, 0])
    np.testing.assert_array_equal(decoded.x, cd[:, 1])
    np.testing.assert_array_equal(decoded.y, cd[:, 2])
    np.testing.assert_array_equal(decoded.polarity, cd[:, 3])
    np.testing.assert_array_equal(decoded.trigger_t_ns, triggers[:, 0])
    np.testing.assert_array_equal(decoded.trigger_edge, triggers[:, 1])
    np.testing.assert_array_equal(decoded.trigger_id, triggers[:, 2])


@pytest.mark.parametrize("seed", range(6))
def test_synthetic_evt3_equals_the_word_by_word_reference(seed):
    """Vectors, wraps, small backward steps, triggers, reserved words and a prefix before the first
    valid time, cut into random packets: every event equal, in order, to the slow reference."""
    rng = np.random.default_rng(seed)
    prefix = np.array([0x0000 | 5, 0x2000 | 7, 0x6000 | 9, 0x4FFF], dtype="<u2")  # before any time-high
    words = np.concatenate([prefix, synthetic_evt3(rng, 20000, width=1280, height=720)])
    cuts = np.sort(rng.choice(np.arange(1, words.shape[0]), size=60, replace=False))
    decoder = EventPacketDecoder()
    reference = ReferenceEvt3(1280, 720)
    total = 0
    for chunk in np.split(words, cuts):
        decoded = decoder.decode(chunk.tobytes(), "evt3", 1280, 720)
        assert (decoded.x.dtype, decoded.y.dtype, decoded.t_ns.dtype, decoded.polarity.dtype) == \
            (np.uint16, np.uint16, np.int64, np.uint8)
        cd, triggers, _, _ = reference.decode(chunk.tolist())
        cd, triggers = reference_arrays(cd, triggers)
        assert_same(decoded, cd, triggers)
        total += cd.shape[0]
    assert total > 20000  # vectors contribute many events per word
    assert decoder.counters["unknown_words"] > 0 and decoder.counters["dropped_outside"] > 0


@pytest.mark.parametrize("seed", range(4))
def test_synthetic_evt3_decode_until_equals_the_reference(seed):
    rng = np.random.default_rng(100 + seed)
    words = synthetic_evt3(rng, 6000)
    reference_all = ReferenceEvt3(1280, 720)
    cd_all, _, _, _ = reference_all.decode(words.tolist())
    limit = int(cd_all[len(cd_all) // 2][0]) + 1  # somewhere in the middle of the stream
    decoder, reference = EventPacketDecoder(), ReferenceEvt3(1280, 720)
    stopped = False
    for chunk in np.array_split(words, 7):
        decoded = decoder.decode(chunk.tobytes(), "evt3", 1280, 720, until_ns=limit)
        cd, triggers, consumed, complete = reference.decode(chunk.tolist(), until_ns=limit)
        assert_same(decoded, *reference_arrays(cd, triggers))
        assert (decoded.complete, decoded.consumed_bytes) == (complete, 2 * consumed)
        stopped |= not complete
    assert stopped


def test_negative_control_reference_comparison_sees_one_changed_word():
    rng = np.random.default_rng(7)
    words = synthetic_evt3(rng, 3000)
    changed = words.copy()
    vector = int(np.flatnonzero((words >> 12) == 3)[5])  # a VECT_BASE_X word
    changed[vector] ^= 0x0004  # base column + 4 (or - 4)
    decoded = EventPacketDecoder().decode(changed.tobytes(), "evt3", 1280, 720)
    cd, triggers, _, _ = ReferenceEvt3(1280, 720).decode(words.tolist())
    with pytest.raises(AssertionError):
        assert_same(decoded, *reference_arrays(cd, triggers))


def test_mono_big_endian_and_fields():
    # polarity bit 63, y bits 48-62, x bits 32-47, dt bits 0-31
    values = np.array([(1 << 63) | (7 << 48) | (300 << 32) | 5, (2 << 48) | (9 << 32) | 1000], dtype=np.uint64)
    decoder = EventPacketDecoder()
    little = decoder.decode(values.astype("<u8").tobytes(), "mono", 640, 480, time_base=10_000)
    big = EventPacketDecoder().decode(values.astype(">u8").tobytes(), "mono", 640, 480, time_base=10_000,
                                      is_bigendian=True)
    for decoded in (little, big):
        assert (decoded.x.dtype, decoded.y.dtype, decoded.t_ns.dtype, decoded.polarity.dtype) == \
            (np.uint16, np.uint16, np.int64, np.uint8)
        assert decoded.x.tolist() == [300, 9] and decoded.y.tolist() == [7, 2]
        assert decoded.polarity.tolist() == [1, 0] and decoded.t_ns.tolist() == [10_005, 11_000]


# ---------------------------------------------------------------------------------------- bad input


def good_evt3_words():
    return np.array([0x8000 | 3, 0x6000 | 4, 0x0000 | 10, 0x2000 | 20], dtype="<u2")


@pytest.mark.parametrize("kwargs, kind", [
    ({"encoding": "evt2"}, "event_packet_encoding"),
    ({"encoding": "libcaer_cmp"}, "event_packet_encoding"),
    ({"encoding": ""}, "event_packet_encoding"),
    ({"width": 0}, "event_packet_geometry"),
    ({"height": 0}, "event_packet_geometry"),
    ({"width": 20000, "height": 20000}, "event_packet_geometry"),
    ({"width": 70000, "height": 1}, "event_packet_geometry"),
    ({"events": b"\x00\x80\x04"}, "event_packet_size"),                       # odd number of bytes
    ({"events": bytes(12), "encoding": "mono"}, "event_packet_size"),          # 1.5 mono events
    ({"is_bigendian": True}, "event_packet_byte_order"),
    ({"encoding": "mono", "events": bytes(8), "time_base": 2**63}, "event_packet_time"),
])
def test_bad_packets_raise_one_clear_counted_error(kwargs, kind):
    args = {"events": good_evt3_words().tobytes(), "encoding": "evt3", "width": 1280, "height": 720}
    args.update(kwargs)
    decoder = EventPacketDecoder()
    events = args.pop("events")
    with pytest.raises(EventPacketError) as info:
        decoder.decode(events, **args)
    assert info.value.kind == kind and isinstance(info.value, InputError) and str(info.value)
    assert decoder.counters[kind] == 1 and decoder.counters["packets"] == 0


def test_limits_are_checked_before_decoding():
    decoder = EventPacketDecoder(max_packet_bytes=64, max_packet_events=5)
    with pytest.raises(EventPacketError) as info:
        decoder.decode(bytes(66), "evt3", 1280, 720)
    assert info.value.kind == "event_packet_too_large"
    # 4 VECT_12 words with all 12 bits set: 48 events > 5
    words = np.array([0x8000, 0x6000, 0x0001, 0x3000] + [0x4FFF] * 4, dtype="<u2")
    with pytest.raises(EventPacketError) as info:
        decoder.decode(words.tobytes(), "evt3", 1280, 720)
    assert info.value.kind == "event_packet_too_large" and decoder.counters["event_packet_too_large"] == 2
    with pytest.raises(EventPacketError):
        decoder.decode(bytes(48), "mono", 640, 480)  # 6 mono events > 5


def test_a_bad_packet_leaves_the_state_alone():
    first = np.array([0x8000 | 3, 0x6000 | 4, 0x0000 | 10], dtype="<u2").tobytes()
    second = np.array([0x2000 | 20, 0x6000 | 5, 0x2000 | 21], dtype="<u2").tobytes()
    clean = EventPacketDecoder()
    clean.decode(first, "evt3", 1280, 720)
    expected = clean.decode(second, "evt3", 1280, 720)
    decoder = EventPacketDecoder()
    decoder.decode(first, "evt3", 1280, 720)
    for bad in (dict(events=b"\x01", encoding="evt3"), dict(events=second, encoding="nope")):
        with pytest.raises(EventPacketError):
            decoder.decode(bad["events"], bad["encoding"], 1280, 720)
    got = decoder.decode(second, "evt3", 1280, 720)
    assert got.x.tolist() == expected.x.tolist() == [20, 21] and got.y.tolist() == [10, 10]
    assert got.t_ns.tolist() == expected.t_ns.tolist() == [(3 << 12 | 4) * 1000, (3 << 12 | 5) * 1000]


def test_a_refused_oversized_packet_leaves_the_state_alone():
    """A packet refused for its event count must not move the row, vector base or time."""
    first = np.array([0x8000 | 3, 0x6000 | 4, 0x0000 | 10, 0x3000 | 100], dtype="<u2").tobytes()
    oversized = np.array([0x8000 | 5, 0x6000 | 6, 0x0000 | 20, 0x3000 | 900] + [0x4FFF] * 2, dtype="<u2").tobytes()
    after = np.array([0x4001, 0x2000 | 7], dtype="<u2").tobytes()  # one vector event at the base, one single
    decoder = EventPacketDecoder(max_packet_events=5)
    decoder.decode(first, "evt3", 1280, 720)
    with pytest.raises(EventPacketError):
        decoder.decode(oversized, "evt3", 1280, 720)
    got = decoder.decode(after, "evt3", 1280, 720)
    assert got.x.tolist() == [100, 7] and got.y.tolist() == [10, 10]
    assert got.t_ns.tolist() == [(3 << 12 | 4) * 1000] * 2
    # refused at a new sensor size: the restart is counted once, when a packet at that size decodes
    with pytest.raises(EventPacketError):
        decoder.decode(oversized, "evt3", 640, 480)
    assert decoder.counters["stream_restarts"] == 0
    decoder.decode(first, "evt3", 640, 480)
    assert decoder.counters["stream_restarts"] == 1


def test_time_going_backwards_across_packets_is_counted_and_kept():
    decoder = EventPacketDecoder()
    event = np.array([(10 << 32) | 0], dtype="<u8").tobytes()
    decoder.decode(event, "mono", 640, 480, time_base=5_000_000)
    decoded = decoder.decode(event, "mono", 640, 480, time_base=1_000_000)  # earlier than the last one
    assert decoded.time_went_backwards and len(decoded) == 1
    assert decoder.counters["time_backwards"] == 1
    assert not decoder.decode(event, "mono", 640, 480, time_base=2_000_000).time_went_backwards


def test_a_change_of_encoding_or_sensor_restarts_the_stream():
    decoder = EventPacketDecoder()
    decoder.decode(good_evt3_words().tobytes(), "evt3", 1280, 720)
    # the same words without a time-high word would decode at once if the state were carried over
    later = np.array([0x0000 | 1, 0x2000 | 2], dtype="<u2").tobytes()
    assert len(decoder.decode(later, "evt3", 1280, 720)) == 1
    assert len(decoder.decode(later, "evt3", 640, 480)) == 0
    assert decoder.counters["stream_restarts"] == 1


def test_events_outside_the_sensor_and_unknown_words_are_counted():
    words = np.array([0x8000, 0x6000, 0x0000 | 700, 0x2000 | 500, 0x2000 | 10, 0x9000, 0x0000 | 5,
                      0x3000 | 630, 0x4FFF], dtype="<u2")
    decoder = EventPacketDecoder()
    decoded = decoder.decode(words.tobytes(), "evt3", 640, 480)
    # row 700 is outside (2 events); the vector at 630..641 keeps 630..639
    assert decoded.x.tolist() == list(range(630, 640)) and set(decoded.y.tolist()) == {5}
    assert decoded.dropped_outside == 4 and decoded.unknown_words == 1
    assert decoder.counters["dropped_outside"] == 4 and decoder.counters["unknown_words"] == 1


# ------------------------------------------------------------------------ the node's stream helper


def mono_events(times_ns, x0=0):
    words = [(np.uint64(x0 + k) << np.uint64(32)) | np.uint64(t) for k, t in enumerate(times_ns)]
    return np.array(words, dtype="<u8").tobytes()


def test_event_packet_stream_waits_for_the_packet_that_covers_a_window():
    import threading
    import time

    from seatrack_ros.modalities.event_packet import EventPacketStream

    stream = EventPacketStream()
    base = 1_700_000_000 * 1_000_000_000
    # packet 0: events at +0, +10 ms, +20 ms (header stamp = ROS time of time_base)
    stream.add_message(packet(mono_events([0, 10_000_000, 20_000_000]), encoding="mono", width=64, height=8,
                              time_base=0, stamp_ns=base, seq=0))
    assert stream.sensor_hw == (8, 64)
    window = (base, base + 33_000_000)
    (_, _, t, _), complete = stream.take_window(*window, deadline=time.monotonic() + 0.02)
    assert not complete and t.tolist() == [base, base + 10_000_000, base + 20_000_000]

    later_window = (base + 33_000_000, base + 66_000_000)

    def driver():
        time.sleep(0.05)
        stream.add_message(packet(mono_events([40_000_000, 70_000_000]), encoding="mono", width=64, height=8,
                                  time_base=0, stamp_ns=base, seq=1))

    thread = threading.Thread(target=driver)
    thread.start()
    try:
        (_, _, t, _), complete = stream.take_window(*later_window, deadline=time.monotonic() + 30)
    finally:
        thread.join()
    assert complete and t.tolist() == [base + 40_000_000]
    with pytest.raises(EventPacketError):
        stream.add_message(packet(b"\x00" * 3, encoding="mono", width=64, height=8, stamp_ns=base, seq=3))
    stream.add_message(packet(mono_events([80_000_000]), encoding="mono", width=64, height=8, stamp_ns=base, seq=5))
    counters = stream.counters()
    assert counters["windows_incomplete"] == 1 and counters["windows_waited"] == 1
    assert counters["event_packet_size"] == 1 and counters["packets"] == 3
    assert (counters["sequence_gaps"], counters["missing_packets"]) == (2, 2)


def test_events_field_may_be_any_byte_container():
    """rclpy gives uint8[] as array.array('B'), rosbags as a numpy array; bytes and views work too."""
    import array

    raw = good_evt3_words().tobytes()
    strided = np.zeros(2 * len(raw), np.uint8)
    strided[::2] = np.frombuffer(raw, np.uint8)
    for container in (raw, bytearray(raw), memoryview(raw), array.array("B", raw), np.frombuffer(raw, np.uint8),
                      strided[::2]):
        decoded = EventPacketDecoder().decode(container, "evt3", 1280, 720)
        assert decoded.x.tolist() == [20] and decoded.y.tolist() == [10]
    for bad in (np.zeros((2, 4), np.uint8), np.zeros(4, np.uint16), 12345, "text"):
        with pytest.raises(EventPacketError) as info:
            EventPacketDecoder().decode(bad, "evt3", 1280, 720)
        assert info.value.kind == "event_packet_size"
