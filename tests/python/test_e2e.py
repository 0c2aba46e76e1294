"""End-to-end tests of the `bayescim` executable: training smoke run, three-way parity
(PyTorch / reference executor / SystemC) on the same dropout bits, the report contract checked
against an independent recomputation from predictions.csv, determinism, and error handling."""

import csv
import math
import os
import struct

import numpy as np
import pytest

from tests.harness import DATA_DIR, PY, REPO_ROOT, read_report, run, run_sim

CONFIG = os.path.join(REPO_ROOT, "configs", "experiments", "mnist_mlp_scale.yaml")
SHIPPED = os.path.join(REPO_ROOT, "models", "pretrained", "mnist_mlp_scale.onnx")


@pytest.fixture(scope="session")
def tiny_model(tmp_path_factory):
    """A tiny training run (hidden 64, 150 steps) exported to ONNX: the training smoke test."""
    out = tmp_path_factory.mktemp("tiny") / "tiny.onnx"
    p = run([PY, "-m", "models.train", "--method", "scale", "--hidden", "64",
             "--max-steps", "150", "--train-limit", "6000", "--eval-limit", "200", "--eval-T", "5",
             "--seed", "3", "--out", str(out), "--quiet"])
    assert p.returncode == 0, p.stderr
    return str(out)


def test_tiny_training_run_exports_a_model_the_simulator_runs(tiny_model, tmp_path):
    out = tmp_path / "run"
    run_sim("run", CONFIG, "--set", f"model.path={tiny_model}", "--limit", "100", "--set", "mc.samples=4",
            "--out", str(out), "--quiet")
    rep = read_report(out)
    assert rep["metrics"]["id"]["images"] == 100
    assert rep["metrics"]["id"]["accuracy"] > 0.5  # chance is 0.1
    assert rep["hardware"]["random_bits"] == 200 * 4 * 3


@pytest.mark.parametrize("which", ["tiny", "shipped"])
def test_three_way_parity_on_the_same_dropout_bits(which, tiny_model, tmp_path):
    model = tiny_model if which == "tiny" else SHIPPED
    assert os.path.exists(model), f"{model} missing"
    common = ["--set", f"model.path={model}", "--limit", "150", "--set", "mc.samples=6", "--samples-csv", "--quiet"]
    run_sim("run", CONFIG, *common, "--out", str(tmp_path / "hw"))
    run_sim("run", CONFIG, *common, "--out", str(tmp_path / "ref"), "--set", "experiment.engine=reference")
    hw = (tmp_path / "hw" / "samples.csv").read_bytes()
    ref = (tmp_path / "ref" / "samples.csv").read_bytes()
    assert hw == ref, "SystemC simulation and reference executor disagree"
    rows = hw.decode().splitlines()[1:]
    assert len(rows) == 300 * 6
    assert any(r.split(",")[3] != "000" for r in rows), "no dropout bit was ever 1"
    from models import parity
    res = parity.run(model, str(tmp_path / "hw" / "samples.csv"), DATA_DIR, atol=1e-3)
    assert res.passed, res.summary()
    assert res.argmax_mismatches == 0


def entropy(p):
    p = np.asarray(p, dtype=np.float64)
    nz = p[p > 0]
    return float(-(nz * np.log(nz)).sum())


