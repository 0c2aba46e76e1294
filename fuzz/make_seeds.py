#!/usr/bin/python3
"""Writes the seed corpora of the fuzz harnesses from the shipped files into OUT_DIR/<harness>/.

- config: every experiment of configs/experiments/ with its included architecture and device
  files inlined (a harness input is one file) and its paths made absolute;
- set: for every experiment, one input of `--set` lines, one per leaf key of the resolved
  config (the key=value pairs a user would type), plus the README's examples;
- onnx: every model of models/pretrained/ shrunk to a few neurons and channels (the same
  nodes, attributes and metadata; each initializer sliced), so an input is a few kB;
- idx: the first 3 images or labels of every file in data/, with the count in the header set to 3;
- onnx also gets tests/fuzz_regressions/onnx/ (inputs that once crashed or were misread).

Usage: /usr/bin/python3 fuzz/make_seeds.py OUT_DIR
"""
import glob
import os
import struct
import sys

import numpy as np
import onnx
import yaml
from onnx import numpy_helper

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
INCLUDES = ("architecture", "device", "dropout_device")


def resolved_experiment(path):
    with open(path) as f:
        exp = yaml.safe_load(f)
    here = os.path.dirname(path)
    hw = exp.get("hardware", {})
    for k in INCLUDES:
        if isinstance(hw.get(k), str):
            with open(os.path.join(here, hw[k])) as f:
                hw[k] = yaml.safe_load(f)
    exp["model"]["path"] = os.path.normpath(os.path.join(here, exp["model"]["path"]))
    for split in ("id", "ood"):
        s = exp.get("data", {}).get(split)
        if isinstance(s, dict) and "dir" in s:
            s["dir"] = os.path.normpath(os.path.join(here, s["dir"]))
    return exp


def leaves(node, prefix=""):
    if isinstance(node, dict):
        for k, v in node.items():
            yield from leaves(v, f"{prefix}{k}.")
    elif isinstance(node, list):
        yield prefix[:-1], ",".join(str(x) for x in node)
    else:
        yield prefix[:-1], "" if node is None else str(node).lower() if isinstance(node, bool) else str(node)


# Each shipped dimension -> a small one; the CNN's flattened width follows from its pooled maps.
SHRINK = {784: 16, 512: 8, 128: 4, 10: 3, 32: 2, 64: 3, 28: 8, 3136: 12}


def shrink_model(src, dst):
    m = onnx.load(src)
    g = m.graph
    for inp in g.input:
        for d in inp.type.tensor_type.shape.dim:
            if d.dim_value in SHRINK:
                d.dim_value = SHRINK[d.dim_value]
    for t in g.initializer:
        a = numpy_helper.to_array(t)
        if a.ndim == 0:
            continue
        idx = tuple(slice(0, SHRINK.get(n, n)) for n in a.shape)
        small = np.ascontiguousarray(a[idx])
        t.CopyFrom(numpy_helper.from_array(small, t.name))
    for vi in list(g.output) + list(g.value_info):
        for d in vi.type.tensor_type.shape.dim:
            if d.dim_value in SHRINK:
                d.dim_value = SHRINK[d.dim_value]
    with open(dst, "wb") as f:
        f.write(m.SerializeToString())


def main(out):
    for h in ("config", "set", "onnx", "idx"):
        os.makedirs(os.path.join(out, h), exist_ok=True)
    for path in sorted(glob.glob(os.path.join(REPO, "configs", "experiments", "*.yaml"))):
        name = os.path.splitext(os.path.basename(path))[0]
        exp = resolved_experiment(path)
        with open(os.path.join(out, "config", name + ".yaml"), "w") as f:
            yaml.safe_dump(exp, f, sort_keys=False)
        lines = [f"{k}={v}" for k, v in leaves(exp) if not k.startswith("model.path")]
        with open(os.path.join(out, "set", name + ".txt"), "w") as f:
            f.write("\n".join(lines))
    with open(os.path.join(out, "set", "readme_examples.txt"), "w") as f:
        f.write("mc.samples=5\nmodel.dropout.p=0.3\nhardware.device.tmr=2.0\n"
                "hardware.architecture.array.rows=256\nexperiment.engine=reference\n"
                "model.dropout.kind=mc_dropout\nmodel.dropout.layers=fc2,fc3\n"
                "log.modules={controller: debug, tile_0: trace}\ndata.ood=null")
    for path in sorted(glob.glob(os.path.join(REPO, "models", "pretrained", "*.onnx"))):
        shrink_model(path, os.path.join(out, "onnx", os.path.basename(path)))
    # Inputs that once crashed or were misread (fuzz/make_regressions.py): mutations of them
    # explore the same checks.
    for path in sorted(glob.glob(os.path.join(REPO, "tests", "fuzz_regressions", "onnx", "*.onnx"))):
        with open(path, "rb") as src, open(os.path.join(out, "onnx", "regression-" + os.path.basename(path)), "wb") as f:
            f.write(src.read())
    for path in sorted(glob.glob(os.path.join(REPO, "data", "*", "*-ubyte"))):
        with open(path, "rb") as f:
            head = f.read(16)
            magic = struct.unpack(">I", head[:4])[0]
            dims = 3 if magic == 0x803 else 1
            f.seek(0)
            header = bytearray(f.read(4 + 4 * dims))
            item = 1
            for k in range(1, dims):
                item *= struct.unpack(">I", header[4 + 4 * k:8 + 4 * k])[0]
            header[4:8] = struct.pack(">I", 3)
            body = f.read(3 * item)
        tag = os.path.basename(os.path.dirname(path)) + "-" + os.path.basename(path)
        with open(os.path.join(out, "idx", tag), "wb") as f:
            f.write(bytes(header) + body)


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    main(sys.argv[1])
