"""The hardware options of issue 4 through the `bayescim` CLI: each one changes what it should
(energy, latency, area, counts), leaves the predictions alone when the devices are ideal, and is
checked against an independent computation from the report's own counts and parameters."""

import json
import os

import pytest

from tests.harness import REPO_ROOT, read_report, run_sim

MLP = os.path.join(REPO_ROOT, "configs", "experiments", "mnist_mlp_scale.yaml")
CNN = os.path.join(REPO_ROOT, "configs", "experiments", "fashion_cnn_none.yaml")  # no draws in the layer times
CNN_SPATIAL = os.path.join(REPO_ROOT, "configs", "experiments", "fashion_cnn_spatial.yaml")
ARCH = "hardware.architecture."


def run(tmp_path, name, config=MLP, limit=40, samples=3, *sets, jobs=1):
    out = tmp_path / name
    args = ["run", config, "--limit", str(limit), "--set", f"mc.samples={samples}", "--quiet", "--out", str(out),
            "--jobs", str(jobs)]
    for s in sets:
        args += ["--set", s]
    run_sim(*args)
    return read_report(out), out


def same_predictions(a, b):
    return (a / "predictions.csv").read_bytes() == (b / "predictions.csv").read_bytes()


@pytest.fixture(scope="module")
def base(tmp_path_factory):
    return run(tmp_path_factory.mktemp("base"), "base")


def test_access_transistor_lowers_the_read_current_not_the_predictions(base, tmp_path):
    rep0, out0 = base
    rep, out = run(tmp_path, "rt", MLP, 40, 3, "hardware.device.access_transistor_ohm=1000")
    op, op0 = rep["hardware"]["operating_point"], rep0["hardware"]["operating_point"]
    # eq. X0 by hand: 0.25 V - 0.15 V (the access transistor's fixed drop) over 3 k + 1 k and 6 k + 1 k.
    assert op["cell_read_current_A"]["p"] == pytest.approx(0.1 / 4000, rel=1e-12)
    assert op["cell_read_current_A"]["ap"] == pytest.approx(0.1 / 7000, rel=1e-12)
    # The transistor: its fixed 0.15 V plus 25 uA through 1 kOhm.
    assert op["access_transistor_drop_V"] == pytest.approx(0.15 + 0.1 / 4000 * 1000, rel=1e-12)
    assert op0["access_transistor_drop_V"] == pytest.approx(0.15, rel=1e-12)
    comp, comp0 = rep["energy"]["by_component"], rep0["energy"]["by_component"]
    # Every branch conductance falls, by 3/4 (P) to 6/7 (AP): so does the read energy.
    assert 0.75 * comp0["crossbar_read"] < comp["crossbar_read"] < 6 / 7 * comp0["crossbar_read"]
    assert comp["adc"] == comp0["adc"]
    assert same_predictions(out0, out)


def test_energy_override_replaces_one_action_and_nothing_else(base, tmp_path):
    rep0, out0 = base
    rep, out = run(tmp_path, "ov", MLP, 40, 3, ARCH + "energy_overrides_fJ.adc.conversion=100",
                   ARCH + "energy_overrides_fJ.sense_amp.latch=1")
    comp, comp0 = rep["energy"]["by_component"], rep0["energy"]["by_component"]
    counts = rep["hardware"]["counts"]
    # The override replaces the conversion; each converted column's sample-and-hold stays.
    sh = rep["config"]["hardware"]["architecture"]["adc"]["sample_hold_fJ"] * 1e-15
    assert comp["adc"] == pytest.approx(counts["adc_conversions"] * (100e-15 + sh), rel=1e-12)
    # The SA component keeps its reference branch: only the latch part changes (5 fJ -> 1 fJ).
    assert comp0["sense_amp"] - comp["sense_amp"] == pytest.approx(counts["sa_decisions"] * 4e-15, rel=1e-9)
    for k in comp0:
        if k not in ("adc", "sense_amp"):
            assert comp[k] == comp0[k], k
    assert rep["energy"]["overrides_J"] == {"adc.conversion": pytest.approx(100e-15),
                                            "sense_amp.latch": pytest.approx(1e-15)}
    assert same_predictions(out0, out)


