"""seatrack_ros.ros.stop_signals in this process: the phases of the node's SIGINT/SIGTERM handling."""

from __future__ import annotations

import os
import signal

import pytest

from seatrack_ros.ros.stop_signals import StopRequested, StopSignals


@pytest.fixture
def restore_handlers():
    saved = {n: signal.getsignal(n) for n in (signal.SIGINT, signal.SIGTERM)}
    yield
    for number, handler in saved.items():
        signal.signal(number, handler)


def test_starting_raises_then_later_signals_are_swallowed(restore_handlers):
    signals = StopSignals().install()
    with pytest.raises(StopRequested):
        os.kill(os.getpid(), signal.SIGTERM)
        signal.sigtimedwait([], 0)  # give the interpreter a point to run the handler
    assert signals.requested.is_set() and signals.signal_number == signal.SIGTERM
    os.kill(os.getpid(), signal.SIGINT)  # a second one (launch's own SIGINT): no exception
    signal.sigtimedwait([], 0)
    with pytest.raises(StopRequested):  # running() after a stop during start-up stops at once
        signals.running()


def test_running_sets_the_flag_and_stopping_ignores(restore_handlers):
    signals = StopSignals().install()
    signals.running()
    os.kill(os.getpid(), signal.SIGINT)
    signal.sigtimedwait([], 0)
    assert signals.requested.is_set() and signals.signal_number == signal.SIGINT
    signals.stopping()
    assert signal.getsignal(signal.SIGINT) is signal.SIG_IGN and signal.getsignal(signal.SIGTERM) is signal.SIG_IGN
    os.kill(os.getpid(), signal.SIGTERM)  # would end this test process without SIG_IGN
    signal.sigtimedwait([], 0)


def test_without_the_handlers_a_signal_would_interrupt(restore_handlers):
    """Negative control: Python's default SIGINT handler raises KeyboardInterrupt."""
    signal.signal(signal.SIGINT, signal.default_int_handler)
    with pytest.raises(KeyboardInterrupt):
        os.kill(os.getpid(), signal.SIGINT)
        signal.sigtimedwait([], 0)


def test_restore_puts_back_the_callers_handlers(restore_handlers):
    """An in-process caller of the node's main() (a test) keeps its Ctrl-C: child processes would
    inherit SIG_IGN otherwise."""
    signal.signal(signal.SIGINT, signal.default_int_handler)
    signals = StopSignals().install()
    signals.stopping()
    assert signal.getsignal(signal.SIGINT) is signal.SIG_IGN
    signals.restore()
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler
    assert signal.getsignal(signal.SIGTERM) is signal.SIG_DFL
