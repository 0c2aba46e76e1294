"""A numpy evaluator of the bayescim ONNX convention (float32, ONNX op semantics), used by the
tests as an importer independent of the C++ one."""

import numpy as np
import onnx
from onnx import numpy_helper


def numpy_graph(om, x):
    """Evaluate the graph with numpy (float32, ONNX op semantics), as an independent importer would."""
    env = {t.name: numpy_helper.to_array(t) for t in om.graph.initializer}
    env["input"] = x.astype(np.float32)
    for node in om.graph.node:
        a = [env[i] for i in node.input]
        at = {t.name: onnx.helper.get_attribute_value(t) for t in node.attribute}
        if node.op_type == "GreaterOrEqual":
            r = a[0] >= a[1]
        elif node.op_type == "Where":
            r = np.where(a[0], a[1], a[2]).astype(np.float32)
        elif node.op_type == "MatMul":
            r = (a[0] @ a[1]).astype(np.float32)
        elif node.op_type == "Mul":
            r = (a[0] * a[1]).astype(np.float32)
        elif node.op_type == "Conv":
            k, p = at["kernel_shape"][0], at["pads"][0]
            xp = np.pad(a[0], ((0, 0), (0, 0), (p, p), (p, p)))
            n, _, h, w = a[0].shape
            r = np.zeros((n, a[1].shape[0], h + 2 * p - k + 1, w + 2 * p - k + 1), np.float32)
            for kh in range(k):
                for kw in range(k):
                    r += np.einsum("nchw,oc->nohw", xp[:, :, kh:kh + r.shape[2], kw:kw + r.shape[3]], a[1][:, :, kh, kw])
        elif node.op_type == "MaxPool":
            k = at["kernel_shape"][0]
            n, c, h, w = a[0].shape
            r = a[0].reshape(n, c, h // k, k, w // k, k).max(axis=(3, 5))
        elif node.op_type == "Flatten":
            r = a[0].reshape(len(a[0]), -1)
        elif node.op_type == "BatchNormalization":
            eps = np.float32(at["epsilon"])
            shape = (1, -1) + (1,) * (a[0].ndim - 2)
            g, b, m, v = (t.reshape(shape) for t in a[1:])
            r = ((a[0] - m) / np.sqrt(v + eps) * g + b).astype(np.float32)
        else:
            raise AssertionError(f"unexpected op {node.op_type}")
        env[node.output[0]] = r
    return env["logits"]
