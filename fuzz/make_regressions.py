#!/usr/bin/python3
"""Writes tests/fuzz_regressions/onnx/*.onnx: ONNX inputs that crashed the importer or were
silently misread before the fixes listed in docs/reliability.md. Each starts from a shrunk
shipped model (fuzz/make_seeds.py) and changes one attribute or initializer to a value that
int64 -> int casts or missing range checks mishandled. tests/unit/test_fuzz_regressions.cpp
loads every file and expects a ModelError; fuzz/run.sh adds them to the ONNX seed corpus.

Usage: /usr/bin/python3 fuzz/make_regressions.py
"""
import os
import sys
import tempfile

import numpy as np
import onnx
from onnx import numpy_helper

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)
OUT = os.path.join(REPO, "tests", "fuzz_regressions", "onnx")
sys.path.insert(0, HERE)
import make_seeds  # noqa: E402


def node(m, name):
    return next(n for n in m.graph.node if n.name == name)


def attr(n, name):
    return next(a for a in n.attribute if a.name == name)


def init(m, name):
    return next(t for t in m.graph.initializer if t.name == name)


def cases(cnn, mlp):
    def conv_stride_2pow32(m):  # stride cast to int 0: division by zero (SIGFPE)
        attr(node(m, "conv1"), "strides").ints[:] = [2 ** 32, 2 ** 32]

    def conv_pads_wrap(m):  # pads cast to int -1: a negative padding accepted
        attr(node(m, "conv1"), "pads").ints[:] = [2 ** 32 - 1] * 4

    def pool_kernel_wrap(m):  # 2^32 + 2 read as a 2x2 pool: the model silently changed
        attr(node(m, "pool1"), "kernel_shape").ints[:] = [2 ** 32 + 2] * 2
        attr(node(m, "pool1"), "strides").ints[:] = [2 ** 32 + 2] * 2

    def conv_kernel_attr_wrap(m):
        attr(node(m, "conv1"), "kernel_shape").ints[:] = [2 ** 32 + 3] * 2

    def conv_kernel_2pow31(m):  # K = 2^31 with no output channel: int overflow in C_in * K * K
        t = init(m, "conv1.weight")
        t.CopyFrom(numpy_helper.from_array(np.zeros((0, 1, 3, 3), np.float32), t.name))
        del t.dims[:]
        t.dims.extend([0, 1, 2 ** 31, 2 ** 31])
        n = node(m, "conv1")
        keep = [a for a in n.attribute if a.name != "kernel_shape"]
        del n.attribute[:]
        n.attribute.extend(keep)

    def gemm_zero_outputs(m):  # a layer of 0 neurons: 0 classes
        t = init(m, "fc3.weight")
        t.CopyFrom(numpy_helper.from_array(np.zeros((8, 0), np.float32), t.name))

    def bn_eps_nan(m):  # NaN thresholds accepted
        node(m, "fc1.bn").attribute[0].f = float("nan")

    def bn_eps_negative(m):
        node(m, "fc1.bn").attribute[0].f = -1.0

    return [(f, cnn if f.__name__.startswith(("conv", "pool")) else mlp)
            for f in (conv_stride_2pow32, conv_pads_wrap, pool_kernel_wrap, conv_kernel_attr_wrap,
                      conv_kernel_2pow31, gemm_zero_outputs, bn_eps_nan, bn_eps_negative)]


def main():
    os.makedirs(OUT, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        cnn, mlp = os.path.join(tmp, "cnn.onnx"), os.path.join(tmp, "mlp.onnx")
        make_seeds.shrink_model(os.path.join(REPO, "models", "pretrained", "fashion_cnn_spatial.onnx"), cnn)
        make_seeds.shrink_model(os.path.join(REPO, "models", "pretrained", "mnist_mlp_scale.onnx"), mlp)
        for fn, src in cases(cnn, mlp):
            m = onnx.load(src)
            fn(m)
            with open(os.path.join(OUT, fn.__name__ + ".onnx"), "wb") as f:
                f.write(m.SerializeToString())
            print("wrote", fn.__name__)


if __name__ == "__main__":
    main()
