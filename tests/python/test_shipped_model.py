"""The shipped pretrained model: manifest agreement, accuracy, and precision-robust hidden signs."""

import hashlib
import os

import numpy as np
import onnx
import pytest
import torch
import yaml

import datasets
from bnn import bn_inference, mc_forward
from conftest import REPO_ROOT
from onnx_to_torch import onnx_to_torch

PRETRAINED = os.path.join(REPO_ROOT, "models", "pretrained")
SHIPPED = os.path.join(PRETRAINED, "mnist_mlp_scale.onnx")


@pytest.fixture(scope="module")
def shipped():
    model, meta = onnx_to_torch(SHIPPED)
    return model, meta


def test_manifest_describes_the_file():
    with open(os.path.join(PRETRAINED, "manifest.yaml")) as f:
        entry = yaml.safe_load(f)["models"]["mnist_mlp_scale.onnx"]
    data = open(SHIPPED, "rb").read()
    assert entry["sha256"] == hashlib.sha256(data).hexdigest()
    assert entry["size_bytes"] == len(data) < 4_000_000
    assert entry["command"] in open(os.path.join(REPO_ROOT, "models", "retrain_all.sh")).read().replace("\\\n  ", "")
    assert entry["metrics"]["accuracy"] >= 0.97 and entry["eval"]["T"] == 20
    for rel, digest in entry["data_sha256"].items():
        assert datasets.sha256_file(os.path.join(REPO_ROOT, rel)) == digest, rel


def test_metadata_and_structure(shipped):
    model, meta = shipped
    assert meta["bayescim.dropout.kind"] == "scale" and meta["bayescim.dropout.layers"] == "fc1,fc2,fc3"
    assert meta["bayescim.dropout.p"] == "0.2" and meta["bayescim.scale.dropped_value"] == "1"
    assert (model.in_features, model.hidden, model.num_classes) == (784, (512, 512), 10)
    assert onnx.load(SHIPPED).ir_version == 7


def test_accuracy_on_first_thousand_test_images(shipped, data_dir):
    model, _ = shipped
    images, labels, _ = datasets.load(data_dir, "mnist", "test")
    x = torch.from_numpy(datasets.to_float(images[:1000]))
    pred = mc_forward(model, x, torch.zeros(1000, 3, dtype=torch.uint8)).argmax(1).numpy()
    assert np.mean(pred == labels[:1000]) > 0.96


def test_hidden_signs_do_not_depend_on_float_precision(shipped):
    """Every reachable pre-activation gives the same sign in float32 (PyTorch order) and float64."""
    model, _ = shipped
    for layer in model.layers()[:-1]:
        n = layer.in_features
        a = torch.arange(-n, n + 1, 2, dtype=torch.float32).unsqueeze(1)  # a = 2*matches - n
        bn = layer.bn
        for s in (layer.alpha.detach().unsqueeze(0), torch.ones(1, layer.out_features) * model.dropped_value):
            z32 = bn_inference(a * s, bn).detach().numpy()
            s64 = s.double().numpy()
            z64 = (bn.weight.detach().double().numpy() * (a.double().numpy() * s64 - bn.running_mean.double().numpy())
                   / np.sqrt(bn.running_var.double().numpy() + np.float64(np.float32(bn.eps)))
                   + bn.bias.detach().double().numpy())
            assert np.array_equal(z32 >= 0, z64 >= 0)
