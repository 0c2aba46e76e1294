"""Every method x topology: tiny training run, ONNX convention, checker, exact round trip, graph semantics."""

import json
import os

import numpy as np
import onnx
import pytest

from onnx_numpy import numpy_graph
import torch
from onnx import numpy_helper

from models import datasets
from models import parity
from models import rng
from models import train
from models.bnn import mc_forward
from models.onnx_to_torch import OnnxFormatError, onnx_to_torch

CASES = [("mlp", "none"), ("mlp", "mc_dropout"), ("mlp", "scale"),
         ("cnn", "none"), ("cnn", "mc_dropout"), ("cnn", "spatial"), ("cnn", "scale")]
DEFAULT_LAYERS = {("mlp", "mc_dropout"): "fc2,fc3", ("mlp", "scale"): "fc1,fc2,fc3", ("cnn", "mc_dropout"): "conv2,fc1,fc2",
                  ("cnn", "spatial"): "conv2", ("cnn", "scale"): "conv1,conv2,fc1,fc2"}


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """Tiny runs (small widths, 12 steps) of every case: {case: (train result, onnx path)}."""
    out = {}
    for topo, method in CASES:
        path = str(tmp_path_factory.mktemp(f"{topo}_{method}") / "m.onnx")
        argv = ["--topology", topo, "--method", method, "--dataset", "fashion" if topo == "cnn" else "mnist",
                "--hidden", "16", "--channels", "4,8", "--max-steps", "12", "--batch-size", "32",
                "--train-limit", "1000", "--val-size", "100", "--eval-limit", "40", "--eval-T", "2", "--seed", "5",
                "--out", path, "--quiet"]
        out[(topo, method)] = (train.main(argv), path)
    return out


def cnn_node_order():
    order = [("input.binarize", "GreaterOrEqual"), ("input.sign", "Where")]
    for i, n in enumerate(["conv1", "conv2"]):
        order += [(n, "Conv"), (f"{n}.scale", "Mul"), (f"{n}.bn", "BatchNormalization"),
                  (f"{n}.act.ge", "GreaterOrEqual"), (f"{n}.act", "Where"), (f"pool{i + 1}", "MaxPool")]
    order += [("flatten", "Flatten"), ("fc1", "MatMul"), ("fc1.scale", "Mul"), ("fc1.bn", "BatchNormalization"),
              ("fc1.act.ge", "GreaterOrEqual"), ("fc1.act", "Where"),
              ("fc2", "MatMul"), ("fc2.scale", "Mul"), ("fc2.bn", "BatchNormalization")]
    return order


@pytest.mark.parametrize("case", CASES)
def test_export_checker_metadata_and_exact_round_trip(trained, case, data_dir):
    result, path = trained[case]
    om = onnx.load(path)
    onnx.checker.check_model(om)
    meta = {p.key: p.value for p in om.metadata_props}
    assert meta["bayescim.model"] == case[0] and meta["bayescim.dropout.kind"] == case[1]
    assert meta["bayescim.dropout.layers"] == DEFAULT_LAYERS.get(case, "")
    assert meta["bayescim.dropout.p"] == ("0" if case[1] == "none" else "0.2")
    model = result["model"]
    rebuilt, _ = onnx_to_torch(path)
    assert type(rebuilt) is type(model) and rebuilt.draw_counts == model.draw_counts
    images, _, _ = datasets.load(data_dir, meta["bayescim.dataset"], "test")
    x = torch.from_numpy(datasets.to_float(images[:48]))
    bits = model.sample_bits(48, torch.Generator().manual_seed(1))
    assert torch.equal(mc_forward(model, x, bits), mc_forward(rebuilt, x, bits))
    assert result["entry"]["draws_per_sample"] == model.num_draws


