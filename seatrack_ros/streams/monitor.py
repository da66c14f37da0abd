"""Per-stream stamp bookkeeping for the pairing: clock jumps, cameras whose clocks disagree (rclpy-free).

The node feeds every accepted stamp through `StreamMonitor`; it says when the synchroniser must be
reset (a stamp far behind the newest one of its stream: a looping bag, a restarted simulation) and when
the two streams keep arriving with stamps further apart than the pairing window (unsynchronised camera
clocks), so the node can report it once.
"""

from __future__ import annotations

import threading
from typing import Optional

# A stamp this far behind the previous stamp of the same stream means the clock jumped: the
# synchronizer's watermarks are reset instead of rejecting every later message. Per stream, so that
# two cameras whose clocks differ by a constant do not trigger it.
TIME_JUMP_NS = 1_000_000_000
# Messages per stream since the last match after which stamps that stay further apart than the
# pairing window are reported (unsynchronised camera clocks), as a diagnostic only.
APART_STREAK = 5
STREAMS = ("rgb", "aux")


class StreamMonitor:
    """Thread-safe; ``stream`` is ``"rgb"`` or ``"aux"``. ``slop_s``: the pairing window in seconds."""

    def __init__(
        self, slop_s: float, time_jump_ns: int = TIME_JUMP_NS, apart_streak: int = APART_STREAK
    ) -> None:
        self.slop_s = float(slop_s)
        self.time_jump_ns = int(time_jump_ns)
        self.apart_streak = int(apart_streak)
        self._lock = threading.Lock()
        self._newest = {name: 0 for name in STREAMS}
        self._streak = {name: 0 for name in STREAMS}
        self._last_rgb = 0

    def time_jump(self, stream: str, stamp_ns: int) -> int:
        """How far (ns) ``stamp_ns`` lies behind its stream's newest stamp if that is a clock jump, else 0.

        On a jump the bookkeeping restarts from this stamp; the other stream's next (also jumped)
        stamp is then not compared with its old newest one, so one jump resets the pairing once.
        """
        other = "aux" if stream == "rgb" else "rgb"
        with self._lock:
            newest = self._newest[stream]
            if newest and stamp_ns < newest - self.time_jump_ns:
                self._newest = {stream: stamp_ns, other: 0}
                self._streak = {name: 0 for name in STREAMS}
                self._last_rgb = 0
                return newest - stamp_ns
            self._newest[stream] = max(stamp_ns, newest)
            return 0

    def previous_rgb(self, stamp_ns: int) -> int:
        """The newest RGB stamp before this one (0 for the first); records ``stamp_ns``."""
        with self._lock:
            previous = self._last_rgb
            self._last_rgb = max(stamp_ns, previous)
        return previous

    def note_match(self, stream: str, matched: bool) -> Optional[int]:
        """Count a message of ``stream`` that did or did not complete a pair.

        Returns the RGB - aux stamp offset (ns) once per streak of ``apart_streak`` unmatched messages on
        both streams whose newest stamps differ by more than the window; None otherwise.
        """
        with self._lock:
            if matched:
                self._streak = {name: 0 for name in STREAMS}
                return None
            self._streak[stream] += 1
            streak = min(self._streak.values())
            offset_ns = self._newest["rgb"] - self._newest["aux"]
            apart = (
                streak >= self.apart_streak
                and min(self._newest.values()) > 0
                and abs(offset_ns) > self.slop_s * 1e9
            )
            if apart:
                self._streak = {name: 0 for name in STREAMS}  # count each streak once
                return offset_ns
            return None


def time_jump_text(stream: str, back_ns: int) -> str:
    return (
        f"{stream} stamps jumped back by {back_ns / 1e9:.1f} s (looping bag or restarted clock?); "
        "synchroniser reset"
    )


def streams_apart_text(offset_ns: int, slop_s: float) -> str:
    return (
        f"RGB and aux stamps differ by {offset_ns / 1e9:+.3f} s (RGB - aux) and nothing matched for "
        f"{APART_STREAK}+ messages per stream; are the cameras' clocks synchronised? (sync_slop {slop_s} s)"
    )
