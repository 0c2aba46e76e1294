"""Issue #18 item 4: the NeuroSim-matched configuration (configs/architectures/
neurosim_match_128x128.yaml with the NVSim cell) on the MNIST MLP, against the band
docs/hardware.md ("Against NeuroSim") documents: 2x to 3x NeuroSim V1.4's 4.6-5.9 fJ per binary
MAC. The band comes from the documented numbers, and the cell-read term is checked against the
documented equation (eq. E0: between every branch AP and every branch P)."""

import os

import pytest
import yaml

from tests.harness import CONFIG, REPO_ROOT, read_report, run_sim

ARCH = os.path.join("configs", "architectures", "neurosim_match_128x128.yaml")
DEVICE = os.path.join(REPO_ROOT, "configs", "devices", "nvsim_sttram.yaml")
NEUROSIM_FJ_PER_MAC = (4.6, 5.9)  # DNN+NeuroSim V1.4, same MLP and cell (issue #18)
BAND = (2.0 * NEUROSIM_FJ_PER_MAC[0], 3.0 * NEUROSIM_FJ_PER_MAC[1])  # docs: 9.2-17.7 fJ
MLP_MACS = 784 * 512 + 512 * 512 + 512 * 10


@pytest.fixture(scope="module")
def report(tmp_path_factory):
    """The matched run on the shipped MLP's weights with a +-1 thresholded input (one read per
    position, as in the NeuroSim comparison; the shipped model reads 8-bit pixels bit-serially)."""
    from models.onnx_export import export_onnx
    from models.onnx_to_torch import onnx_to_torch
    out = tmp_path_factory.mktemp("neurosim")
    model, meta = onnx_to_torch(os.path.join(REPO_ROOT, "models", "pretrained", "mnist_mlp_scale.onnx"))
    model.input_bits = 0
    path = str(out / "mlp_pm1.onnx")
    export_onnx(model, path, dataset=meta.get("bayescim.dataset", "mnist"))
    run_sim("run", CONFIG, "--limit", "20", "--quiet", "--out", str(out), "--set", f"model.path={path}",
            "--set", f"hardware.architecture={ARCH}", "--set", "mc.samples=1",
            "--set", "model.dropout.kind=none")
    return read_report(out)


def test_matched_architecture_is_what_the_docs_say():
    with open(os.path.join(REPO_ROOT, ARCH)) as f:
        a = yaml.safe_load(f)
    assert (a["array"]["rows"], a["array"]["cols"]) == (128, 128)
    assert (a["adc"]["bits"], a["adc"]["columns_per_adc"], a["adc"]["fom_fJ_per_step"]) == (3, 8, 0)
    # NeuroSim V1.4 SarADC.cpp, 22 nm LP: (0.538 log2(levels) + 4.3753) uW for (log2(levels) + 1) ns.
    levels = 2 ** 3
    bits = 3
    e_fj = (0.538 * bits + 4.3753) * 1e-6 * (bits + 1) * 1e-9 * 1e15
    assert levels == 8 and a["adc"]["conversion_floor_fJ"] == pytest.approx(e_fj, abs=0.05)
    # rows_per_read under the 2 mA bitline limit at the P-cell current, the largest power of two.
    with open(DEVICE) as f:
        d = yaml.safe_load(f)
    i_p = (d["read_voltage_V"] - d["access_transistor_drop_V"]) / d["r_p_ohm"]
    rows = a["array"]["rows_per_read"]
    assert rows * i_p <= 2e-3 < 2 * rows * i_p


def test_energy_per_mac_in_the_documented_band(report):
    per_mac_fj = report["energy"]["per_mac_J"] * 1e15
    assert BAND[0] <= per_mac_fj <= BAND[1], f"{per_mac_fj:.2f} fJ/MAC outside {BAND}"
    assert report["energy"]["tops_per_W"] == pytest.approx(2000.0 / per_mac_fj, rel=1e-9, abs=0)


def test_cell_read_term_between_all_ap_and_all_p(report):
    with open(DEVICE) as f:
        d = yaml.safe_load(f)
    with open(os.path.join(REPO_ROOT, ARCH)) as f:
        a = yaml.safe_load(f)
    v, vc, r = d["read_voltage_V"], d["read_voltage_V"] - d["access_transistor_drop_V"], d["r_p_ohm"]
    t = a["read_pulse_ns"] * 1e-9
    e_p, e_ap = v * vc / r * t, v * vc / (r * (1 + d["tmr"])) * t  # eq. E0 per conducting branch
    per_pass = report["energy"]["per_inference_by_component"]["crossbar_read"]  # T = 1
    assert MLP_MACS * e_ap < per_pass < MLP_MACS * e_p
