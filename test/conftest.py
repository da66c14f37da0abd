"""Shared fixtures (the golden reference data, models with the deterministic test weights) and the
layer markers of every test file (registered in pytest.ini): ``pytest -m "not ros and not cuda"``
is the fast loop."""

from __future__ import annotations

import json
import signal
from pathlib import Path

import numpy as np
import pytest
import torch

from seatrack_ros.testing import find_golden

# A suite started in the background of a shell without job control (`sh -c '... &'`) inherits
# SIGINT ignored, and every process it starts would too: `ros2 launch` then never sees the Ctrl-C the
# launch tests send it (each one fails after its 30 s wait). An ignored disposition survives exec, a
# handler does not, so Python's own handler here gives the children SIGINT's default, as at a terminal.
if signal.getsignal(signal.SIGINT) is signal.SIG_IGN:
    signal.signal(signal.SIGINT, signal.default_int_handler)


# test file -> its markers besides the layer (ros / cuda, else unit); new files get "unit" by default.
FILE_MARKERS = {
    "test_model_parity.py": ("golden",),
    "test_model_weights.py": ("golden",),
    "test_model_checkpoint.py": ("golden",),
    "test_tracker_parity.py": ("golden",),
    "test_engine.py": ("golden", "slow"),
    "test_engine_cuda.py": ("cuda", "golden"),
    "test_bench.py": ("slow",),
    "test_offline_realdata.py": ("slow",),
}


def pytest_collection_modifyitems(config, items):
    for item in items:
        name = item.path.name
        extra = FILE_MARKERS.get(name, ())
        layer = "ros" if name.startswith("test_ros_") else ("cuda" if "cuda" in extra else "unit")
        for marker in {layer, *extra}:
            item.add_marker(getattr(pytest.mark, marker))


@pytest.fixture(scope="session")
def golden() -> Path:
    return find_golden()


@pytest.fixture(scope="session")
def model_io(golden):
    return dict(np.load(golden / "model_io.npz"))


@pytest.fixture(scope="session")
def tracker_seq(golden):
    return dict(np.load(golden / "tracker_seq.npz"))


@pytest.fixture(scope="session")
def golden_meta(golden):
    return json.loads((golden / "golden_meta.json").read_text())


@pytest.fixture(scope="session")
def test_weights() -> dict[str, torch.Tensor]:
    """Recipe weights (unmerged convention: qkv holds the base weight)."""
    from seatrack_ros.model import make_test_state_dict

    return make_test_state_dict()


@pytest.fixture(scope="session")
def unmerged_model(test_weights):
    """Model loaded from the unmerged-convention test weights (LoRA folded in at load)."""
    from seatrack_ros.model import build_seatrack, load_checkpoint

    torch.set_num_threads(2)
    return load_checkpoint(build_seatrack(), test_weights, lora_merged=False)


@pytest.fixture(scope="session")
def merged_weights(unmerged_model) -> dict[str, torch.Tensor]:
    """The merged-convention dict: what an eval-mode model's state_dict holds (qkv = base + LoRA)."""
    return {k: v.clone() for k, v in unmerged_model.state_dict().items()}


def max_abs_diff(a, b) -> float:
    a = a.detach().cpu().numpy() if isinstance(a, torch.Tensor) else np.asarray(a)
    b = b.detach().cpu().numpy() if isinstance(b, torch.Tensor) else np.asarray(b)
    assert a.shape == b.shape, f"shape {a.shape} != {b.shape}"
    return float(np.max(np.abs(a.astype(np.float64) - b.astype(np.float64))))


@pytest.fixture(scope="session", autouse=True)
def _node_logs_under_pytest_tmp(tmp_path_factory):
    """Node processes started by rosutil write their logs under pytest's basetemp, not /tmp."""
    import rosutil

    rosutil.LOG_DIR = tmp_path_factory.mktemp("node_logs")
    yield
