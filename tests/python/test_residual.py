"""Residual connections (issue 22, item 4): Bi-Real/ReActNet-style binary networks, an Add of a
conv branch's BatchNorm output and a shortcut of ±1 activations before the sign; identity
shortcuts (of the layer's own input, Bi-Real, and of the block input two convs back, ResNet) and
the downsampling shortcut AveragePool 2x2 + Concat of two copies (ReActNet). The simulator's
logits equal an independent numpy evaluation of the same ONNX file (tests/python/onnx_numpy.py),
without and with every dropout kind; the shortcut's buffer, its additions, their latency and area
match counts derived here from the definitions in docs/hardware.md; graphs the importer cannot map
get one error naming the node."""

import math
import os

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

from onnx_numpy import numpy_graph
from test_qonnx import mnist_images, regenerated, run_sim, N


class Builder:
    """A binary CNN on 1x28x28 MNIST in ONNX (bayescim convention, or QONNX BipolarQuant activations)."""

    def __init__(self, seed=5, act="where"):
        self.rng = np.random.default_rng(seed)
        self.act = act
        self.inits, self.nodes = [], []
        self.const("thr", 0.5)
        self.const("one", 1.0)
        self.const("minus_one", -1.0)
        self.const("zero", 0.0)
        self.nodes += [helper.make_node("GreaterOrEqual", ["input", "thr"], ["in.ge"], name="in.ge"),
                       helper.make_node("Where", ["in.ge", "one", "minus_one"], ["x0"], name="in.sign")]
        self.cur, self.c, self.h = "x0", 1, 28

    def const(self, name, v):
        self.inits.append(numpy_helper.from_array(np.asarray(v, dtype=np.float32), name))

    def sign(self, name):
        if self.act == "bipolar":
            self.nodes.append(helper.make_node("BipolarQuant", [self.cur, "one"], [f"{name}.y"], name=f"{name}.act",
                                               domain="qonnx.custom_op.general"))
        else:
            self.nodes += [helper.make_node("GreaterOrEqual", [self.cur, "zero"], [f"{name}.ge"], name=f"{name}.ge"),
                           helper.make_node("Where", [f"{name}.ge", "one", "minus_one"], [f"{name}.y"], name=f"{name}.act")]
        self.cur = f"{name}.y"
        return self.cur

    def conv(self, name, out, stride=1, shortcut=None, gamma=(0.3, 1.0)):
        """3x3 conv, BatchNorm, [Add shortcut], sign. Returns the ±1 output's name."""
        x, fan = self.cur, self.c * 9
        self.const(f"{name}.w", self.rng.choice([-1.0, 1.0], size=(out, self.c, 3, 3)))
        self.const(f"{name}.g", self.rng.uniform(*gamma, out))
        self.const(f"{name}.b", self.rng.normal(0, 0.2, out))
        self.const(f"{name}.m", self.rng.normal(0, 0.5 * np.sqrt(fan), out))
        self.const(f"{name}.v", np.full(out, float(fan)))
        self.nodes += [helper.make_node("Conv", [x, f"{name}.w"], [f"{name}.a"], name=name, kernel_shape=[3, 3],
                                        pads=[1, 1, 1, 1], strides=[stride, stride]),
                       helper.make_node("BatchNormalization", [f"{name}.a"] + [f"{name}.{k}" for k in "gbmv"],
                                        [f"{name}.z"], name=f"{name}.bn", epsilon=1e-5)]
        self.cur = f"{name}.z"
        self.c, self.h = out, (self.h + 2 - 3) // stride + 1
        if shortcut is not None:
            self.nodes.append(helper.make_node("Add", [self.cur, shortcut], [f"{name}.sum"], name=f"{name}.add"))
            self.cur = f"{name}.sum"
        return self.sign(name)

    def pool_shortcut(self, src, name, copies=2):
        """ReActNet's downsampling shortcut: AveragePool 2x2, then Concat of `copies` copies (channels)."""
        self.nodes.append(helper.make_node("AveragePool", [src], [f"{name}.avg"], name=f"{name}.avg",
                                           kernel_shape=[2, 2], strides=[2, 2]))
        if copies == 1:
            return f"{name}.avg"
        self.nodes.append(helper.make_node("Concat", [f"{name}.avg"] * copies, [f"{name}.cat"], name=f"{name}.cat",
                                           axis=1))
        return f"{name}.cat"

    def maxpool(self, k=2):
        self.nodes.append(helper.make_node("MaxPool", [self.cur], [f"{self.cur}.p"], name=f"{self.cur}.pool",
                                           kernel_shape=[k, k], strides=[k, k]))
        self.cur, self.h = f"{self.cur}.p", self.h // k
        return self.cur

    def finish(self, path, classes=10):
        self.nodes.append(helper.make_node("Flatten", [self.cur], ["flat"], name="flatten", axis=1))
        width = self.c * self.h * self.h
        self.const("fc.w", self.rng.choice([-1.0, 1.0], size=(width, classes)))
        self.const("fc.g", np.full(classes, 1.0 / np.sqrt(width)))
        self.const("fc.b", np.zeros(classes))
        self.const("fc.m", np.zeros(classes))
        self.const("fc.v", np.ones(classes))
        self.nodes += [helper.make_node("MatMul", ["flat", "fc.w"], ["fc.a"], name="fc"),
                       helper.make_node("BatchNormalization", ["fc.a", "fc.g", "fc.b", "fc.m", "fc.v"], ["logits"],
                                        name="fc.bn", epsilon=0.0)]
        graph = helper.make_graph(self.nodes, "residual", [helper.make_tensor_value_info("input", TensorProto.FLOAT,
                                                                                         ["N", 1, 28, 28])],
                                  [helper.make_tensor_value_info("logits", TensorProto.FLOAT, ["N", classes])],
                                  self.inits)
        model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13),
                                                        helper.make_opsetid("qonnx.custom_op.general", 1)])
        model.ir_version = 7
        onnx.save(model, str(path))
        return model


