"""The dropout organisations on a VGG-shaped network (scripts/structures.py) in the simulator:
module counts per layer against hand counts (K*K*C_in per-neuron vs C_in spatial: exactly 9x for
3x3 convs; one shared unit), and the random bits each organisation draws per sample."""

import os

import onnx
import pytest

from scripts import structures
from tests.harness import REPO_ROOT, read_report, run_sim

CONFIG = os.path.join(REPO_ROOT, "configs", "experiments", "mnist_mlp_scale.yaml")


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    d = tmp_path_factory.mktemp("vgg")
    model = d / "vgg.onnx"
    onnx.save(structures.build("vgg_small_32"), str(model))
    structures.write_synthetic_idx(str(d / "synth"), n=1)
    out = {}
    for kind in ("mc_dropout", "spatial", "scale", "element-wise"):
        sets = ["--set", "model.dropout.kind=mc_dropout", "--set", "model.dropout.layout=element-wise"] \
            if kind == "element-wise" else ["--set", f"model.dropout.kind={kind}"]
        run_sim("run", CONFIG, "--quiet", "--out", str(d / kind), "--set", f"model.path={model}",
                "--set", f"data.id.dir={d / 'synth'}", "--set", "data.ood=null", "--set", "mc.samples=1",
                "--set", "model.dropout.p=0.2", *sets)
        out[kind] = read_report(d / kind)
    return out


def test_module_counts_by_hand(runs):
    convs, fcs = structures.VGG_SMALL
    c_in = [3] + [c for _, c, _, _ in convs[:-1]]
    mc = {l["name"]: l for l in runs["mc_dropout"]["hardware"]["layers"]}
    sp = {l["name"]: l for l in runs["spatial"]["hardware"]["layers"]}
    for i, (name, _, _, _) in enumerate(convs):
        want_pn = 0 if i == 0 else 9 * c_in[i]   # the first layer's inputs are pixels: not dropped
        want_sp = 0 if i == 0 else c_in[i]
        assert mc[name]["dropout_modules"] == want_pn, name
        assert sp[name]["dropout_modules"] == want_sp, name
    # fc1 sees 512 channels x 4 x 4 after three 2x2 pools of 32x32; fc2 sees fc1's 1024 outputs.
    assert mc["fc1"]["dropout_modules"] == 512 * 4 * 4 and mc["fc2"]["dropout_modules"] == 1024
    assert sp["fc1"]["dropout_modules"] == 0
    assert runs["scale"]["hardware"]["dropout_modules"] == 1
    assert runs["mc_dropout"]["hardware"]["dropout_modules"] == sum(l["dropout_modules"] for l in mc.values())


def test_random_bits_per_sample(runs):
    # per-neuron: a fresh bit per row per output position; spatial: one per channel; scale: one per layer.
    mc = runs["mc_dropout"]["hardware"]
    assert mc["random_bits_per_sample"] == sum(l["rows"] * l["positions"] for l in mc["layers"][1:])
    assert runs["spatial"]["hardware"]["random_bits_per_sample"] == sum(
        l["dropout_modules"] for l in runs["spatial"]["hardware"]["layers"])
    assert runs["scale"]["hardware"]["random_bits_per_sample"] == len(runs["scale"]["hardware"]["layers"])
    # More draws cost more dropout energy, in that order.
    e = {k: runs[k]["energy"]["per_inference_by_component"]["dropout_rng"] for k in runs}
    assert e["mc_dropout"] > e["element-wise"] > e["spatial"] > e["scale"] > 0


def test_element_wise_bits_are_the_input_feature_maps(runs):
    # One bit per input element C_in x H_in x W_in per pass. VGG-small's convs are 3x3, stride 1,
    # pad 1, so H_in x W_in = the positions and C_in = rows / 9; a dense layer's elements are its rows.
    convs, fcs = structures.VGG_SMALL
    c_in = [3] + [c for _, c, _, _ in convs[:-1]]
    h_in = [32]
    for _, _, _, pool in convs[:-1]:
        h_in.append(h_in[-1] // pool if pool else h_in[-1])
    ew = {l["name"]: l for l in runs["element-wise"]["hardware"]["layers"]}
    for i, (name, _, _, _) in enumerate(convs):
        assert ew[name]["random_bits_per_sample"] == (0 if i == 0 else c_in[i] * h_in[i] * h_in[i]), name
    assert ew["fc1"]["random_bits_per_sample"] == 512 * 4 * 4 and ew["fc2"]["random_bits_per_sample"] == 1024
    h = runs["element-wise"]["hardware"]
    assert h["dropout_layout"] == "element-wise" and runs["mc_dropout"]["hardware"]["dropout_layout"] == \
        "per-row-per-position"
    # The same modules (one per row) and gated wordlines; the mask holds every element's bit.
    assert h["dropout_modules"] == runs["mc_dropout"]["hardware"]["dropout_modules"]
    assert h["dropout_circuits"]["mask_latches"] == h["random_bits_per_sample"]


def test_resnet18_carries_its_shortcuts(tmp_path):
    """The ResNet-18 structure has a shortcut at the second conv of each of its 8 blocks; the shortcut
    buffer takes each block input once per sample (every block's shortcut reads it one conv later),
    counted by hand from the block geometry: 64x32x32 (stage 1, two blocks; and stage 2's first
    block's input), then 128x16x16, 256x8x8 and 512x4x4."""
    model = tmp_path / "r18.onnx"
    om = structures.build("resnet18_32")
    ops = [n.op_type for n in om.graph.node]
    assert ops.count("Add") == 8 and ops.count("AveragePool") == 3 and ops.count("Concat") == 3
    onnx.save(om, str(model))
    structures.write_synthetic_idx(str(tmp_path / "synth"), n=1)
    run_sim("run", CONFIG, "--quiet", "--out", str(tmp_path / "out"), "--set", f"model.path={model}",
            "--set", f"data.id.dir={tmp_path / 'synth'}", "--set", "data.ood=null", "--set", "mc.samples=1",
            "--set", "model.dropout.kind=none")
    rep = read_report(tmp_path / "out")
    inputs = [64 * 32 * 32] * 3 + [128 * 16 * 16] * 2 + [256 * 8 * 8] * 2 + [512 * 4 * 4]
    assert rep["hardware"]["counts"]["shortcut_bits"] == sum(inputs)
    # one add per output of the 8 joining convs, plus 3 per pooled source value of the 3 downsampling blocks
    outs = 2 * 64 * 32 * 32 + 2 * 128 * 16 * 16 + 2 * 256 * 8 * 8 + 2 * 512 * 4 * 4
    pooled = 64 * 16 * 16 + 128 * 8 * 8 + 256 * 4 * 4
    assert rep["hardware"]["counts"]["shortcut_adds"] == outs + 3 * pooled
    assert rep["area"]["by_component_mm2"]["shortcut_buffer"] > 0
