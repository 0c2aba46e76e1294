"""The crossbar MTJ from its free layer (hardware.device.thermal, docs/hardware.md eq. C1-C7): a hot
device (the shipped nvsim_sttram_thermal.yaml at 900 K, Delta = 20, written with 5 ns pulses) gives
the read-disturb and write-error counts its derived probabilities predict, for either read polarity;
a hand rate overrides the derived one; the shipped device runs without the section. The binomial
bounds are worked out here (5 sigma, plus one event for the discreteness)."""

import math
import os

import pytest

from tests.harness import CONFIG, REPO_ROOT, read_report, run_sim

DEVICE = os.path.join(REPO_ROOT, "configs", "devices", "nvsim_sttram_thermal.yaml")
HOT = ["--set", f"hardware.device={DEVICE}", "--set", "hardware.device.thermal.temperature_K=900",
       "--set", "hardware.device.write_pulse_ns=5"]


def run(out, *args):
    run_sim("run", CONFIG, "--limit", "4", "--set", "mc.samples=2", "--set", "data.ood=null", "--quiet",
            "--out", str(out), *HOT, *args, timeout=600)
    return read_report(out)


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    d = tmp_path_factory.mktemp("crossbar_mtj")
    return {"ap": run(d / "ap"),
            "p": run(d / "p", "--set", "hardware.device.thermal.read_polarity=p_to_ap"),
            "override": run(d / "override", "--set", "hardware.device.faults.read_disturb_rate=1e-3")}


def within_binomial(events, trials, p):
    mean = trials * p
    return abs(events - mean) <= 5 * math.sqrt(mean * (1 - p)) + 1


def test_hot_device_derives_measurable_rates(runs):
    x = runs["ap"]["hardware"]["crossbar_mtj"]
    assert x["delta"] == pytest.approx(20.0)  # 60 x 300 K / 900 K
    assert x["temperature_K"] == 900
    assert x["read_polarity"] == "ap_to_p"
    assert x["read_disturb_probability"]["p"] == 0
    assert 1e-6 < x["read_disturb_probability"]["ap"] < 1e-2
    # the P -> AP write has twice the critical current: it fails far more often
    assert x["write_error_rate"]["to_ap"] > 1e3 * x["write_error_rate"]["to_p"]
    assert x["read_disturb_source"] == x["write_error_source"] == "derived"
    hw = runs["ap"]["hardware"]
    assert hw["read_disturb_rate"] == x["read_disturb_probability"]["ap"]
    assert hw["write_error_rate"] == x["write_error_rate"]


@pytest.mark.parametrize("polarity", ["ap", "p"])
def test_read_disturbs_follow_the_derived_probability(runs, polarity):
    rep = runs[polarity]
    q = rep["hardware"]["crossbar_mtj"]["read_disturb_probability"][polarity]
    assert rep["hardware"]["read_disturb_state"] == polarity
    m = rep["hardware"]["measured_rates"]["read_disturb_per_exposure"]
    assert m["trials"] * q > 50, "too few expected disturbs to test"
    assert within_binomial(m["events"], m["trials"], q), (m, q)
    assert rep["hardware"]["counts"]["read_disturbs"] == m["events"]


def test_write_errors_follow_the_derived_probability_per_direction(runs):
    rep = runs["ap"]
    e = rep["hardware"]["crossbar_mtj"]["write_error_rate"]
    m = rep["hardware"]["measured_rates"]
    # every MTJ is written once (no write-verify), half of them to each state
    assert m["write_error_per_pulse_to_p"]["trials"] == m["write_error_per_pulse_to_ap"]["trials"]
    for d in ("to_p", "to_ap"):
        c = m[f"write_error_per_pulse_{d}"]
        assert within_binomial(c["events"], c["trials"], e[d]), (d, c, e[d])
    assert m["write_error_per_pulse_to_ap"]["trials"] * e["to_ap"] > 100
    assert rep["hardware"]["counts"]["programming_write_errors"] == (
        m["write_error_per_pulse_to_p"]["events"] + m["write_error_per_pulse_to_ap"]["events"])


def test_a_hand_rate_overrides_the_derived_one(runs):
    rep = runs["override"]
    x = rep["hardware"]["crossbar_mtj"]
    assert x["read_disturb_source"] == "faults.read_disturb_rate (override)"
    assert x["write_error_source"] == "derived"
    assert rep["hardware"]["read_disturb_rate"] == 1e-3
    m = rep["hardware"]["measured_rates"]["read_disturb_per_exposure"]
    assert within_binomial(m["events"], m["trials"], 1e-3)


def test_shipped_device_has_no_free_layer_section(tmp_path):
    run_sim("run", CONFIG, "--limit", "2", "--set", "mc.samples=1", "--set", "data.ood=null", "--quiet",
            "--out", str(tmp_path))
    hw = read_report(tmp_path)["hardware"]
    assert hw["crossbar_mtj"] is None
    assert hw["read_disturb_rate"] == 0 and hw["write_error_rate"] == {"to_p": 0, "to_ap": 0}
