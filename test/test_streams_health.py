"""HealthMonitor: each level of the /diagnostics report on hand-made counter sequences."""

from __future__ import annotations

import pytest

from seatrack_ros.streams.health import ERROR, OK, WARN, Counters, HealthMonitor

INFO = {"model": "seatrack_rgbt", "device": "cpu", "precision": "float32"}


def feed(monitor: HealthMonitor, start: float, stop: float, hz: float, streams=("rgb", "aux")) -> None:
    for i in range(round((stop - start) * hz)):  # messages at start + i / hz, before stop
        for stream in streams:
            monitor.note_message(stream, start + i / hz)


def counters(processed=0, matched=0, rgb=0, aux=0, superseded=0, errors=0) -> Counters:
    return Counters(processed=processed, matched=matched, received={"rgb": rgb, "aux": aux},
                    dropped={"superseded": superseded}, internal_errors=errors)


def test_ok_with_rates_and_latencies():
    monitor = HealthMonitor(silent_after=2.0, rate_window=5.0)
    feed(monitor, 0.0, 5.0, 10.0)  # 50 messages per stream in the window
    report = monitor.report(5.0, counters(processed=50, matched=50, rgb=50, aux=50),
                            {"model": [0.010, 0.020, 0.030, 0.040]}, INFO)
    assert report.level == OK and report.level_name == "OK"
    values = dict(report.values)
    assert values["rgb rate (Hz)"] == "10.00" and values["aux rate (Hz)"] == "10.00"
    assert values["device"] == "cpu" and values["precision"] == "float32"
    assert values["latency model median (ms)"] == "25.00"
    assert values["latency model p95 (ms)"] == "38.50"  # numpy's linear interpolation: 30 + 0.85 * 10
    assert values["dropped: superseded"] == "0"


def test_warn_when_a_stream_is_silent():
    monitor = HealthMonitor(silent_after=2.0)
    feed(monitor, 0.0, 5.0, 10.0, streams=("rgb",))
    report = monitor.report(5.0, counters(rgb=50), {}, INFO)
    assert report.level == WARN and "no aux messages" in report.message
    # negative control: both streams arriving -> no silence warning
    feed(monitor, 0.0, 5.0, 10.0, streams=("aux",))
    assert "no aux" not in monitor.report(5.0, counters(rgb=50, aux=50, matched=50, processed=50), {},
                                          INFO).message
    # silence is measured from the newest message: 3 s later both are silent
    assert monitor.report(8.0, counters(rgb=50, aux=50, matched=50, processed=50), {}, INFO).level == WARN


def test_warn_when_stamps_never_pair():
    monitor = HealthMonitor()
    feed(monitor, 0.0, 1.0, 20.0)
    monitor.report(1.0, counters(rgb=0, aux=0), {}, INFO)
    feed(monitor, 1.0, 2.0, 20.0)
    report = monitor.report(2.0, counters(rgb=20, aux=20, matched=0), {}, INFO)
    assert report.level == WARN and "do not pair" in report.message
    # negative control: the same traffic with matches is OK
    feed(monitor, 2.0, 3.0, 20.0)
    assert monitor.report(3.0, counters(rgb=40, aux=40, matched=20, processed=20), {}, INFO).level == OK


def test_warn_when_dropping_faster_than_processing():
    monitor = HealthMonitor()
    feed(monitor, 0.0, 1.0, 30.0)
    monitor.report(1.0, counters(rgb=30, aux=30, matched=30, processed=10, superseded=20), {}, INFO)
    feed(monitor, 1.0, 2.0, 30.0)
    # since the last report: 30 matched, 2 processed, 28 superseded
    report = monitor.report(2.0, counters(rgb=60, aux=60, matched=60, processed=12, superseded=48), {}, INFO)
    assert report.level == WARN and "faster than processing" in report.message
    assert dict(report.values)["dropped: superseded"] == "48"


def test_error_when_the_model_failed_outranks_warnings():
    monitor = HealthMonitor()
    monitor.set_model_error("checkpoint has non-finite tensors")
    report = monitor.report(1.0, counters(), {}, INFO)  # also silent streams (WARN)
    assert report.level == ERROR
    assert report.message == "model failed: checkpoint has non-finite tensors"
    monitor.set_model_error(None)
    feed(monitor, 0.5, 2.0, 10.0)
    assert monitor.report(2.0, counters(rgb=15, aux=15, matched=15, processed=15), {}, INFO).level == OK
    report = monitor.report(2.0, counters(rgb=15, aux=15, matched=15, processed=15, errors=1), {}, INFO)
    assert report.level == ERROR and "internal error" in report.message


def test_bad_settings_are_refused():
    with pytest.raises(ValueError):
        HealthMonitor(silent_after=0.0)
