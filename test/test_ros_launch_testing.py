"""A launch_testing test, as ROS packages write them: the launch file rgbt.launch.py is included in
the test's launch description; while it runs, the test sends frames and waits for the Targets; after
shutdown, the node's exit code must be 0.

Needs launch_testing (not on PyPI: scripts/test.sh installs it from ../shared/ros2-upstream, a full
ROS 2 install has it); skipped otherwise.
"""

from __future__ import annotations

import os
import time
import unittest

import pytest

launch_testing = pytest.importorskip(
    "launch_testing", reason="launch_testing is not installed (../shared/ros2-upstream/install.sh or a "
                             "full ROS 2 install)")
pytest.importorskip("launch_ros", reason="launch_ros is not installed")

import launch  # noqa: E402
import launch.actions  # noqa: E402
import launch.launch_description_sources  # noqa: E402
import launch_testing.actions  # noqa: E402
import launch_testing.asserts  # noqa: E402
from ament_index_python.packages import get_package_share_directory  # noqa: E402

import rosutil  # noqa: E402
from seatrack_ros.streams.synthetic import make_sequence  # noqa: E402

DOMAIN = rosutil.domain_id(24)
HEIGHT, WIDTH = 128, 160


@pytest.mark.launch_test
def generate_test_description():
    # The launched node gets localhost-only discovery and this module's domain, set in the launch
    # description itself: other test modules change os.environ's ROS_DOMAIN_ID before this test runs.
    environment = [launch.actions.SetEnvironmentVariable(name, value)
                   for name, value in rosutil.ros_env(DOMAIN).items()
                   if name.startswith(("ROS_", "FASTDDS_", "RMW_", "PYTHON", "OMP_", "RCUTILS_"))]
    rgbt = os.path.join(get_package_share_directory("seatrack_ros"), "launch", "rgbt.launch.py")
    include = launch.actions.IncludeLaunchDescription(
        launch.launch_description_sources.PythonLaunchDescriptionSource(rgbt),
        launch_arguments={"namespace": "lt", "rgb_topic": "/cam/rgb", "aux_topic": "/cam/aux",
                          "device": "cpu"}.items())
    return launch.LaunchDescription([*environment, include, launch_testing.actions.ReadyToTest()]), {}


class TestTracking(unittest.TestCase):
    def test_targets_arrive(self, proc_output):
        from seatrack_ros.srv import SetInitBox
        from seatrack_ros.msg import Target

        proc_output.assertWaitFor("ready: modality=thermal", timeout=120, stream="stderr")
        client = rosutil.Client(DOMAIN, namespace="/lt/seatrack")
        try:
            client.wait_for_subscribers()
            frames = make_sequence(3, "thermal", HEIGHT, WIDTH, seed=9)
            x, y, w, h = frames[0].box
            answer = client.call(client.set_init, SetInitBox.Request(x=x, y=y, width=w, height=h))
            self.assertTrue(answer.success, answer.message)
            for frame in frames:
                stamp = time.time_ns()
                target = client.send_and_wait(rosutil.image_msg(frame.rgb, "rgb8", stamp),
                                              rosutil.image_msg(frame.aux, "mono8", stamp), timeout=60)
                self.assertEqual(target.track_id, answer.track_id)
                self.assertIn(target.status, (Target.STATUS_TRACKING, Target.STATUS_LOST))
        finally:
            client.close()


@launch_testing.post_shutdown_test()
class TestShutdown(unittest.TestCase):
    def test_node_exits_cleanly(self, proc_info):
        launch_testing.asserts.assertExitCodes(proc_info)
