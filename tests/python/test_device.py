"""`bayescim device` (issue 19): the characterisation CSV and plot of the shipped stochastic MTJ,
its determinism over --jobs, the junction-voltage limit, device-file errors, and a run at a
dropout p the thermally activated model could not give. Expected values are worked out here from
the device file's numbers (energy per bit from the pulses, Clopper-Pearson intervals from the
binomial distribution), never taken from the simulator's code.
"""

import csv
import json
import math
import os
import shutil

import pytest

from tests.harness import REPO_ROOT, run_sim

DEVICE = "configs/devices/uta_stochastic_mtj.yaml"
COLUMNS = ["current_A", "current_density_A_per_m2", "pulse_s", "temperature_K", "p_switch", "p_ci_low",
           "p_ci_high", "samples", "energy_per_bit_J", "latency_per_bit_s"]
TIMEOUT = 300


def read_csv(path):
    with open(path, newline="") as f:
        rows = list(csv.reader(f))
    assert rows[0] == COLUMNS
    return [dict(zip(COLUMNS, map(float, r))) for r in rows[1:]]


def binom_cdf(k, n, p):
    return sum(math.comb(n, i) * p ** i * (1 - p) ** (n - i) for i in range(k + 1))


def clopper_pearson(k, n, level=0.95):
    """By bisection on the binomial tails: lower solves P(X >= k | p) = a/2, upper P(X <= k | p) = a/2."""
    a = (1 - level) / 2

    def solve(f):
        lo, hi = 0.0, 1.0
        for _ in range(60):
            mid = (lo + hi) / 2
            lo, hi = (mid, hi) if f(mid) else (lo, mid)
        return (lo + hi) / 2

    lower = 0.0 if k == 0 else solve(lambda p: 1 - binom_cdf(k - 1, n, p) < a)
    upper = 1.0 if k == n else solve(lambda p: binom_cdf(k, n, p) > a)
    return lower, upper


@pytest.fixture(scope="module")
def default_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("device")
    p = run_sim("device", DEVICE, "--out", out, "--samples", "300", "--jobs", "2", timeout=TIMEOUT)
    return out, p


def test_csv_columns_p_range_and_plot(default_run):
    out, p = default_run
    rows = read_csv(out / "switching.csv")
    assert os.path.getsize(out / "switching.png") > 1000
    ps = [r["p_switch"] for r in rows]
    assert min(ps) < 0.05 and max(ps) > 0.95, ps
    assert "p from" in p.stdout and "energy per bit" in p.stdout


def test_ci_is_clopper_pearson_and_contains_p(default_run):
    rows = read_csv(default_run[0] / "switching.csv")
    for r in rows[::3]:
        n = int(r["samples"])
        k = round(r["p_switch"] * n)
        lo, hi = clopper_pearson(k, n)
        assert r["p_ci_low"] <= r["p_switch"] <= r["p_ci_high"]
        assert r["p_ci_low"] == pytest.approx(lo, abs=1e-6) and r["p_ci_high"] == pytest.approx(hi, abs=1e-6)


def test_p_rises_with_current_and_pulse(default_run):
    rows = read_csv(default_run[0] / "switching.csv")
    # Two sweeps: current at the write pulse, then pulse at the largest current. Within each, the
    # next point may not fall below the previous one by more than their intervals allow.
    by_pulse = [r for r in rows if r["pulse_s"] == rows[0]["pulse_s"]]
    by_current = sorted([r for r in rows if r["current_A"] == rows[-1]["current_A"]], key=lambda r: r["pulse_s"])
    for sweep, key in ((by_pulse, "current_A"), (by_current, "pulse_s")):
        sweep = sorted(sweep, key=lambda r: r[key])
        for a, b in zip(sweep, sweep[1:]):
            assert b["p_ci_high"] >= a["p_ci_low"], (a, b)
        assert sweep[-1]["p_switch"] >= sweep[0]["p_switch"]


