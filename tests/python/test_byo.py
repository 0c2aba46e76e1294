"""Bring your own model: a sign-activated BNN exported with plain torch.onnx.export, and a
QONNX-style graph (BipolarQuant / Quant), load and run in the simulator; its logits equal an
independent evaluation, and MC dropout of any kind can then be added from the config."""

import csv
import io
import os

import numpy as np
import onnx
import pytest
import torch
import torch.nn as nn
from onnx import TensorProto, helper, numpy_helper

from models import datasets
from tests.harness import DATA_DIR, REPO_ROOT, read_report, run_sim

CONFIG = os.path.join(REPO_ROOT, "configs", "experiments", "mnist_mlp_scale.yaml")
N = 40


def run_model(model, out, *extra):
    run_sim("run", CONFIG, "--set", f"model.path={model}", "--limit", str(N), "--samples-csv",
            "--quiet", "--out", str(out), *extra)
    rep = read_report(out)
    with open(os.path.join(out, "samples.csv")) as f:
        rows = [r for r in csv.DictReader(f) if r["split"] == "id"]
    return rep, rows


def mnist_inputs():
    images, _, _ = datasets.load(DATA_DIR, "mnist", "test")
    return images[:N].reshape(N, -1).astype(np.float32) / 255.0


class TorchBnn(nn.Module):
    """A sign-activated BNN as someone else would write it (torch.sign everywhere, a Gemm bias)."""

    def __init__(self):
        super().__init__()
        g = torch.Generator().manual_seed(4)
        self.fc1 = nn.Linear(784, 48, bias=False)
        self.bn1 = nn.BatchNorm1d(48)
        self.fc2 = nn.Linear(48, 10)
        self.bn2 = nn.BatchNorm1d(10)
        with torch.no_grad():
            for m in (self.fc1, self.fc2):
                m.weight.copy_(torch.randn(m.weight.shape, generator=g))
            self.fc2.bias.copy_(torch.randn(10, generator=g))
            for bn, n in ((self.bn1, 48), (self.bn2, 10)):
                bn.running_mean.copy_(torch.randn(n, generator=g) * 3)
                bn.running_var.copy_(torch.rand(n, generator=g) * 20 + 5)
                bn.weight.copy_(torch.randn(n, generator=g))
                bn.bias.copy_(torch.randn(n, generator=g) * 0.1)

    def forward(self, x):
        x = torch.sign(x - 0.5)
        x = torch.sign(self.bn1(nn.functional.linear(x, torch.sign(self.fc1.weight))))
        return self.bn2(nn.functional.linear(x, torch.sign(self.fc2.weight), self.fc2.bias))


def test_plain_torch_onnx_export_runs_and_matches_torch(tmp_path):
    model = TorchBnn().eval()
    path = tmp_path / "torch_bnn.onnx"
    f = io.BytesIO()
    torch.onnx.export(model, torch.rand(1, 784), f, opset_version=13, input_names=["x"], output_names=["y"],
                      dynamic_axes={"x": {0: "n"}})
    path.write_bytes(f.getvalue())
    ops = {n.op_type for n in onnx.load(str(path)).graph.node}
    assert {"Sign", "Gemm", "BatchNormalization"} <= ops  # really the exporter's own style
    x = mnist_inputs()
    with torch.no_grad():
        want = model(torch.from_numpy(x)).numpy()
    for engine in ("hw", "reference"):
        rep, rows = run_model(path, tmp_path / engine, "--set", "mc.samples=1", "--set", f"experiment.engine={engine}")
        got = np.array([[float(r[f"logit{c}"]) for c in range(10)] for r in rows])
        np.testing.assert_allclose(got, want, atol=1e-4)
        assert rep["hardware"]["dropout_modules"] == 0 and rep["hardware"]["random_bits"] == 0

    # MC dropout added from YAML: per-neuron modules on the second layer's 48 inputs.
    layer = [n.name for n in onnx.load(str(path)).graph.node if n.op_type == "Gemm"][0]
    rep, rows = run_model(path, tmp_path / "mc", "--set", "mc.samples=3", "--set", "model.dropout.kind=mc_dropout",
                        "--set", "model.dropout.p=0.3")
    assert rep["model"]["dropout"]["layers"] == [layer]
    assert rep["hardware"]["dropout_modules"] == 48
    assert rep["hardware"]["random_bits"] == 2 * N * 3 * 48
    logits = np.array([[float(r[f"logit{c}"]) for c in range(10)] for r in rows]).reshape(N, 3, 10)
    assert np.abs(logits[:, 0] - logits[:, 1]).max() > 0  # the samples differ


