"""Binary MLP with MC-Scale-Dropout (the project's definition, BRIEF section 1)."""

import torch
import torch.nn as nn
import torch.nn.functional as F

METHODS = ("none", "scale")
PLANNED_METHODS = ("mc_dropout", "spatial")
BN_EPS = 1e-5
INPUT_THRESHOLD = 0.5


class _SignSTE(torch.autograd.Function):
    """sign with sign(0)=+1 forward; hardtanh straight-through gradient (passes where |x|<=1)."""

    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return torch.where(x >= 0, torch.ones_like(x), -torch.ones_like(x))

    @staticmethod
    def backward(ctx, grad):
        (x,) = ctx.saved_tensors
        return grad * (x.abs() <= 1).to(grad.dtype)


def sign_ste(x):
    """Binarise to +-1 (+1 where x >= 0) with a straight-through gradient."""
    return _SignSTE.apply(x)


def binarize(x):
    """Binarise to +-1 (+1 where x >= 0), no gradient; never torch.sign (sign(0)=0)."""
    return torch.where(x >= 0, torch.ones_like(x), -torch.ones_like(x))


def binarize_input(x):
    """First-layer input: +1 where pixel/255 >= 0.5, else -1."""
    return torch.where(x >= INPUT_THRESHOLD, torch.ones_like(x), -torch.ones_like(x))


def bn_inference(z, bn):
    """BatchNorm with running statistics, written as the ONNX spec formula in float32.

    Computes ((z - mean) / sqrt(var + eps)) * gamma + beta, one rounding per operation, so a
    C++ implementation doing the same float32 operations in the same order matches bit for bit.
    """
    eps = torch.tensor(bn.eps, dtype=z.dtype)
    return (z - bn.running_mean) / torch.sqrt(bn.running_var + eps) * bn.weight + bn.bias


class BinaryLayer(nn.Module):
    """One binary layer: +-1 matmul, per-neuron scale alpha (droppable), BatchNorm, optional sign."""

    def __init__(self, in_features, out_features, learn_alpha=True, activation=True):
        super().__init__()
        self.in_features = in_features
        self.out_features = out_features
        self.activation = activation
        self.weight = nn.Parameter(torch.empty(out_features, in_features))
        nn.init.kaiming_uniform_(self.weight, a=5 ** 0.5)
        if learn_alpha:
            self.alpha = nn.Parameter(torch.ones(out_features))
        else:
            self.register_buffer("alpha", torch.ones(out_features))
        self.bn = nn.BatchNorm1d(out_features, eps=BN_EPS)

    def binary_weight(self):
        """The +-1 weights used in the forward pass, shape [out, in]."""
        return binarize(self.weight.detach())

    def clip_(self):
        """Clip the latent weights to [-1, 1] (after each optimiser step)."""
        with torch.no_grad():
            self.weight.clamp_(-1.0, 1.0)

    def forward(self, xb, drop=None, dropped_value=1.0):
        """xb: +-1 input [B, in]; drop: bool [B] (True = alpha replaced by dropped_value) or None."""
        a = xb @ sign_ste(self.weight).t()
        if drop is None:
            s = self.alpha.unsqueeze(0)
        else:
            dv = torch.tensor(dropped_value, dtype=a.dtype)
            s = torch.where(drop.unsqueeze(1), dv, self.alpha.unsqueeze(0))
        z = a * s
        z = self.bn(z) if self.training else bn_inference(z, self.bn)
        return sign_ste(z) if self.activation else z


