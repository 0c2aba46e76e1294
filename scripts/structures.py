"""Random-weight binary network structures for hardware counts, energy and latency (not accuracy):
VGG-small and ResNet-18 (with its residual shortcuts) on 32x32x3 inputs, written in the bayescim ONNX
convention (models/README.md), plus a matching synthetic idx dataset (random pixels)."""

import os
import struct
from typing import Any, List, Tuple

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

# (name, out_channels, stride, pool-after) for each 3x3 conv; "fc" entries follow the flatten.
VGG_SMALL = [("conv1", 128, 1, 0), ("conv2", 128, 1, 2), ("conv3", 256, 1, 0), ("conv4", 256, 1, 2),
             ("conv5", 512, 1, 0), ("conv6", 512, 1, 2)], [1024]
# ResNet-18's 17 conv layers (3x3; stride 2 at the first conv of stages 2-4) in 8 basic blocks of two
# convs; a 4x4 max-pool stands in for the global average pool. Each block's second conv adds a
# shortcut to its BatchNorm output before the sign (models/README.md "Residual networks"): the
# block input (±1) itself, or, where a block halves the size and doubles the channels, ReActNet's
# downsampling shortcut, AveragePool 2x2 of the block input and a Concat of two copies (not
# ResNet-18's real-valued 1x1 projection conv, which the importer does not take).
# Per conv: (name, out_channels, stride, pool-after, shortcut from the input of conv `name` or None).
RESNET18: Tuple[List[Tuple[str, int, int, int]], List[Any]] = ([("conv1", 64, 1, 0)] +
                  [(f"s1c{i}", 64, 1, 0) for i in range(1, 5)] +
                  [("s2c1", 128, 2, 0)] + [(f"s2c{i}", 128, 1, 0) for i in range(2, 5)] +
                  [("s3c1", 256, 2, 0)] + [(f"s3c{i}", 256, 1, 0) for i in range(2, 5)] +
                  [("s4c1", 512, 2, 0)] + [(f"s4c{i}", 512, 1, 0) for i in range(2, 4)] + [("s4c4", 512, 1, 4)],
                  [])
# The second conv of each block reads its shortcut from the block's first conv's input.
SHORTCUTS = {f"s{s}c{b + 1}": f"s{s}c{b}" for s in range(1, 5) for b in (1, 3)}
STRUCTURES = {"vgg_small_32": VGG_SMALL, "resnet18_32": RESNET18}


