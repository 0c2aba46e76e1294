"""The timing model (hw/timing/timing_model.h, docs/hardware.md "Timing model") through the CLI:
contention that a config adds changes the latency by what a schedule worked out here by hand
predicts, and the report names the stall. The hand schedules use the documented equations (T2:
a read, then the busiest ADC's min(cols, columns_per_adc) conversions; every array phase ends on
a clock edge; the shared dropout unit serves one bit at a time) and the config's values."""

import math
import os

import pytest
import yaml

from tests.harness import REPO_ROOT, read_report, run_sim

MLP_NONE = os.path.join(REPO_ROOT, "configs", "experiments", "mnist_mlp_none.yaml")
MLP_SCALE = os.path.join(REPO_ROOT, "configs", "experiments", "mnist_mlp_scale.yaml")
ARCH_FILE = os.path.join(REPO_ROOT, "configs", "architectures", "stt_cim_512x128.yaml")
ADC = "hardware.architecture.adc.columns_per_adc"


def run(tmp_path, name, config, samples, *sets, limit=2):
    out = tmp_path / name
    args = ["run", config, "--limit", str(limit), "--set", f"mc.samples={samples}", "--quiet", "--out", str(out)]
    for s in sets:
        args += ["--set", s]
    run_sim(*args, timeout=300)
    return read_report(out)


def array_phase_ns(rep, cpa):
    """Per MC sample, each layer's array phase by eq. T2 on the 1 ns clock: the slowest array reads
    bit_planes x ceil(min(fan-in, array rows) / rows_per_read) times, each a read pulse plus
    min(columns, array columns, columns_per_adc) conversions, and the phase ends on a clock edge."""
    with open(ARCH_FILE) as f:
        arch = yaml.safe_load(f)
    rows, cols, rpr = arch["array"]["rows"], arch["array"]["cols"], arch["array"]["rows_per_read"]
    t_read, t_adc = arch["read_pulse_ns"], arch["adc"]["latency_ns"]
    assert arch["digital"]["clock_GHz"] == 1
    out = []
    for l in rep["hardware"]["layers"]:
        assert l["sensing"] == "adc" and l["positions"] == 1
        reads = l["bit_planes"] * math.ceil(min(l["rows"], rows) / rpr)
        conversions = min(l["columns"], cols, cpa)
        out.append(math.ceil(round(reads * (t_read + conversions * t_adc), 6)))
    return out