def test_report_contract_matches_an_independent_recomputation(tmp_path):
    out = tmp_path / "r"
    run_sim("run", CONFIG, "--limit", "200", "--set", "mc.samples=5", "--out", str(out), "--quiet")
    rep = read_report(out)
    for k in ["accuracy", "nll", "ece", "brier", "entropy_mean", "mi_mean"]:
        assert k in rep["metrics"]["id"]
    for k in ["auroc_entropy", "auroc_mi", "aupr_entropy", "fpr95_entropy"]:
        assert k in rep["metrics"]["ood"]
    for k in ["total_J", "per_inference_J", "by_component"]:
        assert k in rep["energy"]
    for k in ["per_inference_s", "per_sample_s"]:
        assert k in rep["latency"]
    for k in ["arrays", "stochastic_units", "dropout_modules", "random_bits"]:
        assert k in rep["hardware"]
    assert rep["mc_samples"] == 5 and rep["seed"] == 1 and "wall_s" in rep and rep["config"]["mc"]["samples"] == 5

    with open(out / "predictions.csv") as f:
        rows = list(csv.DictReader(f))
    assert len(rows) == 400
    ids = [r for r in rows if r["split"] == "id"]
    C = 10
    correct, ent_ood, ent_id = 0, [], []
    for r in rows:
        p = [float(r[f"p{c}"]) for c in range(C)]
        assert abs(sum(p) - 1) < 1e-6
        assert int(r["pred"]) == int(np.argmax(p))
        assert abs(entropy(p) - float(r["entropy"])) < 1e-6
        (ent_id if r["split"] == "id" else ent_ood).append(float(r["entropy"]))
        if r["split"] == "id":
            correct += int(r["pred"]) == int(r["label"])
    assert rep["metrics"]["id"]["accuracy"] == pytest.approx(correct / len(ids), abs=1e-12)
    assert rep["metrics"]["id"]["entropy_mean"] == pytest.approx(np.mean(ent_id), abs=1e-6)
    # AUROC by brute-force pair counting, OOD positive.
    a, b = np.array(ent_id), np.array(ent_ood)
    auroc = ((b[:, None] > a[None, :]).sum() + 0.5 * (b[:, None] == a[None, :]).sum()) / (len(a) * len(b))
    assert rep["metrics"]["ood"]["auroc_entropy"] == pytest.approx(auroc, abs=1e-6)

    e = rep["energy"]
    assert e["total_J"] == pytest.approx(sum(e["by_component"].values()), rel=1e-12)
    assert e["per_inference_J"] == pytest.approx(e["total_J"] / 400, rel=1e-12)
    assert rep["latency"]["per_inference_s"] == pytest.approx(5 * rep["latency"]["per_sample_s"], rel=1e-9)
    hw = rep["hardware"]
    assert hw["stochastic_units"] == 1 and hw["dropout_modules"] == 1
    assert hw["random_bits"] == 400 * 5 * 3
    assert hw["arrays"] == sum(l["arrays"] for l in hw["layers"])
    # Per-layer array energies add up to the arrays' components, and layers.csv lists them.
    comp = e["per_inference_by_component"]
    # The tiles also add their read groups' codes: a tile of r rows, read rows_per_read at a time,
    # adds ceil(r / rows_per_read) - 1 codes per neuron per read (fan-ins 784 = 512 + 272, 512, 512
    # on 512-row arrays; a bit-serial first layer reads each of its bit_planes once), at the
    # architecture's energy per addition.
    arch = rep["config"]["hardware"]["architecture"]
    rpr, rows = hw["rows_per_read"], hw["array_rows"]
    adds = 0
    for l in hw["layers"]:
        tiles = [min(rows, l["rows"] - k) for k in range(0, l["rows"], rows)]
        adds += sum(-(-r // rpr) - 1 for r in tiles) * l["columns"] * l["bit_planes"]
    tile_add_J = adds * rep["mc_samples"] * arch["digital"]["add_energy_fJ"] * 1e-15
    assert adds > 0
    assert sum(l["array_energy_per_inference_J"] for l in hw["layers"]) == pytest.approx(
        comp["crossbar_read"] + comp["sense_amp"] + comp["adc"] + comp["drivers"] + comp["read_disturb"] + tile_add_J,
        rel=1e-12)
    with open(out / "layers.csv") as f:
        rows = list(csv.DictReader(f))
    assert [r["name"] for r in rows] == [l["name"] for l in hw["layers"]]
    assert [int(r["random_bits_per_sample"]) for r in rows] == [1, 1, 1]


def test_same_seed_same_report_and_another_seed_other_bits(tmp_path):
    args = ["--limit", "60", "--set", "mc.samples=4", "--samples-csv", "--quiet"]
    for name, seed in [("a", 1), ("b", 1), ("c", 2)]:
        run_sim("run", CONFIG, *args, "--set", f"experiment.seed={seed}", "--out", str(tmp_path / name))
    ra, rb = read_report(tmp_path / "a"), read_report(tmp_path / "b")
    for r in (ra, rb):
        r.pop("wall_s")
        r.pop("timing")
        r["config"]["output"].pop("dir", None)
    assert ra == rb
    assert (tmp_path / "a" / "samples.csv").read_bytes() == (tmp_path / "b" / "samples.csv").read_bytes()
    assert (tmp_path / "a" / "samples.csv").read_bytes() != (tmp_path / "c" / "samples.csv").read_bytes()


def test_zero_dropout_gives_zero_mutual_information_and_no_bits_set(tmp_path):
    run_sim("run", CONFIG, "--limit", "50", "--set", "mc.samples=3", "--set", "model.dropout.p=0",
            "--out", str(tmp_path / "p0"), "--quiet")
    rep = read_report(tmp_path / "p0")
    assert rep["metrics"]["id"]["mi_mean"] == pytest.approx(0.0, abs=1e-12)
    assert rep["energy"]["by_component"]["dropout_rng"] > 0  # the unit still draws (all zeros)


@pytest.mark.parametrize("args,needle", [
    (["--set", "mc.samplez=5"], "unknown key 'mc.samplez'"),
    (["--set", "mc.samples=0"], "mc.samples"),
    (["--set", "experiment.engine=gpu"], "hw, reference"),
    (["--set", "hardware.device.tmr=abc"], "hardware.device.tmr"),
    (["--set", "model.dropout.layers=fc9"], "fc9"),
    (["--set", f"model.path={REPO_ROOT}/models/pretrained/mnist_mlp_none.onnx", "--set", "model.dropout.kind=scale"],
     "key 'model.dropout.p': required when adding dropout"),
])
def test_bad_config_values_fail_with_a_readable_error_and_no_output(args, needle, tmp_path):
    out = tmp_path / "bad"
    p = run_sim("run", CONFIG, *args, "--limit", "5", "--out", str(out), check=False)
    assert p.returncode == 1, p.stderr
    assert needle in p.stderr
    assert p.stderr.count("error") == 1
    assert not (out / "report.json").exists()


def test_corrupt_model_and_wrong_shape_dataset_are_input_errors(tmp_path):
    bad = tmp_path / "bad.onnx"
    bad.write_bytes(os.urandom(4096))
    p = run_sim("run", CONFIG, "--set", f"model.path={bad}", "--limit", "5", "--out", str(tmp_path / "o1"),
                check=False)
    assert p.returncode == 1 and str(bad) in p.stderr and "ONNX" in p.stderr and "model.path" in p.stderr, p.stderr
    d = tmp_path / "small"
    d.mkdir()
    with open(d / "t10k-images-idx3-ubyte", "wb") as f:
        f.write(struct.pack(">IIII", 0x803, 2, 10, 10) + bytes(200))
    with open(d / "t10k-labels-idx1-ubyte", "wb") as f:
        f.write(struct.pack(">II", 0x801, 2) + bytes(2))
    p = run_sim("run", CONFIG, "--set", f"data.id.dir={d}", "--limit", "5", "--out", str(tmp_path / "o2"),
                check=False)
    assert p.returncode == 1 and "t10k-images-idx3-ubyte" in p.stderr and "784" in p.stderr, p.stderr
    assert not (tmp_path / "o2" / "report.json").exists()


def test_usage_errors_exit_2():
    p = run_sim("run", check=False)
    assert p.returncode == 2 and "usage" in p.stderr
    p = run_sim("frobnicate", CONFIG, check=False)
    assert p.returncode == 2 and "unknown command" in p.stderr
    p = run_sim("run", CONFIG, "--limit", "x", check=False)
    assert p.returncode == 2 and "--limit" in p.stderr


@pytest.mark.parametrize("engine", ["hw", "reference"])
def test_worker_processes_give_the_same_report(engine, tmp_path):
    args = ["--limit", "90", "--set", "mc.samples=3", "--samples-csv", "--quiet", "--set",
            f"experiment.engine={engine}"]
    reports = {}
    for jobs in (1, 3):
        out = tmp_path / f"j{jobs}"
        run_sim("run", CONFIG, *args, "--jobs", str(jobs), "--out", str(out))
        rep = read_report(out)
        assert rep["timing"]["workers"] == jobs
        rep.pop("wall_s"), rep.pop("timing"), rep["config"]["output"].pop("dir")
        reports[jobs] = rep
        assert not [f for f in os.listdir(out) if f.startswith(".worker")]
    assert reports[1] == reports[3]
    for f in ("samples.csv", "predictions.csv"):
        assert (tmp_path / "j1" / f).read_bytes() == (tmp_path / "j3" / f).read_bytes()


def test_accuracy_falls_as_device_variation_grows(tmp_path):
    """Averaged over two seeds, the shipped MLP's accuracy does not rise as sigma(ln R_P) grows,
    and the largest sigma costs accuracy. (The references are trimmed to the population's mean
    conductance, eq. X4, so the spread acts as noise, not as a bias: 0.2 costs about 2 points,
    0.4 about 40.)"""
    acc = {}
    for sigma in (0.0, 0.2, 0.4):
        vals = []
        for seed in (1, 2):
            out = tmp_path / f"s{sigma}_{seed}"
            run_sim("run", CONFIG, "--limit", "150", "--set", "mc.samples=2", "--set", f"experiment.seed={seed}",
                    "--set", f"hardware.device.variation.r_p_sigma_log={sigma}", "--set", "data.ood=null",
                    "--jobs", "2", "--quiet", "--out", str(out))
            vals.append(read_report(out)["metrics"]["id"]["accuracy"])
        acc[sigma] = sum(vals) / 2
    assert acc[0.0] >= acc[0.2] >= acc[0.4]
    assert acc[0.4] < acc[0.0] - 0.05


def test_fewer_adc_bits_cost_less_energy(tmp_path):
    e, n = {}, {}
    for bits in (0, 3):
        out = tmp_path / f"b{bits}"
        run_sim("run", CONFIG, "--limit", "60", "--set", "mc.samples=2", "--set",
                f"hardware.architecture.adc.bits={bits}", "--quiet", "--out", str(out))
        r = read_report(out)
        e[bits] = r["energy"]["per_inference_by_component"]["adc"]
        n[bits] = r["hardware"]["counts"]["adc_conversions"]
        adc = r["config"]["hardware"]["architecture"]["adc"]
    assert n[0] == n[3] > 0  # the same conversions
    # Exact for 16 rows per read: the smallest b with 2^b >= 17, 5 bits. Per conversion (eq. E3) the
    # floor plus FoM * 2^b, and one sample-and-hold.
    exact = next(b for b in range(1, 16) if 2 ** b >= r["hardware"]["rows_per_read"] + 1)
    assert exact == 5
    per = {b: adc["conversion_floor_fJ"] + adc["fom_fJ_per_step"] * 2 ** b + adc["sample_hold_fJ"] for b in (exact, 3)}
    assert e[0] / e[3] == pytest.approx(per[exact] / per[3], rel=1e-12)


def test_validate_checks_the_model_and_its_dropout_layers():
    p = run_sim("validate", CONFIG, check=False)
    assert p.returncode == 0 and "valid" in p.stdout
    p = run_sim("validate", CONFIG, "--set", "model.dropout.layers=fc9", check=False)
    assert p.returncode == 1 and "'fc9' is not a layer of the model" in p.stderr
    p = run_sim("validate", CONFIG, "--set", "model.path=/nonexistent.onnx", check=False)
    assert p.returncode == 1 and "key 'model.path'" in p.stderr
