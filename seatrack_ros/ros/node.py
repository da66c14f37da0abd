"""The seatrack_ros node: RGB + thermal / depth / event frames in, one tracked box per frame out.

A shell that wires ROS-free parts to topics, services and one worker thread: parameters
(`seatrack_ros.ros.params`), pairing and stream checks (`seatrack_ros.streams.sync`, `.monitor`),
decoding and aux preparation (`.image_conversions`, `.aux`, `.event_input`), the target's life
(`seatrack_ros.tracker.TrackingSession`) and the debug picture (`.debug_view`).

This file holds the lifecycle (what each transition creates, starts, stops and drops) and `main`.
The node's other jobs are mixins, one file each under seatrack_ros/ros/: the camera subscriptions
(`inputs`), ``~/init`` / ``~/set_init_box`` / ``~/reset`` (`target_requests`), the worker thread
(`worker`), the per-frame outputs (`outputs`), and stats / summary / diagnostics (`node_health`).

Threading: the executor thread only runs the callbacks, which stamp each message with its receive time
and hand it to the synchronizer. The worker takes the newest matched pair, decodes and encodes it,
steps the session and publishes, so inference (about 1.5 s on a CPU) never blocks the executor and
stale pairs are dropped instead of queued.

In: ``rgb_topic``, ``aux_topic``, ``~/init`` (and ``depth_camera_info_topic``); out: ``~/target``,
``~/debug_image``, ``~/stats``, ``~/detections``, ``~/target_point``, ``/diagnostics``; services
``~/set_init_box``, ``~/reset`` (``~/`` is the node's name, ``seatrack``). See docs/ros.md.

Lifecycle (a managed node): constructing it only declares the parameters and starts /diagnostics;
configure validates the parameters, loads the model and creates the outputs and services; activate
subscribes to the cameras and starts the worker; deactivate unsubscribes, stops the worker and drops
whatever pairs were waiting; cleanup releases the model; shutdown works from every state. With
``autostart`` (the default) `main` configures and activates at start.
"""

from __future__ import annotations

if __name__ == "__main__":  # python -m: a Ctrl-C while the imports below load exits 0 quietly
    from seatrack_ros.ros.stop_signals import exit_quietly_on_stop_signal

    exit_quietly_on_stop_signal()

import faulthandler
import sys
import threading
from typing import Any, Optional

import rclpy
from rclpy.exceptions import NameValidationException
from rclpy.executors import ExternalShutdownException, SingleThreadedExecutor
from rclpy.lifecycle import LifecycleNode, LifecycleState, TransitionCallbackReturn
from rclpy.signals import SignalHandlerOptions

from seatrack_ros.errors import CheckpointError, ConfigError
from seatrack_ros.ros.event_packet_msgs import with_available_event_transport
from seatrack_ros.ros.inputs import CameraInputs
from seatrack_ros.ros.node_health import NodeHealth
from seatrack_ros.ros.outputs import TargetOutputs
from seatrack_ros.ros.params import (
    HELP,
    PARAMETERS,
    NodeConfig,
    check_command_line_types,
    declare_parameters,
    load_node_tracker,
    node_config,
    one_line,
    refuse_use_sim_time_change,
)
from seatrack_ros.ros.stop_signals import (
    StopRequested,
    StopSignals,
    ignore_stacks_requests,
    report_stacks_on_crash,
    report_stacks_on_request,
)
from seatrack_ros.ros.target_requests import TargetRequests
from seatrack_ros.ros.typesupport_path import preload_typesupport
from seatrack_ros.ros.worker import PairWorker
from seatrack_ros.streams.aux import AuxPreparer
from seatrack_ros.streams.event_input import RgbPacer, make_event_input
from seatrack_ros.streams.health import HealthMonitor
from seatrack_ros.streams.latency import LatencyLog
from seatrack_ros.streams.monitor import StreamMonitor
from seatrack_ros.streams.problems import ProblemCounter
from seatrack_ros.streams.sync import StampSynchronizer

preload_typesupport()

__all__ = ["PARAMETERS", "ConfigError", "NodeConfig", "SeaTrackNode", "main"]


