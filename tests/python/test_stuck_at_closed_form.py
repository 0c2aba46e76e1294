"""Issue #18 item 6 (2): stuck-at faults on the analog path against closed forms, on the shipped
MLP with one MC sample, no dropout and the ID split only (every row of every read is driven).

Expectations from docs/hardware.md: a conducting branch draws V_read V_cell G t_read from the
supply (eq. X0, X1, E0), a stuck MTJ ignores writes, and the ADC inverts eq. X1.
- stuck_at_ap_rate = 1: every branch is AP, every column current is N V_cell G_AP, so every ADC
  code is 0 matches whatever the image: the read energy is branches x E_AP and every image gets
  the same output.
- stuck_at_p_rate = q: in the first layer (its inputs are the image's pixels, the same in every
  run) the branches that change are the mismatching ones (AP) whose MTJ is stuck in P; within one
  image each conducting MTJ is read once, so their number is Binomial(M, q) with M the mismatches.
  It is recovered from the layer's energy: K = dE / (E_P - E_AP), M from the all-AP run."""

import csv
import math
import os

import pytest
import yaml

from tests.harness import CONFIG, REPO_ROOT, analog_read_rounding_J, pm1_model, read_report, run_sim

DEVICE = os.path.join(REPO_ROOT, "configs", "devices", "nvsim_sttram.yaml")
ARCH = os.path.join(REPO_ROOT, "configs", "architectures", "stt_cim_512x128.yaml")
MLP_MACS = 784 * 512 + 512 * 512 + 512 * 10
Q = 0.02
Z = 3.290526731491926  # standard normal quantile at 0.9995 (two-sided 99.9 %)


def branch_energies():
    with open(DEVICE) as f:
        d = yaml.safe_load(f)
    with open(ARCH) as f:
        a = yaml.safe_load(f)
    v, vc, r, t = d["read_voltage_V"], d["read_voltage_V"] - d["access_transistor_drop_V"], d["r_p_ohm"], a["read_pulse_ns"] * 1e-9
    return v * vc / r * t, v * vc / (r * (1 + d["tmr"])) * t


def run(out, limit, *sets):
    args = ["run", CONFIG, "--limit", str(limit), "--quiet", "--out", str(out), "--set", "data.ood=null",
            "--set", "mc.samples=1", "--set", "model.dropout.kind=none", "--set", f"model.path={pm1_model()}",
            # closed forms (+-1 input: every row conducts) of the cells alone: no bitline wire (IR drop applies to analog devices)
            "--set", "hardware.architecture.array.wire_ohm_per_cell=0"]
    for s in sets:
        args += ["--set", s]
    run_sim(*args)
    with open(os.path.join(out, "layers.csv")) as f:
        layers = {row["name"]: float(row["array_energy_per_inference_J"]) for row in csv.DictReader(f)}
    with open(os.path.join(out, "predictions.csv")) as f:
        preds = list(csv.DictReader(f))
    return read_report(out), layers, preds


def test_all_stuck_ap_reads_zero_matches_everywhere(tmp_path):
    rep, _, preds = run(tmp_path / "ap", 5, "hardware.device.faults.stuck_at_ap_rate=1")
    _, e_ap = branch_energies()
    images = rep["data"]["id"]["images"]
    assert images == 5
    assert rep["energy"]["by_component"]["crossbar_read"] == pytest.approx(images * MLP_MACS * e_ap, rel=1e-12,
                                                                          abs=analog_read_rounding_J(rep))
    # Every code is 0, so the network's output does not depend on the image.
    probs = {tuple(p[f"p{k}"] for k in range(10)) for p in preds}
    assert len(probs) == 1 and len({p["pred"] for p in preds}) == 1


def test_stuck_p_fraction_of_mismatching_branches_is_binomial(tmp_path):
    e_p, e_ap = branch_energies()
    _, l_ideal, _ = run(tmp_path / "ideal", 1)
    _, l_ap, _ = run(tmp_path / "ap", 1, "hardware.device.faults.stuck_at_ap_rate=1")
    _, l_q, _ = run(tmp_path / "q", 1, f"hardware.device.faults.stuck_at_p_rate={Q}")
    de = e_p - e_ap
    m = (l_ideal["fc1"] - l_ap["fc1"]) / de  # mismatching branches of fc1 for this image
    k = (l_q["fc1"] - l_ideal["fc1"]) / de   # of them, stuck in P
    assert abs(m - round(m)) < 1e-3 * max(1.0, m) and abs(k - round(k)) < 1e-3 * max(1.0, k)
    m, k = round(m), round(k)
    assert 0 < m < 784 * 512
    half = Z * math.sqrt(m * Q * (1 - Q))
    assert abs(k - m * Q) <= half, f"{k} stuck of {m} mismatching branches, expected {m * Q:.0f} +- {half:.0f}"