def test_cnn_graph_follows_the_convention(trained):
    _, path = trained[("cnn", "spatial")]
    om = onnx.load(path)
    assert [(n.name, n.op_type) for n in om.graph.node] == cnn_node_order()
    dims = om.graph.input[0].type.tensor_type.shape.dim
    assert dims[0].dim_param and [d.dim_value for d in dims[1:]] == [1, 28, 28]
    nodes = {n.name: n for n in om.graph.node}
    attrs = lambda n: {a.name: onnx.helper.get_attribute_value(a) for a in nodes[n].attribute}  # noqa: E731
    assert attrs("conv1") == {"kernel_shape": [3, 3], "pads": [1, 1, 1, 1], "strides": [1, 1]}
    assert attrs("pool2") == {"kernel_shape": [2, 2], "strides": [2, 2]} and attrs("flatten") == {"axis": 1}
    init = {t.name: numpy_helper.to_array(t) for t in om.graph.initializer}
    assert init["conv1.weight"].shape == (4, 1, 3, 3) and init["conv2.weight"].shape == (8, 4, 3, 3)
    assert init["conv2.alpha"].shape == (1, 8, 1, 1) and init["conv2.bn.gamma"].shape == (8,)
    assert init["fc1.weight"].shape == (8 * 7 * 7, 16) and init["fc2.weight"].shape == (16, 10)
    assert all(np.all(np.abs(init[f"{n}.weight"]) == 1) for n in ("conv1", "conv2", "fc1", "fc2"))


@pytest.mark.parametrize("case", [("cnn", "scale"), ("cnn", "none"), ("mlp", "mc_dropout")])
def test_onnx_graph_semantics_match_torch_all_kept(trained, case, data_dir):
    result, path = trained[case]
    images, _, _ = datasets.load(data_dir, "fashion", "test")
    x = datasets.to_float(images[:64])
    model = result["model"]
    ref = mc_forward(model, torch.from_numpy(x), None).numpy()
    got = numpy_graph(onnx.load(path), x.reshape(64, *model.input_shape))
    assert np.allclose(got, ref, atol=1e-5)


def test_spatial_on_an_mlp_is_rejected():
    with pytest.raises(ValueError, match="needs a conv layer"):
        train.main(["--topology", "mlp", "--method", "spatial", "--out", "/nonexistent/x.onnx", "--quiet",
                    "--max-steps", "1", "--train-limit", "100"])


def test_rebuild_rejects_misnamed_layers(trained):
    _, path = trained[("cnn", "none")]
    om = onnx.load(path)
    for n in om.graph.node:
        if n.name == "conv2":
            n.name = "convB"
    with pytest.raises(OnnxFormatError, match="should be named 'conv2'"):
        onnx_to_torch(om)


def write_run(folder, model, images, method_rows, seed=3, p=None, csv_bits=True):
    """A simulator-like run folder: samples.csv with logits of the regenerated masks and report.json."""
    p = model.p if p is None else p
    os.makedirs(folder, exist_ok=True)
    rows = []
    for split, idx in (("id", [0, 5, 9]), ("ood", [2, 7])):
        x = torch.from_numpy(datasets.to_float(images[split][idx]))
        for t in range(method_rows):
            keys = rng.image_key(rng.SPLITS[split], np.array(idx))
            draws = rng.dropout_draws(seed, keys, np.full(len(idx), t), model.num_draws, p)
            logits = mc_forward(model, x, torch.from_numpy(draws)).numpy()
            for i, k in enumerate(idx):
                b = "".join("1" if v else "0" for v in draws[i]) if model.method == "scale" and csv_bits else "-"
                rows.append(f"{split},{k},{t},{b}," + ",".join(f"{v:.9g}" for v in logits[i]))
    with open(os.path.join(folder, "samples.csv"), "w") as f:
        f.write("split,index,sample,bits," + ",".join(f"logit{c}" for c in range(10)) + "\n" + "\n".join(rows) + "\n")
    report = {"seed": seed, "hardware": {"dropout_p_realised": p},
              "model": {"dropout": {"kind": model.method, "p": model.p, "layers": model.dropout_layers,
                                    "dropped_value": model.dropped_value}},
              "data": {"id": {"dataset": "fashion-mnist"}, "ood": {"dataset": "mnist"}}}
    with open(os.path.join(folder, "report.json"), "w") as f:
        json.dump(report, f)
    return os.path.join(folder, "samples.csv")


