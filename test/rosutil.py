"""Helpers for the ROS tests: a loopback-only ROS environment, the node as a subprocess, and an
in-process client node (publishers, target subscriber, service clients) on its own rclpy context.

Every process gets ROS_AUTOMATIC_DISCOVERY_RANGE=LOCALHOST (and ROS_LOCALHOST_ONLY=1 on Humble, which
predates the former) and a test-chosen ROS_DOMAIN_ID, so no test traffic leaves the machine and
parallel runs do not see each other.
"""

from __future__ import annotations

import array
import os
import re
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any, Callable, Optional

import numpy as np

ROOT = Path(__file__).resolve().parents[1]


def _install_prefix() -> Path:
    """The colcon install prefix holding the generated seatrack_ros.msg (./install/seatrack_ros after
    scripts/setup.sh; the workspace's install tree in a sourced ROS workspace)."""
    try:
        import seatrack_ros.msg
    except ImportError as exc:
        raise ImportError("seatrack_ros.msg is not built: run scripts/setup.sh (colcon build) or source "
                          "the ROS workspace's install/setup.bash") from exc

    # <prefix>/lib/pythonX.Y/site-packages/seatrack_ros/msg/__init__.py (symlinks not resolved)
    return Path(os.path.abspath(seatrack_ros.msg.__file__)).parents[5]


INSTALL = _install_prefix()
PYVER = f"{sys.version_info.major}.{sys.version_info.minor}"
INSTALL_SITE = INSTALL / "lib" / f"python{PYVER}" / "site-packages"
FASTDDS_PROFILE = ROOT / "config" / "fastdds_localhost.xml"
# The node and in-process reference computations use the same CPU thread count, so float reductions
# happen in the same order in both.
TORCH_THREADS = 2
# Set by test/conftest.py to a folder under pytest's basetemp, where node logs are written.
LOG_DIR: Optional[Path] = None


def domain_id(module_index: int) -> int:
    """A ROS domain id in 40..89 for one test module, varied by process id so that two test runs at
    the same time are unlikely to share a domain."""
    return 40 + (int(os.environ.get("SEATRACK_TEST_DOMAIN_BASE", os.getpid() % 10)) * 5 + module_index) % 50


def ros_env(domain: int) -> dict[str, str]:
    """Environment for a subprocess running the node from this checkout."""
    env = dict(os.environ)
    paths = [str(ROOT), str(INSTALL_SITE)] + [p for p in env.get("PYTHONPATH", "").split(os.pathsep) if p]
    env["PYTHONPATH"] = os.pathsep.join(paths)
    ld = [str(INSTALL / "lib")] + [p for p in env.get("LD_LIBRARY_PATH", "").split(os.pathsep) if p]
    env["LD_LIBRARY_PATH"] = os.pathsep.join(ld)
    env["PATH"] = os.pathsep.join([os.path.dirname(sys.executable), env.get("PATH", "")])
    env["ROS_AUTOMATIC_DISCOVERY_RANGE"] = "LOCALHOST"
    if env.get("ROS_DISTRO") == "humble":  # later distributions warn about or ignore it
        env["ROS_LOCALHOST_ONLY"] = "1"
    env["ROS_DOMAIN_ID"] = str(domain)
    env["FASTDDS_DEFAULT_PROFILES_FILE"] = str(FASTDDS_PROFILE)
    env["RCUTILS_COLORIZED_OUTPUT"] = "0"
    env["PYTHONUNBUFFERED"] = "1"
    env["OMP_NUM_THREADS"] = str(TORCH_THREADS)
    return env


def configure_this_process(domain: int) -> None:
    """Set the ROS variables for rclpy in the test process (before its context is initialised)."""
    os.environ["ROS_AUTOMATIC_DISCOVERY_RANGE"] = "LOCALHOST"
    if os.environ.get("ROS_DISTRO") == "humble":
        os.environ["ROS_LOCALHOST_ONLY"] = "1"
    os.environ["ROS_DOMAIN_ID"] = str(domain)
    os.environ["FASTDDS_DEFAULT_PROFILES_FILE"] = str(FASTDDS_PROFILE)


def _param_arg(name: str, value: Any) -> str:
    if isinstance(value, bool):
        text = "true" if value else "false"
    elif isinstance(value, (list, tuple)):
        text = "[" + ",".join(_scalar(v) for v in value) + "]"
    else:
        text = _scalar(value)
    return f"{name}:={text}"


def _scalar(value: Any) -> str:
    if isinstance(value, float):
        return repr(value)
    if isinstance(value, str):
        return value if value else "''"
    return str(value)


