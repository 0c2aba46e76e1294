"""Tiny end-to-end training run: ONNX export convention, metadata, round trip and manifest."""

import hashlib
import os

import numpy as np
import onnx
import pytest

from onnx_numpy import numpy_graph
import torch
import yaml
from onnx import numpy_helper

from models import datasets
from models import train
from models.bnn import mc_forward
from models.onnx_to_torch import onnx_to_torch

HIDDEN = 64


def run_train(tmp, *extra):
    out = os.path.join(tmp, "smoke.onnx")
    manifest = os.path.join(tmp, "manifest.yaml")
    argv = ["--hidden", str(HIDDEN), "--max-steps", "200", "--batch-size", "64", "--train-limit", "8000",
            "--val-size", "1000", "--eval-limit", "400", "--eval-T", "5", "--seed", "7",
            "--out", out, "--manifest", manifest, "--quiet", *extra]
    return train.main(argv), out, manifest


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    tmp = str(tmp_path_factory.mktemp("smoke"))
    result, out, manifest = run_train(tmp)
    return result, out, manifest


def expected_node_order(layers=("fc1", "fc2", "fc3")):
    order = [("input.binarize", "GreaterOrEqual"), ("input.sign", "Where")]
    for i, n in enumerate(layers):
        order += [(n, "MatMul"), (f"{n}.scale", "Mul"), (f"{n}.bn", "BatchNormalization")]
        if i < len(layers) - 1:
            order += [(f"{n}.act.ge", "GreaterOrEqual"), (f"{n}.act", "Where")]
    return order


def test_onnx_passes_checker_and_follows_convention(trained):
    _, out, _ = trained
    om = onnx.load(out)
    onnx.checker.check_model(om)
    assert om.ir_version == 7
    assert [(o.domain, o.version) for o in om.opset_import] == [("", 13)]
    assert [(n.name, n.op_type) for n in om.graph.node] == expected_node_order()
    assert [i.name for i in om.graph.input] == ["input"]
    assert [o.name for o in om.graph.output] == ["logits"]
    in_dims = om.graph.input[0].type.tensor_type.shape.dim
    assert in_dims[0].dim_param and in_dims[1].dim_value == 784
    assert om.graph.output[0].type.tensor_type.shape.dim[1].dim_value == 10
    init = {t.name: numpy_helper.to_array(t) for t in om.graph.initializer}
    assert init["input.threshold"] == np.float32(0.5) and init["input.threshold"].shape == ()
    assert (init["const.one"], init["const.minus_one"], init["const.zero"]) == (1.0, -1.0, 0.0)
    shapes = {"fc1": (784, HIDDEN), "fc2": (HIDDEN, HIDDEN), "fc3": (HIDDEN, 10)}
    for name, shape in shapes.items():
        w = init[f"{name}.weight"]
        assert w.dtype == np.float32 and w.shape == shape
        assert np.all(np.abs(w) == 1.0), f"{name}.weight is not exactly +-1"
        for suffix in ("alpha", "bn.gamma", "bn.beta", "bn.mean", "bn.var"):
            assert init[f"{name}.{suffix}"].shape == (shape[1],), f"{name}.{suffix}"
        bn = [n for n in om.graph.node if n.name == f"{name}.bn"][0]
        assert [a.f for a in bn.attribute if a.name == "epsilon"] == [pytest.approx(1e-5)]


def test_metadata(trained):
    _, out, _ = trained
    meta = {p.key: p.value for p in onnx.load(out).metadata_props}
    assert meta == {
        "bayescim.format": "1", "bayescim.model": "mlp", "bayescim.dropout.kind": "scale",
        "bayescim.dropout.p": "0.2", "bayescim.dropout.layers": "fc1,fc2,fc3",
        "bayescim.scale.dropped_value": "1", "bayescim.dataset": "mnist", "bayescim.classes": "10",
    }


