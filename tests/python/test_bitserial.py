"""Multi-bit first-layer input read bit-serially (issue 22, models/README.md "k-bit input",
docs/hardware.md "Multi-bit first-layer input"): the quantisation against exact rational rounding,
the exported graph against an independent numpy evaluation and PyTorch, the simulator (hw and
reference engines) against both on the same draws, and the hardware's reads, conversions, ADC
energy and first-layer latency growing linearly with k."""

import csv
import math
import os
from fractions import Fraction

import numpy as np
import onnx
import pytest
import torch

from onnx_numpy import numpy_graph

from models import datasets
from models import parity
from models.bnn import BinaryCNN, BinaryMLP, mc_forward, quantize_input
from models.onnx_export import export_onnx
from models.onnx_to_torch import onnx_to_torch
from tests.harness import CONFIG, DATA_DIR, read_report, run_sim

N = 6


def randomize(model, seed):
    """Random BN statistics, wide enough on the first layer (|a| up to in * (2^k - 1)) to keep outputs mixed."""
    g = torch.Generator().manual_seed(seed)
    levels = (1 << model.input_bits) - 1 if model.input_bits else 1
    with torch.no_grad():
        for i, layer in enumerate(model.layers()):
            layer.weight.uniform_(-1, 1, generator=g)
            spread = float(layer.fan_in) ** 0.5 * (levels / 2 if i == 0 else 1)
            layer.bn.running_mean.uniform_(-spread, spread, generator=g)
            layer.bn.running_var.uniform_(0.5 * spread ** 2, 2 * spread ** 2, generator=g)
            layer.bn.weight.uniform_(0.5, 2, generator=g)
            layer.bn.bias.uniform_(-0.5, 0.5, generator=g)
            if model.method != "none":
                layer.alpha.uniform_(0.5, 1.5, generator=g)
    return model.eval()


def cnn(bits, method="none", seed=5):
    return randomize(BinaryCNN((1, 28, 28), [(4, 3, 1, 1, 2), (8, 3, 1, 1, 2)], hidden=(16,), method=method,
                               p=0.3, input_bits=bits), seed)


def mlp(bits, seed=6):
    return randomize(BinaryMLP(784, hidden=(32,), method="none", input_bits=bits), seed)


def images():
    x, _, _ = datasets.load(DATA_DIR, "mnist", "test")
    return x[:N]


def sim_logits(out):
    with open(os.path.join(out, "samples.csv")) as f:
        rows = [r for r in csv.DictReader(f) if r["split"] == "id"]
    return np.array([[float(r[f"logit{c}"]) for c in range(10)] for r in rows]), rows


def test_quantize_input_is_the_exact_rounding_of_the_pixel_ratio():
    pixels = np.arange(256)
    x = torch.from_numpy(pixels.astype(np.float32) / np.float32(255.0))
    for k in range(1, 9):
        levels = (1 << k) - 1
        # round(p * L / 255) from exact fractions; no ties: 2 p L is even, 255 odd
        want = [int(Fraction(int(p) * levels, 255) + Fraction(1, 2)) for p in pixels]
        assert quantize_input(x, k).to(torch.int64).tolist() == want, k
    assert quantize_input(x, 8).to(torch.int64).tolist() == list(range(256))


@pytest.mark.parametrize("bits", [1, 8])
def test_export_equals_numpy_graph_and_torch(tmp_path, bits):
    model = cnn(bits)
    path = str(tmp_path / "m.onnx")
    export_onnx(model, path, dataset="mnist")
    om = onnx.load(path)
    quant = [n for n in om.graph.node if n.op_type == "Quant"]
    assert len(quant) == 1 and quant[0].domain == "qonnx.custom_op.general"
    x = datasets.to_float(images()).reshape(N, 1, 28, 28)
    want = numpy_graph(om, x)
    got = mc_forward(model, torch.from_numpy(x), None).numpy()
    np.testing.assert_allclose(got, want, rtol=0, atol=1e-4)
    rebuilt, _ = onnx_to_torch(path)
    assert rebuilt.input_bits == bits
    assert torch.equal(mc_forward(rebuilt, torch.from_numpy(x), None), mc_forward(model, torch.from_numpy(x), None))
    # the first layer's outputs are mixed, so the comparison exercises the thresholds
    first = model.conv1(model.encode(torch.from_numpy(x)))
    assert 0.1 < float((first > 0).float().mean()) < 0.9


