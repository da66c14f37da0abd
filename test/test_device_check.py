"""scripts/device_check.sh without a GPU: its budget stays 60 s under the limit it is given, and
everything it writes comes back as two files (summary.txt and one archive)."""

from __future__ import annotations

import os
import subprocess
import sys
import tarfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def run_check(out: Path, **env: str) -> subprocess.CompletedProcess:
    environment = dict(os.environ, OUT=str(out), PYTHON=sys.executable, DEVICE="cpu", NO_COMPILE="1", **env)
    return subprocess.run(["bash", str(ROOT / "scripts" / "device_check.sh")], cwd=ROOT, env=environment,
                          capture_output=True, text=True, timeout=300)


def test_device_check_packs_its_output_and_keeps_its_budget_under_the_limit(tmp_path):
    # a 90 s limit leaves a 30 s budget, which no step fits: every step is skipped, the summary and
    # the packing still run (a larger CHECK_BUDGET_S cannot raise the budget past limit - 60)
    result = run_check(tmp_path / "out", CHECK_LIMIT_S="90", CHECK_BUDGET_S="500")
    assert result.returncode == 0, result.stderr[-2000:]
    assert "budget 30s of a 90s limit" in result.stdout
    assert "SKIPPED tests (budget spent)" in result.stdout
    files = sorted(p.name for p in (tmp_path / "out").iterdir())
    assert files == ["device_check.tar.gz", "summary.txt"]
    with tarfile.open(tmp_path / "out" / "device_check.tar.gz") as archive:
        names = set(archive.getnames())
    assert {"env.txt", "pytest.log"} <= names and "summary.txt" not in names
    summary = (tmp_path / "out" / "summary.txt").read_text()
    assert "tests: NO RESULT" in summary and "bench float16 + CUDA graphs: NO RESULT" in summary


def test_device_check_budget_follows_a_smaller_explicit_budget(tmp_path):
    result = run_check(tmp_path / "out", CHECK_LIMIT_S="600", CHECK_BUDGET_S="25")
    assert result.returncode == 0, result.stderr[-2000:]
    assert "budget 25s of a 600s limit" in result.stdout