class BinaryMLP(nn.Module):
    """Binary MLP (default 784-512-512-10) with dropout method 'none' or 'scale'.

    Scale-Dropout draws one Bernoulli(p) bit per dropout layer per forward pass *per example*
    (mask [B, L]), as MC inference does per image; bit 1 means the layer's alpha is replaced by
    dropped_value. Without explicit bits, training samples them and eval mode keeps all layers.
    """

    def __init__(self, in_features=784, hidden=(512, 512), num_classes=10, method="scale",
                 p=0.2, dropped_value=1.0, dropout_layers=None):
        super().__init__()
        if method in PLANNED_METHODS:
            raise NotImplementedError(f"dropout method '{method}' is future work (implemented: {', '.join(METHODS)})")
        if method not in METHODS:
            raise ValueError(f"unknown dropout method '{method}' (allowed: {', '.join(METHODS)})")
        if not 0.0 <= p <= 1.0:
            raise ValueError(f"dropout probability p={p} outside [0, 1]")
        self.method = method
        self.p = float(p) if method != "none" else 0.0
        self.dropped_value = float(dropped_value)
        sizes = [in_features, *hidden, num_classes]
        self.layer_names = [f"fc{i + 1}" for i in range(len(sizes) - 1)]
        for i, name in enumerate(self.layer_names):
            last = i == len(sizes) - 2
            self.add_module(name, BinaryLayer(sizes[i], sizes[i + 1], learn_alpha=method != "none",
                                              activation=not last))
        if method == "none":
            self.dropout_layers = []
        else:
            self.dropout_layers = list(self.layer_names if dropout_layers is None else dropout_layers)
            unknown = [n for n in self.dropout_layers if n not in self.layer_names]
            if unknown:
                raise ValueError(f"unknown dropout layers {unknown} (layers: {self.layer_names})")

    @property
    def in_features(self):
        return self.layers()[0].in_features

    @property
    def num_classes(self):
        return self.layers()[-1].out_features

    @property
    def hidden(self):
        return tuple(l.out_features for l in self.layers()[:-1])

    def layers(self):
        """The binary layers in forward order."""
        return [getattr(self, n) for n in self.layer_names]

    def clip_(self):
        """Clip every layer's latent weights to [-1, 1]."""
        for layer in self.layers():
            layer.clip_()

    def sample_bits(self, batch, generator=None):
        """Draw dropout bits [batch, L] (uint8, 1 = dropped), one per example per dropout layer."""
        probs = torch.full((batch, len(self.dropout_layers)), self.p)
        return torch.bernoulli(probs, generator=generator).to(torch.uint8)

    def forward(self, x, bits=None, generator=None):
        """x: float [B, in] with values pixel/255; bits: [B, L] forced dropout bits or None."""
        if bits is None and self.training and self.dropout_layers:
            bits = self.sample_bits(x.shape[0], generator)
        if bits is not None:
            bits = torch.as_tensor(bits)
            if bits.shape != (x.shape[0], len(self.dropout_layers)):
                raise ValueError(f"bits shape {tuple(bits.shape)} != (batch {x.shape[0]}, "
                                 f"dropout layers {len(self.dropout_layers)})")
            bits = bits.to(torch.bool)
        h = binarize_input(x)
        for name in self.layer_names:
            drop = None
            if bits is not None and name in self.dropout_layers:
                drop = bits[:, self.dropout_layers.index(name)]
            h = getattr(self, name)(h, drop, self.dropped_value)
        return h


def mc_forward(model, x, bits):
    """One inference pass (running BN statistics) with forced dropout bits [B, L]; returns logits."""
    was_training = model.training
    model.eval()
    try:
        with torch.no_grad():
            return model(torch.as_tensor(x, dtype=torch.float32), bits=bits)
    finally:
        model.train(was_training)


def mc_sample(model, x, T, generator=None):
    """T stochastic inference passes; returns (logits [T, B, C], bits uint8 [T, B, L])."""
    x = torch.as_tensor(x, dtype=torch.float32)
    all_bits = torch.stack([model.sample_bits(x.shape[0], generator) for _ in range(T)])
    logits = torch.stack([mc_forward(model, x, all_bits[t]) for t in range(T)])
    return logits, all_bits


def mc_probs(model, x, T, generator=None, batch_size=2000):
    """Per-sample softmax probabilities [T, N, C] (float64 numpy) over a dataset, in batches."""
    x = torch.as_tensor(x, dtype=torch.float32)
    out = []
    for i in range(0, x.shape[0], batch_size):
        logits, _ = mc_sample(model, x[i:i + batch_size], T, generator)
        out.append(torch.softmax(logits.double(), dim=-1))
    return torch.cat(out, dim=1).numpy()
