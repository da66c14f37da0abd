"""Shutdown and signals (issue 12 items 11-12): the node exits cleanly (code 0, no traceback, no
"terminate called", no internal error for the frame in flight) for SIGINT and SIGTERM, idle, twice, mid-frame
and during start-up, run directly and under the real `ros2 launch` with Ctrl-C to the process group; a node
that fails on a bad parameter exits 2, never -11. One run of each here; scripts/check_shutdown.py repeats
them (20 runs each) and prints the counts."""

from __future__ import annotations

import re

import pytest

import rosutil
from shutdown_cases import CASES, ros2_cli, run_case

DOMAIN = rosutil.domain_id(36)


@pytest.mark.parametrize("case", [c for c, (how, _, _) in CASES.items() if how == "direct"])
def test_direct_stop_is_clean(case, tmp_path):
    outcome = run_case(case, DOMAIN, tmp_path)
    assert outcome.clean, f"{outcome.why}:\n{outcome.log}"


@pytest.mark.skipif(ros2_cli() is None, reason="the ROS 2 launch tools are not installed")
@pytest.mark.parametrize("case", [c for c, (how, _, _) in CASES.items() if how == "group"])
def test_ctrl_c_to_the_launch_process_group_is_clean(case, tmp_path):
    outcome = run_case(case, DOMAIN + 1, tmp_path)
    assert outcome.clean, f"{outcome.why}:\n{outcome.log}"


@pytest.mark.parametrize("value", ["sync_slop:=fast", "init_box:=5", "modality:=sonar"])
def test_bad_parameter_exits_2_not_a_crash(value):
    """The half-built node is destroyed before rclpy shuts down (it once crashed at exit with -11)."""
    import subprocess
    import sys

    for _ in range(3):
        done = subprocess.run([sys.executable, "-m", "seatrack_ros.ros.node", "--ros-args", "-p", value],
                              env=rosutil.ros_env(DOMAIN + 2), capture_output=True, text=True, timeout=120,
                              cwd=str(rosutil.ROOT))
        output = done.stdout + done.stderr
        assert done.returncode == 2, output
        assert "cannot start" in output and "Traceback" not in output, output


STALLED_STOP = """
import os, signal, sys, threading, time
sys.argv = ["seatrack_node"]
import seatrack_ros.ros.node as node_module
close = node_module.SeaTrackNode.close
def slow_close(self):
    time.sleep(float(os.environ["SLOW_CLOSE_S"])); close(self)
node_module.SeaTrackNode.close = slow_close
running = node_module.StopSignals.running
def running_then_stopped(self):  # the signal comes once the node spins, however slow its start
    threading.Timer(0.5, lambda: os.kill(os.getpid(), signal.SIGINT)).start(); running(self)
node_module.StopSignals.running = running_then_stopped
sys.exit(node_module.main())
"""


@pytest.mark.parametrize("slow_close_s", [6.0, 0.0])
def test_a_stalled_stop_prints_every_threads_stack(slow_close_s):
    """A stop that takes longer than STALLED_STOP_REPORT_S prints the threads' stacks (why it stalls)
    and still exits 0; a prompt stop prints none (the control)."""
    import subprocess
    import sys

    env = dict(rosutil.ros_env(DOMAIN + 3), SLOW_CLOSE_S=str(slow_close_s))
    done = subprocess.run([sys.executable, "-c", STALLED_STOP], env=env, capture_output=True, text=True,
                          timeout=120, cwd=str(rosutil.ROOT))
    assert done.returncode == 0, done.stdout + done.stderr
    stalled = "in slow_close" in done.stderr and "Thread 0x" in done.stderr
    assert stalled == (slow_close_s > 0), done.stderr


def test_sigusr1_prints_every_threads_stack_and_the_node_runs_on():
    """`kill -USR1` (what the shutdown cases send a node that has not stopped after STACKS_AFTER_S)
    prints the stacks of the main and worker threads; the node keeps running and still stops cleanly."""
    import signal
    import time

    from shutdown_cases import TOPICS

    node = rosutil.NodeProcess(DOMAIN + 3, dict(TOPICS))
    try:
        node.wait_for_log("ready:")
        time.sleep(0.5)
        assert "most recent call first" not in node.log()  # the control: no stacks before the signal
        node.proc.send_signal(signal.SIGUSR1)
        node.wait_for_log(r"(?s)Current thread 0x.*most recent call first.*in main", timeout=30)
        assert "in _work" in node.log(), node.log()  # the worker thread's stack too
        time.sleep(0.5)
        assert node.proc.poll() is None, node.log()
    finally:
        code = node.stop()
    assert code == 0, node.log()


def test_a_crash_prints_every_threads_stack_before_the_node_dies():
    """A fatal signal (here a SIGSEGV sent from outside, as a crash in the middleware's or torch's C code
    would raise it) leaves the stacks of the main and worker threads in the log, and the exit code says
    what killed the process (-11): a crash no longer leaves an empty log."""
    import signal
    import time

    from shutdown_cases import TOPICS

    node = rosutil.NodeProcess(DOMAIN + 3, dict(TOPICS))
    try:
        node.wait_for_log("ready:")
        time.sleep(0.5)
        assert "Fatal Python error" not in node.log()  # the control: nothing before the signal
        node.proc.send_signal(signal.SIGSEGV)
        code = node.wait_exit(timeout=30)
    finally:
        node.stop()
    log = node.log()
    assert code == -signal.SIGSEGV, log
    assert re.search(r"(?s)Fatal Python error: Segmentation fault.*most recent call first.*in main", log), log
    assert "in _work" in log, log  # the worker thread's stack too


def test_sigusr1_while_the_node_exits_never_kills_it():
    """Stack requests keep coming while the node stops and the interpreter exits: the exit code stays 0
    (faulthandler's handler goes away during finalization; the default action would be death by -10)."""
    import signal
    import time

    from shutdown_cases import TOPICS

    node = rosutil.NodeProcess(DOMAIN + 3, dict(TOPICS))
    node.wait_for_log("ready:")
    node.proc.send_signal(signal.SIGINT)
    sent = 0
    deadline = time.monotonic() + 60
    while node.proc.poll() is None and time.monotonic() < deadline:
        node.proc.send_signal(signal.SIGUSR1)  # a no-op once Popen has reaped the process
        sent += 1
        time.sleep(0.01)
    code = node.stop()
    assert sent > 0
    assert code == 0, f"exit code {code} after {sent} SIGUSR1:\n{node.log()[-3000:]}"
