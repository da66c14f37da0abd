"""The demo runs end to end in separate processes and writes its outputs (small frames, few of them,
to stay fast)."""

from __future__ import annotations

import csv
import subprocess
import sys

import cv2

import rosutil


def test_demo_writes_strip_video_and_targets(tmp_path):
    env = rosutil.ros_env(rosutil.domain_id(6))
    result = subprocess.run(
        [sys.executable, "-m", "seatrack_ros.ros.demo", "--modality", "depth", "--frames", "3",
         "--width", "320", "--height", "256", "--out", str(tmp_path), "--domain-id", env["ROS_DOMAIN_ID"]],
        env=env, capture_output=True, text=True, timeout=300, cwd=str(rosutil.ROOT))
    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    assert output.count("[target]") == 3, output
    assert "latency=" in output and "[summary]" in output
    with open(tmp_path / "depth_targets.csv") as handle:
        rows = list(csv.DictReader(handle))
    assert len(rows) == 3
    assert all(row["test_weights"] == "True" for row in rows)
    assert rows[0]["status"] == "TRACKING"  # the init frame
    assert all(row["status"] in ("TRACKING", "LOST") for row in rows)
    strip = cv2.imread(str(tmp_path / "depth_strip.png"))
    assert strip is not None and strip.shape[1] == 320  # two 320-wide halves at half scale
    video = cv2.VideoCapture(str(tmp_path / "depth.mp4"))
    assert video.isOpened() and int(video.get(cv2.CAP_PROP_FRAME_COUNT)) == 3
