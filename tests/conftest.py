"""Shared test fixtures: paths to the authors' reference outputs and a small model config."""

import os
from pathlib import Path

import numpy as np
import pytest

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

REPO_ROOT = Path(__file__).resolve().parents[1]
REFERENCE_DIR = REPO_ROOT.parent / "shared" / "fixtures" / "reference"
SMALL = {"dims": (32, 64, 128, 256), "depths": (1, 1, 2, 1), "features": 64}


@pytest.fixture(scope="session")
def reference_dir():
    """The authors' PyTorch reference fixtures; their absence is a failure, not a skip."""
    assert REFERENCE_DIR.is_dir(), f"reference fixtures not found at {REFERENCE_DIR}"
    return REFERENCE_DIR


def nhwc(array):
    """NCHW -> NHWC."""
    return np.transpose(array, (0, 2, 3, 1))
