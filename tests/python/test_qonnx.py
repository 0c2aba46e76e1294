"""QONNX/Brevitas exports as they come (scripts/qonnx_export.py writes them with torch.onnx.export and
the exporter's idioms, random weights): they load unchanged, and the simulator's ideal-mode logits
equal an independent numpy evaluation of the same file, with no dropout and with every dropout kind
added from the config (the draws regenerated with rng.py, as parity.py does). A 2-bit network is
refused with one error naming the node and its bit width."""

import csv
import os

import numpy as np
import onnx
import pytest
from onnx import numpy_helper

from onnx_numpy import numpy_graph

from models import datasets
from models import rng
from scripts import qonnx_export
from tests.harness import CONFIG, DATA_DIR, read_report, run_sim as run_bayescim
N = 12


def write_model(path, topology="mlp", opset=9, domain="onnx.brevitas", quant_op="bipolar", seed=3, **bits):
    model = qonnx_export.BrevitasStyleNet(topology, hidden=(32, 24), channels=(4, 8), quant_op=quant_op, **bits)
    path.write_bytes(qonnx_export.export(model.randomize(seed), opset, domain))
    return onnx.load(str(path))


def run_sim(model, out, *extra, check=True):
    p = run_bayescim("run", CONFIG, "--set", f"model.path={model}", "--limit", str(N), "--samples-csv",
                     "--quiet", "--out", str(out), *extra, check=False, timeout=300)
    if not check:
        return p
    assert p.returncode == 0, p.stderr
    rep = read_report(out)
    with open(os.path.join(out, "samples.csv")) as f:
        rows = [r for r in csv.DictReader(f) if r["split"] == "id"]
    logits = np.array([[float(r[f"logit{c}"]) for c in range(10)] for r in rows])
    return rep, rows, logits


def mnist_images():
    images, _, _ = datasets.load(DATA_DIR, "mnist", "test")
    return images[:N].reshape(N, 1, 28, 28).astype(np.float32) / np.float32(255.0)


def layers_of(om):
    """The binary layers' names (MatMul / Conv nodes), in order."""
    return [n.name for n in om.graph.node if n.op_type in ("MatMul", "Conv")]


def test_export_has_the_brevitas_idioms(tmp_path):
    """The generator really writes what the issue lists, so the tests below exercise those idioms."""
    for opset in (9, 13):
        om = write_model(tmp_path / f"m{opset}.onnx", opset=opset)
        g = om.graph
        ops = [n.op_type for n in g.node]
        assert ops[ops.index("Shape"):ops.index("Reshape") + 1] == \
            (["Shape", "Constant", "Gather", "Unsqueeze", "Constant", "Concat", "Reshape"] if opset == 9 else
             ["Shape", "Constant", "Gather", "Constant", "Unsqueeze", "Constant", "Concat", "Reshape"])
        unsq = [n for n in g.node if n.op_type == "Unsqueeze"][0]
        assert (len(unsq.input), [a.name for a in unsq.attribute]) == ((1, ["axes"]) if opset == 9 else (2, []))
        consts = [n.attribute[0].t for n in g.node if n.op_type == "Constant"]
        assert onnx.TensorProto.INT64 in [t.data_type for t in consts]
        assert ops[ops.index("Reshape") + 1:ops.index("Reshape") + 5] == ["Constant", "Mul", "Constant", "Sub"]
        assert ops[-6:] == ["Sub", "Constant", "Pow", "Div", "Mul", "Add"]
        assert {n.domain for n in g.node if n.op_type == "BipolarQuant"} == {"onnx.brevitas"}
        mm = [n for n in g.node if n.op_type == "MatMul"]
        producers = {n.output[0]: n for n in g.node}
        for n in mm:
            t = producers[n.input[1]]
            assert t.op_type == "Transpose" and producers[t.input[0]].op_type == "BipolarQuant"
        assert all(any(a.name == "momentum" for a in n.attribute) for n in g.node if n.op_type == "BatchNormalization")
        assert len(g.input) == len(g.initializer) + 1  # every initializer also a graph input
        assert [d.dim_value for d in g.input[0].type.tensor_type.shape.dim] == [1, 1, 28, 28]


@pytest.mark.parametrize("opset,domain,quant_op", [(9, "onnx.brevitas", "bipolar"),
                                                   (13, "qonnx.custom_op.general", "bipolar"),
                                                   (13, "qonnx.custom_op.general", "quant")])
