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


# ------------------------------------------------------------------------------------------------
# Report schema: every test that produces a report.json checks it with check_report (the logic,
# on python3-jsonschema, is scripts/check_report.py, which users run on their own reports).

def _load_check_report_module():
    import importlib.util
    spec = importlib.util.spec_from_file_location("check_report", os.path.join(REPO_ROOT, "scripts", "check_report.py"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


report_schema = _load_check_report_module()


def check_report(report):
    """Asserts that a report (a path to report.json, or the parsed dict) conforms to
    docs/report-schema.json and holds no NaN or infinity; returns the parsed report."""
    if isinstance(report, (str, os.PathLike)):
        report = report_schema.load_report(report)
    errors = report_schema.report_errors(report)
    assert not errors, "report.json violates docs/report-schema.json:\n  " + "\n  ".join(errors)
    return report

