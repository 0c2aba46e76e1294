"""Binary MLP and CNN with MC dropout of four kinds (the project's definitions, BRIEF section 1).

Every kind is driven by one flat vector of draws per example (bits [B, D], 1 = dropped), laid
out exactly as the simulator draws them (models/compiled.cpp): layers in network order, layer l
owns draws [offset_l, offset_l + n_l) with n_l = 1 (scale), C_in (spatial) or
positions * fan_in (mc_dropout, index p * fan_in + r), 0 without dropout.
"""

import ctypes
import math
from typing import TYPE_CHECKING, Any, Dict, List, Optional, Sequence, Tuple

import torch
import torch.nn as nn
import torch.nn.functional as F

if TYPE_CHECKING:
    import numpy as np

METHODS = ("none", "mc_dropout", "spatial", "scale")
TOPOLOGIES = ("mlp", "cnn")
BN_EPS = 1e-5
INPUT_THRESHOLD = 0.5


class _SignSTE(torch.autograd.Function):
    """sign with sign(0)=+1 forward; hardtanh straight-through gradient (passes where |x|<=1)."""

    @staticmethod
    def forward(ctx: Any, x: torch.Tensor) -> torch.Tensor:
        ctx.save_for_backward(x)
        return torch.where(x >= 0, 1.0, -1.0).to(x.dtype)

    @staticmethod
    def backward(ctx: Any, grad: torch.Tensor) -> torch.Tensor:
        (x,) = ctx.saved_tensors
        return torch.where(x.abs() <= 1, grad, 0.0).to(grad.dtype)


def sign_ste(x: torch.Tensor) -> torch.Tensor:
    """Binarise to +-1 (+1 where x >= 0) with a straight-through gradient."""
    return _SignSTE.apply(x)


def binarize(x: torch.Tensor) -> torch.Tensor:
    """Binarise to +-1 (+1 where x >= 0), no gradient; never torch.sign (sign(0)=0)."""
    return torch.where(x >= 0, 1.0, -1.0).to(x.dtype)


def binarize_input(x: torch.Tensor) -> torch.Tensor:
    """First-layer input: +1 where pixel/255 >= 0.5, else -1."""
    return torch.where(x >= INPUT_THRESHOLD, 1.0, -1.0).to(x.dtype)


MAX_INPUT_BITS = 8


def quantize_input(x: torch.Tensor, bits: int) -> torch.Tensor:
    """First-layer input as k-bit unsigned integers (float values): clip(round(x * (2^k - 1)), 0, 2^k - 1).

    x = pixel/255, so k = 8 gives the pixel itself. round is half to even (as ONNX/QONNX Quant);
    pixel * (2^k - 1) / 255 is never a tie (255 is odd), so every k maps each pixel the same way.
    """
    levels = float((1 << bits) - 1)
    return torch.clamp(torch.round(x * levels), 0.0, levels).to(x.dtype)


def encode_input(x: torch.Tensor, bits: int) -> torch.Tensor:
    """The first layer's input: +-1 thresholded pixels (bits = 0) or k-bit unsigned integers (bits = k)."""
    return binarize_input(x) if bits == 0 else quantize_input(x, bits)


def keep_freed_memory() -> None:
    """Make glibc keep freed large blocks (no mmap/trim): re-faulting pages for every big tensor costs up to 10x here."""
    try:
        libc = ctypes.CDLL("libc.so.6")
        libc.mallopt(-3, 1 << 30)  # M_MMAP_THRESHOLD
        libc.mallopt(-1, 1 << 30)  # M_TRIM_THRESHOLD
    except (OSError, AttributeError):
        pass


def _channel_view(v: torch.Tensor, ndim: int) -> torch.Tensor:
    """Per-channel vector [C] shaped to broadcast over [B, C, ...] of rank ndim."""
    return v.view((1, -1) + (1,) * (ndim - 2))