def build(name: str, seed: int = 0, classes: int = 10) -> Any:
    convs, fcs = STRUCTURES[name]
    rng = np.random.default_rng(seed)
    inits, nodes = [], []

    def const(n: str, v: Any) -> None:
        inits.append(numpy_helper.from_array(np.asarray(v, dtype=np.float32), n))

    const("input.threshold", 0.5)
    const("const.one", 1.0)
    const("const.minus_one", -1.0)
    const("const.zero", 0.0)
    nodes += [helper.make_node("GreaterOrEqual", ["input", "input.threshold"], ["input.ge"], name="input.binarize"),
              helper.make_node("Where", ["input.ge", "const.one", "const.minus_one"], ["x0"], name="input.sign")]
    cur, c, h = "x0", 3, 32
    conv_inputs = {}  # conv name -> (its ±1 input's name, channels, size)

    def tail(layer: str, n: int, fan_in: int, shape: Any, sign: bool, shortcut: Any = None) -> None:
        nonlocal cur
        const(f"{layer}.alpha", np.ones(shape, np.float32))
        const(f"{layer}.bn.gamma", rng.uniform(0.5, 1.5, n))
        const(f"{layer}.bn.beta", rng.normal(0, 0.1, n))
        const(f"{layer}.bn.mean", rng.normal(0, np.sqrt(fan_in), n))
        const(f"{layer}.bn.var", np.full(n, float(fan_in)))
        nodes.append(helper.make_node("Mul", [cur, f"{layer}.alpha"], [f"{layer}.s"], name=f"{layer}.scale"))
        nodes.append(helper.make_node("BatchNormalization", [f"{layer}.s"] + [f"{layer}.bn.{k}" for k in
                                      ("gamma", "beta", "mean", "var")], [f"{layer}.z"], name=f"{layer}.bn",
                                      epsilon=1e-5))
        cur = f"{layer}.z"
        if shortcut:
            nodes.append(helper.make_node("Add", [cur, shortcut], [f"{layer}.sum"], name=f"{layer}.add"))
            cur = f"{layer}.sum"
        if sign:
            nodes.append(helper.make_node("GreaterOrEqual", [cur, "const.zero"], [f"{layer}.ge"], name=f"{layer}.act.ge"))
            nodes.append(helper.make_node("Where", [f"{layer}.ge", "const.one", "const.minus_one"], [f"{layer}.y"],
                                          name=f"{layer}.act"))
            cur = f"{layer}.y"

    for layer, out, stride, pool in convs:
        conv_inputs[layer] = (cur, c, h)
        const(f"{layer}.weight", rng.choice([-1.0, 1.0], size=(out, c, 3, 3)))
        nodes.append(helper.make_node("Conv", [cur, f"{layer}.weight"], [f"{layer}.a"], name=layer,
                                      kernel_shape=[3, 3], pads=[1, 1, 1, 1], strides=[stride, stride]))
        cur = f"{layer}.a"
        h_out = (h + 2 - 3) // stride + 1
        shortcut = None
        if name == "resnet18_32" and layer in SHORTCUTS:
            shortcut, c_src, h_src = conv_inputs[SHORTCUTS[layer]]
            if h_src != h_out:  # downsampling block: AveragePool, then copies up to the block's channels
                win = h_src // h_out
                nodes.append(helper.make_node("AveragePool", [shortcut], [f"{layer}.sc.avg"], name=f"{layer}.sc.avg",
                                              kernel_shape=[win, win], strides=[win, win]))
                shortcut = f"{layer}.sc.avg"
            if c_src != out:
                nodes.append(helper.make_node("Concat", [shortcut] * (out // c_src), [f"{layer}.sc.cat"],
                                              name=f"{layer}.sc.cat", axis=1))
                shortcut = f"{layer}.sc.cat"
        tail(layer, out, c * 9, (1, out, 1, 1), True, shortcut)
        c, h = out, h_out
        if pool:
            nodes.append(helper.make_node("MaxPool", [cur], [f"{layer}.p"], name=f"{layer}.pool",
                                          kernel_shape=[pool, pool], strides=[pool, pool]))
            cur, h = f"{layer}.p", h // pool
    nodes.append(helper.make_node("Flatten", [cur], ["flat"], name="flatten", axis=1))
    cur, width = "flat", c * h * h
    for i, out in enumerate(fcs + [classes]):
        layer = f"fc{i + 1}"
        const(f"{layer}.weight", rng.choice([-1.0, 1.0], size=(width, out)))
        nodes.append(helper.make_node("MatMul", [cur, f"{layer}.weight"], [f"{layer}.a"], name=layer))
        cur = f"{layer}.a"
        tail(layer, out, width, (out,), i < len(fcs))
        width = out
    graph = helper.make_graph(nodes, name, [helper.make_tensor_value_info("input", TensorProto.FLOAT, ["N", 3, 32, 32])],
                              [helper.make_tensor_value_info(cur, TensorProto.FLOAT, ["N", classes])], inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    model.ir_version = 7
    for k, v in {"bayescim.format": "1", "bayescim.model": name, "bayescim.dropout.kind": "none",
                 "bayescim.classes": str(classes), "bayescim.dataset": "synthetic"}.items():
        model.metadata_props.add(key=k, value=v)
    onnx.checker.check_model(model)
    return model


def write_synthetic_idx(folder: str, n: int = 8, seed: int = 0) -> None:
    """Random 3x32x32 images stored as idx with 96 rows x 32 columns (CHW bytes), and labels."""
    os.makedirs(folder, exist_ok=True)
    rng = np.random.default_rng(seed)
    px = rng.integers(0, 256, size=(n, 96, 32), dtype=np.uint8)
    with open(os.path.join(folder, "t10k-images-idx3-ubyte"), "wb") as f:
        f.write(struct.pack(">IIII", 0x803, n, 96, 32) + px.tobytes())
    with open(os.path.join(folder, "t10k-labels-idx1-ubyte"), "wb") as f:
        f.write(struct.pack(">II", 0x801, n) + rng.integers(0, 10, size=n, dtype=np.uint8).tobytes())