@pytest.fixture(scope="module")
def adc_runs(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("adc")
    return {cpa: run(tmp, f"cpa{cpa}", MLP_NONE, 2, f"{ADC}={cpa}") for cpa in (1, 8, 128)}


@pytest.mark.parametrize("cpa", [1, 128])
def test_columns_per_adc_moves_the_latency_by_the_hand_schedule(adc_runs, cpa):
    """No dropout, no pipelining: a sample's time is the sum of its layers' array phases and
    digital cycles; only the array phases depend on columns_per_adc."""
    base, rep = adc_runs[8], adc_runs[cpa]
    want_ns = sum(array_phase_ns(rep, cpa)) - sum(array_phase_ns(base, 8))
    got_ns = (rep["latency"]["per_sample_s"] - base["latency"]["per_sample_s"]) * 1e9
    assert got_ns == pytest.approx(want_ns, abs=1e-6)


def test_the_adc_stall_is_named_and_is_the_conversions(adc_runs):
    """The read engine waits for the ADC bank: per sample and layer, the array phase minus its
    read pulses (reads x t_read), all of cause adc."""
    with open(ARCH_FILE) as f:
        arch = yaml.safe_load(f)
    for cpa, rep in adc_runs.items():
        samples = rep["latency"]["inference_time_s"] / rep["latency"]["per_sample_s"]
        reads = [l["bit_planes"] * math.ceil(min(l["rows"], 512) / 16) for l in rep["hardware"]["layers"]]
        want = sum(p - n * arch["read_pulse_ns"] for p, n in zip(array_phase_ns(rep, cpa), reads))
        stalls = rep["latency"]["stalls_s"]
        assert stalls["adc"] / samples * 1e9 == pytest.approx(want, abs=1e-6)
        assert stalls["dropout"] == 0 and stalls["buffer"] == 0
        adc = {r["name"]: r for r in rep["resources"] if r["kind"] == "adc"}
        assert set(adc) == {l["name"] + ".adc" for l in rep["hardware"]["layers"]}
        # The read engines also wait for their transfers over the interconnect (the only other cause).
        assert stalls["interconnect"] > 0
        arrays = [r for r in rep["resources"] if r["kind"] == "array"]
        assert sum(r["stall_s"] for r in arrays) == pytest.approx(stalls["adc"] + stalls["interconnect"], rel=1e-12)


@pytest.mark.parametrize("cpa,adc_ns", [(8, None), (1, 0.5)])
def test_overlapping_reads_with_conversions_follows_eq_t2_prime(tmp_path, cpa, adc_ns):
    """adc.overlap_reads: the next read's pulse runs while the ADCs convert the previous read's
    held columns, so n reads of conversions c each take t_r + (n - 1) max(t_r, c) + c (eq. T2')
    instead of n (t_r + c) (eq. T2), each phase ending on the 1 ns clock. 8 columns per ADC:
    c = 16 ns > t_r, the conversions set the pace; 1 column per ADC at 0.5 ns: c < t_r, the
    reads do. Nothing else moves (no dropout, no pipelining), and the read engines wait for the
    ADC for what the reads do not hide."""
    with open(ARCH_FILE) as f:
        arch = yaml.safe_load(f)
    t_r = arch["read_pulse_ns"]
    t_adc = adc_ns if adc_ns is not None else arch["adc"]["latency_ns"]
    sets = [f"{ADC}={cpa}"] + ([f"hardware.architecture.adc.latency_ns={adc_ns}"] if adc_ns is not None else [])
    base = run(tmp_path, "t2", MLP_NONE, 2, *sets, limit=1)
    ovl = run(tmp_path, "t2p", MLP_NONE, 2, *sets, "hardware.architecture.adc.overlap_reads=true", limit=1)
    rows, cols, rpr = arch["array"]["rows"], arch["array"]["cols"], arch["array"]["rows_per_read"]
    t2, t2p, hidden = [], [], []
    for l in base["hardware"]["layers"]:
        n = l["bit_planes"] * math.ceil(min(l["rows"], rows) / rpr)
        c = min(l["columns"], cols, cpa) * t_adc
        t2.append(math.ceil(round(n * (t_r + c), 6)))
        t2p.append(math.ceil(round(t_r + (n - 1) * max(t_r, c) + c, 6)))
        hidden.append(n * t_r)
    assert t2p != t2
    got = (ovl["latency"]["per_sample_s"] - base["latency"]["per_sample_s"]) * 1e9
    assert got == pytest.approx(sum(t2p) - sum(t2), abs=1e-6)
    samples = ovl["latency"]["inference_time_s"] / ovl["latency"]["per_sample_s"]
    adc_stall = ovl["latency"]["stalls_s"]["adc"] / samples * 1e9
    assert adc_stall == pytest.approx(sum(p - h for p, h in zip(t2p, hidden)), abs=1e-6)


def test_done_when_128_columns_per_adc_is_at_least_1_5x_the_default(tmp_path):
    base = run(tmp_path, "default", MLP_SCALE, 2)
    slow = run(tmp_path, "cpa128", MLP_SCALE, 2, f"{ADC}=128")
    assert slow["latency"]["per_sample_s"] >= 1.5 * base["latency"]["per_sample_s"]
    assert slow["latency"]["stalls_s"]["adc"] > base["latency"]["stalls_s"]["adc"]


def bus_width():
    with open(ARCH_FILE) as f:
        return yaml.safe_load(f)["interconnect"]["bits_per_cycle"]


def transfer_ns(bits, width):
    """eq. N1, uncontended: one clock of arbitration, then ceil(bits / width) clocks (1 ns)."""
    return 1 + math.ceil(bits / width)


def test_a_one_bit_interconnect_moves_latency_and_stall_by_the_hand_schedule(tmp_path):
    """Without pipelining nothing overlaps a transfer, so narrowing the bus from the shipped
    width to 1 bit per cycle adds, per image, the difference of eq. N1 for the image (the first
    layer's rows x bit planes, once) and, per sample, for each layer's output: a hidden layer's
    +-1 activations (its columns, 1 bit each), the last layer's integer pre-activations in
    [-rows, rows] (hidden inputs are +-1), ceil(log2(2 rows + 1)) bits each."""
    T = 2
    base = run(tmp_path, "bus", MLP_SCALE, T, limit=1)
    narrow = run(tmp_path, "bus1", MLP_SCALE, T, "hardware.architecture.interconnect.bits_per_cycle=1", limit=1)
    w = bus_width()
    layers = base["hardware"]["layers"]
    image = layers[0]["rows"] * layers[0]["bit_planes"]
    outs = [l["columns"] for l in layers[:-1]] + [layers[-1]["columns"] * math.ceil(math.log2(2 * layers[-1]["rows"] + 1))]
    want_ns = transfer_ns(image, 1) - transfer_ns(image, w) + T * sum(transfer_ns(b, 1) - transfer_ns(b, w) for b in outs)
    got_ns = (narrow["latency"]["per_inference_s"] - base["latency"]["per_inference_s"]) * 1e9
    assert got_ns == pytest.approx(want_ns, abs=1e-6)
    images = base["latency"]["inference_time_s"] / base["latency"]["per_inference_s"]
    d_stall = (narrow["latency"]["stalls_s"]["interconnect"] - base["latency"]["stalls_s"]["interconnect"]) * 1e9
    assert d_stall == pytest.approx(images * want_ns, abs=1e-6)
    bus = [r for r in narrow["resources"] if r["name"] == "interconnect"][0]
    assert bus["kind"] == "interconnect"
    assert bus["busy_s"] * 1e9 == pytest.approx(images * (image + T * sum(outs)), abs=1e-6)


def bit_latency_ns(rep):
    return rep["hardware"]["dropout_bit_latency_s"] * 1e9


def test_slow_shared_dropout_unit_sets_the_pipelined_throughput(tmp_path):
    """The shared unit at 1 us per bit serves the three layers' bits of every sample (Scale-Dropout:
    one bit per layer). With pipeline_samples and one ADC per column, every layer's stage (its
    own 1 us draw, reads well under 1 us, digital) is faster than the unit's 3 us per sample, so the
    unit is the bottleneck and the steady state is one sample per 3 bits x 1 us: two more samples
    per image add exactly 2 x 3 us (the fill and drain of the window are the same)."""
    base = run(tmp_path, "bit", MLP_SCALE, 2, limit=1)
    with open(os.path.join(REPO_ROOT, "configs", "devices", "uta_stochastic_mtj.yaml")) as f:
        relax = yaml.safe_load(f)["relax_ns"]
    relax_1us = relax + 1000 - bit_latency_ns(base)  # the other phases unchanged
    sets = [f"hardware.dropout_device.relax_ns={relax_1us!r}", "hardware.architecture.mapping.pipeline_samples=true",
            f"{ADC}=1"]
    t = {}
    for n in (6, 8):
        rep = run(tmp_path, f"slow{n}", MLP_SCALE, n, *sets, limit=1)
        assert bit_latency_ns(rep) == pytest.approx(1000, abs=1e-6)
        bits = sum(l["random_bits_per_sample"] for l in rep["hardware"]["layers"])
        assert bits == 3
        images = rep["latency"]["inference_time_s"] / rep["latency"]["per_inference_s"]
        t[n] = rep["latency"]["per_inference_s"]
        unit = [r for r in rep["resources"] if r["name"] == "dropout_unit"][0]
        assert unit["busy_s"] == pytest.approx(images * n * bits * 1e-6, rel=1e-12)
        assert rep["latency"]["stalls_s"]["dropout"] > 0
        # The lower layers' stages have more than enough time: they wait for the unit.
        assert unit["busy_share"] > 0.8
    assert (t[8] - t[6]) / 2 == pytest.approx(3 * 1e-6, abs=1e-12)


def test_two_stage_pipeline_steady_state_is_the_slower_stage(tmp_path):
    """No dropout, pipeline_samples: fc1 (8 bit planes) is by far the slowest stage, so each
    further sample adds fc1's stage time (its array phase plus its digital cycles), not the sum
    of all layers; fc2 and fc3 add nothing in steady state."""
    t = {}
    reps = {}
    for n in (4, 6):
        reps[n] = run(tmp_path, f"p{n}", MLP_NONE, n, "hardware.architecture.mapping.pipeline_samples=true", limit=1)
        t[n] = reps[n]["latency"]["per_inference_s"]
    seq = run(tmp_path, "seq", MLP_NONE, 4, limit=1)
    fc1 = reps[4]["hardware"]["layers"][0]
    # fc1 never waits for a buffer (it frees in time); its time per sample also holds the image's
    # transfer over the interconnect, once per image (eq. N1: 1 + ceil(input bits / width) clocks).
    images = reps[4]["latency"]["inference_time_s"] / reps[4]["latency"]["per_inference_s"]
    image_s = (1 + math.ceil(fc1["rows"] * fc1["bit_planes"] / bus_width())) * 1e-9
    stage_fc1 = fc1["latency_per_sample_s"] - images * image_s / (images * 4)
    assert stage_fc1 * 1e9 > sum(array_phase_ns(reps[4], 8)[1:]) + 10
    assert (t[6] - t[4]) / 2 == pytest.approx(stage_fc1, rel=1e-9)
    assert t[4] < seq["latency"]["per_inference_s"]