def test_brevitas_style_mlp_matches_numpy(tmp_path, opset, domain, quant_op):
    om = write_model(tmp_path / "m.onnx", opset=opset, domain=domain, quant_op=quant_op)
    quant_ops = {n.op_type for n in om.graph.node if n.domain == domain}
    assert quant_ops == ({"BipolarQuant"} if quant_op == "bipolar" else {"Quant"})
    want = numpy_graph(om, mnist_images())
    rep, _, got = run_sim(tmp_path / "m.onnx", tmp_path / "out", "--set", "mc.samples=1")
    np.testing.assert_allclose(got, want, atol=1e-4)
    assert [l["rows"] for l in rep["hardware"]["layers"]] == [784, 32, 24]
    assert rep["hardware"]["random_bits"] == 0


def regenerated(rep, om, kind, images, samples):
    """numpy logits [N * T, 10] of every (image, sample) row with the simulator's draws applied."""
    names = layers_of(om)
    dropped = rep["model"]["dropout"]["layers"]
    assert dropped and set(dropped) <= set(names)
    d_value = float(rep["model"]["dropout"].get("dropped_value", 1.0))
    p = float(rep["hardware"]["dropout_p_realised"])
    inputs = {}  # fan-in / channels of each layer, from a dry run
    numpy_graph(om, images[:1], pre={n: (lambda nm: lambda x: inputs.__setitem__(nm, x.shape) or x)(n) for n in names})
    counts = []
    for n in names:
        if n not in dropped:
            counts.append(0)
        elif kind == "scale":
            counts.append(1)
        elif kind == "spatial":
            counts.append(inputs[n][1])
        else:
            counts.append(inputs[n][1])  # dense mc_dropout: one draw per input element
    offsets = np.concatenate([[0], np.cumsum(counts)])
    out = []
    for i in range(len(images)):
        keys = rng.image_key(np.array([0] * samples, dtype=np.uint64), np.array([i] * samples, dtype=np.uint64))
        draws = rng.dropout_draws(rep["seed"], keys, np.arange(samples, dtype=np.uint64), int(offsets[-1]), p)
        for t in range(samples):
            pre, post = {}, {}
            for k, n in enumerate(names):
                d = draws[t, offsets[k]:offsets[k + 1]]
                if not counts[k]:
                    continue
                if kind == "scale":
                    if d[0]:
                        post[n] = lambda y: (y * np.float32(d_value)).astype(np.float32)
                elif kind == "spatial":
                    keep = (~d).astype(np.float32)[None, :, None, None]
                    pre[n] = (lambda m: lambda x: x * m)(keep)
                else:
                    keep = (~d).astype(np.float32)[None, :]
                    pre[n] = (lambda m: lambda x: x * m)(keep)
            out.append(numpy_graph(om, images[i:i + 1], pre, post)[0])
    return np.array(out), counts


@pytest.mark.parametrize("kind", ["mc_dropout", "scale"])
def test_dropout_from_config_on_a_brevitas_style_mlp(tmp_path, kind):
    om = write_model(tmp_path / "m.onnx", opset=13)
    T = 3
    extra = ["--set", f"mc.samples={T}", "--set", f"model.dropout.kind={kind}", "--set", "model.dropout.p=0.3"]
    if kind == "scale":
        extra += ["--set", "model.dropout.dropped_value=0"]
    rep, _, got = run_sim(tmp_path / "m.onnx", tmp_path / "out", *extra)
    want, counts = regenerated(rep, om, kind, mnist_images(), T)
    np.testing.assert_allclose(got, want, atol=1e-4)
    per_image = got.reshape(N, T, 10)
    assert np.abs(per_image[:, 0] - per_image[:, 1]).max() > 0  # the samples differ
    if kind == "mc_dropout":
        assert counts == [0, 32, 24]  # every layer but the first, one module per input row
        assert rep["hardware"]["dropout_modules"] == 56
    else:
        assert counts == [1, 1, 1]
        assert rep["hardware"]["stochastic_units"] == 1
    assert rep["hardware"]["random_bits"] == 2 * N * T * sum(counts)  # ID and OOD images


