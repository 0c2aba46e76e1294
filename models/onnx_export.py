"""Write a BinaryMLP or BinaryCNN as ONNX following the bayescim convention in models/README.md."""

import os
from typing import Any, Dict, List, Tuple

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

OPSET = 13
IR_VERSION = 7
FORMAT_VERSION = "1"
INPUT_NAME = "input"
OUTPUT_NAME = "logits"
META_PREFIX = "bayescim."
QONNX_DOMAIN = "qonnx.custom_op.general"


def _f32(value: Any) -> np.ndarray:
    return np.asarray(value, dtype=np.float32)


def _fmt(x: float) -> str:
    """Shortest string that round-trips a float ('0.2', '1', '0')."""
    s = repr(float(x))
    return s[:-2] if s.endswith(".0") else s


def _layer_nodes(name: str, layer: Any, x: str, last: bool) -> Tuple[List[Any], List[Any], str]:
    """Initializers, nodes and output name of one binary layer (MatMul/Conv, Mul, BatchNormalization, sign)."""
    bn = layer.bn
    conv = layer.kind == "conv"
    w = layer.binary_weight().numpy()
    alpha = layer.alpha.detach().numpy()
    inits = [
        numpy_helper.from_array(np.ascontiguousarray(_f32(w if conv else w.T)), f"{name}.weight"),
        numpy_helper.from_array(_f32(alpha.reshape(1, -1, 1, 1) if conv else alpha), f"{name}.alpha"),
        numpy_helper.from_array(_f32(bn.weight.detach().numpy()), f"{name}.bn.gamma"),
        numpy_helper.from_array(_f32(bn.bias.detach().numpy()), f"{name}.bn.beta"),
        numpy_helper.from_array(_f32(bn.running_mean.numpy()), f"{name}.bn.mean"),
        numpy_helper.from_array(_f32(bn.running_var.numpy()), f"{name}.bn.var"),
    ]
    if conv:
        k, pad, stride = layer.kernel_size, layer.padding, layer.stride
        nodes = [helper.make_node("Conv", [x, f"{name}.weight"], [name], name=name, kernel_shape=[k, k],
                                  pads=[pad] * 4, strides=[stride, stride])]
    else:
        nodes = [helper.make_node("MatMul", [x, f"{name}.weight"], [name], name=name)]
    bn_out = out = OUTPUT_NAME if last else f"{name}.bn"
    nodes += [
        helper.make_node("Mul", [name, f"{name}.alpha"], [f"{name}.scale"], name=f"{name}.scale"),
        helper.make_node("BatchNormalization",
                         [f"{name}.scale", f"{name}.bn.gamma", f"{name}.bn.beta", f"{name}.bn.mean", f"{name}.bn.var"],
                         [bn_out], name=f"{name}.bn", epsilon=float(bn.eps)),
    ]
    if not last:
        nodes += [
            helper.make_node("GreaterOrEqual", [bn_out, "const.zero"], [f"{name}.act.ge"], name=f"{name}.act.ge"),
            helper.make_node("Where", [f"{name}.act.ge", "const.one", "const.minus_one"], [f"{name}.act"],
                             name=f"{name}.act"),
        ]
        out = f"{name}.act"
    return inits, nodes, out