@pytest.mark.parametrize("method", ["none", "spatial", "mc_dropout", "scale"])
def test_simulator_equals_reference_numpy_and_torch(tmp_path, method):
    model = cnn(8, method)
    path = str(tmp_path / "m.onnx")
    export_onnx(model, path, dataset="mnist")
    common = ["run", CONFIG, "--set", f"model.path={path}", "--limit", str(N), "--set", "mc.samples=2",
              "--samples-csv", "--quiet"]
    run_sim(*common, "--out", str(tmp_path / "hw"), timeout=300)
    run_sim(*common, "--set", "experiment.engine=reference", "--out", str(tmp_path / "ref"), timeout=300)
    rep = read_report(tmp_path / "hw")
    assert rep["model"]["input_bits"] == 8
    layers = rep["hardware"]["layers"]
    assert [l["bit_planes"] for l in layers] == [8, 1, 1, 1]
    assert layers[0]["sensing"] == "adc"
    assert (tmp_path / "hw" / "samples.csv").read_bytes() == (tmp_path / "ref" / "samples.csv").read_bytes()
    res = parity.run(path, str(tmp_path / "hw" / "samples.csv"), DATA_DIR, atol=1e-3)
    assert res.passed and res.argmax_mismatches == 0, res.summary()
    if method == "none":  # independent of torch: the numpy evaluation of the file itself
        logits, rows = sim_logits(tmp_path / "hw")
        x = datasets.to_float(images()).reshape(N, 1, 28, 28)
        want = numpy_graph(onnx.load(path), x)
        idx = [int(r["index"]) for r in rows]
        np.testing.assert_allclose(logits, want[idx], rtol=0, atol=1e-3)


def test_reads_conversions_energy_and_latency_grow_linearly_with_k(tmp_path):
    """fc1 (784 inputs) of an MLP 784-32-10 on 512-row arrays, 16 rows per read: per plane it
    takes ceil(512/16) + ceil(272/16) = 49 reads of its 32 columns; fc2 (32 inputs) 2 reads of 10.
    So per sample reads = 49 k + 2 and conversions = 49 k * 32 + 2 * 10, and everything fc1 costs
    (ADC energy, its latency) is k times its one-plane cost."""
    reports = {}
    for k in (1, 2, 8):
        model = mlp(k)
        path = str(tmp_path / f"m{k}.onnx")
        export_onnx(model, path, dataset="mnist")
        out = tmp_path / f"o{k}"
        run_sim("run", CONFIG, "--set", f"model.path={path}", "--limit", "3", "--set", "mc.samples=2", "--quiet",
                "--out", str(out), timeout=300)
        reports[k] = read_report(out)
    for k, rep in reports.items():
        hw = rep["hardware"]
        assert hw["array_rows"] == 512 and hw["rows_per_read"] == 16
        samples = sum(d["images"] for d in rep["data"].values()) * rep["mc_samples"]
        assert hw["counts"]["array_reads"] == samples * (49 * k + 2)
        assert hw["counts"]["adc_conversions"] == samples * (49 * k * 32 + 2 * 10)
        assert hw["counts"]["sa_decisions"] == 0
        assert rep["model"]["binary_macs_per_sample"] == 784 * 32 * k + 32 * 10
    adc = {k: r["energy"]["by_component"]["adc"] for k, r in reports.items()}
    assert adc[8] - adc[2] == pytest.approx(6 * (adc[2] - adc[1]), rel=1e-9)
    # fc1's time per sample on the 1 ns clock: its slowest array (512 rows) reads 32 k times, each
    # 1.66 ns + 8 conversions of 2 ns (eq. T2), the phase ending on a clock edge; then the digital
    # cycles: the adder tree over its 2 row tiles (depth 1) per plane read, and one shift-add or BN
    # cycle per plane (hw/engine/digital_periphery.h): 2 k cycles. Over the shipped 128-bit
    # interconnect (eq. N1: one cycle of arbitration + ceil(bits / 128)) it sends its 32 outputs
    # per sample, and receives the image's 784 k bits once per image (T = 2 samples).
    bus = lambda bits: 1 + math.ceil(bits / 128)
    lat = {k: r["hardware"]["layers"][0]["latency_per_sample_s"] for k, r in reports.items()}
    for k in lat:
        want = math.ceil(round(32 * k * (1.66 + 8 * 2), 6)) + 2 * k + bus(32) + bus(784 * k) / 2
        assert lat[k] * 1e9 == pytest.approx(want, abs=1e-6)
    fc2 = {k: r["hardware"]["layers"][1]["latency_per_sample_s"] for k, r in reports.items()}
    assert fc2[8] == pytest.approx(fc2[1], rel=1e-12)