def resnet(path, act="where", shortcuts=True, seed=5):
    """conv1 (8ch) + max-pool; conv2 Bi-Real (shortcut: its own input); conv3, conv4 a ResNet basic
    block (conv4's shortcut: conv3's input); conv5 stride 2 to 16 channels (shortcut: AveragePool of
    its input, two copies); fc."""
    b = Builder(seed, act)
    b.conv("conv1", 8)
    x1 = b.maxpool()
    x2 = b.conv("conv2", 8, shortcut=x1 if shortcuts else None)
    b.conv("conv3", 8)
    x4 = b.conv("conv4", 8, shortcut=x2 if shortcuts else None)
    sc = b.pool_shortcut(x4, "down") if shortcuts else None
    b.conv("conv5", 16, stride=2, shortcut=sc)
    return b.finish(path)


@pytest.mark.parametrize("act", ["where", "bipolar"])
def test_residual_cnn_matches_numpy(tmp_path, act):
    om = resnet(tmp_path / "r.onnx", act)
    images = mnist_images()
    want = numpy_graph(om, images)
    rep, _, got = run_sim(tmp_path / "r.onnx", tmp_path / "out", "--set", "mc.samples=1")
    np.testing.assert_allclose(got, want, atol=1e-4)
    # The shortcuts change the result (so the comparison above sees them).
    plain = numpy_graph(resnet(tmp_path / "p.onnx", act, shortcuts=False), images)
    assert np.abs(plain - want).max() > 0.1
    shortcuts = {l["name"]: l.get("shortcut") for l in rep["hardware"]["layers"]}
    assert shortcuts == {"conv1": None, "conv2": {"input_of": "conv2", "pool": 1, "channels": 8},
                         "conv3": None, "conv4": {"input_of": "conv3", "pool": 1, "channels": 8},
                         "conv5": {"input_of": "conv5", "pool": 2, "channels": 8}, "fc": None}