# The mixins are the node's other jobs, one file each, on the state the lifecycle below creates and
# drops. They have no __init__ and no state of their own, so super().__init__ reaches LifecycleNode
# and their methods resolve as they did when written in this class.
class SeaTrackNode(CameraInputs, TargetRequests, PairWorker, TargetOutputs, NodeHealth, LifecycleNode):
    """ROS 2 lifecycle node around :class:`seatrack_ros.tracker.TrackingSession` (see the module docstring)."""

    def __init__(self, **node_kwargs) -> None:
        super().__init__("seatrack", **node_kwargs)
        try:
            check_command_line_types(sys.argv)
            declare_parameters(self)
        except BaseException:
            # A half-built node left to the garbage collector after rclpy shut down crashes the process
            # at exit (exit -11): destroy it now, then report.
            self.destroy_node()
            raise
        self.autostart = bool(self.get_parameter("autostart").value)
        self.add_on_set_parameters_callback(refuse_use_sim_time_change)
        log = self.get_logger()
        self.problems = ProblemCounter(log.warning)
        # init / reset requests and track starts: informational, logged once per kind and counted
        # (a lambda gives rclpy's logger a call site of its own: one call site keeps one severity)
        self.requests = ProblemCounter(lambda text: log.info(text))
        self.health = HealthMonitor()
        self.config: Optional[NodeConfig] = None
        self.session = None
        self._tracker = None
        self.test_weights = False
        self.model_name = ""  # the registry variant running (Target.model)
        self._internal_errors = 0
        self._configured: list[Any] = []  # publishers, subscriptions, services, timers of configure
        self._inputs: list[Any] = []  # subscriptions of activate
        self._worker: Optional[threading.Thread] = None
        self._stop = threading.Event()
        self._intrinsics = None
        self._sync: Optional[StampSynchronizer] = None
        self._events = None  # streams/event_input.py: EventArray or EventPacket windows, if any
        self._start_diagnostics()

    # ------------------------------------------------------------------------------ lifecycle
    def on_configure(self, state: LifecycleState) -> TransitionCallbackReturn:
        try:
            self._configure()
        except Exception as exc:  # a transition must answer, never raise (rclpy would hide the reason)
            text = start_error_text(exc)
            self.get_logger().error(text)
            self.health.set_model_error(text)
            self._release()
            return TransitionCallbackReturn.FAILURE
        self.health.set_model_error(None)
        return TransitionCallbackReturn.SUCCESS

    def on_activate(self, state: LifecycleState) -> TransitionCallbackReturn:
        self._subscribe_inputs()
        self._stop.clear()
        self._worker = threading.Thread(target=self._work, name="seatrack_worker", daemon=True)
        self._worker.start()
        cfg = self.config
        self.get_logger().info(
            f"ready: modality={cfg.modality} rgb={self.resolve_topic_name(cfg.rgb_topic)} "
            f"({cfg.rgb_transport}) aux={self.resolve_topic_name(cfg.aux_topic)} ({cfg.aux_transport}) "
            f"target={self.target_pub.topic_name}"
        )
        return TransitionCallbackReturn.SUCCESS

    def on_deactivate(self, state: LifecycleState) -> TransitionCallbackReturn:
        self._deactivate()
        self.get_logger().info("inactive: not taking frames")
        return TransitionCallbackReturn.SUCCESS

    def on_cleanup(self, state: LifecycleState) -> TransitionCallbackReturn:
        self._release()
        self.get_logger().info("cleaned up: model released")
        return TransitionCallbackReturn.SUCCESS

    def on_shutdown(self, state: LifecycleState) -> TransitionCallbackReturn:
        self._deactivate()
        self._release()
        return TransitionCallbackReturn.SUCCESS

    def on_error(self, state: LifecycleState) -> TransitionCallbackReturn:
        self._deactivate()
        self._release()
        return TransitionCallbackReturn.SUCCESS

    def _configure(self) -> None:
        log = self.get_logger()
        cfg = with_available_event_transport(node_config(self), log.warning)  # self.config is set last: it marks the node as configured
        self._tracker, self.test_weights, self.model_name = load_node_tracker(cfg, log)
        from seatrack_ros.tracker import TrackingSession  # torch, once the parameters are known good

        self.session = TrackingSession(self._tracker)
        # Event windows are cut per RGB frame (streams/event_input.py): the RGB frame alone makes a pair.
        self._events = make_event_input(cfg.aux_transport, cfg.event_max_window_ns, self.problems.report)
        sync_type = StampSynchronizer if self._events is None else RgbPacer
        self._sync: StampSynchronizer = sync_type(cfg.sync_slop, cfg.sync_queue_size)
        self._monitor = StreamMonitor(cfg.sync_slop)
        self._prepare_aux = AuxPreparer(cfg.modality, cfg.homography, cfg.mono16_range, info=log.info)
        self._latency = LatencyLog()
        self._internal_errors = 0
        if cfg.init_box is not None:
            self.session.request_init(cfg.init_box, "init_box parameter")

        self._create_target_outputs(cfg)
        self._create_target_requests()
        self._create_stats_output(cfg)
        self.config = cfg

    def _deactivate(self) -> None:
        """Unsubscribe, stop the worker (after its frame in flight) and drop the waiting pairs."""
        for subscription in self._inputs:
            self.destroy_subscription(subscription)
        self._inputs = []
        self._stop.set()
        if self._worker is not None:
            self._worker.join(timeout=60.0)
            if self._worker.is_alive():
                self.get_logger().error("the worker did not finish its frame within 60 s")
            self._worker = None
        if self._sync is not None:
            self._sync.reset()
        if self._events is not None:
            self._events.clear()
        self._intrinsics = None

    def _release(self) -> None:
        """Destroy what configure made and drop the model (and its GPU memory)."""
        destroy = {"Publisher": self.destroy_publisher, "Subscription": self.destroy_subscription,
                   "Service": self.destroy_service, "Timer": self.destroy_timer}
        for entity in self._configured:
            for kind, method in destroy.items():
                if kind in type(entity).__name__:
                    method(entity)
                    break
        self._configured = []
        on_cuda = self._tracker is not None and str(getattr(self._tracker, "device", "cpu")).startswith("cuda")
        self.session = self._tracker = None
        self.config = None
        if on_cuda:
            import gc

            import torch

            gc.collect()
            torch.cuda.empty_cache()

    def close(self) -> None:
        """Shut down from whatever state the node is in, then destroy it (before rclpy shuts down)."""
        try:
            if self._state_machine.current_state[1] in ("unconfigured", "inactive", "active"):
                self.trigger_shutdown()
        finally:
            self._deactivate()  # also when the transition could not run
            self._release()
            self.destroy_node()


