"""Offline runs and benchmark evaluation: dataset readers, result files, metrics, plots, rosbag2 runner.

Command-line entry points: ``seatrack-run`` (:mod:`seatrack_ros.offline.run`) and ``seatrack-eval``
(:mod:`seatrack_ros.offline.evaluate`). See ``docs/offline.md``.
"""