class NodeProcess:
    """The seatrack node in a subprocess with its log in a file."""

    def __init__(self, domain: int, params: dict[str, Any], name_args: Optional[list[str]] = None,
                 extra_args: Optional[list[str]] = None, params_file: Optional[Path] = None) -> None:
        # Under pytest's temporary directory (kept for the last few runs, cleaned by pytest), not /tmp.
        log_dir = LOG_DIR if LOG_DIR is not None else Path(tempfile.gettempdir())
        self.log_path = Path(tempfile.mkstemp(prefix="seatrack_node_", suffix=".log", dir=log_dir)[1])
        args = [sys.executable, "-m", "seatrack_ros.ros.node", "--ros-args"]
        if params_file is not None:  # before the -p overrides, which take precedence
            args += ["--params-file", str(params_file)]
        if "checkpoint" not in params and "test_weights" not in params and "variant" not in params:
            # These tests check the node's mechanics with the deterministic test weights; without a
            # checkpoint the node would run the demo model (test_ros_demo_model.py tracks with it).
            params = {"test_weights": True, **params}
        for name, value in params.items():
            args += ["-p", _param_arg(name, value)]
        args += name_args or []
        args += extra_args or []
        self.args = args
        self._log_file = open(self.log_path, "wb")
        self.proc = subprocess.Popen(args, env=ros_env(domain), stdout=self._log_file,
                                     stderr=subprocess.STDOUT, cwd=str(ROOT))

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def wait_for_log(self, pattern: str, timeout: float = 60.0) -> re.Match:
        deadline = time.monotonic() + timeout
        regex = re.compile(pattern)
        while time.monotonic() < deadline:
            match = regex.search(self.log())
            if match:
                return match
            if self.proc.poll() is not None:
                match = regex.search(self.log())
                if match:
                    return match
                raise AssertionError(f"node exited with {self.proc.returncode} before /{pattern}/:\n{self.log()}")
            time.sleep(0.1)
        raise AssertionError(f"timeout waiting for /{pattern}/ in node log:\n{self.log()}")

    def wait_exit(self, timeout: float = 60.0) -> int:
        try:
            return self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            raise AssertionError(f"node still running after {timeout} s:\n{self.log()}") from None

    def stop(self) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.proc.send_signal(signal.SIGUSR1)  # the node prints its threads' stacks to its log
                time.sleep(1.0)
                self.proc.kill()
                self.proc.wait(timeout=5)
        self._log_file.close()
        return self.proc.returncode


def exits_of(procs: dict[str, "NodeProcess"], timeout: float = 240.0) -> dict[str, tuple[int, str]]:
    """Wait for each node process (started together, each expected to exit on its own) and return
    name -> (exit code, log); every process is stopped afterwards."""
    results = {}
    for name, proc in procs.items():
        code = proc.wait_exit(timeout=timeout)
        results[name] = (code, proc.log())
        proc.stop()
    return results


def stamp_msg(header, stamp_ns: int, frame_id: str = "camera") -> None:
    from seatrack_ros.streams.stamps import set_stamp

    set_stamp(header.stamp, stamp_ns)
    header.frame_id = frame_id


def image_msg(image: np.ndarray, encoding: str, stamp_ns: int, frame_id: str = "camera", step: int = 0):
    """sensor_msgs/Image from an array; ``step`` > row size pads each row with 0xAB bytes."""
    from sensor_msgs.msg import Image

    msg = Image()
    stamp_msg(msg.header, stamp_ns, frame_id)
    msg.height, msg.width = int(image.shape[0]), int(image.shape[1])
    msg.encoding = encoding
    msg.is_bigendian = 0
    rows = np.ascontiguousarray(image).view(np.uint8).reshape(image.shape[0], -1) if image.size else \
        np.zeros((0, 0), np.uint8)
    row_bytes = rows.shape[1]
    if step and step > row_bytes:
        padded = np.full((image.shape[0], step), 0xAB, np.uint8)
        padded[:, :row_bytes] = rows
        rows = padded
    msg.step = int(rows.shape[1])
    data = array.array("B")
    data.frombytes(rows.tobytes())
    msg.data = data
    return msg


def event_msg(events, height: int, width: int, stamp_ns: int):
    from seatrack_ros.msg import EventArray

    x, y, t, p = events
    msg = EventArray()
    stamp_msg(msg.header, stamp_ns, "event_camera")
    msg.height, msg.width = height, width
    msg.x = array.array("H", np.asarray(x, np.uint16).tobytes())
    msg.y = array.array("H", np.asarray(y, np.uint16).tobytes())
    msg.t_ns = array.array("q", np.asarray(t, np.int64).tobytes())
    msg.polarity = array.array("B", np.asarray(p, np.uint8).tobytes())
    return msg