def test_energy_and_latency_per_bit_by_hand(default_run):
    # uta_stochastic_mtj.yaml: supply 1.2 V; reset 90 uA x 10 ns; driver 1/8 of the write current;
    # read 0.1 V x 1 ns through R_P 5 kOhm or R_AP 11 kOhm (a switched bit); SA 5 fJ; latch 2 fJ;
    # relax 10 ns; SA 0.5 ns.
    for r in read_csv(default_run[0] / "switching.csv"):
        i, t, p = r["current_A"], r["pulse_s"], r["p_switch"]
        read = (1 - p) * 0.1 * 0.1 / 5000 * 1e-9 + p * 0.1 * 0.1 / 11000 * 1e-9
        e = 1.2 * 90e-6 * 10e-9 + 1.2 * i * t * (1 + 0.125) + read + 5e-15 + 2e-15
        assert r["energy_per_bit_J"] == pytest.approx(e, rel=1e-6)
        assert r["latency_per_bit_s"] == pytest.approx(10e-9 + t + 10e-9 + 1e-9 + 0.5e-9, rel=1e-6)
        area = math.pi * 50e-9 * 50e-9 / 4
        assert r["current_density_A_per_m2"] == pytest.approx(i / area, rel=1e-6)
        assert i * 11000 <= 1.0 + 1e-9  # the junction-voltage limit: I R_AP <= 1 V


def test_same_seed_same_csv_for_any_jobs(tmp_path):
    args = ["device", DEVICE, "--current-uA", "85:90:2", "--pulse-ns", "2", "--samples", "150", "--quiet"]
    run_sim(*args, "--out", tmp_path / "a", "--jobs", "1", timeout=TIMEOUT)
    run_sim(*args, "--out", tmp_path / "b", "--jobs", "2", timeout=TIMEOUT)
    assert (tmp_path / "a" / "switching.csv").read_text() == (tmp_path / "b" / "switching.csv").read_text()


def test_voltage_limit_refused_unless_asked(tmp_path):
    args = ["device", DEVICE, "--current-uA", "50:120:2", "--samples", "20", "--quiet", "--out", tmp_path]
    p = run_sim(*args, check=False, timeout=TIMEOUT)
    assert p.returncode == 1 and "junction-voltage limit" in p.stderr and "--beyond-voltage-limit" in p.stderr
    assert not (tmp_path / "switching.csv").exists()
    p = run_sim(*args, "--beyond-voltage-limit", timeout=TIMEOUT)
    assert "warning" in p.stderr and "junction-voltage limit" in p.stderr
    assert len(read_csv(tmp_path / "switching.csv")) == 2


def test_bad_device_key_is_named(tmp_path):
    text = open(os.path.join(REPO_ROOT, DEVICE)).read().replace("free_layer_nm: 1.1", "free_layer_nm: thick")
    bad = tmp_path / "bad.yaml"
    bad.write_text(text)
    p = run_sim("device", bad, "--out", tmp_path / "o", check=False, timeout=60)
    assert p.returncode == 1
    assert str(bad) in p.stderr and "llg.free_layer_nm" in p.stderr and "expected a number" in p.stderr
    assert p.stderr.count("\n") == 1


def test_usage_errors(tmp_path):
    for args in (["--current-uA", "90:50:3"], ["--current-uA", "10"], ["--samples", "0"],
                 ["--current-uA", "1:2:2", "--current-density", "1:2:2"]):
        p = run_sim("device", DEVICE, *args, "--out", tmp_path, check=False, timeout=60)
        assert p.returncode == 2, (args, p.stderr)


def test_missing_matplotlib_is_a_clear_error(tmp_path):
    script = tmp_path / "plot.py"
    script.write_text("import sys\nprint('plot_switching.py: error: matplotlib is missing', file=sys.stderr)\n"
                      "sys.exit(3)\n")
    env = dict(os.environ, SYSTEMC_DISABLE_COPYRIGHT_MESSAGE="1", BAYESCIM_DEVICE_PLOT_SCRIPT=str(script))
    p = run_sim("device", DEVICE, "--current-uA", "0:10:2", "--samples", "5", "--quiet", "--out", tmp_path / "o",
                check=False, env=env, timeout=60)
    assert p.returncode == 1 and "switching.png not written" in p.stderr and "matplotlib is missing" in p.stderr
    assert (tmp_path / "o" / "switching.csv").exists()


