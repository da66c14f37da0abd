"""Shared fixtures: the golden reference data and models with the deterministic test weights."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from seatrack_ros.engine.fidelity import find_golden


def pytest_configure(config):
    config.addinivalue_line("markers", "slow: runs real training steps (tens of seconds); -m 'not slow' skips")


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