def test_roundtrip_gives_identical_logits_with_fixed_bits(trained, data_dir):
    result, out, _ = trained
    model = result["model"]
    rebuilt, _ = onnx_to_torch(out)
    images, _, _ = datasets.load(data_dir, "mnist", "test")
    x = torch.from_numpy(datasets.to_float(images[:64]))
    bits = torch.tensor([[(i >> k) & 1 for k in range(3)] for i in range(64)], dtype=torch.uint8)
    a, b = mc_forward(model, x, bits), mc_forward(rebuilt, x, bits)
    assert torch.equal(a, b)
    assert not torch.equal(a[0], mc_forward(model, x[:1], torch.ones(1, 3, dtype=torch.uint8))[0])


def test_onnx_graph_semantics_match_torch_all_kept(trained, data_dir):
    result, out, _ = trained
    images, _, _ = datasets.load(data_dir, "mnist", "test")
    x = datasets.to_float(images[:200])
    ref = mc_forward(result["model"], torch.from_numpy(x), torch.zeros(200, 3, dtype=torch.uint8)).numpy()
    assert np.array_equal(numpy_graph(onnx.load(out), x), ref)


def test_manifest_entry(trained, data_dir):
    result, out, manifest = trained
    with open(manifest) as f:
        data = yaml.safe_load(f)
    entry = data["models"]["smoke.onnx"]
    assert entry["file"] == "smoke.onnx"
    assert entry["sha256"] == hashlib.sha256(open(out, "rb").read()).hexdigest()
    assert "--max-steps 200" in entry["command"] and entry["command"].split()[1:3] == ["-m", "models.train"]
    assert entry["seed"] == 7 and entry["method"] == "scale" and entry["p"] == 0.2
    assert entry["dropped_value"] == 1 and entry["steps"] == 200
    assert entry["torch_version"] == str(torch.__version__)
    assert entry["eval"]["T"] == 5
    m = entry["metrics"]
    for k in ("accuracy", "nll", "ece", "auroc_entropy", "auroc_mi"):
        assert 0.0 <= m[k] <= (10.0 if k == "nll" else 1.0), k
    assert m["accuracy"] > 0.5, "200 steps should already beat chance by far"
    files = entry["data_sha256"]
    assert set(files) == {f"data/mnist/{s}-{k}" for s in ("train", "t10k")
                          for k in ("images-idx3-ubyte", "labels-idx1-ubyte")} | \
        {"data/fashion-mnist/t10k-images-idx3-ubyte", "data/fashion-mnist/t10k-labels-idx1-ubyte"}
    path = os.path.join(data_dir, "mnist", "t10k-labels-idx1-ubyte")
    assert files["data/mnist/t10k-labels-idx1-ubyte"] == hashlib.sha256(open(path, "rb").read()).hexdigest()


def test_manifest_replaces_entry_by_file_name(tmp_path):
    path = str(tmp_path / "m.yaml")
    train.update_manifest(path, "a.onnx", {"file": "a.onnx", "seed": 1})
    train.update_manifest(path, "b.onnx", {"file": "b.onnx", "seed": 2})
    train.update_manifest(path, "a.onnx", {"file": "a.onnx", "seed": 3})
    data = yaml.safe_load(open(path))
    assert data["models"] == {"a.onnx": {"file": "a.onnx", "seed": 3}, "b.onnx": {"file": "b.onnx", "seed": 2}}


def test_training_is_deterministic_and_method_none_exports(tmp_path):
    def short(sub, *extra):
        d = tmp_path / sub
        d.mkdir()
        argv = ["--hidden", "16", "--max-steps", "15", "--batch-size", "50", "--train-limit", "2000",
                "--val-size", "200", "--eval-limit", "100", "--eval-T", "2", "--out", str(d / "m.onnx"), "--quiet",
                *extra]
        res = train.main(argv)
        return res, open(d / "m.onnx", "rb").read()

    _, first = short("a")
    _, second = short("b")
    assert first == second
    res, _ = short("c", "--method", "none")
    om = onnx.load(str(tmp_path / "c" / "m.onnx"))
    meta = {p.key: p.value for p in om.metadata_props}
    assert meta["bayescim.dropout.kind"] == "none" and meta["bayescim.dropout.layers"] == ""
    init = {t.name: numpy_helper.to_array(t) for t in om.graph.initializer}
    assert all(np.all(init[f"fc{k}.alpha"] == 1.0) for k in (1, 2, 3))
    assert res["entry"]["dropout_layers"] == "" and res["entry"]["p"] == 0.0