def test_run_at_p_07_uses_the_macrospin_table(tmp_path):
    p = run_sim("run", "configs/experiments/mnist_mlp_scale.yaml", "--set", "model.dropout.p=0.7", "--limit", "4",
                "--set", "mc.samples=2", "--quiet", "--out", tmp_path, timeout=TIMEOUT)
    rep = json.load(open(tmp_path / "report.json"))
    h = rep["hardware"]
    d = h["dropout_device"]
    assert d["switching_model"].startswith("macrospin table")
    assert "solver: macrospin" in d["table_provenance"]
    assert h["dropout_p_realised"] == pytest.approx(0.7, abs=1e-6)
    assert d["write_junction_voltage_V"] <= 1.0 + 1e-9 and d["reset_junction_voltage_V"] <= 1.0
    assert d["pulse_stretched"]  # at 1 V the 1 ns pulse cannot reach 0.7: the pulse width sets p
    e = d["energy_per_bit_J"]
    # From the pulses: 1.2 V x (90 uA x 10 ns + 9/8 x I x t), read, SA 5 fJ, latch 2 fJ.
    i, t = d["drive_current_A"], d["drive_pulse_s"]
    read = 0.3 * 0.01 / 5000 * 1e-9 + 0.7 * 0.01 / 11000 * 1e-9
    assert e["total"] == pytest.approx(1.2 * 90e-6 * 10e-9 + 1.2 * i * t * 1.125 + read + 7e-15, rel=1e-9)
    assert 1e-12 < e["total"] < 5e-12  # pJ range
    assert "dropout MTJ model" in p.stdout and "macrospin table" in p.stdout


def test_thermal_device_refuses_p_07_naming_the_range(tmp_path):
    shutil.copytree(os.path.join(REPO_ROOT, "configs"), tmp_path / "configs")
    os.symlink(os.path.join(REPO_ROOT, "models"), tmp_path / "models")
    os.symlink(os.path.realpath(os.path.join(REPO_ROOT, "data")), tmp_path / "data")
    dev = tmp_path / DEVICE
    text = dev.read_text()
    start, end = text.index("llg:"), text.index("variation:")
    text = text[:start] + "delta_300K: 40\nic0_uA: 100\ntau0_ns: 1\n" + text[end:]
    dev.write_text(text)
    p = run_sim("run", "configs/experiments/mnist_mlp_scale.yaml", "--set", "model.dropout.p=0.7", "--limit", "2",
                "--quiet", "--out", tmp_path / "o", check=False, cwd=tmp_path, timeout=TIMEOUT)
    assert p.returncode == 1, p.stderr
    assert "internal error" not in p.stderr
    # Eq. S1 at the most the 1 V limit allows, 1 V / 11 kOhm: tau = 1 ns exp(40 (1 - I / 100 uA)).
    i = 1.0 / 11000
    p_max = 1 - math.exp(-1e-9 / (1e-9 * math.exp(40 * (1 - i / 100e-6))))
    assert f"p in (0, {p_max:.4g})" in p.stderr and "llg section" in p.stderr, p.stderr


def test_validate_checks_the_dropout_p_and_the_crossbar_write_voltage():
    cfg = "configs/experiments/mnist_mlp_scale.yaml"
    run_sim("validate", cfg, "--set", "model.dropout.p=0.95", timeout=120)
    # A compact key beside llg is accepted but unused, and the run says so.
    p = run_sim("validate", cfg, "--set", "hardware.dropout_device.delta_300K=60", timeout=120)
    assert "hardware.dropout_device.delta_300K is not used" in p.stderr
    # NVSim cell: R_AP = 6 kOhm; 200 uA puts 1.2 V across an AP cell, above its 1.0 V limit.
    p = run_sim("validate", cfg, "--set", "hardware.device.write_current_uA=200", check=False, timeout=120)
    assert p.returncode == 1
    assert "hardware.device.write_current_uA" in p.stderr and "1.200000 V across the AP junction" in p.stderr
    # The dropout MTJ's reset: 100 uA x 11 kOhm = 1.1 V.
    p = run_sim("validate", cfg, "--set", "hardware.dropout_device.reset_current_uA=100", check=False, timeout=120)
    assert p.returncode == 1 and "reset_current_uA" in p.stderr and "1.100000 V" in p.stderr


