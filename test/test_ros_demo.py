"""The demo runs end to end in separate processes and writes its outputs (small frames, few of them,
to stay fast)."""

from __future__ import annotations

import csv
import os
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
    assert all(row["test_weights"] == "False" and row["model"] == "demo" for row in rows)  # no checkpoint
    assert rows[0]["iou"] != "" and float(rows[0]["iou"]) > 0.9  # the init frame: the true box
    assert rows[0]["status"] == "TRACKING"  # the init frame
    assert all(row["status"] in ("TRACKING", "LOST") for row in rows)
    strip = cv2.imread(str(tmp_path / "depth_strip.png"))
    assert strip is not None and strip.shape[1] == 320  # two 320-wide halves at half scale
    video = cv2.VideoCapture(str(tmp_path / "depth.mp4"))
    assert video.isOpened() and int(video.get(cv2.CAP_PROP_FRAME_COUNT)) == 3


def test_localhost_only_is_set_for_humble_only(monkeypatch):
    """Humble ignores ROS_AUTOMATIC_DISCOVERY_RANGE; ROS_LOCALHOST_ONLY keeps its discovery local.
    Later distributions warn about (Jazzy) or ignore (Kilted) that variable, so it is not set there."""
    from seatrack_ros.ros.demo import _env

    monkeypatch.delenv("ROS_LOCALHOST_ONLY", raising=False)
    for distro, expected in (("humble", "1"), ("jazzy", None), ("kilted", None)):
        monkeypatch.setenv("ROS_DISTRO", distro)
        for env in (_env(7), rosutil.ros_env(7)):
            assert env["ROS_AUTOMATIC_DISCOVERY_RANGE"] == "LOCALHOST"
            assert env.get("ROS_LOCALHOST_ONLY") == expected, (distro, env.get("ROS_LOCALHOST_ONLY"))
        shell = subprocess.run(["bash", "-c", 'source scripts/env.sh && echo "[${ROS_LOCALHOST_ONLY:-}]"'],
                               env=dict(os.environ), capture_output=True, text=True, cwd=str(rosutil.ROOT))
        assert shell.stdout.strip() == f"[{expected or ''}]", shell.stdout + shell.stderr


def test_empty_ros_domain_id_means_the_default(monkeypatch):
    from seatrack_ros.ros.demo import _parse

    monkeypatch.setenv("ROS_DOMAIN_ID", "")
    assert _parse([]).domain_id == 42
    monkeypatch.setenv("ROS_DOMAIN_ID", "17")
    assert _parse([]).domain_id == 17
