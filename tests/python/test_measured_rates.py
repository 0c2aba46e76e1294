"""hardware.measured_rates in report.json: every probability a run measures by counting, with
its Clopper-Pearson interval; and hardware.sa_offset_flip_probability, a normal tail. The counts are checked against samples.csv and against each other
(hw and reference engines draw the same bits), the intervals against the configured rates and
against a normal approximation derived here."""

import csv
import math

import pytest

from tests.harness import CONFIG, read_report, run_sim
Z975 = 1.959963984540054  # standard normal quantile at 0.975 (tables)
WER, RDR = 0.01, 0.002


def run(out, *args):
    p = run_sim("run", CONFIG, "--limit", "30", "--set", "mc.samples=4", "--quiet", "--out", str(out), *args)
    return read_report(out), p.stdout


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    d = tmp_path_factory.mktemp("rates")
    faults = ["--set", f"hardware.device.faults.write_error_rate={WER}",
              "--set", f"hardware.device.faults.read_disturb_rate={RDR}"]
    verify = ["--set", "hardware.architecture.programming.write_verify=true",
              "--set", "hardware.architecture.programming.max_attempts=4"]
    return {
        "ideal": run(d / "ideal", "--samples-csv"),
        "reference": run(d / "reference", "--set", "experiment.engine=reference"),
        "mc_dropout": run(d / "mc", "--set", "model.dropout.kind=mc_dropout"),
        "faults": run(d / "faults", *faults),
        "verify": run(d / "verify", *faults, *verify),
        "none": run(d / "none", "--set", "model.dropout.kind=none"),
        "sa_offset": run(d / "sa", "--set", "hardware.architecture.sense_amp.offset_sigma_uA=10"),
        "csv_dir": d / "ideal",
    }


def normal_half_width(p, n):
    return Z975 * math.sqrt(p * (1 - p) / n)


def check_interval(m, truth):
    """The interval holds the rate and the true value, and is about as wide as the normal one."""
    assert 0 <= m["events"] <= m["trials"] > 0
    assert m["rate"] == m["events"] / m["trials"]
    assert m["ci_lower"] < m["rate"] < m["ci_upper"]
    assert m["ci_lower"] < truth < m["ci_upper"], (m, truth)
    half = normal_half_width(m["rate"], m["trials"])
    assert (m["ci_upper"] - m["ci_lower"]) / (2 * half) == pytest.approx(1.0, abs=0.1)


def test_dropout_p_counts_the_ones_in_samples_csv(runs):
    rep, _ = runs["ideal"]
    m = rep["hardware"]["measured_rates"]
    assert m["confidence_level"] == 0.95
    with open(runs["csv_dir"] / "samples.csv") as f:
        bits = "".join(r["bits"] for r in csv.DictReader(f))
    assert len(bits) == rep["hardware"]["random_bits"] == m["dropout_p"]["trials"]  # scale: one bit per layer
    assert bits.count("1") == m["dropout_p"]["events"]
    assert m["dropout_p"]["ci_lower"] < rep["hardware"]["dropout_p_realised"] < m["dropout_p"]["ci_upper"]


def test_reference_engine_measures_the_same_bits(runs):
    hw = runs["ideal"][0]["hardware"]["measured_rates"]
    ref = runs["reference"][0]["hardware"]["measured_rates"]
    assert ref == {"confidence_level": 0.95, "dropout_p": hw["dropout_p"]}


def test_many_draws_give_a_tight_interval_around_p(runs):
    rep, _ = runs["mc_dropout"]
    m = rep["hardware"]["measured_rates"]["dropout_p"]
    assert m["trials"] > 10000
    check_interval(m, rep["hardware"]["dropout_p_realised"])


def test_fault_rates_are_measured(runs):
    rep, out = runs["faults"]
    m = rep["hardware"]["measured_rates"]
    # Without verify every MTJ gets one pulse: the failed pulses are the MTJs left wrong.
    assert m["write_error_per_pulse"] == m["write_error_residual_per_mtj"]
    assert m["write_error_per_pulse"]["trials"] == rep["hardware"]["counts"]["programming_write_pulses"]
    assert m["write_error_per_pulse"]["events"] == rep["hardware"]["counts"]["programming_write_errors"]
    check_interval(m["write_error_per_pulse"], WER)
    assert m["read_disturb_per_exposure"]["events"] == rep["hardware"]["counts"]["read_disturbs"]
    check_interval(m["read_disturb_per_exposure"], RDR)
    w = m["write_error_per_pulse"]
    assert (f"write errors per pulse             {w['rate']:.4g}  [{w['ci_lower']:.4g}, {w['ci_upper']:.4g}] 95% CI, "
            f"{w['events']} / {w['trials']}") in out
    assert "read disturbs per exposed read" in out


def test_write_verify_retries_failed_pulses(runs):
    rep, _ = runs["verify"]
    m = rep["hardware"]["measured_rates"]
    pulse, left = m["write_error_per_pulse"], m["write_error_residual_per_mtj"]
    mtjs = left["trials"]
    assert pulse["trials"] == rep["hardware"]["counts"]["programming_write_pulses"]
    # Each failed pulse but an MTJ's last is followed by one more pulse.
    assert pulse["trials"] == mtjs + pulse["events"] - left["events"]
    check_interval(pulse, WER)
    # Four attempts leave an MTJ wrong with probability WER^4 = 1e-8: none of about 1.3 M here,
    # and then the interval is [0, 1 - (alpha/2)^(1/n)].
    assert left["events"] == 0
    assert left["ci_lower"] == 0
    assert left["ci_upper"] == pytest.approx(1 - 0.025 ** (1 / mtjs), rel=1e-9)


def test_nothing_counted_gives_no_rate(runs):
    rep, out = runs["none"]
    m = rep["hardware"]["measured_rates"]
    assert m["dropout_p"] == {"events": 0, "trials": 0, "rate": None, "ci_lower": 0.0, "ci_upper": 1.0}
    assert m["read_disturb_per_exposure"]["trials"] == 0 and m["read_disturb_per_exposure"]["rate"] is None
    assert m["write_error_per_pulse"]["events"] == 0
    assert "dropout p (measured)" not in out and "write errors" not in out
    ideal = runs["ideal"][1]
    assert "dropout p (measured)" in ideal and "write errors" not in ideal


def test_sa_offset_flip_probability_is_the_gaussian_tail_at_half_a_step(runs):
    """I(m) = V (m G_P + (N - m) G_AP) and I_ref(M) = (I(M - 1) + I(M)) / 2, so the nearest decision
    lies (I_P - I_AP) / 2 from its reference, I_P and I_AP the cell currents of the report; with
    sigma = 10 uA it flips with probability Phi(-d / sigma) = erfc(d / (sigma sqrt 2)) / 2."""
    rep, out = runs["sa_offset"]
    cell = rep["hardware"]["operating_point"]["cell_read_current_A"]
    d = (cell["p"] - cell["ap"]) / 2
    want = 0.5 * math.erfc(d / 10e-6 / math.sqrt(2))
    assert rep["hardware"]["sa_offset_flip_probability"] == pytest.approx(want, rel=1e-12)
    assert 0.001 < want < 0.5
    assert f"SA offset flips, nearest decision  {want:.4g}" in out
    assert runs["ideal"][0]["hardware"]["sa_offset_flip_probability"] == 0
    assert "SA offset flips" not in runs["ideal"][1]
