"""Scale-Dropout semantics of models/bnn.py: forced bits, dropped value, Bernoulli rate, binarisation."""

import math

import numpy as np
import pytest
import torch

from models.bnn import BinaryLayer, BinaryMLP, binarize, binarize_input, mc_forward, mc_sample, sign_ste

EPS = 1e-5


def tiny_layer():
    """3-in, 2-out layer with hand-set weights, alpha and BN statistics (eval mode)."""
    layer = BinaryLayer(3, 2, learn_alpha=True, activation=False)
    with torch.no_grad():
        layer.weight.copy_(torch.tensor([[0.3, -0.2, 0.0], [-0.5, 0.1, -0.7]]))  # -> [[1,-1,1],[-1,1,-1]]
        layer.alpha.copy_(torch.tensor([2.0, 3.0]))
        layer.bn.running_mean.copy_(torch.tensor([0.5, -1.0]))
        layer.bn.running_var.copy_(torch.tensor([4.0, 1.0]))
        layer.bn.weight.copy_(torch.tensor([1.0, 2.0]))
        layer.bn.bias.copy_(torch.tensor([0.0, 0.5]))
    return layer.eval()


def bn_by_hand(z):
    mean, var, gamma, beta = [0.5, -1.0], [4.0, 1.0], [1.0, 2.0], [0.0, 0.5]
    return [(z[j] - mean[j]) / math.sqrt(var[j] + EPS) * gamma[j] + beta[j] for j in range(2)]


@pytest.mark.parametrize("dropped_value", [1.0, 0.0])
def test_bit_selects_alpha_or_dropped_value(dropped_value):
    layer = tiny_layer()
    x = torch.tensor([[1.0, -1.0, -1.0], [1.0, -1.0, -1.0]])
    # a = x . w_b = [1+1-1, -1-1+1] = [1, -1]
    drop = torch.tensor([False, True])
    out = layer(x, drop=drop, dropped_value=dropped_value).detach().numpy()
    kept = bn_by_hand([1 * 2.0, -1 * 3.0])
    dropped = bn_by_hand([1 * dropped_value, -1 * dropped_value])
    assert out[0] == pytest.approx(kept, abs=1e-6)
    assert out[1] == pytest.approx(dropped, abs=1e-6)
    assert layer(x).detach().numpy()[1] == pytest.approx(kept, abs=1e-6)  # no bits: alpha applied


def test_binarisation_maps_zero_to_plus_one():
    t = torch.tensor([-0.5, -0.0, 0.0, 1e-9, 2.0])
    assert binarize(t).tolist() == [-1.0, 1.0, 1.0, 1.0, 1.0]
    assert tiny_layer().binary_weight().tolist() == [[1.0, -1.0, 1.0], [-1.0, 1.0, -1.0]]
    px = torch.tensor([0.0, 127 / 255, 128 / 255, 1.0], dtype=torch.float32)
    assert binarize_input(px).tolist() == [-1.0, -1.0, 1.0, 1.0]


def test_straight_through_gradient_is_hardtanh():
    x = torch.tensor([-2.0, -1.0, -0.3, 0.0, 0.7, 1.0, 1.5], requires_grad=True)
    sign_ste(x).sum().backward()
    assert x.grad.tolist() == [0.0, 1.0, 1.0, 1.0, 1.0, 1.0, 0.0]


def small_mlp(dropped_value=1.0, seed=0):
    torch.manual_seed(seed)
    model = BinaryMLP(in_features=12, hidden=(6, 5), num_classes=3, p=0.2, dropped_value=dropped_value)
    with torch.no_grad():
        for layer in model.layers():
            layer.alpha.uniform_(0.3, 2.0)
            layer.bn.running_mean.uniform_(-2, 2)
            layer.bn.running_var.uniform_(0.5, 3)
            layer.bn.weight.uniform_(0.5, 2)
            layer.bn.bias.uniform_(-0.5, 0.5)
    return model.eval()


