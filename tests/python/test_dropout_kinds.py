"""Mask semantics of the four dropout kinds against hand computations and a numpy reference of compiled.cpp."""

import numpy as np
import pytest
import torch

from models import rng
from models.bnn import BinaryCNN, BinaryConv2d, BinaryLayer, BinaryMLP, mc_forward, mc_probs

EPS = np.float32(1e-5)


def identity_tail(layer):
    """alpha 1, BN the identity up to float32 rounding, no sign: the layer outputs its pre-activation a."""
    with torch.no_grad():
        layer.alpha.fill_(1.0)
        layer.bn.running_mean.zero_()
        layer.bn.running_var.fill_(1.0 - 1e-5)
        layer.bn.weight.fill_(1.0)
        layer.bn.bias.zero_()
    return layer.eval()


def test_dense_dropped_input_contributes_zero():
    layer = identity_tail(BinaryLayer(4, 2, activation=False))
    with torch.no_grad():
        layer.weight.copy_(torch.tensor([[1.0, -1, 1, 1], [-1, -1, 1, -1]]))
    x = torch.tensor([[1.0, 1, -1, 1]])
    keep = torch.tensor([[True, False, True, False]])
    out = layer(x, keep=keep).detach().numpy()[0]
    # kept inputs 0 and 2: a = [1*1 + (-1)*1, 1*(-1) + (-1)*1] = [0, -2]; no 1/(1-p) rescaling
    assert out == pytest.approx([0.0, -2.0], abs=1e-5)
    assert layer(x).detach().numpy()[0] == pytest.approx([0.0, -4.0], abs=1e-5)


def conv_by_hand(x, w, pad, stride, drop_channel=None, drop_elem=None):
    """Pre-activation of a conv at every position: a[o, p] = sum of x * w over kept, in-bounds rows (c, kh, kw)."""
    c_in, h, wd = x.shape
    out, _, k, _ = w.shape
    ho, wo = (h + 2 * pad - k) // stride + 1, (wd + 2 * pad - k) // stride + 1
    a = np.zeros((out, ho * wo))
    for p in range(ho * wo):
        oh, ow = divmod(p, wo)
        for c in range(c_in):
            for kh in range(k):
                for kw in range(k):
                    r = (c * k + kh) * k + kw
                    ih, iw = oh * stride - pad + kh, ow * stride - pad + kw
                    if not (0 <= ih < h and 0 <= iw < wd):
                        continue  # zero padding
                    if drop_channel is not None and drop_channel[c]:
                        continue
                    if drop_elem is not None and drop_elem[p * c_in * k * k + r]:
                        continue
                    a[:, p] += w[:, c, kh, kw] * x[c, ih, iw]
    return a.reshape(out, ho, wo)


def tiny_conv(stride=1):
    torch.manual_seed(4)
    layer = identity_tail(BinaryConv2d(3, 2, (5, 5), kernel_size=3, padding=1, stride=stride, activation=False))
    xb = torch.where(torch.rand(1, 3, 5, 5) < 0.5, 1.0, -1.0)
    return layer, xb, layer.binary_weight().numpy()


def test_spatial_zeroes_exactly_the_chosen_channels_at_every_position():
    layer, xb, w = tiny_conv()
    keep = torch.tensor([[True, False, True]])
    out = layer(xb, channel_keep=keep).detach().numpy()[0]
    assert out == pytest.approx(conv_by_hand(xb[0].numpy(), w, 1, 1, drop_channel=[0, 1, 0]), abs=1e-4)
    zeroed = xb.clone()
    zeroed[:, 1] = 0
    assert out == pytest.approx(conv_by_hand(zeroed[0].numpy(), w, 1, 1), abs=1e-4)


@pytest.mark.parametrize("stride", [1, 2])
def test_mc_dropout_conv_drops_im2col_elements_independently(stride):
    layer, xb, w = tiny_conv(stride)
    n = layer.positions * layer.fan_in
    bits = torch.rand(n, generator=torch.Generator().manual_seed(9)) < 0.3
    keep = (~bits).view(1, layer.positions, layer.fan_in).transpose(1, 2)
    out = layer(xb, col_keep=keep).detach().numpy()[0]
    assert out == pytest.approx(conv_by_hand(xb[0].numpy(), w, 1, stride, drop_elem=bits.numpy()), abs=1e-4)


