"""Rebuild a BinaryMLP or BinaryCNN from a bayescim ONNX file (graph walk, initializers, metadata_props)."""

import argparse
import math
import sys
from typing import Any, Dict, List, NoReturn, Optional, Sequence, Tuple, Union

import numpy as np
import onnx
import torch
from onnx import numpy_helper

from models.bnn import BN_EPS, MAX_INPUT_BITS, BinaryCNN, BinaryMLP, INPUT_THRESHOLD


class OnnxFormatError(Exception):
    """The ONNX file does not follow the bayescim convention; the message says why."""


def read_metadata(onnx_model: Any) -> Dict[str, str]:
    """metadata_props as a plain dict."""
    return {p.key: p.value for p in onnx_model.metadata_props}


def _attrs(node: Any) -> Dict[str, Any]:
    return {a.name: onnx.helper.get_attribute_value(a) for a in node.attribute}


class _Walker:
    """Reads the linear node chain into layer descriptions (dicts), checking the convention."""

    def __init__(self, om: Any, path: str) -> None:
        self.path = path
        self.init = {t.name: numpy_helper.to_array(t) for t in om.graph.initializer}
        self.layers: List[Dict[str, Any]] = []
        self.open: Any = None  # layer being assembled
        self.stage = "input"   # input -> binary -> preact -> scaled -> normed -> binary ...
        self.pending_ge: Any = None
        self.flat = True
        self.input_levels: Optional[float] = None  # Mul(input, 2^k - 1) before a k-bit input Quant
        self.input_bits = 0

    def fail(self, node: Any, what: str) -> NoReturn:
        raise OnnxFormatError(f"{self.path}: node '{node.name}' ({node.op_type}): {what}")

    def const(self, node: Any, i: int) -> np.ndarray:
        if len(node.input) <= i or node.input[i] not in self.init:
            self.fail(node, f"input {i} must be an initializer")
        return np.array(self.init[node.input[i]], dtype=np.float32)

    def pm1(self, node: Any, w: np.ndarray) -> np.ndarray:
        if not np.all(np.abs(w) == 1.0):
            self.fail(node, "weights must be exactly +1 or -1")
        return w

    def close(self, sign: bool) -> None:
        l = self.open
        l["sign"] = sign
        out = l["out"]
        l.setdefault("alpha", np.ones(out, np.float32))
        if "bn" not in l:  # no BatchNorm: identity, as the C++ importer does
            l["bn"] = (np.ones(out, np.float32), np.zeros(out, np.float32), np.zeros(out, np.float32),
                       np.full(out, 1.0 - BN_EPS, np.float32), BN_EPS)
        self.layers.append(l)
        self.flat = l["kind"] == "dense"
        self.open = None

    def input_quant(self, n: Any, a: Dict[str, Any]) -> None:
        """The k-bit unsigned input Quant of models/README.md (after Mul by 2^k - 1)."""
        if self.stage != "input":
            self.fail(n, "this rebuild takes Quant only on the graph input (k-bit unsigned first-layer input)")
        scale, zero, bits = (float(self.const(n, i).reshape(())) for i in (1, 2, 3))
        k = int(bits)
        if k != bits or not 1 <= k <= MAX_INPUT_BITS or scale != 1.0 or zero != 0.0 \
                or a.get("signed", 1) != 0 or a.get("narrow", 0) != 0 or a.get("rounding_mode", b"ROUND") not in ("ROUND", b"ROUND"):
            self.fail(n, f"expected an unsigned 1..{MAX_INPUT_BITS}-bit Quant with scale 1, zero point 0, "
                         "narrow 0, rounding ROUND")
        if self.input_levels != float((1 << k) - 1):
            self.fail(n, f"expected Mul(input, {(1 << k) - 1}) before a {k}-bit input Quant")
        self.input_bits, self.stage = k, "binary"

    def node(self, n: Any) -> None:
        op, a = n.op_type, _attrs(n)
        if op == "GreaterOrEqual":
            thr = self.const(n, 1)
            if thr.size != 1 or self.stage not in ("input", "normed"):
                self.fail(n, "expected a scalar compare on the input or after BatchNormalization")
            self.pending_ge = float(thr.reshape(()))
        elif op == "Where":
            hi, lo = self.const(n, 1), self.const(n, 2)
            if self.pending_ge is None or hi.size != 1 or lo.size != 1 or float(hi.reshape(())) != 1.0 \
                    or float(lo.reshape(())) != -1.0:
                self.fail(n, "binarisation must be GreaterOrEqual then Where(+1, -1)")
            if self.stage == "input":
                if self.pending_ge != INPUT_THRESHOLD:
                    self.fail(n, f"input threshold is {self.pending_ge}, this rebuild supports {INPUT_THRESHOLD}")
            elif self.pending_ge != 0.0:
                self.fail(n, "hidden activations must compare against 0")
            else:
                self.close(True)
            self.pending_ge, self.stage = None, "binary"
        elif op in ("MatMul", "Gemm", "Conv"):
            if self.stage != "binary":
                self.fail(n, "a binary layer's input must be binarised first")
            w = self.pm1(n, self.const(n, 1))
            if len(n.input) > 2 and np.any(self.const(n, 2) != 0):
                self.fail(n, "biases are not supported")
            if op == "Conv":
                if self.flat or w.ndim != 4 or w.shape[2] != w.shape[3]:
                    self.fail(n, "Conv needs a [N, C, H, W] input and a square [C_out, C_in, K, K] weight")
                k = w.shape[2]
                pads, strides = list(a.get("pads", [0] * 4)), list(a.get("strides", [1, 1]))
                if list(a.get("kernel_shape", [k, k])) != [k, k] or len(set(pads)) != 1 or len(set(strides)) != 1 \
                        or list(a.get("dilations", [1, 1])) != [1, 1] or a.get("group", 1) != 1:
                    self.fail(n, "only square kernels, symmetric pads, equal strides, no dilation/groups")
                self.open = {"kind": "conv", "name": n.name, "weight": w, "out": w.shape[0], "in": w.shape[1],
                             "k": k, "pad": pads[0], "stride": strides[0], "pool": 0}
            else:
                if not self.flat or w.ndim != 2:
                    self.fail(n, "MatMul/Gemm needs a flat input (add Flatten) and a 2-D weight")
                if op == "Gemm":
                    if a.get("transB", 0) != 1 or a.get("transA", 0) != 0 or a.get("alpha", 1.0) != 1.0:
                        self.fail(n, "only Gemm with transB=1, alpha=1 is supported")
                    w = w.T
                self.open = {"kind": "dense", "name": n.name, "weight": w, "out": w.shape[1], "in": w.shape[0]}
            self.stage = "preact"
        elif op == "Mul" and self.stage == "input":
            self.input_levels = float(self.const(n, 1).reshape(()))
        elif op == "Quant":
            self.input_quant(n, a)
        elif op == "Mul":
            if self.stage != "preact":
                self.fail(n, "Mul (the scale) must directly follow MatMul/Gemm/Conv")
            alpha = self.const(n, 1)
            if alpha.size != self.open["out"]:
                self.fail(n, "the scale must have one entry per output")
            self.open["alpha"], self.stage = alpha.reshape(-1), "scaled"
        elif op == "BatchNormalization":
            if self.stage not in ("preact", "scaled") or len(n.input) != 5:
                self.fail(n, "BatchNormalization (5 inputs) must follow a layer")
            params = [self.const(n, i).reshape(-1) for i in range(1, 5)]
            self.open["bn"] = (*params, float(np.float32(a.get("epsilon", BN_EPS))))
            self.stage = "normed"
        elif op == "MaxPool":
            last = self.layers[-1] if self.layers else None
            kernel = list(a.get("kernel_shape", []))
            if self.stage != "binary" or self.flat or not last or last["kind"] != "conv" or last["pool"]:
                self.fail(n, "MaxPool is supported only right after a conv layer's sign")
            if len(kernel) != 2 or kernel[0] != kernel[1] or list(a.get("strides", [])) != kernel \
                    or any(a.get("pads", [0])):
                self.fail(n, "MaxPool must be square and non-overlapping (strides = kernel_shape, no pads)")
            last["pool"] = kernel[0]
        elif op == "Flatten":
            if self.stage != "binary" or a.get("axis", 1) != 1:
                self.fail(n, "only Flatten(axis=1) on binary values is supported")
            self.flat = True
        else:
            self.fail(n, "unsupported op")


