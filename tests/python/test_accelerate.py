"""experiment.accelerate (issue 15): the simulation shortcuts of hw/reuse/ (tile memo, prefix
replay, gather cache, analog read cache, column-by-column SA kernel) change no result. With them
off every report equals the accelerated one byte for byte, apart from `timing` and `wall_s` and the
echo of the key itself and of the output folder in `config`; predictions.csv and samples.csv are identical."""

import json
import os

import pytest

from tests.harness import REPO_ROOT, check_report, run_sim

EXP = os.path.join(REPO_ROOT, "configs", "experiments")
ARCH = "hardware.architecture."
CASES = {
    # every dropout kind, on the MLP and the CNN
    "mlp_scale": ("mnist_mlp_scale.yaml", []),
    "mlp_mc_dropout": ("mnist_mlp_mc_dropout.yaml", []),
    "mlp_none": ("mnist_mlp_none.yaml", []),
    "cnn_spatial": ("fashion_cnn_spatial.yaml", []),
    "cnn_scale": ("fashion_cnn_scale.yaml", []),
    "cnn_mc_dropout": ("fashion_cnn_mc_dropout.yaml", []),
    # both cell schemes, and the analog path (ideal and two-phase), with read groups
    "mlp_two_phase": ("mnist_mlp_scale.yaml", [ARCH + "array.cell=two_phase_1t1mtj"]),
    "mlp_rows_per_read": ("mnist_mlp_mc_dropout.yaml", [ARCH + "array.rows_per_read=48"]),
    "mlp_analog": ("mnist_mlp_scale.yaml", ["hardware.device.variation.r_p_sigma_log=0.1"]),
    "mlp_two_phase_analog": ("mnist_mlp_scale.yaml", [ARCH + "array.cell=two_phase_1t1mtj",
                                                      "hardware.device.variation.r_p_sigma_log=0.1"]),
    "cnn_analog_pipelined": ("fashion_cnn_scale.yaml", ["hardware.device.variation.r_p_sigma_log=0.05",
                                                        ARCH + "mapping.pipeline_samples=true"]),
}


def run(tmp_path, name, config, sets, accelerate):
    out = tmp_path / f"{name}-{accelerate}"
    args = ["run", os.path.join(EXP, config), "--limit", "12", "--set", "mc.samples=4", "--quiet", "--samples-csv",
            "--out", str(out), "--set", f"experiment.accelerate={'true' if accelerate else 'false'}"]
    for s in sets:
        args += ["--set", s]
    run_sim(*args)
    with open(out / "report.json") as f:
        rep = json.load(f)
    check_report(rep)
    return rep, out


@pytest.mark.parametrize("name", sorted(CASES))
def test_reports_without_shortcuts_equal_the_accelerated_ones(name, tmp_path):
    config, sets = CASES[name]
    fast, fast_out = run(tmp_path, name, config, sets, True)
    slow, slow_out = run(tmp_path, name, config, sets, False)
    assert slow["config"]["experiment"]["accelerate"] is False
    for rep in (fast, slow):
        rep.pop("timing")
        rep.pop("wall_s")
        rep["config"]["experiment"].pop("accelerate")
        rep["config"]["output"].pop("dir")
    assert json.dumps(fast, sort_keys=True) == json.dumps(slow, sort_keys=True)
    for f in ("predictions.csv", "samples.csv", "layers.csv"):
        assert (fast_out / f).read_bytes() == (slow_out / f).read_bytes(), f
    # the shortcuts were really taken and really skipped: the runs read the same arrays
    assert fast["hardware"]["counts"]["array_reads"] > 0
