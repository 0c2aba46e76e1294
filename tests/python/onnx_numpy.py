"""A numpy evaluator of ONNX graphs (float32, ONNX op semantics, QONNX's BipolarQuant and Quant), used
by the tests as an importer independent of the C++ one: the bayescim convention and the QONNX /
Brevitas export idioms (shape subgraphs, Mul/Sub preprocessing, Transpose, per-tensor affine)."""

import numpy as np
import onnx
from onnx import numpy_helper


def _quant(x, scale, zeropt, bits, signed, narrow):
    """QONNX Quant (rounding ROUND = half to even); a signed 1-bit Quant is bipolar, as QONNX executes it."""
    u = x / scale + zeropt
    if int(bits) == 1 and signed:
        q = np.where(u >= 0, 1.0, -1.0).astype(u.dtype)
    else:
        b = int(bits)
        lo = -(2 ** (b - 1)) + int(narrow) if signed else 0
        hi = 2 ** (b - 1) - 1 if signed else 2 ** b - 1 - int(narrow)
        q = np.round(np.clip(u, lo, hi))
    return ((q - zeropt) * scale).astype(np.float32)


def _node(node, a, at):
    op = node.op_type
    if op == "GreaterOrEqual":
        return a[0] >= a[1]
    if op == "Where":
        return np.where(a[0], a[1], a[2]).astype(np.float32)
    if op == "MatMul":
        return (a[0] @ a[1]).astype(np.float32)
    if op == "Gemm":
        x = a[0].T if at.get("transA", 0) else a[0]
        w = a[1].T if at.get("transB", 0) else a[1]
        r = np.float32(at.get("alpha", 1.0)) * (x @ w)
        if len(a) > 2:
            r = r + np.float32(at.get("beta", 1.0)) * a[2]
        return r.astype(np.float32)
    if op in ("Mul", "Add", "Sub", "Div", "Pow"):
        f = {"Mul": np.multiply, "Add": np.add, "Sub": np.subtract, "Div": np.divide, "Pow": np.power}[op]
        return f(a[0], a[1])
    if op == "Sqrt":
        return np.sqrt(a[0])
    if op == "Sign":
        return np.sign(a[0])
    if op in ("Identity", "Dropout"):
        return a[0]
    if op == "Cast":
        return a[0].astype(onnx.mapping.TENSOR_TYPE_TO_NP_TYPE[at["to"]])
    if op == "Constant":
        return numpy_helper.to_array(at["value"])
    if op == "Shape":
        s = np.array(a[0].shape, dtype=np.int64)
        return s[at.get("start", 0):at.get("end", len(s))]
    if op == "Gather":
        return np.take(a[0], a[1], axis=at.get("axis", 0))
    if op in ("Unsqueeze", "Squeeze"):
        axes = list(at["axes"]) if "axes" in at else (list(a[1]) if len(a) > 1 else None)
        if op == "Squeeze":
            return np.squeeze(a[0], axis=None if axes is None else tuple(axes))
        r = a[0]
        rank = r.ndim + len(axes)
        for ax in sorted(x % rank for x in axes):
            r = np.expand_dims(r, ax)
        return r
    if op == "Concat":
        return np.concatenate(a, axis=at["axis"])
    if op == "Reshape":
        shape = [int(s) if s != 0 else a[0].shape[i] for i, s in enumerate(a[1])]
        return a[0].reshape(shape)
    if op == "Transpose":
        return np.transpose(a[0], at.get("perm"))
    if op == "BipolarQuant":
        return (np.where(a[0] >= 0, 1.0, -1.0) * a[1]).astype(np.float32)
    if op == "Quant":
        return _quant(a[0], a[1], a[2], a[3], at.get("signed", 1), at.get("narrow", 0))
    if op == "Conv":
        assert at.get("group", 1) == 1
        k, p, st = a[1].shape[2], at.get("pads", [0, 0, 0, 0])[0], at.get("strides", [1, 1])[0]
        xp = np.pad(a[0], ((0, 0), (0, 0), (p, p), (p, p)))
        n, _, h, w = a[0].shape
        ho, wo = (h + 2 * p - k) // st + 1, (w + 2 * p - k) // st + 1
        r = np.zeros((n, a[1].shape[0], ho, wo), np.float32)
        for kh in range(k):
            for kw in range(k):
                win = xp[:, :, kh:kh + st * (ho - 1) + 1:st, kw:kw + st * (wo - 1) + 1:st]
                r += np.einsum("nchw,oc->nohw", win, a[1][:, :, kh, kw])
        return r
    if op == "AveragePool":
        k = at["kernel_shape"][0]
        assert at.get("strides", [k, k])[0] == k
        n, c, h, w = a[0].shape
        return a[0].reshape(n, c, h // k, k, w // k, k).mean(axis=(3, 5), dtype=np.float32)
    if op == "MaxPool":
        k = at["kernel_shape"][0]
        n, c, h, w = a[0].shape
        return a[0].reshape(n, c, h // k, k, w // k, k).max(axis=(3, 5))
    if op == "Flatten":
        return a[0].reshape(len(a[0]), -1)
    if op == "BatchNormalization":
        eps = np.float32(at.get("epsilon", 1e-5))
        shape = (1, -1) + (1,) * (a[0].ndim - 2)
        g, b, m, v = (t.reshape(shape) for t in a[1:])
        return ((a[0] - m) / np.sqrt(v + eps) * g + b).astype(np.float32)
    raise AssertionError(f"unexpected op {op}")


def numpy_graph(om, x, pre=None, post=None):
    """Evaluate the graph with numpy (float32, ONNX op semantics), as an independent importer would.

    x feeds the graph input (the input that is not an initializer); a graph whose input declares a
    fixed batch of 1 is run row by row. pre / post map node names to functions applied to the
    node's first input before it runs / to its output (the tests put dropout masks there).
    Returns the graph output."""
    g = om.graph
    inits = {t.name for t in g.initializer}
    inp = [i for i in g.input if i.name not in inits][0]
    dim0 = inp.type.tensor_type.shape.dim[0]
    if dim0.HasField("dim_value") and dim0.dim_value == 1 and len(x) != 1:
        return np.concatenate([numpy_graph(om, x[i:i + 1], pre, post) for i in range(len(x))])
    env = {t.name: numpy_helper.to_array(t) for t in g.initializer}
    env[inp.name] = x.astype(np.float32)
    for node in g.node:
        a = [env[i] for i in node.input]
        if pre and node.name in pre:
            a[0] = pre[node.name](a[0])
        at = {t.name: onnx.helper.get_attribute_value(t) for t in node.attribute}
        r = _node(node, a, at)
        if post and node.name in post:
            r = post[node.name](r)
        env[node.output[0]] = r
    return env[g.output[0].name]
