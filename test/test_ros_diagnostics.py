"""/diagnostics over real DDS: each level the node reports, seen by a subscriber.

OK (pairs processed in time), WARN for a silent stream, for stamps that never pair within sync_slop and
for pairs dropped faster than processed, ERROR when the model failed (configure with a checkpoint that
cannot be loaded, on a node left unconfigured for a lifecycle manager).
"""

from __future__ import annotations

import threading
import time

import pytest

import rosutil
from seatrack_ros.streams.synthetic import make_sequence

DOMAIN = rosutil.domain_id(32)
HEIGHT, WIDTH = 128, 160
OK, WARN, ERROR = b"\x00", b"\x01", b"\x02"


class DiagnosticsListener:
    """Keeps every seatrack status received on /diagnostics (on the client's context)."""

    def __init__(self, client: rosutil.Client) -> None:
        from diagnostic_msgs.msg import DiagnosticArray

        self._lock = threading.Lock()
        self.statuses: list = []
        client.node.create_subscription(DiagnosticArray, "/diagnostics", self._on_array, 50)

    def _on_array(self, msg) -> None:
        with self._lock:
            self.statuses += [s for s in msg.status if s.name.startswith("seatrack")]

    def wait_for(self, level: bytes, text: str, timeout: float, since: int = 0, poke=None):
        """The first status after index ``since`` with ``level`` and ``text`` in its message."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self._lock:
                for status in self.statuses[since:]:
                    if status.level == level and text in status.message:
                        return status
            if poke is not None:
                poke()
            else:
                time.sleep(0.1)
        with self._lock:
            seen = [(s.level, s.message) for s in self.statuses[since:]]
        raise AssertionError(f"no /diagnostics status {level!r} with {text!r} in {timeout} s; seen {seen[-10:]}")

    def count(self) -> int:
        with self._lock:
            return len(self.statuses)


@pytest.fixture(scope="module")
def node():
    proc = rosutil.NodeProcess(DOMAIN, {
        "rgb_topic": "/cam/rgb", "aux_topic": "/cam/aux", "modality": "thermal", "reliable_qos": True,
        "sync_slop": 0.01, "stats_period": 0.0, "diagnostics_period": 0.5,
    })
    try:
        proc.wait_for_log(r"ready: modality=thermal", timeout=180)
        yield proc
    finally:
        proc.stop()


def pair(frame, rgb_ns: int, aux_ns: int):
    return (rosutil.image_msg(frame.rgb, "rgb8", rgb_ns), rosutil.image_msg(frame.aux, frame.aux_encoding, aux_ns))


def test_diagnostics_levels(node):
    from seatrack_ros.msg import InitBox

    frames = make_sequence(4, "thermal", HEIGHT, WIDTH, seed=12)
    client = rosutil.Client(DOMAIN)
    try:
        listener = DiagnosticsListener(client)
        client.wait_for_subscribers()
        # WARN: nothing arrived yet
        status = listener.wait_for(WARN, "no rgb messages", timeout=20)
        values = dict((kv.key, kv.value) for kv in status.values)
        assert values["device"] == "cpu" and values["precision"] == "float32", values
        assert values["model"] == "rgbt test weights" and values["lifecycle state"] == "active", values
        assert "pairs processed" in values and "dropped: superseded" in values and "rgb rate (Hz)" in values

        init = InitBox()
        init.x, init.y, init.width, init.height = (float(v) for v in frames[0].box)
        client.init_pub.publish(init)
        node.wait_for_log(r"init box .* accepted", timeout=30)

        # OK: pairs sent one at a time, each processed before the next
        def send_one():
            now = time.time_ns()
            client.send_and_wait(*pair(frames[1], now, now), timeout=90)

        mark = listener.count()
        status = listener.wait_for(OK, "tracking pipeline OK", timeout=120, since=mark, poke=send_one)
        values = dict((kv.key, kv.value) for kv in status.values)
        assert int(values["pairs processed"]) >= 1
        assert float(values["latency model median (ms)"]) > 0 and "latency total p95 (ms)" in values

        # WARN: pairs far faster than the model: most are superseded
        def flood():
            for _ in range(12):
                now = time.time_ns()
                client.send_pair(*pair(frames[2], now, now))
                time.sleep(0.02)

        mark = listener.count()
        listener.wait_for(WARN, "dropping pairs faster than processing them", timeout=60, since=mark, poke=flood)

        # WARN: both streams arrive but their stamps lie 0.5 s apart (sync_slop 0.01)
        def apart():
            for _ in range(12):
                now = time.time_ns()
                client.send_pair(*pair(frames[3], now, now - 500_000_000))
                time.sleep(0.02)

        mark = listener.count()
        listener.wait_for(WARN, "do not pair within the sync window", timeout=60, since=mark, poke=apart)
        assert node.proc.poll() is None
    finally:
        client.close()


def test_diagnostics_error_when_the_model_fails(tmp_path):
    """autostart:=false leaves the node unconfigured (OK, nothing taken); configuring it with a file that
    is no checkpoint fails, the node stays up and reports ERROR."""
    from lifecycle_msgs.msg import Transition
    from lifecycle_msgs.srv import ChangeState, GetState

    bad = tmp_path / "not_a_checkpoint.pth"
    bad.write_bytes(b"not a checkpoint")
    proc = rosutil.NodeProcess(DOMAIN + 1, {"autostart": False, "checkpoint": str(bad), "diagnostics_period": 0.5})
    client = None
    try:
        client = rosutil.Client(DOMAIN + 1)
        listener = DiagnosticsListener(client)
        listener.wait_for(OK, "unconfigured: not configured", timeout=60)
        state = client.call(client.node.create_client(GetState, "/seatrack/get_state"), GetState.Request())
        assert state.current_state.label == "unconfigured"
        change = client.node.create_client(ChangeState, "/seatrack/change_state")
        request = ChangeState.Request()
        request.transition.id = Transition.TRANSITION_CONFIGURE
        assert client.call(change, request, timeout=120).success is False
        status = listener.wait_for(ERROR, "model failed: cannot start: cannot read checkpoint", timeout=20,
                                   since=0)
        assert dict((kv.key, kv.value) for kv in status.values)["lifecycle state"] == "unconfigured"
        assert proc.proc.poll() is None, proc.log()
    finally:
        if client is not None:
            client.close()
        assert proc.stop() == 0, proc.log()
