"""docs/ros.md's parameter table against the node's declarations: every parameter, its default, and
the sentence on which ones change at run time (no node is started)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def doc_table(text: str) -> dict[str, str]:
    """name -> default cell text, from the table under '## Parameters'."""
    section = text.split("## Parameters", 1)[1].split("\n## ", 1)[0]
    rows = {}
    for line in section.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) != 3 or not cells[0].startswith("`"):
            continue
        names = re.findall(r"`([a-z0-9_]+)`", cells[0])
        defaults = [d.strip().strip("`") for d in cells[1].split(", ")] if len(names) > 1 else [cells[1]]
        assert len(defaults) == len(names), line
        rows.update(zip(names, defaults))
    return rows


def written(value) -> str:
    """How the table writes a declared default."""
    if value is None:
        return "unset"
    if isinstance(value, bool):
        return str(value).lower()
    if value == "":
        return '""'
    return str(value)


def expected_defaults() -> dict[str, str]:
    from seatrack_ros.modalities import MODALITIES
    from seatrack_ros.model.build import variant_for_modality
    from seatrack_ros.ros.params import DEFAULT_AUX_TRANSPORT, PARAMETERS

    expected = {name: written(default) for name, (default, _) in PARAMETERS.items()}
    expected["lora_merged"] = "per modality: " + ", ".join(
        f"{m} {written(variant_for_modality(m).lora_merged)}" for m in MODALITIES
    )
    expected["aux_transport"] = "per modality: " + ", ".join(f"{m} {DEFAULT_AUX_TRANSPORT[m]}" for m in MODALITIES)
    return expected


def test_table_lists_every_declared_parameter_with_its_default():
    assert doc_table((ROOT / "docs" / "ros.md").read_text()) == expected_defaults()


def test_the_comparison_can_fail():
    """Negative controls: a changed default, a missing row and an extra row are all differences."""
    table = doc_table((ROOT / "docs" / "ros.md").read_text())
    expected = expected_defaults()
    assert dict(table, sync_slop="0.02") != expected
    assert {k: v for k, v in table.items() if k != "stats_period"} != expected
    assert dict(table, frame_rate="30") != expected
    assert doc_table("## Parameters\n| `a`, `b` | `x`, `y` | m |\n## Next\n| `c` | 1 | m |\n") == {
        "a": "x",
        "b": "y",
    }


def test_run_time_parameters_are_the_ones_the_docs_name():
    from seatrack_ros.ros.params import PARAMETERS

    text = (ROOT / "docs" / "ros.md").read_text()
    sentence = re.search(r"Only\s+(.+?)\s+can\s+change\s+at\s+run\s+time", text, re.S)
    assert sentence, "docs/ros.md no longer says which parameters change at run time"
    named = set(re.findall(r"`([a-z0-9_]+)`", sentence.group(1)))
    assert named == {name for name, (_, d) in PARAMETERS.items() if not d.read_only}


@pytest.mark.parametrize("modality, merged", [("thermal", True), ("depth", True), ("event", False)])
def test_lora_merged_default_follows_the_modality(modality, merged):
    """declare_parameters gives lora_merged the registry's convention of the modality's released file."""
    from seatrack_ros.ros.params import declare_parameters

    class FakeNode:
        def __init__(self):
            self.declared = {}

        def declare_parameter(self, name, value, descriptor):
            self.declared[name] = modality if name == "modality" else value

        def get_parameter(self, name):
            return type("P", (), {"value": self.declared[name]})()

    node = FakeNode()
    declare_parameters(node)
    assert node.declared["lora_merged"] is merged
    # aux_transport likewise: event cameras publish event_camera_msgs/EventPacket
    assert node.declared["aux_transport"] == ("event_packet" if modality == "event" else "raw")


def test_node_help_prints_help_and_starts_nothing():
    import subprocess
    import sys

    import rosutil
    from seatrack_ros.ros.params import PARAMETERS

    result = subprocess.run(
        [sys.executable, "-m", "seatrack_ros.ros.node", "--help"],
        capture_output=True,
        text=True,
        timeout=120,
        env=rosutil.ros_env(rosutil.domain_id(90)),
        cwd=str(ROOT),
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("usage: seatrack-node")
    assert all(name in result.stdout for name in PARAMETERS)
    assert (
        "ready:" not in result.stdout + result.stderr and "model loaded" not in result.stdout + result.stderr
    )
