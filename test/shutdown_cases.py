"""One stop of the node by a signal, as a user or a launch system stops it, and the verdict on its exit
(shared by test/test_ros_shutdown.py and scripts/check_shutdown.py).

A clean exit: code 0, and none of a traceback, "terminate called", an internal error (the in-flight
frame's publish after the context is gone) or a segfault in the node's output.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Optional

import rosutil

HEIGHT, WIDTH = 128, 160
TOPICS = {"rgb_topic": "/cam/rgb", "aux_topic": "/cam/aux", "device": "cpu", "reliable_qos": True,
          "stats_period": 0.0}
# (how the signal is sent, which signal, when). "direct": to the node process run by itself;
# "group": to the process group of `ros2 launch` and its node, as Ctrl-C in a terminal does (launch
# then sends the node its own SIGINT as well).
CASES = {
    "direct SIGINT idle": ("direct", signal.SIGINT, "idle"),
    "direct SIGTERM idle": ("direct", signal.SIGTERM, "idle"),
    "direct SIGINT twice idle": ("direct", signal.SIGINT, "twice"),
    "direct SIGINT mid-frame": ("direct", signal.SIGINT, "frame"),
    "direct SIGTERM mid-frame": ("direct", signal.SIGTERM, "frame"),
    "direct SIGINT start-up": ("direct", signal.SIGINT, "startup"),
    "group SIGINT idle": ("group", signal.SIGINT, "idle"),
    "group SIGINT mid-frame": ("group", signal.SIGINT, "frame"),
}
# A node still running this long after the signal is asked for its threads' stacks (SIGUSR1; the
# node's faulthandler answers it even when Python code cannot run), so the log of a stalled stop says
# where it waits. Under launch: after its SIGTERM (5 s), before its SIGKILL (15 s).
STACKS_AFTER_S = 8.0
BAD_OUTPUT = re.compile(r"Traceback|terminate called|internal_|Segmentation fault|core dumped|"
                        r"process has died")


def ros2_cli() -> Optional[str]:
    try:
        import launch_ros  # noqa: F401
        import ros2launch  # noqa: F401
    except ImportError:
        return None
    return shutil.which("ros2")


@dataclass
class Outcome:
    case: str
    code: Optional[int]
    clean: bool
    why: str
    log: str


def _frame_in_flight(domain: int) -> "rosutil.Client":
    """A client that has set a target (init topic, first pair) and sent a second pair, which the node is
    then running through the model."""
    from seatrack_ros.msg import InitBox
    from seatrack_ros.streams.synthetic import make_sequence

    client = rosutil.Client(domain)
    client.wait_for_subscribers()
    frames = make_sequence(2, "thermal", HEIGHT, WIDTH, seed=1)
    init = InitBox()
    init.x, init.y, init.width, init.height = (float(v) for v in frames[0].box)
    client.init_pub.publish(init)
    time.sleep(0.5)

    def pair(frame):
        now = time.time_ns()
        return rosutil.image_msg(frame.rgb, "rgb8", now), rosutil.image_msg(frame.aux, "mono8", now)

    client.send_and_wait(*pair(frames[0]), timeout=90)  # the init frame
    client.send_pair(*pair(frames[1]))
    return client


def _node_pid(popen: subprocess.Popen, log: str, how: str) -> Optional[int]:
    if how == "direct":
        return popen.pid
    started = re.search(r"process started with pid \[(\d+)\]", log)
    return int(started.group(1)) if started else None


def _wait_asking_for_stacks(popen: subprocess.Popen, read_log, how: str, timeout: float) -> Optional[int]:
    """The exit code (None after ``timeout`` s); a node still running after STACKS_AFTER_S gets SIGUSR1."""
    try:
        return popen.wait(timeout=STACKS_AFTER_S)
    except subprocess.TimeoutExpired:
        pass
    pid = _node_pid(popen, read_log(), how)
    if pid is not None:
        try:
            os.kill(pid, signal.SIGUSR1)
        except ProcessLookupError:
            pass
    try:
        return popen.wait(timeout=timeout - STACKS_AFTER_S)
    except subprocess.TimeoutExpired:
        return None


def run_case(case: str, domain: int, log_dir: Path, startup_delay: float = 3.0) -> Outcome:
    how, number, when = CASES[case]
    params = dict(TOPICS)
    client = None
    if how == "direct":
        proc = rosutil.NodeProcess(domain, params)
        popen, read_log = proc.proc, proc.log
    else:
        cli = ros2_cli()
        if cli is None:
            raise RuntimeError("ros2 launch is not installed")
        env = rosutil.ros_env(domain)
        env["ROS_LOG_DIR"] = str(log_dir / "ros_log")
        log_path = log_dir / f"launch_{domain}_{time.monotonic_ns()}.log"
        log_file = open(log_path, "wb")
        popen = subprocess.Popen([cli, "launch", "seatrack_ros", "rgbt.launch.py", "rgb_topic:=/cam/rgb",
                                  "aux_topic:=/cam/aux", "device:=cpu"], env=env, stdout=log_file,
                                 stderr=subprocess.STDOUT, start_new_session=True)

        def read_log() -> str:
            return log_path.read_text(errors="replace")

    try:
        deadline = time.monotonic() + 240
        if when == "startup":
            time.sleep(startup_delay)  # imports, torch import or model load
        else:
            while "ready:" not in read_log() and popen.poll() is None and time.monotonic() < deadline:
                time.sleep(0.05)
        if when == "frame":
            client = _frame_in_flight(domain)
            time.sleep(0.4)  # the pair is in the model (about a second on a CPU)
        if popen.poll() is None:
            if how == "group":
                os.killpg(popen.pid, number)
            else:
                popen.send_signal(number)
                if when == "twice":
                    time.sleep(0.05)
                    popen.send_signal(number)
        code = _wait_asking_for_stacks(popen, read_log, how, timeout=60)
    finally:
        if client is not None:
            client.close()
        if popen.poll() is None:
            if how == "direct":
                popen.kill()
            else:
                os.killpg(popen.pid, signal.SIGKILL)
            popen.wait(timeout=10)
        if how == "direct":
            proc.stop()  # closes its log file
        else:
            log_file.close()
    log = read_log()
    if code != 0:
        return Outcome(case, code, False, f"exit code {code}", log)
    bad = BAD_OUTPUT.search(log)
    if bad:
        return Outcome(case, code, False, f"output has {bad.group(0)!r}", log)
    if how != "direct" and "process has finished cleanly" not in log:
        return Outcome(case, code, False, "launch did not report the node finished cleanly", log)
    return Outcome(case, code, True, "clean", log)


def main_check(cases: list[str], runs: int, log_dir: Path) -> int:
    failures = 0
    for case in cases:
        clean = 0
        for index in range(runs):
            outcome = run_case(case, rosutil.domain_id(35 + index % 5), log_dir,
                               startup_delay=0.5 + 5.0 * index / max(1, runs - 1))
            clean += outcome.clean
            if not outcome.clean:
                failures += 1
                print(f"  {case} run {index + 1}: {outcome.why}\n{outcome.log[-2000:]}", file=sys.stderr)
        print(f"{case}: {clean} of {runs} clean exits", flush=True)
    return failures