def test_pipelined_samples_cut_latency_keep_everything_else(base, tmp_path):
    rep0, out0 = base
    rep, out = run(tmp_path, "pipe", MLP, 40, 3, ARCH + "mapping.pipeline_samples=true")
    assert rep["latency"]["per_inference_s"] < rep0["latency"]["per_inference_s"]
    # Overlap cannot beat the slowest layer: T samples need at least T x its time per sample.
    slowest = max(l["latency_per_sample_s"] for l in rep["hardware"]["layers"])
    assert rep["latency"]["per_inference_s"] >= 3 * slowest * (1 - 1e-12)
    # Each array reads the same number of times: its busy time is unchanged, its share of the run grows.
    for t0, t in zip(rep0["hardware"]["tiles"], rep["hardware"]["tiles"]):
        assert t["busy_s"] == t0["busy_s"] and t["busy_share"] > t0["busy_share"]
    # fc1's arrays (8 of them, ADC path): the first holds 512 rows, read 16 at a time, so 32 reads
    # per bit plane (8: the 8-bit pixels read bit-serially) per sample, each 1.66 ns + 8 conversions
    # of 2 ns (8 columns per ADC); 80 images x 3 samples.
    fc1 = [t for t in rep["hardware"]["tiles"] if t["layer"] == "fc1"]
    assert len(fc1) == 8
    assert rep["hardware"]["layers"][0]["bit_planes"] == 8
    assert fc1[0]["busy_s"] == pytest.approx(80 * 3 * 8 * (512 // 16) * (1.66e-9 + 8 * 2e-9), rel=1e-9)
    for k, v in rep0["energy"]["by_component"].items():
        if k != "leakage":  # leakage follows the (shorter) time
            assert rep["energy"]["by_component"][k] == v, k
    assert same_predictions(out0, out)


def test_fewer_rows_per_read_mean_more_conversions_same_predictions(base, tmp_path):
    rep0, out0 = base
    rep, out = run(tmp_path, "rpr", MLP, 40, 3, ARCH + "array.rows_per_read=8")
    assert rep["hardware"]["rows_per_read"] == 8
    assert rep0["hardware"]["rows_per_read"] == 16
    c, c0 = rep["hardware"]["counts"], rep0["hardware"]["counts"]
    assert c["adc_conversions"] > c0["adc_conversions"]
    # Twice the groups of every layer: twice the reads and conversions (every fan-in is a multiple of 16).
    assert c["adc_conversions"] == 2 * c0["adc_conversions"]
    assert c["sa_decisions"] == 0  # every layer's fan-in exceeds 8: all partial sums go through ADCs
    assert same_predictions(out0, out)  # the default ADC resolution is exact for 8 rows (4 bits)


def test_two_phase_cell_halves_the_cell_area_same_predictions(base, tmp_path):
    rep0, out0 = base
    rep, out = run(tmp_path, "1t1", MLP, 40, 3, ARCH + "array.cell=two_phase_1t1mtj")
    assert rep["hardware"]["cell"] == "two_phase_1t1mtj"
    a, a0 = rep["area"]["by_component_mm2"], rep0["area"]["by_component_mm2"]
    assert a["arrays"] == pytest.approx(a0["arrays"] / 2, rel=1e-12)
    assert rep["hardware"]["counts"]["sa_decisions"] == 0
    assert rep["hardware"]["counts"]["array_reads"] == 2 * rep0["hardware"]["counts"]["array_reads"]
    assert same_predictions(out0, out)


def test_replication_splits_conv_positions(tmp_path):
    rep1, out1 = run(tmp_path, "r1", CNN, 6, 2)
    rep4, out4 = run(tmp_path, "r4", CNN, 6, 2, ARCH + "mapping.replicate=4")
    checked = 0
    for l1, l4 in zip(rep1["hardware"]["layers"], rep4["hardware"]["layers"]):
        assert l4["replicas"] == min(4, l1["positions"])
        assert l4["arrays"] == l4["replicas"] * l1["arrays"]
        if l1["kind"] == "conv" and l1["sensing"] == "sa":  # pure reads: time per position
            per_copy = -(-l1["positions"] // 4)
            assert l4["latency_per_sample_s"] == pytest.approx(
                l1["latency_per_sample_s"] * per_copy / l1["positions"], rel=1e-9)
            checked += 1
        if l1["kind"] == "conv" and l1["sensing"] == "adc":
            # The digital periphery is not copied; the arrays are: the copies' reads add up to the
            # original's, and the busiest copy reads ceil(P / 4) of the P positions.
            b1 = [t["busy_s"] for t in rep1["hardware"]["tiles"] if t["layer"] == l1["name"]]
            b4 = [t["busy_s"] for t in rep4["hardware"]["tiles"] if t["layer"] == l1["name"]]
            assert len(b4) == 4 * len(b1)
            assert sum(b4) == pytest.approx(sum(b1), rel=1e-9)
            assert max(b4) == pytest.approx(max(b1) * -(-l1["positions"] // 4) / l1["positions"], rel=1e-9)
            checked += 1
    assert checked >= 2  # both conv layers (conv1 on the SA path, conv2 on the ADC path at 16 rows per read)
    assert rep4["latency"]["per_inference_s"] < rep1["latency"]["per_inference_s"]
    assert rep4["energy"]["programming_J"] > rep1["energy"]["programming_J"]
    assert rep4["area"]["total_mm2"] > rep1["area"]["total_mm2"]
    assert same_predictions(out1, out4)


def test_write_verify_removes_write_errors_that_cost_accuracy(tmp_path):
    dev = "hardware.device.faults.write_error_rate=0.2"
    bad, _ = run(tmp_path, "wer", MLP, 100, 2, dev, "data.ood=null")
    good, _ = run(tmp_path, "wv", MLP, 100, 2, dev, "data.ood=null", ARCH + "programming.write_verify=true",
                  ARCH + "programming.max_attempts=20")
    clean, _ = run(tmp_path, "clean", MLP, 100, 2, "data.ood=null")
    cb, cg = bad["hardware"]["counts"], good["hardware"]["counts"]
    mtjs = cb["programming_write_pulses"]  # one pulse each without verify
    assert cb["programming_write_errors"] == pytest.approx(0.2 * mtjs, rel=0.05)
    assert cg["programming_write_errors"] == 0  # 0.2^20 per MTJ
    assert cg["programming_write_pulses"] == pytest.approx(mtjs / 0.8, rel=0.02)  # geometric mean 1 / (1 - e)
    assert cg["programming_verify_reads"] == cg["programming_write_pulses"]
    assert good["metrics"]["id"]["accuracy"] == clean["metrics"]["id"]["accuracy"]
    assert bad["metrics"]["id"]["accuracy"] < clean["metrics"]["id"]["accuracy"] - 0.05
    assert good["latency"]["programming_s"] > bad["latency"]["programming_s"]


def test_read_disturb_counts_are_the_same_with_two_workers(tmp_path):
    sets = ("hardware.device.faults.read_disturb_rate=1e-4", "data.ood=null")
    r1, o1 = run(tmp_path, "j1", MLP, 30, 3, *sets, jobs=1)
    r2, o2 = run(tmp_path, "j2", MLP, 30, 3, *sets, jobs=2)
    n = r1["hardware"]["counts"]["read_disturbs"]
    assert n > 0 and n == r2["hardware"]["counts"]["read_disturbs"]
    assert same_predictions(o1, o2)
    # Each disturb is repaired by one AP write pulse from the 0.8 V write supply: V_w I_w t_w (W1).
    assert r1["energy"]["by_component"]["read_disturb"] == pytest.approx(n * 0.8 * 80e-6 * 10e-9, rel=1e-12)


def test_pipelined_timing_is_the_same_with_two_workers(tmp_path):
    sets = (ARCH + "mapping.pipeline_samples=true", ARCH + "mapping.replicate=2")
    r1, o1 = run(tmp_path, "j1", CNN, 9, 3, *sets, jobs=1)
    r2, o2 = run(tmp_path, "j2", CNN, 9, 3, *sets, jobs=2)
    for r in (r1, r2):
        r.pop("wall_s"), r.pop("timing"), r["config"]["output"].pop("dir")
    assert r1 == r2
    assert same_predictions(o1, o2)


def test_analog_reports_are_the_same_with_three_workers(tmp_path):
    """Device variation with the shipped bitline wire (IR drop, calibrated references): the analog
    read energy is an integer count of 10 aJ units, so splitting the images over workers changes no
    byte of the report (a floating-point sum would change in its last bits with the split)."""
    sets = ("hardware.device.variation.r_p_sigma_log=0.05",)
    r1, o1 = run(tmp_path, "j1", MLP, 31, 3, *sets, jobs=1)
    r3, o3 = run(tmp_path, "j3", MLP, 31, 3, *sets, jobs=3)
    for r in (r1, r3):
        r.pop("wall_s"), r.pop("timing"), r["config"]["output"].pop("dir")
    assert r1["energy"]["by_component"]["crossbar_read"] > 0
    assert json.dumps(r1, sort_keys=True) == json.dumps(r3, sort_keys=True)
    assert same_predictions(o1, o3)


def test_reused_analog_reads_equal_fresh_sums(tmp_path):
    """With device variation, reads that repeat an earlier read of the image reuse its currents.
    A read-disturb rate too small ever to fire turns that reuse off (the devices could change), so
    the two runs compare cached against freshly summed currents: the same predictions and the same
    read energy, to the last bit."""
    var = ("hardware.device.variation.r_p_sigma_log=0.1", "hardware.architecture.sense_amp.offset_sigma_uA=2")
    for config in (MLP, CNN_SPATIAL):
        cached, oc = run(tmp_path, "c" + os.path.basename(config), config, 12, 3, *var)
        fresh, of = run(tmp_path, "f" + os.path.basename(config), config, 12, 3, *var,
                        "hardware.device.faults.read_disturb_rate=1e-300")
        assert fresh["hardware"]["counts"]["read_disturbs"] == 0
        assert same_predictions(oc, of)
        assert cached["energy"]["by_component"]["crossbar_read"] == fresh["energy"]["by_component"]["crossbar_read"]
        # The fresh run takes the per-column sum (conductance_sum) and converts every current; the
        # cached one the all-columns kernel (AVX-512 where the CPU has it) and the cached codes.
        assert cached["energy"]["by_component"] == fresh["energy"]["by_component"]
        assert cached["hardware"]["counts"]["adc_conversions"] == fresh["hardware"]["counts"]["adc_conversions"]


def test_memory_estimate_counts_replicas_and_the_analog_cache(tmp_path):
    """The refusal message lists the arrays it counted: the same number the run maps (replicas
    included), and analog runs add their conductances and read cache."""
    import re
    def tiles(*sets):
        args = ["validate", CNN, "--max-memory", "1K"]
        for s in sets:
            args += ["--set", s]
        p = run_sim(*args, check=False)
        assert p.returncode == 1, p.stderr
        m = re.search(r"crossbar tiles \((\d+) arrays of [^)]*\) ([0-9.]+) (KiB|MiB|GiB)", p.stderr)
        assert m, p.stderr
        return int(m.group(1)), float(m.group(2)) * {"KiB": 1, "MiB": 1024, "GiB": 1024 ** 2}[m.group(3)]
    rep1, _ = run(tmp_path, "r1", CNN, 2, 1)
    rep4, _ = run(tmp_path, "r4", CNN, 2, 1, ARCH + "mapping.replicate=4")
    n1, kib1 = tiles()
    n4, kib4 = tiles(ARCH + "mapping.replicate=4")
    assert (n1, n4) == (rep1["hardware"]["arrays"], rep4["hardware"]["arrays"])
    assert kib4 > kib1
    na, kiba = tiles("hardware.device.variation.r_p_sigma_log=0.1")
    assert na == n1 and kiba > kib1 + n1 * 2 * 8 * 512 * 128 / 1024 * 0.99  # two doubles per cell at least


def test_a_vcd_window_changes_no_number(base, tmp_path):
    """Traced images bypass the reuse shortcuts (their signals must be written); the images after
    the window use them again. Energies, counts, latencies and predictions stay as without a VCD."""
    rep0, out0 = base
    rep, out = run(tmp_path, "vcd", MLP, 40, 3, "trace.images=2", "trace.vcd=" + str(tmp_path / "w.vcd"))
    assert (tmp_path / "w.vcd").exists()
    assert same_predictions(out0, out)
    for key in ("energy", "latency", "hardware"):
        assert rep[key] == rep0[key], key


def test_operating_point_follows_the_read_voltage(tmp_path):
    """hardware.operating_point and the summary, by hand from eq. X0 and OP1-OP4 at V_read = 0.22 V
    (0.15 V over the access transistor, so 0.07 V across the 3 kOhm / 6 kOhm MTJ)."""
    out = tmp_path / "op"
    p = run_sim("run", MLP, "--limit", "5", "--set", "mc.samples=1", "--set", "hardware.device.read_voltage_V=0.22",
                "--out", str(out))
    op = read_report(out)["hardware"]["operating_point"]
    i_p, i_ap = 0.07 / 3000, 0.07 / 6000
    assert op["cell_voltage_V"] == pytest.approx(0.07, rel=1e-12)
    assert op["cell_read_current_A"]["p"] == pytest.approx(i_p, rel=1e-12)
    assert op["cell_read_current_A"]["ap"] == pytest.approx(i_ap, rel=1e-12)
    assert op["read_to_write_current_ratio"] == pytest.approx(i_p / 80e-6, rel=1e-12)
    assert op["bitline_current_max_A"] == pytest.approx(16 * i_p, rel=1e-12)  # 16 rows per read, all P
    assert op["lsb_current_A"] == pytest.approx(i_p - i_ap, rel=1e-12)
    assert op["sense_margin_V"] == pytest.approx((i_p - i_ap) / 2 * 4000, rel=1e-12)  # 4 kOhm transimpedance
    # 11.7 mV < 25 mV: possible, but the SA would not resolve it: a warning in the report and the log.
    assert len(op["warnings"]) == 1 and "sense margin" in op["warnings"][0]
    assert "sense margin" in p.stderr
    assert "23.33 uA / 11.67 uA (0.29)" in p.stdout