def by_hand_mlp(model, x, bits):
    """Reference forward pass written out layer by layer with numpy."""
    h = np.where(x.numpy() >= 0.5, 1.0, -1.0)
    for k, layer in enumerate(model.layers()):
        w = np.where(layer.weight.detach().numpy() >= 0, 1.0, -1.0)
        s = model.dropped_value if bits[k] else layer.alpha.detach().numpy().astype(np.float64)
        bn = layer.bn
        z = (h @ w.T) * s
        z = (z - bn.running_mean.numpy()) / np.sqrt(bn.running_var.numpy() + EPS) * bn.weight.detach().numpy() \
            + bn.bias.detach().numpy()
        h = np.where(z >= 0, 1.0, -1.0) if layer.activation else z
    return h


@pytest.mark.parametrize("dropped_value", [1.0, 0.0])
def test_mlp_bits_per_example_and_per_layer(dropped_value):
    model = small_mlp(dropped_value)
    x = torch.rand(8, 12, generator=torch.Generator().manual_seed(3))
    all_bits = torch.tensor([[(c >> k) & 1 for k in range(3)] for c in range(8)], dtype=torch.uint8)
    out = mc_forward(model, x, all_bits)
    for i in range(8):
        ref = by_hand_mlp(model, x[i:i + 1], all_bits[i].tolist())
        assert out[i].numpy() == pytest.approx(ref[0], abs=1e-4), f"example {i} bits {all_bits[i].tolist()}"
        single = mc_forward(model, x[i:i + 1], all_bits[i:i + 1])
        assert torch.equal(single[0], out[i])
    assert not torch.equal(out[0], mc_forward(model, x[:1], torch.ones(1, 3, dtype=torch.uint8))[0])


def test_bits_shape_is_checked():
    model = small_mlp()
    with pytest.raises(ValueError, match="bits shape"):
        mc_forward(model, torch.rand(2, 12), torch.zeros(2, 2, dtype=torch.uint8))


def test_bernoulli_rate_within_four_sigma():
    model = small_mlp()
    gen = torch.Generator().manual_seed(1234)
    n = 100_000
    bits = model.sample_bits(n, gen).double()
    assert bits.shape == (n, 3)
    sigma = math.sqrt(model.p * (1 - model.p) / n)
    for k in range(3):
        assert abs(bits[:, k].mean().item() - model.p) <= 4 * sigma
    sigma_all = math.sqrt(model.p * (1 - model.p) / bits.numel())
    assert abs(bits.mean().item() - model.p) <= 4 * sigma_all
    _, mc_bits = mc_sample(model, torch.rand(500, 12), T=40, generator=gen)
    sigma_mc = math.sqrt(model.p * (1 - model.p) / mc_bits.numel())
    assert mc_bits.shape == (40, 500, 3)
    assert abs(mc_bits.double().mean().item() - model.p) <= 4 * sigma_mc


def test_training_forward_draws_bits_per_example():
    model = small_mlp(dropped_value=0.0)
    model.p = 0.5
    model.train()
    x = torch.rand(1, 12).repeat(256, 1)
    with torch.no_grad():
        drawn = model(x, generator=torch.Generator().manual_seed(5))
    # identical inputs: one draw per batch would give identical rows, per-example draws do not
    assert len({tuple(r.tolist()) for r in drawn}) > 1


def test_method_none_has_no_dropout_and_constant_alpha():
    model = BinaryMLP(in_features=12, hidden=(4, 4), num_classes=3, method="none").eval()
    assert model.dropout_layers == [] and model.p == 0.0
    assert all("alpha" not in n for n, _ in model.named_parameters())
    assert model.sample_bits(5).shape == (5, 0)
    x = torch.rand(5, 12)
    assert torch.equal(mc_forward(model, x, torch.zeros(5, 0, dtype=torch.uint8)), mc_forward(model, x, None))


def test_spatial_needs_conv_layers_and_unknown_methods_fail():
    with pytest.raises(ValueError, match="needs a conv layer"):
        BinaryMLP(method="spatial")
    with pytest.raises(ValueError, match="fc2 is fully connected"):
        BinaryMLP(method="spatial", dropout_layers=["fc2"])
    with pytest.raises(ValueError, match="unknown dropout method"):
        BinaryMLP(method="bogus")