def test_mc_dropout_same_pixel_kept_in_one_window_dropped_in_another():
    layer, xb, w = tiny_conv()
    fan_in = layer.fan_in
    # pixel (c=0, 2, 2) is row r=(0*3+1)*3+1=4 at position 12 (centre) and row 0 at position 18 (3, 3)
    bits = torch.zeros(layer.positions * fan_in, dtype=torch.bool)
    bits[12 * fan_in + 4] = True
    keep = (~bits).view(1, layer.positions, fan_in).transpose(1, 2)
    full = layer(xb).detach().numpy()[0]
    out = layer(xb, col_keep=keep).detach().numpy()[0]
    delta = (full - out).reshape(2, -1)
    assert delta[:, 12] == pytest.approx(w[:, 0, 1, 1] * xb[0, 0, 2, 2].item(), abs=1e-4)
    assert np.all(np.abs(np.delete(delta, 12, axis=1)) < 1e-4)  # the same pixel still counts at (3, 3)


def test_scale_replaces_alpha_by_dropped_value_for_the_whole_layer():
    layer, xb, _ = tiny_conv()
    with torch.no_grad():
        layer.alpha.copy_(torch.tensor([2.0, 3.0]))
    a = identity_tail(BinaryConv2d(3, 2, (5, 5), activation=False))
    with torch.no_grad():
        a.weight.copy_(layer.weight)
    pre = a(xb).detach()
    kept = layer(xb, drop=torch.tensor([False])).detach()
    dropped = layer(xb, drop=torch.tensor([True]), dropped_value=0.0).detach()
    assert torch.allclose(kept[0, 0], 2 * pre[0, 0], atol=1e-4) and torch.allclose(kept[0, 1], 3 * pre[0, 1], atol=1e-4)
    assert torch.allclose(dropped, torch.zeros_like(dropped), atol=1e-6)


def tiny_cnn(method, **kw):
    torch.manual_seed(1)
    model = BinaryCNN((1, 8, 8), convs=((3, 3, 1, 1, 2), (4, 3, 1, 2, 0)), hidden=(5,), num_classes=3,
                      method=method, p=0.3, **kw)
    with torch.no_grad():
        for layer in model.layers():
            if method != "none":
                layer.alpha.uniform_(0.5, 2.0)
            layer.bn.running_mean.uniform_(-2, 2)
            layer.bn.running_var.uniform_(0.5, 4)
            layer.bn.weight.uniform_(-2, 2)
            layer.bn.bias.uniform_(-0.5, 0.5)
    return model.eval()


def f32_bn(a, s, bn, shape):
    g = lambda t: t.detach().numpy().astype(np.float32).reshape(shape)  # noqa: E731
    z = a.astype(np.float32) * np.asarray(s, dtype=np.float32).reshape(shape)
    return ((z - g(bn.running_mean)) / np.sqrt(g(bn.running_var) + EPS) * g(bn.weight) + g(bn.bias)).astype(np.float32)