def test_brevitas_style_cnn_with_every_dropout_kind(tmp_path):
    """Conv(x, BipolarQuant(W)) with group=1, MaxPool with ceil_mode, flatten by Shape/Reshape after a conv."""
    om = write_model(tmp_path / "c.onnx", topology="cnn", opset=13, domain="qonnx.custom_op.general")
    assert {"Conv", "MaxPool", "Shape", "Reshape"} <= {n.op_type for n in om.graph.node}
    images = mnist_images()
    rep, _, got = run_sim(tmp_path / "c.onnx", tmp_path / "none", "--set", "mc.samples=1")
    np.testing.assert_allclose(got, numpy_graph(om, images), atol=1e-4)
    assert [l["kind"] for l in rep["hardware"]["layers"]] == ["conv", "conv", "dense", "dense", "dense"]
    T = 2
    for kind in ("spatial", "scale"):
        rep, _, got = run_sim(tmp_path / "c.onnx", tmp_path / kind, "--set", f"mc.samples={T}", "--set",
                              f"model.dropout.kind={kind}", "--set", "model.dropout.p=0.5",
                              "--set", "model.dropout.dropped_value=0")
        want, counts = regenerated(rep, om, kind, images, T)
        np.testing.assert_allclose(got, want, atol=1e-4)
        assert counts == ([0, 4, 0, 0, 0] if kind == "spatial" else [1] * 5)
    # Per-neuron MC dropout on a conv is per im2col element (positions x fan-in): counted, and the samples differ.
    rep, _, got = run_sim(tmp_path / "c.onnx", tmp_path / "mc", "--set", f"mc.samples={T}", "--set",
                          "model.dropout.kind=mc_dropout", "--set", "model.dropout.p=0.3")
    assert rep["hardware"]["random_bits"] == 2 * N * T * (24 * 24 * 4 * 9 + 8 * 12 * 12 + 32 + 24)
    assert np.abs(got[0::T] - got[1::T]).max() > 0


@pytest.mark.parametrize("bits,where", [({"weight_bits": 2}, "weights quantised to 2 bits (signed) are not binary"),
                                        ({"act_bits": 2}, "activations quantised to 2 bits are not binary")])
def test_a_two_bit_network_is_refused_by_node_and_bit_width(tmp_path, bits, where):
    om = write_model(tmp_path / "q2.onnx", opset=13, domain="qonnx.custom_op.general", **bits)
    values = {t.name: numpy_helper.to_array(t) for t in om.graph.initializer}
    for n in om.graph.node:  # torch shares equal initializers through Identity nodes
        if n.op_type == "Identity" and n.input[0] in values:
            values[n.output[0]] = values[n.input[0]]
    quants = [n for n in om.graph.node if n.op_type == "Quant"]
    assert quants and all(values[n.input[3]] == 2 for n in quants)  # the bit width is an input tensor
    first = quants[0].name  # the first 2-bit node in graph order: the one named
    p = run_sim(tmp_path / "q2.onnx", tmp_path / "out", check=False)
    assert p.returncode == 1, p.stderr
    lines = [l for l in p.stderr.splitlines() if l.strip()]
    assert len(lines) == 1, p.stderr
    assert f"{tmp_path / 'q2.onnx'}: node '{first}' (Quant): {where}" in lines[0]
    assert not os.path.exists(tmp_path / "out" / "report.json")


@pytest.mark.parametrize("topology", ["mlp", "cnn"])
def test_an_eight_bit_input_quant_is_read_bit_serially(tmp_path, topology):
    """An unsigned 8-bit input Quant with scale 1/255 (Brevitas' QuantIdentity): the simulator reads
    the pixels bit-serially (8 planes), keeps the scale on the first layer, and its ideal-mode
    logits equal the numpy evaluation of the same file, which convolves the dequantised values."""
    om = write_model(tmp_path / "m.onnx", topology=topology, domain="qonnx.custom_op.general", input_bits=8)
    q = [n for n in om.graph.node if n.op_type == "Quant"]
    assert len(q) == 1 and {a.name: a.i for a in q[0].attribute if a.name != "rounding_mode"} == {"signed": 0, "narrow": 0}
    want = numpy_graph(om, mnist_images())
    rep, _, got = run_sim(tmp_path / "m.onnx", tmp_path / "out", "--set", "mc.samples=1")
    assert rep["model"]["input_bits"] == 8
    assert rep["hardware"]["layers"][0]["bit_planes"] == 8 and rep["hardware"]["layers"][0]["sensing"] == "adc"
    np.testing.assert_allclose(got, want, atol=1e-3)
