"""Every shipped experiment (configs/experiments/*.yaml, one per shipped model and method): the
SystemC simulation and the reference executor give identical samples, and the PyTorch model rebuilt
from the ONNX file gives the same predictions and logits on the same dropout draws (sampled images)."""

import glob
import os

import pytest

from tests.harness import DATA_DIR, REPO_ROOT, read_report, run_sim

CONFIGS = sorted(glob.glob(os.path.join(REPO_ROOT, "configs", "experiments", "*.yaml")))


def run(config, out, *extra):
    run_sim("run", config, "--limit", "40", "--set", "mc.samples=3", "--samples-csv", "--quiet",
            "--out", str(out), *extra)
    return read_report(out)


def test_every_shipped_model_has_an_experiment():
    import yaml
    with open(os.path.join(REPO_ROOT, "models", "pretrained", "manifest.yaml")) as f:
        shipped = set(yaml.safe_load(f)["models"])
    configured = {os.path.basename(c).replace(".yaml", ".onnx") for c in CONFIGS}
    assert shipped == configured


@pytest.mark.parametrize("config", CONFIGS, ids=lambda c: os.path.basename(c)[:-5])
def test_hw_reference_and_pytorch_agree(config, tmp_path):
    rep = run(config, tmp_path / "hw")
    run(config, tmp_path / "ref", "--set", "experiment.engine=reference")
    hw = (tmp_path / "hw" / "samples.csv").read_bytes()
    assert hw == (tmp_path / "ref" / "samples.csv").read_bytes()
    from models import parity
    res = parity.run(rep["model"]["path"], str(tmp_path / "hw" / "samples.csv"), DATA_DIR, atol=1e-3)
    assert res.passed, res.summary()
    kind = rep["model"]["dropout"]["kind"]
    assert (rep["hardware"]["random_bits"] > 0) == (kind != "none")
