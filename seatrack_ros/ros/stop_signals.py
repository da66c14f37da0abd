"""SIGINT / SIGTERM handling of the node process (no ROS needed).

Ctrl-C in a terminal reaches every process of the foreground group, so under ``ros2 launch`` the node
gets the terminal's SIGINT and then launch's own SIGINT (and SIGTERM after its timeout). rclpy's
handlers shut the context down on the first and leave the later ones to Python's default handler,
whose KeyboardInterrupt then lands anywhere in the shutdown code (traceback, exit -2), or lets the
interpreter exit under a worker thread that is still inside the model (SIGABRT). So the node installs
its own handlers instead of rclpy's, in three phases:

- starting (imports, parameter checks, model load): the first signal raises `StopRequested`, which
  `main` catches and turns into a quiet exit 0 (a BaseException, so no ``except Exception`` on the
  way up swallows it);
- running (spinning): a signal only sets `requested`; the spin loop polls it;
- stopping (worker join, destroy, rclpy shutdown): every further signal is ignored.

SIGUSR1 prints every thread's stack (`report_stacks_on_request`), from the entry point's first line
until `main` returns; then it is ignored, because faulthandler's handler goes away while the
interpreter finalizes and a SIGUSR1 arriving then would kill a process that stopped cleanly (-10).
From the same first line a crash (SIGSEGV, SIGABRT, SIGBUS, SIGFPE, SIGILL) prints every thread's
stack before the process dies (`report_stacks_on_crash`).
"""

from __future__ import annotations

import atexit
import faulthandler
import signal
import threading
from typing import Optional

STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)
# `kill -USR1 <pid>` prints every thread's stack and the process runs on. faulthandler answers it in C,
# so it works where a Python handler cannot run: a thread stuck in C code holding the GIL, or a main
# thread that never comes back to see the stop flag.
STACKS_SIGNAL = signal.SIGUSR1
STARTING, RUNNING, STOPPING = "starting", "running", "stopping"


class StopRequested(BaseException):
    """SIGINT or SIGTERM arrived while the node was starting."""


class StopSignals:
    """The process's SIGINT/SIGTERM handlers (install from the main thread only)."""

    def __init__(self) -> None:
        self.requested = threading.Event()
        self.signal_number: Optional[int] = None
        self.phase = STARTING
        self._previous: dict = {}

    def install(self) -> "StopSignals":
        for number in STOP_SIGNALS:
            self._previous[number] = signal.signal(number, self._on_signal)
        return self

    def restore(self) -> None:
        """Put back the handlers found by `install`, for a caller that goes on running (an embedding
        program, a test); child processes would otherwise inherit SIG_IGN and ignore Ctrl-C."""
        for number, handler in self._previous.items():
            signal.signal(number, handler if handler is not None else signal.SIG_DFL)

    def running(self) -> None:
        """From now on a signal only sets `requested` (raises StopRequested if one came already)."""
        self.phase = RUNNING
        if self.requested.is_set():
            raise StopRequested()

    def stopping(self) -> None:
        """Ignore every later signal. SIG_IGN rather than a Python handler: the interpreter resets its
        own handlers to the default (terminate) while it finalizes, and a late signal would then kill
        the process with -2 or -15 after a clean shutdown."""
        self.phase = STOPPING
        ignore_stop_signals()

    def _on_signal(self, number: int, frame) -> None:
        if self.phase == STOPPING or self.requested.is_set():
            return
        self.signal_number = number
        self.requested.set()
        if self.phase == STARTING:
            # Later signals come back here and return; switching to SIG_IGN inside a handler would
            # make Python print "Signal ignored due to race condition" for one already pending.
            raise StopRequested()


def ignore_stop_signals() -> None:
    for number in STOP_SIGNALS:
        signal.signal(number, signal.SIG_IGN)


def report_stacks_on_request() -> None:
    """From now on SIGUSR1 prints every thread's stack to stderr (see STACKS_SIGNAL)."""
    faulthandler.register(STACKS_SIGNAL, all_threads=True)


def report_stacks_on_crash() -> None:
    """From now on a fatal signal prints every thread's Python stack to stderr, then the process dies as
    it would have (exit -11 for SIGSEGV). A crash inside a C library (the middleware's threads, torch)
    otherwise leaves nothing in the log, not even which thread was where."""
    faulthandler.enable(all_threads=True)


def ignore_stacks_requests() -> None:
    """For the process's exit: SIGUSR1 ignored instead of faulthandler's handler, which the
    interpreter removes while it finalizes (the default action would then kill the process)."""
    faulthandler.unregister(STACKS_SIGNAL)
    signal.signal(STACKS_SIGNAL, signal.SIG_IGN)


def exit_quietly_on_stop_signal() -> None:
    """For entry points, before their heavy imports: a SIGINT/SIGTERM then exits with code 0 and no
    traceback (`main` installs `StopSignals` as soon as it runs), SIGUSR1 prints the stacks, and so does
    a crash."""

    def _exit(number: int, frame) -> None:
        for later in STOP_SIGNALS:
            signal.signal(later, _ignore)
        atexit.register(ignore_stop_signals)  # runs before the interpreter resets handlers to default
        ignore_stacks_requests()
        raise SystemExit(0)

    def _ignore(number: int, frame) -> None:
        return None

    for number in STOP_SIGNALS:
        signal.signal(number, _exit)
    report_stacks_on_request()
    report_stacks_on_crash()
