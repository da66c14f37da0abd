"""The demo model tracks through the real node over DDS: the demo's replay, node and subscriber
processes with no checkpoint given; every Target after the first says TRACKING and model 'demo', and
the boxes follow the held-out scene's target (mean IoU >= 0.5 against its ground truth)."""

from __future__ import annotations

import csv
import subprocess
import sys

import rosutil

FRAMES = 40


def test_targets_follow_the_target_over_dds(tmp_path):
    env = rosutil.ros_env(rosutil.domain_id(12))
    result = subprocess.run(
        [sys.executable, "-m", "seatrack_ros.ros.demo", "--modality", "thermal", "--frames", str(FRAMES),
         "--device", "cpu", "--out", str(tmp_path), "--domain-id", env["ROS_DOMAIN_ID"]],
        env=env, capture_output=True, text=True, timeout=400, cwd=str(rosutil.ROOT))
    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    assert "DEMO MODEL" in output  # the node says what it runs
    with open(tmp_path / "thermal_targets.csv") as handle:
        rows = list(csv.DictReader(handle))
    assert len(rows) == FRAMES, output
    assert all(row["model"] == "demo" and row["test_weights"] == "False" for row in rows)
    assert all(row["status"] == "TRACKING" for row in rows), [row["status"] for row in rows]
    ious = [float(row["iou"]) for row in rows[1:]]  # the first is the init box itself
    assert len(ious) == FRAMES - 1
    mean = sum(ious) / len(ious)
    assert mean >= 0.5, f"mean IoU {mean:.3f}: {ious}"