def bn_inference(z: torch.Tensor, bn: nn.Module) -> torch.Tensor:
    """BatchNorm with running statistics as the ONNX formula in float32: ((z - mean) / sqrt(var + eps)) * gamma + beta."""
    eps = torch.tensor(bn.eps, dtype=z.dtype)
    c = lambda v: _channel_view(v, z.dim())  # noqa: E731
    return (z - c(bn.running_mean)) / torch.sqrt(c(bn.running_var) + eps) * c(bn.weight) + c(bn.bias)


def _zero_where_dropped(keep: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    """x where keep, else 0 (a dropped input contributes nothing; no rescaling)."""
    return torch.where(keep, x, torch.zeros((), dtype=x.dtype))


class _Binary(nn.Module):
    """Shared tail of a binary layer: scale alpha (droppable), BatchNorm, optional sign."""

    def _init_tail(self, out: int, learn_alpha: bool, activation: bool, bn_cls: Any) -> None:
        self.out_features = out
        self.activation = activation
        if learn_alpha:
            self.alpha = nn.Parameter(torch.ones(out))
        else:
            self.register_buffer("alpha", torch.ones(out))
        self.bn = bn_cls(out, eps=BN_EPS)

    def binary_weight(self) -> torch.Tensor:
        """The +-1 weights used in the forward pass."""
        return binarize(self.weight.detach())

    def clip_(self) -> None:
        """Clip the latent weights to [-1, 1] (after each optimiser step)."""
        with torch.no_grad():
            self.weight.clamp_(-1.0, 1.0)

    def _tail(self, a: torch.Tensor, drop: Optional[torch.Tensor], dropped_value: float, pool: int = 0) -> torch.Tensor:
        """alpha (or dropped_value), BN, then sign; a max-pool is taken as sign(maxpool(z)).

        sign is monotone, so sign(maxpool(z)) == maxpool(sign(z)) exactly (the convention's order);
        this order sends the straight-through gradient to the window's largest z.
        """
        alpha = _channel_view(self.alpha, a.dim())
        if drop is None:
            s = alpha
        else:
            dv = torch.tensor(dropped_value, dtype=a.dtype)
            s = torch.where(drop.view((-1,) + (1,) * (a.dim() - 1)), dv, alpha)
        z = a * s
        z = self.bn(z) if self.training else bn_inference(z, self.bn)
        if pool:
            z = F.max_pool2d(z, pool)
        return sign_ste(z) if self.activation else z


class BinaryLayer(_Binary):
    """Fully connected binary layer: (+-1 input, 0 where dropped) @ Wb^T, alpha, BN, optional sign."""

    kind = "dense"
    positions = 1

    def __init__(self, in_features: int, out_features: int, learn_alpha: bool = True, activation: bool = True) -> None:
        super().__init__()
        self.in_features = in_features
        self.weight = nn.Parameter(torch.empty(out_features, in_features))
        nn.init.kaiming_uniform_(self.weight, a=5 ** 0.5)
        self._init_tail(out_features, learn_alpha, activation, nn.BatchNorm1d)

    @property
    def fan_in(self) -> int:
        return self.in_features

    @property
    def in_channels(self) -> int:
        return self.in_features

    def forward(self, xb: torch.Tensor, drop: Optional[torch.Tensor] = None, dropped_value: float = 1.0,
                keep: Optional[torch.Tensor] = None) -> torch.Tensor:
        """xb [B, in]; drop bool [B] (alpha -> dropped_value); keep bool [B, in] (False = input dropped, gives 0)."""
        if keep is not None:
            xb = _zero_where_dropped(keep, xb)
        return self._tail(xb @ sign_ste(self.weight).t(), drop, dropped_value)


class BinaryConv2d(_Binary):
    """Square binary conv (zero padding, no bias), alpha, BN, sign, then an optional max-pool (an OR on +-1)."""

    kind = "conv"

    def __init__(self, in_channels: int, out_channels: int, in_hw: Sequence[int], kernel_size: int = 3,
                 padding: int = 1, stride: int = 1, pool: int = 0,
                 learn_alpha: bool = True, activation: bool = True) -> None:
        super().__init__()
        self.in_channels, self.kernel_size, self.padding, self.stride, self.pool = \
            in_channels, kernel_size, padding, stride, pool
        self.in_hw = tuple(in_hw)
        self.out_hw = tuple((n + 2 * padding - kernel_size) // stride + 1 for n in self.in_hw)
        if min(self.out_hw) < 1 or padding >= kernel_size or stride < 1:
            raise ValueError(f"conv k={kernel_size} pad={padding} stride={stride} leaves no output on {self.in_hw}")
        if pool and (self.out_hw[0] % pool or self.out_hw[1] % pool):
            raise ValueError(f"max-pool {pool} does not divide the conv output {self.out_hw}")
        if pool and not activation:
            raise ValueError("max-pool is supported only after a sign activation")
        self.weight = nn.Parameter(torch.empty(out_channels, in_channels, kernel_size, kernel_size))
        nn.init.kaiming_uniform_(self.weight, a=5 ** 0.5)
        self._init_tail(out_channels, learn_alpha, activation, nn.BatchNorm2d)

    @property
    def fan_in(self) -> int:
        return self.in_channels * self.kernel_size ** 2

    @property
    def positions(self) -> int:
        return self.out_hw[0] * self.out_hw[1]

    @property
    def pooled_hw(self) -> Tuple[int, ...]:
        return tuple(n // self.pool for n in self.out_hw) if self.pool else self.out_hw

    def im2col(self, xb: torch.Tensor) -> torch.Tensor:
        """[B, C, H, W] -> [B, fan_in, positions], rows (c, kh, kw), zero padding; equals F.unfold.

        Built from strided views and one copy: F.unfold (one parallel region per image) took up to
        2 s instead of 30 ms per batch here when the other core was busy.
        """
        k, s = self.kernel_size, self.stride
        v = F.pad(xb, (self.padding,) * 4).unfold(2, k, s).unfold(3, k, s)  # B, C, Ho, Wo, k, k
        return v.permute(0, 1, 4, 5, 2, 3).reshape(len(xb), self.fan_in, self.positions)

    def forward(self, xb: torch.Tensor, drop: Optional[torch.Tensor] = None, dropped_value: float = 1.0,
                channel_keep: Optional[torch.Tensor] = None, col_keep: Optional[torch.Tensor] = None) -> torch.Tensor:
        """xb [B, C, H, W]; bool keep masks: channel_keep [B, C] (spatial), col_keep [B, fan_in, positions] (mc_dropout)."""
        wb = sign_ste(self.weight)
        if channel_keep is not None:
            xb = _zero_where_dropped(channel_keep[:, :, None, None], xb)
        if col_keep is None:
            a = F.conv2d(xb, wb, stride=self.stride, padding=self.padding)
        else:  # im2col (rows ordered c, kh, kw; positions row-major), mask, then a 1x1 conv as the matmul
            cols = _zero_where_dropped(col_keep, self.im2col(xb)).reshape(len(xb), self.fan_in, *self.out_hw)
            a = F.conv2d(cols, wb.reshape(self.out_features, self.fan_in, 1, 1))
        return self._tail(a, drop, dropped_value, self.pool)


def layer_draws(layer: Any, method: str) -> int:
    """Draws per MC sample of a dropout layer: scale 1, spatial C_in, mc_dropout positions * fan_in."""
    if method == "scale":
        return 1
    if method == "spatial":
        return layer.in_channels
    if method == "mc_dropout":
        return layer.positions * layer.fan_in
    return 0


class BinaryNet(nn.Module):
    """A chain of binary layers (convs, then dense) with one dropout kind; see the module docstring."""

    topology: Optional[str] = None

    def _setup(self, input_shape: Sequence[int], method: str, p: float, dropped_value: float,
               dropout_layers: Optional[Sequence[str]], input_bits: int = 0) -> None:
        if method not in METHODS:
            raise ValueError(f"unknown dropout method '{method}' (allowed: {', '.join(METHODS)})")
        if not 0 <= input_bits <= MAX_INPUT_BITS:
            raise ValueError(f"input_bits={input_bits} outside 0 (+-1 thresholded) .. {MAX_INPUT_BITS}")
        self.input_shape = tuple(input_shape)
        self.input_bits = int(input_bits)
        self.configure_dropout(method, p, dropout_layers, dropped_value)

    @property
    def in_features(self) -> int:
        return math.prod(self.input_shape)

    @property
    def num_classes(self) -> int:
        return self.layers()[-1].out_features

    @property
    def hidden(self) -> Tuple[int, ...]:
        """Widths of the hidden dense layers."""
        return tuple(l.out_features for l in self.layers()[:-1] if l.kind == "dense")

    def layers(self) -> List[Any]:
        """The binary layers in forward order."""
        return [getattr(self, n) for n in self.layer_names]

    def default_dropout_layers(self, method: str) -> List[str]:
        """Default placement: scale all layers; mc_dropout all but the first; spatial convs but the first."""
        if method == "scale":
            return list(self.layer_names)
        if method == "mc_dropout":
            return list(self.layer_names[1:])
        if method == "spatial":
            return [n for n in self.layer_names[1:] if getattr(self, n).kind == "conv"]
        return []

    def configure_dropout(self, method: str, p: float, dropout_layers: Optional[Sequence[str]] = None,
                          dropped_value: float = 1.0) -> None:
        """Set the dropout kind, p, layers (None = default placement, kept in network order) and dropped value."""
        if method not in METHODS:
            raise ValueError(f"unknown dropout method '{method}' (allowed: {', '.join(METHODS)})")
        if not 0.0 <= p <= 1.0:
            raise ValueError(f"dropout probability p={p} outside [0, 1]")
        names = [] if method == "none" else list(
            self.default_dropout_layers(method) if dropout_layers is None else dropout_layers)
        unknown = [n for n in names if n not in self.layer_names]
        if unknown:
            raise ValueError(f"unknown dropout layers {unknown} (layers: {self.layer_names})")
        if method == "spatial":
            dense = [n for n in names if getattr(self, n).kind != "conv"]
            if dense:
                raise ValueError(f"spatial dropout drops input channels of conv layers; {', '.join(dense)} "
                                 f"{'is' if len(dense) == 1 else 'are'} fully connected")
            if not names:
                raise ValueError(f"spatial dropout needs a conv layer to drop (default: every conv but the first; "
                                 f"layers: {', '.join(self.layer_names)})")
        self.method = method
        self.p = float(p) if method != "none" else 0.0
        self.dropped_value = float(dropped_value)
        self.dropout_layers = [n for n in self.layer_names if n in names]
        self.draw_counts = [layer_draws(getattr(self, n), method) if n in names else 0 for n in self.layer_names]
        self.draw_offsets = [sum(self.draw_counts[:i]) for i in range(len(self.draw_counts))]
        self.num_draws = sum(self.draw_counts)

    def clip_(self) -> None:
        """Clip every layer's latent weights to [-1, 1]."""
        for layer in self.layers():
            layer.clip_()

    def sample_bits(self, batch: int, generator: Optional[torch.Generator] = None) -> torch.Tensor:
        """Draw dropout bits [batch, D] (uint8, 1 = dropped), independently per example.

        Scale-Dropout keeps torch.bernoulli (the stream the shipped scale model was trained with);
        the other kinds use rand < p, twice as fast for their many draws.
        """
        if self.method == "scale":
            probs = torch.full((batch, self.num_draws), self.p)
            return torch.bernoulli(probs, generator=generator).to(torch.uint8)
        return (torch.rand(batch, self.num_draws, generator=generator) < self.p).to(torch.uint8)

    def first_dropout_layer(self) -> int:
        """Index of the first layer with draws (layers before it are deterministic)."""
        return next((i for i, n in enumerate(self.draw_counts) if n), len(self.draw_counts))

    def _masks(self, i: int, layer: Any, bits: Optional[torch.Tensor]) -> Dict[str, torch.Tensor]:
        n = self.draw_counts[i]
        if bits is None or n == 0:
            return {}
        sl = bits[:, self.draw_offsets[i]:self.draw_offsets[i] + n]
        if self.method == "scale":
            return {"drop": sl[:, 0]}
        keep = ~sl
        if self.method == "spatial":
            return {"channel_keep": keep}
        if layer.kind == "conv":
            return {"col_keep": keep.view(len(sl), layer.positions, layer.fan_in).transpose(1, 2)}
        return {"keep": keep}

    def _check_bits(self, bits: Any, batch: int) -> torch.Tensor:
        bits = torch.as_tensor(bits)
        if bits.shape != (batch, self.num_draws):
            raise ValueError(f"bits shape {tuple(bits.shape)} != (batch {batch}, draws {self.num_draws})")
        return bits.to(torch.bool)

    def prefix(self, x: torch.Tensor) -> Tuple[torch.Tensor, int]:
        """Encoded input run through the deterministic layers before the first dropout layer: (h, start)."""
        start = self.first_dropout_layer()
        return self.run(self.encode(x), 0, None, stop=start), start

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        """x = pixel/255 reshaped to input_shape and encoded for the first layer (encode_input)."""
        return encode_input(x.reshape(len(x), *self.input_shape), self.input_bits)

    def input_tag(self) -> str:
        """' u<k>' for a k-bit unsigned first-layer input, '' for the +-1 thresholded one (describe())."""
        return f" u{self.input_bits}" if self.input_bits else ""

    def run(self, h: torch.Tensor, start: int, bits: Optional[torch.Tensor], stop: Optional[int] = None) -> torch.Tensor:
        """Run layers[start:stop] on h with bool bits [B, D] or None."""
        names = self.layer_names[start:stop]
        for i, name in enumerate(names, start):
            layer = getattr(self, name)
            if layer.kind == "dense" and h.dim() > 2:
                h = h.reshape(len(h), -1)  # NCHW flatten
            h = layer(h, dropped_value=self.dropped_value, **self._masks(i, layer, bits))
        return h

    def forward(self, x: torch.Tensor, bits: Any = None, generator: Optional[torch.Generator] = None) -> torch.Tensor:
        """x: float [B, ...] with values pixel/255 (reshaped to input_shape); bits: [B, D] forced draws or None."""
        if bits is None and self.training and self.num_draws:
            bits = self.sample_bits(x.shape[0], generator)
        if bits is not None:
            bits = self._check_bits(bits, x.shape[0])
        return self.run(self.encode(x), 0, bits)


class BinaryMLP(BinaryNet):
    """Binary MLP (default 784-512-512-10), layers fc1..fcN."""

    topology = "mlp"

    def __init__(self, in_features: int = 784, hidden: Sequence[int] = (512, 512), num_classes: int = 10,
                 method: str = "scale",
                 p: float = 0.2, dropped_value: float = 1.0, dropout_layers: Optional[Sequence[str]] = None,
                 input_bits: int = 0) -> None:
        super().__init__()
        if method not in METHODS:
            raise ValueError(f"unknown dropout method '{method}' (allowed: {', '.join(METHODS)})")
        sizes = [in_features, *hidden, num_classes]
        self.layer_names = [f"fc{i + 1}" for i in range(len(sizes) - 1)]
        for i, name in enumerate(self.layer_names):
            self.add_module(name, BinaryLayer(sizes[i], sizes[i + 1], learn_alpha=method != "none",
                                              activation=i < len(sizes) - 2))
        self._setup((in_features,), method, p, dropped_value, dropout_layers, input_bits)

    def describe(self) -> str:
        return "mlp " + "-".join(map(str, [self.in_features, *self.hidden, self.num_classes])) + self.input_tag()


class BinaryCNN(BinaryNet):
    """Binary CNN: convs conv1..convM (each (out_channels, kernel, padding, stride, pool)), flatten, fc1..fcN."""

    topology = "cnn"

    def __init__(self, input_shape: Sequence[int] = (1, 28, 28),
                 convs: Sequence[Sequence[int]] = ((32, 3, 1, 1, 2), (64, 3, 1, 1, 2)), hidden: Sequence[int] = (128,),
                 num_classes: int = 10, method: str = "scale", p: float = 0.2, dropped_value: float = 1.0,
                 dropout_layers: Optional[Sequence[str]] = None, input_bits: int = 0) -> None:
        super().__init__()
        if method not in METHODS:
            raise ValueError(f"unknown dropout method '{method}' (allowed: {', '.join(METHODS)})")
        learn = method != "none"
        self.layer_names = []
        c, hw = input_shape[0], tuple(input_shape[1:])
        for i, (out, k, pad, stride, pool) in enumerate(convs):
            conv = BinaryConv2d(c, out, hw, k, pad, stride, pool, learn_alpha=learn)
            self.add_module(f"conv{i + 1}", conv)
            self.layer_names.append(f"conv{i + 1}")
            c, hw = out, conv.pooled_hw
        sizes = [c * hw[0] * hw[1], *hidden, num_classes]
        for i in range(len(sizes) - 1):
            self.add_module(f"fc{i + 1}", BinaryLayer(sizes[i], sizes[i + 1], learn_alpha=learn,
                                                      activation=i < len(sizes) - 2))
            self.layer_names.append(f"fc{i + 1}")
        self._setup(input_shape, method, p, dropped_value, dropout_layers, input_bits)

    def convs(self) -> List[Any]:
        return [l for l in self.layers() if l.kind == "conv"]

    def describe(self) -> str:
        parts = ["cnn " + "x".join(map(str, self.input_shape)) + self.input_tag()]
        for l in self.convs():
            parts.append(f"conv{l.kernel_size}x{l.kernel_size}/{l.stride}p{l.padding}-{l.out_features}"
                         + (f"-maxpool{l.pool}" if l.pool else ""))
        parts += [f"fc{w}" for w in (*self.hidden, self.num_classes)]
        return " ".join(parts)


def mc_forward(model: "BinaryNet", x: torch.Tensor, bits: Any) -> torch.Tensor:
    """One inference pass (running BN statistics) with forced draws [B, D] (None = all kept); returns logits."""
    was_training = model.training
    model.eval()
    try:
        with torch.no_grad():
            return model(torch.as_tensor(x, dtype=torch.float32), bits=bits)
    finally:
        model.train(was_training)


def mc_sample(model: "BinaryNet", x: Any, T: int, generator: Optional[torch.Generator] = None
              ) -> Tuple[torch.Tensor, torch.Tensor]:
    """T stochastic inference passes; returns (logits [T, B, C], bits uint8 [T, B, D])."""
    x = torch.as_tensor(x, dtype=torch.float32)
    all_bits = torch.stack([model.sample_bits(x.shape[0], generator) for _ in range(T)])
    logits = torch.stack([mc_forward(model, x, all_bits[t]) for t in range(T)])
    return logits, all_bits


def mc_probs(model: "BinaryNet", x: Any, T: int, generator: Optional[torch.Generator] = None,
             batch_size: int = 2000) -> "np.ndarray":
    """Per-sample softmax probabilities [T, N, C] (float64 numpy) over a dataset, in batches.

    The deterministic layers before the first dropout layer run once per batch; draws are taken
    per batch in sample order (as mc_sample does). Batches shrink so that B times the draws or the
    largest layer output stays <= 2^23 (memory traffic dominates on CPU).
    """
    x = torch.as_tensor(x, dtype=torch.float32)
    widest = max(l.out_features * l.positions for l in model.layers())
    batch_size = max(1, min(batch_size, (1 << 23) // max(model.num_draws, widest, 1)))
    was_training = model.training
    model.eval()
    out = []
    try:
        with torch.no_grad():
            for i in range(0, x.shape[0], batch_size):
                h, start = model.prefix(x[i:i + batch_size])
                if model.num_draws == 0:
                    logits = model.run(h, start, None).unsqueeze(0).expand(T, -1, -1)
                else:
                    logits = torch.stack([model.run(h, start, model.sample_bits(len(h), generator).to(torch.bool))
                                          for _ in range(T)])
                out.append(torch.softmax(logits.double(), dim=-1))
    finally:
        model.train(was_training)
    return torch.cat(out, dim=1).numpy()