def test_temperature_within_the_table_runs_and_outside_is_refused(tmp_path):
    cfg = "configs/experiments/mnist_mlp_scale.yaml"
    args = ["--limit", "2", "--set", "mc.samples=2", "--quiet"]
    run_sim("run", cfg, *args, "--set", "hardware.dropout_device.temperature_K=400", "--out", tmp_path / "hot",
            timeout=TIMEOUT)
    cold = json.load(open(tmp_path / "hot" / "report.json"))["hardware"]
    assert cold["dropout_p_realised"] == pytest.approx(0.2, abs=1e-6)
    p = run_sim("run", cfg, *args, "--set", "hardware.dropout_device.temperature_K=600", "--out", tmp_path / "x",
                check=False, timeout=TIMEOUT)
    assert p.returncode == 1 and "switching_table" in p.stderr and "temperature_K 600" in p.stderr
    # Calibrated at 300 K, run at 400 K: the drive of p = 0.2 at 300 K switches more often (eq. D3).
    run_sim("run", cfg, *args, "--set", "hardware.dropout_device.temperature_K=400", "--set",
            "hardware.dropout_device.calibration_temperature_K=300", "--out", tmp_path / "drift", timeout=TIMEOUT)
    drift = json.load(open(tmp_path / "drift" / "report.json"))["hardware"]
    assert drift["dropout_p_realised"] > 0.22 and drift["dropout_device"]["calibration_temperature_K"] == 300
    # Delta variation is a temperature spread over the table: the modules' p spreads.
    run_sim("run", cfg, *args, "--set", "model.dropout.kind=mc_dropout", "--set",
            "hardware.dropout_device.variation.delta_sigma_rel=0.1", "--out", tmp_path / "var", timeout=TIMEOUT)
    spread = json.load(open(tmp_path / "var" / "report.json"))["hardware"]["dropout_p_modules"]
    assert spread["std"] > 0.005 and spread["min"] < 0.2 < spread["max"]


def test_table_keeps_the_points_it_already_holds_and_equals_a_full_run(tmp_path):
    """A point's trials depend only on its (I, t_p, T), the free layer, solver, samples and seed, so
    extending a table (here by a temperature) runs only the new points, and the file equals the one
    a run from scratch writes; another seed keeps nothing."""
    args = ["device", DEVICE, "--samples", "10", "--jobs", "2", "--quiet"]
    grown, fresh = tmp_path / "grown.csv", tmp_path / "fresh.csv"
    first = run_sim(*args, "--table", grown, "--temperature-K", "300", timeout=TIMEOUT)
    assert "0 point(s) kept" in first.stderr
    rows_300 = sum(1 for l in open(grown) if l[:1].isdigit())
    second = run_sim(*args, "--table", grown, "--temperature-K", "300,350", timeout=TIMEOUT)
    assert f"{rows_300} point(s) kept" in second.stderr and f"{rows_300} to run" in second.stderr
    run_sim(*args, "--table", fresh, "--temperature-K", "300,350", timeout=TIMEOUT)
    grown_text, fresh_text = open(grown).read(), open(fresh).read()
    def body(text):  # the command line names the file
        return [line for line in text.splitlines() if not line.startswith("# command:")]
    assert body(grown_text) == body(fresh_text)
    again = run_sim(*args, "--table", grown, "--temperature-K", "300,350", timeout=TIMEOUT)
    assert f"{2 * rows_300} point(s) kept" in again.stderr and ", 0 to run" in again.stderr
    assert open(grown).read() == grown_text
    other = run_sim(*args, "--seed", "2", "--table", grown, "--temperature-K", "300", timeout=TIMEOUT)
    assert "0 point(s) kept" in other.stderr