def parse_graph(om: Any, path: str) -> Tuple[List[int], List[Dict[str, Any]], int]:
    """Walk the graph; returns (input dims without batch, list of layer dicts, first-layer input bits)."""
    w = _Walker(om, path)
    inputs = [i for i in om.graph.input if i.name not in w.init]
    if len(inputs) != 1:
        raise OnnxFormatError(f"{path}: expected exactly one graph input, found {len(inputs)}")
    dims = [d.dim_value for d in inputs[0].type.tensor_type.shape.dim][1:]
    if len(dims) not in (1, 3) or min(dims, default=0) < 1:
        raise OnnxFormatError(f"{path}: input must be [N, features] or [N, C, H, W] with static sizes")
    w.flat = len(dims) == 1
    current = inputs[0].name
    for n in om.graph.node:
        if len(n.output) != 1 or not n.input or n.input[0] != current:
            raise OnnxFormatError(f"{path}: node '{n.name}' breaks the linear chain (expected input '{current}')")
        w.node(n)
        current = n.output[0]
    if w.open is None or w.pending_ge is not None or w.stage not in ("preact", "scaled", "normed"):
        raise OnnxFormatError(f"{path}: the last layer must end in real logits (no sign)")
    w.close(False)
    if [o.name for o in om.graph.output] != [current]:
        raise OnnxFormatError(f"{path}: the graph output must be the last layer's output '{current}'")
    return dims, w.layers, w.input_bits