def test_a_residual_layer_takes_the_adc_path(tmp_path):
    """A 1-channel conv (fan-in 9, within one 16-row read) is sensed by SAs, unless it has a shortcut:
    then its multi-bit pre-activation goes through the ADC to be joined with the shortcut digitally."""
    sensing = {}
    for shortcut in (False, True):
        b = Builder()
        x = b.conv("conv1", 1)
        b.conv("conv2", 1, shortcut=x if shortcut else None)
        path = tmp_path / f"m{shortcut}.onnx"
        om = b.finish(path)
        rep, _, got = run_sim(path, tmp_path / f"out{shortcut}", "--set", "mc.samples=1")
        np.testing.assert_allclose(got, numpy_graph(om, mnist_images()), atol=1e-4)
        sensing[shortcut] = {l["name"]: l["sensing"] for l in rep["hardware"]["layers"]}
    assert sensing[False]["conv2"] == "sa" and sensing[True]["conv2"] == "adc"


@pytest.mark.parametrize("kind,layout", [("scale", None), ("spatial", None), ("mc_dropout", "element-wise")])
def test_residual_cnn_with_dropout_from_config(tmp_path, kind, layout):
    """Dropout gates the conv branch only (its wordlines or its scale); the shortcut reads the undropped
    activations. numpy applies the simulator's draws (regenerated with rng.py) to the conv inputs."""
    om = resnet(tmp_path / "r.onnx")
    T = 2
    extra = ["--set", f"mc.samples={T}", "--set", f"model.dropout.kind={kind}", "--set", "model.dropout.p=0.4",
             "--set", "model.dropout.dropped_value=0"]
    if layout:
        extra += ["--set", f"model.dropout.layout={layout}"]
    rep, _, got = run_sim(tmp_path / "r.onnx", tmp_path / "out", *extra)
    images = mnist_images()
    if kind == "mc_dropout":  # element-wise: one draw per input element of each conv, shared by its windows
        want = regenerated_elementwise(rep, om, images, T)
    else:
        want, counts = regenerated(rep, om, kind, images, T)
        assert counts == ([1] * 6 if kind == "scale" else [0, 8, 8, 8, 8, 0])
    np.testing.assert_allclose(got, want, atol=1e-4)
    assert np.abs(got[0::T] - got[1::T]).max() > 0  # the samples differ


def regenerated_elementwise(rep, om, images, samples):
    from models import rng
    names = [n.name for n in om.graph.node if n.op_type in ("MatMul", "Conv")]
    dropped = rep["model"]["dropout"]["layers"]
    shapes = {}
    numpy_graph(om, images[:1], pre={n: (lambda nm: lambda x: shapes.__setitem__(nm, x.shape[1:]) or x)(n)
                                     for n in names})
    counts = [int(np.prod(shapes[n])) if n in dropped else 0 for n in names]
    assert counts[0] == 0 and counts[1] == 8 * 14 * 14
    offsets = np.concatenate([[0], np.cumsum(counts)])
    p = float(rep["hardware"]["dropout_p_realised"])
    out = []
    for i in range(len(images)):
        keys = rng.image_key(np.zeros(samples, dtype=np.uint64), np.full(samples, i, dtype=np.uint64))
        draws = rng.dropout_draws(rep["seed"], keys, np.arange(samples, dtype=np.uint64), int(offsets[-1]), p)
        for t in range(samples):
            pre = {}
            for k, n in enumerate(names):
                if counts[k]:
                    keep = (~draws[t, offsets[k]:offsets[k + 1]]).astype(np.float32).reshape((1,) + shapes[n])
                    pre[n] = (lambda m: lambda x: x * m)(keep)
            out.append(numpy_graph(om, images[i:i + 1], pre)[0])
    return np.array(out)


