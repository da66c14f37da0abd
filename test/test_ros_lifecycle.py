"""The managed (lifecycle) node under the real tools: `ros2 launch ... autostart:=false` leaves it
unconfigured, `ros2 lifecycle set/get` walks it through configure, activate, deactivate, cleanup and
shutdown; frames are tracked only while active; a transition in the wrong order fails with a clear
error and the node keeps running. Skips where the ROS 2 launch tools and CLI are absent (see
test_ros_real_launch.py)."""

from __future__ import annotations

import time

import pytest

import rosutil
from seatrack_ros.streams.synthetic import make_sequence
from test_ros_real_launch import HEIGHT, NODE, ROS2_CLI, WIDTH, Launched, frame_messages, ros2

pytestmark = pytest.mark.skipif(ROS2_CLI is None, reason="the ROS 2 launch tools and CLI are not installed")


def lifecycle(env, verb: str, *args: str):
    """`ros2 lifecycle <verb> NODE ...`, retried while discovery has not found the node yet."""
    deadline = time.monotonic() + 40
    while True:
        done = ros2(env, "lifecycle", verb, "--no-daemon", "--spin-time", "2", NODE, *args, timeout=120)
        if "Node not found" not in done.stderr + done.stdout or time.monotonic() > deadline:
            return done


def state_of(env) -> str:
    done = lifecycle(env, "get")
    assert done.returncode == 0, done
    return done.stdout.strip()


def no_target_for(client: rosutil.Client, frame, seconds: float) -> None:
    rgb, aux = frame_messages(frame, "thermal", time.time_ns())
    with pytest.raises(AssertionError, match="no target for stamp"):
        client.send_and_wait(rgb, aux, timeout=seconds)


def test_lifecycle_transitions_with_ros2_lifecycle(tmp_path):
    from seatrack_ros.msg import InitBox

    domain = rosutil.domain_id(33)
    launched = Launched("rgbt.launch.py", ["namespace:=robot1", "rgb_topic:=/cam/rgb", "aux_topic:=/cam/aux",
                                           "device:=cpu", "autostart:=false"], domain, tmp_path)
    client = None
    try:
        env = launched.env
        assert state_of(env).startswith("unconfigured [1]")
        assert "model loaded" not in launched.log()
        # wrong order: the CLI offers only the valid transitions; the node's own service refuses
        # activate (id 3) before configure with an error line, and stays up and unconfigured
        done = lifecycle(env, "set", "activate")
        assert done.returncode != 0 and "Unknown transition requested" in done.stderr, done
        called = ros2(env, "service", "call", f"{NODE}/change_state", "lifecycle_msgs/srv/ChangeState",
                      "{transition: {id: 3}}")
        assert called.returncode == 0 and "success=False" in called.stdout, called
        launched.wait_for_log(r"Unable to start transition 3 from current state.*unconfigured", timeout=10)
        assert launched.proc.poll() is None and state_of(env).startswith("unconfigured [1]")

        done = lifecycle(env, "set", "configure")
        assert done.returncode == 0 and "Transitioning successful" in done.stdout, done
        launched.wait_for_log(r"model loaded in", timeout=5)
        assert state_of(env).startswith("inactive [2]")
        assert "ready:" not in launched.log()  # not subscribed yet

        done = lifecycle(env, "set", "activate")
        assert done.returncode == 0, done
        launched.wait_for_log(r"ready: modality=thermal rgb=/cam/rgb", timeout=10)
        assert state_of(env).startswith("active [3]")
        client = rosutil.Client(domain, namespace=NODE)
        client.wait_for_subscribers()
        frames = make_sequence(3, "thermal", HEIGHT, WIDTH, seed=7)
        init = InitBox()
        init.x, init.y, init.width, init.height = (float(v) for v in frames[0].box)
        client.init_pub.publish(init)
        launched.wait_for_log(r"init box .* accepted \(track id 1\)", timeout=30)
        rgb, aux = frame_messages(frames[0], "thermal", time.time_ns())
        assert client.send_and_wait(rgb, aux, timeout=90).track_id == 1

        done = lifecycle(env, "set", "deactivate")
        assert done.returncode == 0, done
        assert state_of(env).startswith("inactive [2]")
        no_target_for(client, frames[1], 5.0)  # not taking frames: nothing comes back

        done = lifecycle(env, "set", "cleanup")
        assert done.returncode == 0, done
        launched.wait_for_log(r"cleaned up: model released", timeout=10)
        assert state_of(env).startswith("unconfigured [1]")
        # wrong order again: deactivate (id 4) from unconfigured
        called = ros2(env, "service", "call", f"{NODE}/change_state", "lifecycle_msgs/srv/ChangeState",
                      "{transition: {id: 4}}")
        assert called.returncode == 0 and "success=False" in called.stdout, called
        assert launched.proc.poll() is None

        done = lifecycle(env, "set", "shutdown")
        assert done.returncode == 0, done
        assert state_of(env).startswith("finalized [4]")
        client.close()
        client = None
        code = launched.interrupt()
        log = launched.log()
        assert code == 0, log
        assert "finished cleanly" in (launched.node_exit_line() or ""), log
        assert "Traceback" not in log, log
    finally:
        if client is not None:
            client.close()
        launched.close()
