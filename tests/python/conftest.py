"""Shared setup for the Python tests: repo paths and the models/ import path."""

import os
import sys

import pytest

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
MODELS_DIR = os.path.join(REPO_ROOT, "models")
DATA_DIR = os.path.join(REPO_ROOT, "data")
if MODELS_DIR not in sys.path:
    sys.path.insert(0, MODELS_DIR)

import torch  # noqa: E402

from bnn import keep_freed_memory  # noqa: E402

torch.set_num_threads(os.cpu_count() or 1)
keep_freed_memory()


@pytest.fixture(scope="session")
def data_dir():
    """The repo's data cache (filled by scripts/setup.sh)."""
    return DATA_DIR
