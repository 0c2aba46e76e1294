"""Golden experiments: every shipped experiment rerun on the fixed subset of tests/golden/update.py
matches its reviewed report: counts, bits and modules exactly, floats within a relative 1e-9."""

import glob
import json
import math
import os

import pytest

from tests.golden import update
from tests.harness import REPO_ROOT

CONFIGS = sorted(glob.glob(os.path.join(REPO_ROOT, "configs", "experiments", "*.yaml")))


def compare(got, want, path=""):
    if isinstance(want, dict):
        assert isinstance(got, dict) and set(got) == set(want), f"{path}: keys {sorted(set(got) ^ set(want))}"
        for k in want:
            compare(got[k], want[k], f"{path}.{k}")
    elif isinstance(want, list):
        assert isinstance(got, list) and len(got) == len(want), f"{path}: length"
        for i, (g, w) in enumerate(zip(got, want)):
            compare(g, w, f"{path}[{i}]")
    elif isinstance(want, float) and not isinstance(want, bool):
        assert math.isclose(got, want, rel_tol=1e-9, abs_tol=1e-30), f"{path}: {got} != {want}"
    else:
        assert got == want, f"{path}: {got!r} != {want!r}"  # ints (counts, bits), strings, bools, null


def test_every_experiment_has_a_golden():
    have = {os.path.basename(p)[:-5] for p in glob.glob(os.path.join(REPO_ROOT, "tests", "golden", "*.json"))}
    assert have == {os.path.basename(c)[:-5] for c in CONFIGS}


@pytest.mark.parametrize("config", CONFIGS, ids=lambda c: os.path.basename(c)[:-5])
def test_report_matches_golden(config):
    name = os.path.basename(config)[:-5]
    want = update.load_golden(os.path.join(REPO_ROOT, "tests", "golden", name + ".json"))
    compare(update.golden_report(config), want)