def test_shortcut_costs_by_hand(tmp_path):
    """Counts of one MC sample of one image, derived from the definitions (docs/hardware.md):
    - shortcut buffer: only a shortcut that outlives its layer's ping-pong buffer is copied: conv4's
      (the block input x2, conv3's input: 8 x 14 x 14 bits); conv2 reads its own input and conv5
      reads conv5's input, both still in the activation buffer;
    - shortcut adds: per output of a residual layer one add (conv2, conv4: 8 x 14 x 14 each; conv5:
      16 x 7 x 7), plus conv5's 2x2 window sums: 3 adds per source channel (8) and position (7 x 7);
    - digital cycles of a residual layer (one column tile, one row tile here): per position one
      cycle for the add, plus 2 cycles (adder tree depth of 4 inputs) for conv5's window;
    - area: buffer capacity 8 x 14 x 14 bits x 0.15 um^2, adders: the widest residual layer (16) x 4 um^2."""
    resnet(tmp_path / "r.onnx")
    rep, _, _ = run_sim(tmp_path / "r.onnx", tmp_path / "out", "--set", "mc.samples=1")
    images = 2 * N  # ID and OOD
    buffer_bits = 8 * 14 * 14
    adds = 8 * 14 * 14 + 8 * 14 * 14 + 16 * 7 * 7 + 3 * 8 * 7 * 7
    counts = rep["hardware"]["counts"]
    assert counts["shortcut_bits"] == images * buffer_bits
    assert counts["shortcut_adds"] == images * adds
    # energy: a buffer bit 10 fJ, an add 50 fJ (configs/architectures/stt_cim_512x128.yaml)
    assert rep["energy"]["by_component"]["shortcut"] == pytest.approx(images * (buffer_bits * 10e-15 + adds * 50e-15),
                                                                      rel=1e-9)
    area = rep["area"]["by_component_mm2"]
    assert area["shortcut_buffer"] == pytest.approx(buffer_bits * 0.15e-6, rel=1e-9)
    assert area["shortcut_adders"] == pytest.approx(16 * 4.0e-6, rel=1e-9)
    # latency: halving the digital clock adds the periphery's cycles once more. conv5 (7 x 7 positions,
    # one row tile, no bit planes): per position one BN cycle, one add, two for the 4-input window sum.
    # The clocked timing model also rounds each array phase and dropout request up to the clock
    # (docs/hardware.md, Timing model), so these runs take whole-ns array phases (2 ns reads, 2 ns
    # conversions: a multiple of both periods) and no dropout (no draws, no arbitration cycle).
    whole = ["--set", "mc.samples=1", "--set", "model.dropout.kind=none",
             "--set", "hardware.architecture.read_pulse_ns=2"]
    rep, _, _ = run_sim(tmp_path / "r.onnx", tmp_path / "fast", *whole)
    slow, _, _ = run_sim(tmp_path / "r.onnx", tmp_path / "slow", *whole,
                         "--set", "hardware.architecture.digital.clock_GHz=0.5")

    # The interconnect runs on the same clock, so each layer's output transfer (eq. N1: one cycle
    # of arbitration + ceil(bits / 128) on the shipped 128-bit bus, one bit per +-1 output) also
    # takes its cycles once more: conv5 16 x 7 x 7 outputs, conv2 8 x 14 x 14.
    def layer_s(r, name):
        return next(l for l in r["hardware"]["layers"] if l["name"] == name)["latency_per_sample_s"]
    bus = lambda bits: 1 + math.ceil(bits / 128)
    assert layer_s(slow, "conv5") - layer_s(rep, "conv5") == pytest.approx(
        (7 * 7 * (1 + 1 + 2) + bus(16 * 7 * 7)) * 1e-9, rel=1e-6)
    assert layer_s(slow, "conv2") - layer_s(rep, "conv2") == pytest.approx(
        (14 * 14 * (1 + 1) + bus(8 * 14 * 14)) * 1e-9, rel=1e-6)