def _input_nodes(bits: int) -> Tuple[List[Any], List[Any], str]:
    """The first layer's input encoding: +-1 thresholded (bits = 0) or a k-bit unsigned QONNX Quant.

    k bits: input.levels = Mul(input, 2^k - 1), then input.quant = Quant(scale 1, zero point 0,
    bit width k, signed 0, narrow 0, ROUND): the integers 0 .. 2^k - 1 (k = 8: the pixel value).
    """
    if bits == 0:
        return [numpy_helper.from_array(_f32(0.5), "input.threshold")], [
            helper.make_node("GreaterOrEqual", [INPUT_NAME, "input.threshold"], ["input.binarize"],
                             name="input.binarize"),
            helper.make_node("Where", ["input.binarize", "const.one", "const.minus_one"], ["input.sign"],
                             name="input.sign"),
        ], "input.sign"
    inits = [
        numpy_helper.from_array(_f32((1 << bits) - 1), "input.levels.factor"),
        numpy_helper.from_array(_f32(1.0), "input.quant.scale"),
        numpy_helper.from_array(_f32(0.0), "input.quant.zero_point"),
        numpy_helper.from_array(_f32(bits), "input.quant.bit_width"),
    ]
    nodes = [
        helper.make_node("Mul", [INPUT_NAME, "input.levels.factor"], ["input.levels"], name="input.levels"),
        helper.make_node("Quant", ["input.levels", "input.quant.scale", "input.quant.zero_point", "input.quant.bit_width"],
                         ["input.quant"], name="input.quant", domain=QONNX_DOMAIN, signed=0, narrow=0,
                         rounding_mode="ROUND"),
    ]
    return inits, nodes, "input.quant"


def build_graph(model: Any, dataset: str = "mnist") -> Any:
    """Build the onnx.ModelProto of a BinaryMLP or BinaryCNN (deterministic all-kept path plus metadata)."""
    inits = [
        numpy_helper.from_array(_f32(1.0), "const.one"),
        numpy_helper.from_array(_f32(-1.0), "const.minus_one"),
        numpy_helper.from_array(_f32(0.0), "const.zero"),
    ]
    bits = getattr(model, "input_bits", 0)
    inits_in, nodes, x = _input_nodes(bits)
    inits = inits_in + inits
    layers = model.layers()
    convs = 0
    for i, (name, layer) in enumerate(zip(model.layer_names, layers)):
        if layer.kind == "dense" and i > 0 and layers[i - 1].kind == "conv":
            nodes.append(helper.make_node("Flatten", [x], ["flatten"], name="flatten", axis=1))
            x = "flatten"
        li, ln, x = _layer_nodes(name, layer, x, i == len(layers) - 1)
        inits += li
        nodes += ln
        if layer.kind == "conv":
            convs += 1
            if layer.pool:
                pool = f"pool{convs}"
                nodes.append(helper.make_node("MaxPool", [x], [pool], name=pool, kernel_shape=[layer.pool] * 2,
                                              strides=[layer.pool] * 2))
                x = pool
    graph = helper.make_graph(
        nodes, f"bayescim_{model.topology}",
        [helper.make_tensor_value_info(INPUT_NAME, TensorProto.FLOAT, ["N", *model.input_shape])],
        [helper.make_tensor_value_info(OUTPUT_NAME, TensorProto.FLOAT, ["N", model.num_classes])],
        initializer=inits,
    )
    opsets = [helper.make_opsetid("", OPSET)] + ([helper.make_opsetid(QONNX_DOMAIN, 1)] if bits else [])
    onnx_model = helper.make_model(graph, opset_imports=opsets,
                                   producer_name="bayescim-train", producer_version=FORMAT_VERSION)
    onnx_model.ir_version = IR_VERSION
    meta = metadata(model, dataset)
    helper.set_model_props(onnx_model, meta)
    onnx.checker.check_model(onnx_model)
    return onnx_model


def metadata(model: Any, dataset: str) -> Dict[str, str]:
    """The bayescim.* metadata_props of a model (all values strings)."""
    return {
        "bayescim.format": FORMAT_VERSION,
        "bayescim.model": model.topology,
        "bayescim.dropout.kind": model.method,
        "bayescim.dropout.p": _fmt(model.p),
        "bayescim.dropout.layers": ",".join(model.dropout_layers),
        "bayescim.scale.dropped_value": _fmt(model.dropped_value),
        "bayescim.dataset": dataset,
        "bayescim.classes": str(model.num_classes),
    }


def export_onnx(model: Any, path: str, dataset: str = "mnist") -> Any:
    """Write the model to path (checked with onnx.checker); returns the ModelProto."""
    onnx_model = build_graph(model, dataset)
    tmp = f"{path}.tmp.{os.getpid()}"  # an interrupted export never leaves a truncated model at path
    onnx.save(onnx_model, tmp)
    os.replace(tmp, path)
    return onnx_model