def _check_names(layers: Sequence[Dict[str, Any]], path: str) -> None:
    convs = [l for l in layers if l["kind"] == "conv"]
    if layers[:len(convs)] != convs:
        raise OnnxFormatError(f"{path}: conv layers must all come before the fully connected ones")
    expected = [f"conv{i + 1}" for i in range(len(convs))] + [f"fc{i + 1}" for i in range(len(layers) - len(convs))]
    for l, e in zip(layers, expected):
        if l["name"] != e:
            raise OnnxFormatError(f"{path}: layer '{l['name']}' should be named '{e}' (conv1.., then fc1..)")


def onnx_to_torch(path_or_model: Any, path_label: Optional[str] = None) -> Tuple[Union[BinaryMLP, BinaryCNN], Dict[str, str]]:
    """Return (BinaryMLP or BinaryCNN in eval mode, metadata dict) rebuilt from an exported ONNX model."""
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
    dims, layers, input_bits = parse_graph(om, path)
    _check_names(layers, path)

    kind = meta.get("bayescim.dropout.kind", "none")
    p = float(meta.get("bayescim.dropout.p", "0") or 0)
    dropout_layers = [s for s in meta.get("bayescim.dropout.layers", "").split(",") if s] if kind != "none" else []
    common: Dict[str, Any] = dict(method=kind, p=p, dropped_value=float(meta.get("bayescim.scale.dropped_value", "1")),
                  dropout_layers=dropout_layers, input_bits=input_bits)
    dense = [l for l in layers if l["kind"] == "dense"]
    hidden, classes = tuple(l["out"] for l in dense[:-1]), dense[-1]["out"]
    convs = [l for l in layers if l["kind"] == "conv"]
    try:
        if convs:
            if len(dims) != 3:
                raise OnnxFormatError(f"{path}: a CNN needs an [N, C, H, W] input")
            model = BinaryCNN(tuple(dims), [(l["out"], l["k"], l["pad"], l["stride"], l["pool"]) for l in convs],
                              hidden, classes, **common)
        else:
            if len(dims) != 1:
                raise OnnxFormatError(f"{path}: an MLP needs an [N, features] input")
            model = BinaryMLP(dims[0], hidden, classes, **common)
    except ValueError as e:
        raise OnnxFormatError(f"{path}: {e}") from None
    with torch.no_grad():
        for l, layer in zip(layers, model.layers()):
            w = l["weight"] if l["kind"] == "conv" else l["weight"].T
            if tuple(w.shape) != tuple(layer.weight.shape):
                raise OnnxFormatError(f"{path}: layer '{l['name']}' weight {tuple(w.shape)} does not chain "
                                      f"(expected {tuple(layer.weight.shape)})")
            layer.weight.copy_(torch.from_numpy(np.ascontiguousarray(w)))
            layer.alpha.copy_(torch.from_numpy(l["alpha"]))
            gamma, beta, mean, var, eps = l["bn"]
            for t, v in ((layer.bn.weight, gamma), (layer.bn.bias, beta), (layer.bn.running_mean, mean),
                         (layer.bn.running_var, var)):
                t.copy_(torch.from_numpy(v))
            layer.bn.eps = eps
    if math.prod(model.input_shape) != math.prod(dims):
        raise OnnxFormatError(f"{path}: input size mismatch")
    model.eval()
    return model, meta


def main(argv: Optional[Sequence[str]] = None) -> int:
    """Print the rebuilt model's structure and metadata."""
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("model", help="path to a bayescim .onnx file")
    args = ap.parse_args(argv)
    try:
        model, meta = onnx_to_torch(args.model)
    except (OnnxFormatError, ValueError) as e:
        print(f"onnx_to_torch: {e}", file=sys.stderr)
        return 1
    print(f"{args.model}: {model.describe()}, dropout {model.method} p={model.p} "
          f"layers={','.join(model.dropout_layers) or '-'} dropped_value={model.dropped_value} "
          f"draws/sample={model.num_draws}")
    for k in sorted(meta):
        print(f"  {k} = {meta[k]}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