def test_reference_engine_equals_the_hardware_bit_for_bit(tmp_path):
    """Three ways: the simulated hardware, the software reference executor (experiment.engine=reference)
    and numpy agree on a residual network with scale dropout."""
    om = resnet(tmp_path / "r.onnx", seed=8)
    common = ["--set", "mc.samples=2", "--set", "model.dropout.kind=scale", "--set", "model.dropout.p=0.5"]
    _, hw_rows, hw = run_sim(tmp_path / "r.onnx", tmp_path / "hw", *common)
    _, ref_rows, ref = run_sim(tmp_path / "r.onnx", tmp_path / "ref", *common, "--set", "experiment.engine=reference")
    assert [r["bits"] for r in hw_rows] == [r["bits"] for r in ref_rows]
    np.testing.assert_array_equal(hw, ref)
    rep = {"seed": 1, "model": {"dropout": {"layers": ["conv1", "conv2", "conv3", "conv4", "conv5", "fc"],
                                            "dropped_value": 1.0}},
           "hardware": {"dropout_p_realised": 0.5}}
    want, _ = regenerated(rep, om, "scale", mnist_images(), 2)
    np.testing.assert_allclose(hw, want, atol=1e-4)


def test_a_plain_network_reports_no_shortcut_costs(tmp_path):
    resnet(tmp_path / "p.onnx", shortcuts=False)
    rep, _, _ = run_sim(tmp_path / "p.onnx", tmp_path / "out", "--set", "mc.samples=1")
    assert "shortcut_adds" not in rep["hardware"]["counts"]
    assert "shortcut_buffer" not in rep["area"]["by_component_mm2"]
    assert "shortcut" not in rep["energy"]["by_component"]


def edit(om, fn):
    m = onnx.ModelProto()
    m.CopyFrom(om)
    fn(m.graph)
    return m


def one_error(tmp_path, om):
    path = tmp_path / "bad.onnx"
    onnx.save(om, str(path))
    p = run_sim(path, tmp_path / "out", check=False)
    assert p.returncode == 1, p.stderr
    lines = [l for l in p.stderr.splitlines() if l.strip()]
    assert len(lines) == 1, p.stderr
    assert str(path) in lines[0]
    assert not os.path.exists(tmp_path / "out" / "report.json")
    return lines[0]


def test_an_add_with_mismatched_shapes_names_the_node(tmp_path):
    """conv5's shortcut without the Concat: 8 channels against 16."""
    b = Builder()
    b.conv("conv1", 8)
    b.maxpool()
    x = b.conv("conv2", 8)
    b.conv("conv5", 16, stride=2, shortcut=b.pool_shortcut(x, "down", copies=1))
    line = one_error(tmp_path, b.finish(tmp_path / "m.onnx"))
    assert "node 'conv5.add' (Add): shapes differ: the shortcut gives 8x7x7, the layer 'conv5' 16x7x7" in line


def test_an_add_that_is_no_residual_join_names_the_node(tmp_path):
    """An Add of two BatchNorm outputs (a real-valued shortcut): not a ±1 shortcut."""
    om = resnet(tmp_path / "r.onnx")

    def real_shortcut(g):
        for n in g.node:
            if n.name == "conv4.add":
                n.input[1] = "conv3.z"  # conv3's BatchNorm output, before its sign
    line = one_error(tmp_path, edit(om, real_shortcut))
    assert "node 'conv4.add' (Add): an Add of two computed values" in line
    assert "a real-valued or multi-bit shortcut is not supported" in line


def test_a_projection_shortcut_is_refused_by_node(tmp_path):
    """A 1x1 conv on the block input (Bi-Real's real-valued projection) is a second branch off the chain."""
    b = Builder()
    b.conv("conv1", 8)
    x = b.maxpool()
    b.const("proj.w", np.ones((8, 8, 1, 1)))
    b.nodes.append(helper.make_node("Conv", [x, "proj.w"], ["proj.a"], name="proj", kernel_shape=[1, 1]))
    b.conv("conv2", 8, shortcut="proj.a")
    line = one_error(tmp_path, b.finish(tmp_path / "m.onnx"))
    assert "node 'conv2' (Conv)" in line and "expected a linear chain" in line