class Client:
    """An rclpy node in the test process, spun in a background thread on its own context."""

    def __init__(self, domain: int, namespace: str = "/seatrack", reliable_publishers: bool = True,
                 aux_type=None, rgb_type=None) -> None:
        import rclpy
        try:
            from rclpy.event_handler import PublisherEventCallbacks
        except ImportError:  # Humble: the same class lives in rclpy.qos_event
            from rclpy.qos_event import PublisherEventCallbacks
        from rclpy.executors import SingleThreadedExecutor
        from rclpy.qos import QoSProfile, ReliabilityPolicy
        from sensor_msgs.msg import Image
        from std_srvs.srv import Trigger

        from seatrack_ros.msg import InitBox, Target
        from seatrack_ros.ros.typesupport_path import preload_typesupport
        from seatrack_ros.srv import SetInitBox

        preload_typesupport()
        configure_this_process(domain)
        self.context = rclpy.Context()
        rclpy.init(context=self.context, domain_id=domain)
        self.node = rclpy.create_node("seatrack_test_client", context=self.context)
        reliability = ReliabilityPolicy.RELIABLE if reliable_publishers else ReliabilityPolicy.BEST_EFFORT
        qos = QoSProfile(depth=10, reliability=reliability)
        # The node reports incompatible QoS itself; keep rclpy's default publisher-side warning quiet.
        quiet = PublisherEventCallbacks(incompatible_qos=lambda info: None)
        self.rgb_pub = self.node.create_publisher(rgb_type or Image, "/cam/rgb", qos, event_callbacks=quiet)
        self.aux_pub = self.node.create_publisher(aux_type or Image, "/cam/aux", qos, event_callbacks=quiet)
        self.init_pub = self.node.create_publisher(InitBox, f"{namespace}/init", 10)
        self.targets: list = []
        self.debug_images: list = []
        self._cond = threading.Condition()
        self.target_sub = self.node.create_subscription(Target, f"{namespace}/target", self._on_target, 50)
        self.set_init = self.node.create_client(SetInitBox, f"{namespace}/set_init_box")
        self.reset = self.node.create_client(Trigger, f"{namespace}/reset")
        self.executor = SingleThreadedExecutor(context=self.context)
        self.executor.add_node(self.node)
        self._thread = threading.Thread(target=self._spin, daemon=True)
        self._thread.start()

    def _spin(self) -> None:
        try:
            self.executor.spin()
        except Exception:  # context shut down
            pass

    def _on_target(self, msg) -> None:
        with self._cond:
            self.targets.append(msg)
            self._cond.notify_all()

    def wait_for_targets(self, count: int, timeout: float) -> list:
        deadline = time.monotonic() + timeout
        with self._cond:
            while len(self.targets) < count:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise AssertionError(f"got {len(self.targets)} of {count} targets in {timeout} s")
                self._cond.wait(remaining)
            return list(self.targets)

    def wait_for_subscribers(self, timeout: float = 30.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if (self.rgb_pub.get_subscription_count() and self.aux_pub.get_subscription_count()
                    and self.target_sub.get_publisher_count()):
                return
            time.sleep(0.05)
        raise AssertionError("the node and this client did not match on /cam/rgb, /cam/aux and the target")

    def call(self, client, request, timeout: float = 20.0):
        if not client.wait_for_service(timeout_sec=timeout):
            raise AssertionError(f"service {client.srv_name} not available")
        future = client.call_async(request)
        deadline = time.monotonic() + timeout
        while not future.done():
            if time.monotonic() > deadline:
                raise AssertionError(f"service {client.srv_name} did not answer")
            time.sleep(0.02)
        return future.result()

    def send_pair(self, rgb_msg, aux_msg) -> None:
        """Publish aux first so that the RGB frame (the slower, larger one) completes the pair."""
        self.aux_pub.publish(aux_msg)
        self.rgb_pub.publish(rgb_msg)

    def send_and_wait(self, rgb_msg, aux_msg, timeout: float = 60.0):
        """Send one pair and wait for the target answering it (matched by stamp)."""
        with self._cond:
            before = len(self.targets)
        self.send_pair(rgb_msg, aux_msg)
        stamp = (rgb_msg.header.stamp.sec, rgb_msg.header.stamp.nanosec)
        deadline = time.monotonic() + timeout
        with self._cond:
            while True:
                for msg in self.targets[before:]:
                    if (msg.header.stamp.sec, msg.header.stamp.nanosec) == stamp:
                        return msg
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise AssertionError(f"no target for stamp {stamp} within {timeout} s")
                self._cond.wait(remaining)

    def first_exchange(self, make_pair: Callable[[], tuple], attempts: int = 6, timeout: float = 10.0):
        """Send fresh pairs (``make_pair()`` -> (rgb_msg, aux_msg), new stamps) until the node answers
        one; returns that Target. Right after discovery a sample can still be lost on the way in or
        out even though both sides report each other matched; a later one is not."""
        for attempt in range(attempts):
            try:
                return self.send_and_wait(*make_pair(), timeout=timeout)
            except AssertionError:
                if attempt == attempts - 1:
                    raise

    def close(self) -> None:
        self.executor.shutdown(timeout_sec=2.0)
        self.node.destroy_node()
        self.context.try_shutdown()
        self._thread.join(timeout=5)


def wait_until(predicate: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.05)
    raise AssertionError(f"timeout waiting for {what}")