def reference_forward(model, x, draws):
    """One image, one sample, as models/compiled.cpp defines it (gather, masks by draw index, OR-pool)."""
    h = np.where(x >= 0.5, 1.0, -1.0).reshape(model.input_shape)
    for i, layer in enumerate(model.layers()):
        m = draws[model.draw_offsets[i]:model.draw_offsets[i] + model.draw_counts[i]]
        kind = model.method if model.draw_counts[i] else "none"
        w = layer.binary_weight().numpy()
        if layer.kind == "conv":
            a = conv_by_hand(h, w, layer.padding, layer.stride, drop_channel=m if kind == "spatial" else None,
                             drop_elem=m if kind == "mc_dropout" else None)
            shape = (-1, 1, 1)
        else:
            h = h.reshape(-1)
            if kind == "mc_dropout":
                h = np.where(m, 0.0, h)
            a = w @ h
            shape = (-1,)
        s = np.full(layer.out_features, model.dropped_value) if kind == "scale" and m[0] else layer.alpha.detach().numpy()
        z = f32_bn(a, s, layer.bn, shape)
        if not layer.activation:
            return z
        h = np.where(z >= 0, 1.0, -1.0)
        if layer.kind == "conv" and layer.pool:
            c, hh, ww = h.shape
            k = layer.pool
            h = h.reshape(c, hh // k, k, ww // k, k).max(axis=(2, 4))  # OR of +-1 values


@pytest.mark.parametrize("method", ["none", "mc_dropout", "spatial", "scale"])
def test_cnn_matches_a_reference_of_the_simulator_semantics(method):
    model = tiny_cnn(method, dropped_value=0.0 if method == "scale" else 1.0)
    x = torch.rand(6, 64, generator=torch.Generator().manual_seed(2))
    keys = rng.image_key(np.array([0, 0, 0, 1, 1, 1]), np.arange(6))
    draws = rng.dropout_draws(7, keys, np.arange(6) % 2, model.num_draws, model.p)
    out = mc_forward(model, x, torch.from_numpy(draws)).numpy()
    for i in range(6):
        assert out[i] == pytest.approx(reference_forward(model, x[i].numpy(), draws[i]), abs=1e-5), f"row {i}"
    if model.num_draws:
        assert not np.array_equal(out, mc_forward(model, x, None).numpy())


def test_draw_counts_follow_the_formula():
    m = BinaryCNN(method="mc_dropout")
    assert m.dropout_layers == ["conv2", "fc1", "fc2"]
    assert m.draw_counts == [0, 14 * 14 * 32 * 9, 3136, 128]
    assert m.draw_offsets == [0, 0, 14 * 14 * 32 * 9, 14 * 14 * 32 * 9 + 3136] and m.num_draws == 59712
    m = BinaryCNN(method="spatial")
    assert m.dropout_layers == ["conv2"] and m.draw_counts == [0, 32, 0, 0]
    m = BinaryCNN(method="scale")
    assert m.draw_counts == [1, 1, 1, 1] and m.dropout_layers == ["conv1", "conv2", "fc1", "fc2"]
    m = BinaryCNN(method="spatial", dropout_layers=["conv2", "conv1"])
    assert m.dropout_layers == ["conv1", "conv2"] and m.draw_counts == [1, 32, 0, 0]  # network order
    m = BinaryCNN(method="mc_dropout", dropout_layers=["conv1"])
    assert m.draw_counts == [28 * 28 * 9, 0, 0, 0]
    m = BinaryMLP(method="mc_dropout")
    assert m.dropout_layers == ["fc2", "fc3"] and m.draw_counts == [0, 512, 512] and m.num_draws == 1024
    assert BinaryMLP(method="none").num_draws == 0
    with pytest.raises(ValueError, match="fc1 is fully connected"):
        BinaryCNN(method="spatial", dropout_layers=["fc1"])
    with pytest.raises(ValueError, match="unknown dropout layers"):
        BinaryCNN(method="scale", dropout_layers=["conv9"])


@pytest.mark.parametrize("method", ["mc_dropout", "spatial"])
def test_training_draws_per_example_and_rate(method):
    model = tiny_cnn(method).train()
    bits = model.sample_bits(4000, torch.Generator().manual_seed(3)).double()
    sigma = np.sqrt(0.3 * 0.7 / bits.numel())
    assert abs(bits.mean().item() - 0.3) < 4 * sigma
    with torch.no_grad():
        out = model(torch.rand(1, 64).repeat(64, 1), generator=torch.Generator().manual_seed(5))
    assert len({tuple(r.tolist()) for r in out}) > 1


def test_mc_probs_equals_per_sample_forward():
    model = tiny_cnn("mc_dropout")
    x = torch.rand(10, 64, generator=torch.Generator().manual_seed(8))
    probs = mc_probs(model, x, 3, torch.Generator().manual_seed(1), batch_size=4)
    gen = torch.Generator().manual_seed(1)
    for b in range(0, 10, 4):
        for t in range(3):
            bits = model.sample_bits(len(x[b:b + 4]), gen)
            ref = torch.softmax(mc_forward(model, x[b:b + 4], bits).double(), -1).numpy()
            assert np.allclose(probs[t, b:b + 4], ref, atol=1e-12)


@pytest.mark.parametrize("stride, pad", [(1, 1), (2, 1), (1, 0), (2, 2)])
def test_im2col_equals_unfold(stride, pad):
    layer = BinaryConv2d(3, 2, (7, 6), kernel_size=3, padding=pad, stride=stride)
    x = torch.randn(2, 3, 7, 6)
    assert torch.equal(layer.im2col(x), torch.nn.functional.unfold(x, 3, padding=pad, stride=stride))
