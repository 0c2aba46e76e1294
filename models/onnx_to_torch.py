"""Rebuild a BinaryMLP from a bayescim ONNX file (initializers + metadata_props)."""

import argparse
import sys

import numpy as np
import onnx
import torch
from onnx import numpy_helper

from bnn import BinaryMLP

EXPECTED_OPS = ["MatMul", "Mul", "BatchNormalization"]


class OnnxFormatError(Exception):
    """The ONNX file does not follow the bayescim MLP convention; the message says why."""


def read_metadata(onnx_model):
    """metadata_props as a plain dict."""
    return {p.key: p.value for p in onnx_model.metadata_props}


def _layer_names(onnx_model, path):
    names = [n.name for n in onnx_model.graph.node if n.op_type == "MatMul"]
    if not names:
        raise OnnxFormatError(f"{path}: no MatMul node found")
    nodes = {n.name: n for n in onnx_model.graph.node}
    for i, name in enumerate(names):
        if name != f"fc{i + 1}":
            raise OnnxFormatError(f"{path}: MatMul node {i + 1} is named '{name}', expected 'fc{i + 1}'")
        for suffix, op in zip(("", ".scale", ".bn"), EXPECTED_OPS):
            node = nodes.get(name + suffix)
            if node is None or node.op_type != op:
                raise OnnxFormatError(f"{path}: expected node '{name + suffix}' of type {op}")
        last = i == len(names) - 1
        has_act = (name + ".act") in nodes
        if has_act == last:
            raise OnnxFormatError(f"{path}: layer '{name}' {'has' if has_act else 'lacks'} a sign activation")
    return names


def onnx_to_torch(path_or_model, path_label=None):
    """Return (BinaryMLP in eval mode, metadata dict) rebuilt from an exported ONNX model."""
    if isinstance(path_or_model, onnx.ModelProto):
        om, path = path_or_model, path_label or "<model>"
    else:
        path = str(path_or_model)
        try:
            om = onnx.load(path)
        except OSError as e:
            raise OnnxFormatError(f"{path}: cannot read: {e.strerror or e}") from None
        except Exception as e:
            raise OnnxFormatError(f"{path}: not a valid ONNX file: {e}") from None
    try:
        onnx.checker.check_model(om)
    except onnx.checker.ValidationError as e:
        raise OnnxFormatError(f"{path}: fails onnx.checker: {e}") from None
    meta = read_metadata(om)
    init = {t.name: numpy_helper.to_array(t) for t in om.graph.initializer}
    names = _layer_names(om, path)

    def get(key):
        if key not in init:
            raise OnnxFormatError(f"{path}: missing initializer '{key}'")
        return np.array(init[key], dtype=np.float32)

    weights = [get(f"{n}.weight") for n in names]
    for n, w in zip(names, weights):
        if w.ndim != 2 or not np.all(np.abs(w) == 1.0):
            raise OnnxFormatError(f"{path}: '{n}.weight' must be a 2-D tensor of exact +-1 values")
    for a, b in zip(weights, weights[1:]):
        if a.shape[1] != b.shape[0]:
            raise OnnxFormatError(f"{path}: layer sizes do not chain ({a.shape} then {b.shape})")
    threshold = float(get("input.threshold"))
    if threshold != 0.5:
        raise OnnxFormatError(f"{path}: input.threshold is {threshold}, this rebuild supports 0.5")

    kind = meta.get("bayescim.dropout.kind", "none")
    p = float(meta.get("bayescim.dropout.p", "0") or 0)
    layers_meta = meta.get("bayescim.dropout.layers", "")
    dropout_layers = [s for s in layers_meta.split(",") if s] if kind != "none" else []
    dropped_value = float(meta.get("bayescim.scale.dropped_value", "1"))
    model = BinaryMLP(in_features=weights[0].shape[0], hidden=tuple(w.shape[1] for w in weights[:-1]),
                      num_classes=weights[-1].shape[1], method=kind, p=p, dropped_value=dropped_value,
                      dropout_layers=dropout_layers)
    nodes = {n.name: n for n in om.graph.node}
    with torch.no_grad():
        for i, name in enumerate(names):
            layer = getattr(model, name)
            layer.weight.copy_(torch.from_numpy(weights[i].T.copy()))
            layer.alpha.copy_(torch.from_numpy(get(f"{name}.alpha")))
            bn = layer.bn
            bn.weight.copy_(torch.from_numpy(get(f"{name}.bn.gamma")))
            bn.bias.copy_(torch.from_numpy(get(f"{name}.bn.beta")))
            bn.running_mean.copy_(torch.from_numpy(get(f"{name}.bn.mean")))
            bn.running_var.copy_(torch.from_numpy(get(f"{name}.bn.var")))
            eps = [a.f for a in nodes[f"{name}.bn"].attribute if a.name == "epsilon"]
            bn.eps = eps[0] if eps else 1e-5
    model.eval()
    return model, meta


def main(argv=None):
    """Print the rebuilt model's structure and metadata."""
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("model", help="path to a bayescim .onnx file")
    args = ap.parse_args(argv)
    try:
        model, meta = onnx_to_torch(args.model)
    except (OnnxFormatError, NotImplementedError, ValueError) as e:
        print(f"onnx_to_torch: {e}", file=sys.stderr)
        return 1
    sizes = [model.in_features, *model.hidden, model.num_classes]
    print(f"{args.model}: mlp {'-'.join(map(str, sizes))}, dropout {model.method} p={model.p} "
          f"layers={','.join(model.dropout_layers) or '-'} dropped_value={model.dropped_value}")
    for k in sorted(meta):
        print(f"  {k} = {meta[k]}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