def start_error_text(exc: Exception) -> str:
    """The one-line error for a node that cannot configure (what a user should fix)."""
    if isinstance(exc, (ConfigError, CheckpointError)):
        return f"cannot start: {exc}"
    if isinstance(exc, (rclpy.exceptions.ParameterException, rclpy.exceptions.InvalidParameterTypeException)):
        return f"cannot start, invalid parameter: {exc}"
    if isinstance(exc, NameValidationException):  # e.g. a bad remapping
        return f"cannot start, invalid name: {one_line(exc)}"
    return f"cannot start, unexpected error: {exc!r}"


# Seconds after a stop signal before the node prints its threads' stacks: under `ros2 launch` a node
# still alive 5 s after SIGINT is sent SIGTERM and later killed, so the report comes before that.
STALLED_STOP_REPORT_S = 4.0


def main(argv: Optional[list[str]] = None) -> int:
    """Run the node; ``argv`` defaults to ``sys.argv`` (accepts ``--ros-args ...``; ``--help`` prints help).

    Exit codes: 0 after SIGINT/SIGTERM (also during start-up), 2 when the node cannot start.
    As the process's entry point (``argv`` None) it leaves SIGINT/SIGTERM ignored for the interpreter's
    exit, prints every thread's stack on SIGUSR1, on a crash and when a stop stalls; called with ``argv``
    it restores the caller's handlers.
    """
    args = sys.argv if argv is None else argv
    if any(arg in ("-h", "--help") for arg in args[1:2]):
        print(HELP)
        return 0
    signals = StopSignals().install()
    if argv is None:
        report_stacks_on_request()  # the entry points did already; also for a main() called directly
        report_stacks_on_crash()
    fail = rclpy.logging.get_logger("seatrack").error
    node = None
    try:
        try:
            # rclpy's own handlers would leave a second SIGINT to Python's KeyboardInterrupt.
            rclpy.init(args=args, signal_handler_options=SignalHandlerOptions.NO)
        except Exception as exc:  # rcl rejects malformed --ros-args (e.g. a remap rule) with a bare RCLError
            fail(f"cannot start, invalid command-line arguments: {one_line(exc)}")
            return 2
        try:
            node = SeaTrackNode()
        except (ConfigError, CheckpointError, rclpy.exceptions.ParameterException,
                rclpy.exceptions.InvalidParameterTypeException, NameValidationException) as exc:
            fail(start_error_text(exc))
            return 2
        if node.autostart:
            if node.trigger_configure() != TransitionCallbackReturn.SUCCESS:
                return 2  # on_configure logged why
            if node.trigger_activate() != TransitionCallbackReturn.SUCCESS:
                fail("cannot start: activation failed")
                return 2
        executor = SingleThreadedExecutor()
        executor.add_node(node)
        signals.running()
        while not signals.requested.is_set():
            executor.spin_once(timeout_sec=0.1)  # returns to Python, so the signal flag is seen
    except (StopRequested, KeyboardInterrupt, ExternalShutdownException):
        pass
    finally:
        signals.stopping()
        if argv is None:
            # The node's own process: a stalled stop prints every thread's stack (why) to stderr. Left
            # armed on return, so that a hang in the interpreter's exit (thread joins, atexit, the
            # middleware's destructors) is reported too; a prompt exit ends the process before it fires.
            faulthandler.dump_traceback_later(STALLED_STOP_REPORT_S, exit=False)
        if node is not None:
            node.close()
        rclpy.try_shutdown()
        signals.stopping()
        if argv is None:
            ignore_stacks_requests()  # the interpreter's exit comes next
        else:  # called in-process, not as the entry point that exits right after
            signals.restore()
    return 0


if __name__ == "__main__":
    sys.exit(main())
