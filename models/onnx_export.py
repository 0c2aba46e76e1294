"""Write a BinaryMLP as ONNX following the bayescim convention in models/README.md."""

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

OPSET = 13
IR_VERSION = 7
FORMAT_VERSION = "1"
INPUT_NAME = "input"
OUTPUT_NAME = "logits"
META_PREFIX = "bayescim."


def _f32(value):
    return np.asarray(value, dtype=np.float32)


def _fmt(x):
    """Shortest string that round-trips a float ('0.2', '1', '0')."""
    s = repr(float(x))
    return s[:-2] if s.endswith(".0") else s


def build_graph(model, dataset="mnist"):
    """Build the onnx.ModelProto of a BinaryMLP (deterministic all-kept path plus metadata)."""
    inits = [
        numpy_helper.from_array(_f32(0.5), "input.threshold"),
        numpy_helper.from_array(_f32(1.0), "const.one"),
        numpy_helper.from_array(_f32(-1.0), "const.minus_one"),
        numpy_helper.from_array(_f32(0.0), "const.zero"),
    ]
    nodes = [
        helper.make_node("GreaterOrEqual", [INPUT_NAME, "input.threshold"], ["input.binarize"], name="input.binarize"),
        helper.make_node("Where", ["input.binarize", "const.one", "const.minus_one"], ["input.sign"], name="input.sign"),
    ]
    x = "input.sign"
    layers = model.layers()
    for i, (name, layer) in enumerate(zip(model.layer_names, layers)):
        last = i == len(layers) - 1
        bn = layer.bn
        w = layer.binary_weight().numpy().T
        inits += [
            numpy_helper.from_array(np.ascontiguousarray(_f32(w)), f"{name}.weight"),
            numpy_helper.from_array(_f32(layer.alpha.detach().numpy()), f"{name}.alpha"),
            numpy_helper.from_array(_f32(bn.weight.detach().numpy()), f"{name}.bn.gamma"),
            numpy_helper.from_array(_f32(bn.bias.detach().numpy()), f"{name}.bn.beta"),
            numpy_helper.from_array(_f32(bn.running_mean.numpy()), f"{name}.bn.mean"),
            numpy_helper.from_array(_f32(bn.running_var.numpy()), f"{name}.bn.var"),
        ]
        bn_out = OUTPUT_NAME if last else f"{name}.bn"
        nodes += [
            helper.make_node("MatMul", [x, f"{name}.weight"], [name], name=name),
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
            x = f"{name}.act"
    graph = helper.make_graph(
        nodes, "bayescim_mlp",
        [helper.make_tensor_value_info(INPUT_NAME, TensorProto.FLOAT, ["N", model.in_features])],
        [helper.make_tensor_value_info(OUTPUT_NAME, TensorProto.FLOAT, ["N", model.num_classes])],
        initializer=inits,
    )
    onnx_model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)],
                                   producer_name="bayescim-train", producer_version=FORMAT_VERSION)
    onnx_model.ir_version = IR_VERSION
    meta = metadata(model, dataset)
    helper.set_model_props(onnx_model, meta)
    onnx.checker.check_model(onnx_model)
    return onnx_model


def metadata(model, dataset):
    """The bayescim.* metadata_props of a model (all values strings)."""
    return {
        "bayescim.format": FORMAT_VERSION,
        "bayescim.model": "mlp",
        "bayescim.dropout.kind": model.method,
        "bayescim.dropout.p": _fmt(model.p),
        "bayescim.dropout.layers": ",".join(model.dropout_layers),
        "bayescim.scale.dropped_value": _fmt(model.dropped_value),
        "bayescim.dataset": dataset,
        "bayescim.classes": str(model.num_classes),
    }


def export_onnx(model, path, dataset="mnist"):
    """Write the model to path (checked with onnx.checker); returns the ModelProto."""
    onnx_model = build_graph(model, dataset)
    onnx.save(onnx_model, path)
    return onnx_model
