"""Shared setup for the Python tests: PyTorch threads, the data cache, and process clean-up.
Paths and the simulator runners are in tests/harness.py; the repository root is on sys.path through
pyproject.toml ([tool.pytest.ini_options] pythonpath), so `models`, `tests.harness` and
`bayescim_sweep` import without path edits."""

import os
from typing import Iterator

import pytest
import torch

from models.bnn import keep_freed_memory
from tests.harness import DATA_DIR, Spawner

torch.set_num_threads(os.cpu_count() or 1)
keep_freed_memory()


@pytest.fixture(scope="session")
def data_dir():
    """The repo's data cache (filled by scripts/setup.sh)."""
    return DATA_DIR


@pytest.fixture
def spawn() -> Iterator[Spawner]:
    """Starts processes (each in its own session); whatever is still running when the test ends,
    passed or failed, is killed with its whole process group."""
    s = Spawner()
    try:
        yield s
    finally:
        s.close()