def test_qonnx_bipolar_quant_graph_runs_and_matches_numpy(tmp_path):
    rng = np.random.default_rng(7)
    w1 = rng.normal(size=(784, 32)).astype(np.float32)           # BipolarQuant -> sign, 0 -> +1
    w2 = (rng.choice([-1, 1], size=(32, 10)) * rng.uniform(0.6, 1.4, size=(32, 10))).astype(np.float32)
    bn = lambda n, s: [numpy_helper.from_array(a.astype(np.float32), f"{s}.{k}") for k, a in
                       zip(["g", "b", "m", "v"], [rng.normal(size=n), rng.normal(size=n) * 0.1,
                                                  rng.normal(size=n) * 3, rng.uniform(5, 25, size=n)])]
    inits = [numpy_helper.from_array(np.array(0.5, np.float32), "half"),
             numpy_helper.from_array(np.array(1.0, np.float32), "one"),
             numpy_helper.from_array(np.array(0.0, np.float32), "zero"),
             numpy_helper.from_array(np.array(2.0, np.float32), "two"),
             numpy_helper.from_array(w1, "w1"), numpy_helper.from_array(w2, "w2")] + bn(32, "bn1") + bn(10, "bn2")
    dom = "qonnx.custom_op.general"
    nodes = [
        helper.make_node("Sub", ["x", "half"], ["xc"], name="center"),
        helper.make_node("BipolarQuant", ["xc", "one"], ["xb"], name="in_quant", domain=dom),
        helper.make_node("BipolarQuant", ["w1", "one"], ["w1b"], name="w1_quant", domain=dom),
        helper.make_node("MatMul", ["xb", "w1b"], ["a1"], name="fc1"),
        helper.make_node("BatchNormalization", ["a1", "bn1.g", "bn1.b", "bn1.m", "bn1.v"], ["z1"], name="bn1"),
        helper.make_node("BipolarQuant", ["z1", "one"], ["h1"], name="act1", domain=dom),
        helper.make_node("Quant", ["w2", "one", "zero", "two"], ["w2q"], name="w2_quant", domain=dom,
                         signed=1, narrow=1, rounding_mode="ROUND"),
        helper.make_node("MatMul", ["h1", "w2q"], ["a2"], name="fc2"),
        helper.make_node("BatchNormalization", ["a2", "bn2.g", "bn2.b", "bn2.m", "bn2.v"], ["y"], name="bn2"),
    ]
    g = helper.make_graph(nodes, "qonnx_bnn", [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["n", 784])],
                          [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["n", 10])], inits)
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 13), helper.make_opsetid(dom, 1)])
    path = tmp_path / "qonnx.onnx"
    onnx.save(m, str(path))

    # Independent numpy evaluation of the same graph (BipolarQuant: x >= 0 -> +1).
    p = {i.name: numpy_helper.to_array(i) for i in inits}
    bnf = lambda a, s: (a - p[f"{s}.m"]) / np.sqrt(p[f"{s}.v"] + 1e-5) * p[f"{s}.g"] + p[f"{s}.b"]
    x = mnist_inputs().astype(np.float64)
    xb = np.where(x - 0.5 >= 0, 1.0, -1.0)
    h1 = np.where(bnf(xb @ np.where(w1 >= 0, 1.0, -1.0), "bn1") >= 0, 1.0, -1.0)
    want = bnf(h1 @ np.sign(w2), "bn2")
    rep, rows = run_model(path, tmp_path / "q", "--set", "mc.samples=1")
    got = np.array([[float(r[f"logit{c}"]) for c in range(10)] for r in rows])
    np.testing.assert_allclose(got, want, atol=1e-4)
    # Scale-Dropout needs no scale vector in the file: alpha defaults to 1, so the draws are inert
    # with dropped value 1, and with 0 they zero the layer.
    rep, rows = run_model(path, tmp_path / "s", "--set", "mc.samples=2", "--set", "model.dropout.kind=scale",
                        "--set", "model.dropout.dropped_value=0", "--set", "model.dropout.p=1")
    got = np.array([[float(r[f"logit{c}"]) for c in range(10)] for r in rows])
    np.testing.assert_allclose(got, np.tile(bnf(np.zeros((1, 10)), "bn2"), (2 * N, 1)), atol=1e-5)
    assert rep["hardware"]["stochastic_units"] == 1
