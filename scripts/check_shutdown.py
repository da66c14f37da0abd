#!/usr/bin/env python3
"""Stop the node by signals many times and count the clean exits (issue 12 item 12's 20-of-20 goal).

    source scripts/env.sh && python scripts/check_shutdown.py --runs 20 [--case "direct SIGINT idle" ...]

Each run starts the node (test weights, CPU), so a run costs one model load. Cases and the verdict are
in test/shutdown_cases.py. Prints "<case>: N of M clean exits" per case; exit code = number of failures.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "test"))

import rosutil  # noqa: E402
from shutdown_cases import CASES, main_check, ros2_cli  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--case", action="append", choices=sorted(CASES), help="default: every case")
    args = parser.parse_args()
    cases = args.case or [c for c, (how, _, _) in CASES.items() if how == "direct" or ros2_cli()]
    with tempfile.TemporaryDirectory(prefix="seatrack_shutdown_") as folder:
        rosutil.LOG_DIR = Path(folder)
        return min(125, main_check(cases, args.runs, Path(folder)))


if __name__ == "__main__":
    sys.exit(main())