@pytest.fixture(scope="module")
def test_images(data_dir):
    return {"id": parity.load_test_images(data_dir, "fashion"), "ood": parity.load_test_images(data_dir, "mnist")}


@pytest.mark.parametrize("method", ["mc_dropout", "spatial", "scale"])
def test_parity_regenerates_masks_from_report(trained, method, tmp_path, test_images, data_dir):
    result, path = trained[("cnn", method)]
    model = result["model"]
    csv_path = write_run(str(tmp_path / "run"), model, test_images, 3, p=0.2345678901234567)
    res = parity.run(path, csv_path, data_dir)
    assert res.passed, res.summary()
    assert res.rows == 15 and "regenerated" in res.masks and "0.2345678901234567" in res.masks
    assert res.bits_checked == (15 if method == "scale" else 0)
    # a different seed in the report gives other masks: the logits (or, for scale, the bits) disagree
    rep = json.load(open(tmp_path / "run" / "report.json"))
    rep["seed"] = 4
    json.dump(rep, open(tmp_path / "run" / "report.json", "w"))
    bad = parity.run(path, csv_path, data_dir)
    assert not bad.passed
    if method == "scale":
        assert bad.bits_mismatches > 0 and "bits differ" in bad.summary()


def test_parity_needs_the_report_for_masks_not_in_the_csv(trained, tmp_path, test_images, data_dir):
    result, path = trained[("cnn", "mc_dropout")]
    csv_path = write_run(str(tmp_path / "run"), result["model"], test_images, 2)
    os.remove(tmp_path / "run" / "report.json")
    with pytest.raises(parity.ParityInputError, match="report.json"):
        parity.run(path, csv_path, data_dir)
    assert parity.main(["--model", path, "--samples", csv_path, "--data-dir", data_dir]) == 2


def test_parity_refuses_reports_with_per_module_p(trained, tmp_path, test_images, data_dir):
    result, path = trained[("cnn", "spatial")]
    csv_path = write_run(str(tmp_path / "run"), result["model"], test_images, 1)
    rep = json.load(open(tmp_path / "run" / "report.json"))
    rep["hardware"]["dropout_p_modules"] = {"mean": 0.2, "std": 0.01, "min": 0.18, "max": 0.22}
    json.dump(rep, open(tmp_path / "run" / "report.json", "w"))
    with pytest.raises(parity.ParityInputError, match="variation"):
        parity.run(path, csv_path, data_dir)
    rep["hardware"]["dropout_p_modules"] = {"mean": 0.2, "std": 0.0, "min": 0.2, "max": 0.2}
    json.dump(rep, open(tmp_path / "run" / "report.json", "w"))
    assert parity.run(path, csv_path, data_dir).passed


def test_rebuild_reads_gemm_with_transposed_weights(trained, data_dir):
    result, path = trained[("mlp", "scale")]
    om = onnx.load(path)
    inits = {t.name: t for t in om.graph.initializer}
    for n in om.graph.node:
        if n.op_type == "MatMul":
            n.op_type = "Gemm"
            n.attribute.append(onnx.helper.make_attribute("transB", 1))
            w = inits[n.input[1]]
            w.CopyFrom(numpy_helper.from_array(np.ascontiguousarray(numpy_helper.to_array(w).T), w.name))
    rebuilt, _ = onnx_to_torch(om)
    images, _, _ = datasets.load(data_dir, "mnist", "test")
    x = torch.from_numpy(datasets.to_float(images[:32]))
    bits = result["model"].sample_bits(32, torch.Generator().manual_seed(2))
    assert torch.equal(mc_forward(rebuilt, x, bits), mc_forward(result["model"], x, bits))
