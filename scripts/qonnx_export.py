#!/usr/bin/python3
"""Writes a binary network as Brevitas exports it to QONNX for FINN, without Brevitas.

The graph has the exporter's idioms, which `models/onnx_import.cpp` folds (models/README.md,
"QONNX/Brevitas exports"):
- a fixed input shape [1, 1, 28, 28] (batch 1) and every initializer also listed as a graph input;
- the MLP's flatten as Shape -> Gather -> Unsqueeze -> Concat -> Reshape with INT64 constants
  (Unsqueeze's axes an attribute in opset 9, an input in opset 13);
- pixel/255 mapped to +-1 by Mul (x2) and Sub (-1) before the first BipolarQuant; or, with
  `--input-bits k`, an unsigned k-bit input Quant (scale 1/(2^k - 1), as Brevitas' QuantIdentity
  with bit_width k, signed False) on pixel/255 itself, which the simulator reads bit-serially;
- BipolarQuant (domain `onnx.brevitas` or `qonnx.custom_op.general`) on weights and activations,
  or a signed 1-bit `Quant` with its bit width as an input tensor (`--quant-op quant`);
- `MatMul(x, Transpose(BipolarQuant(W)))`, `Conv(x, BipolarQuant(W))`, BatchNormalization
  (with `momentum`), MaxPool;
- the last layer's per-tensor normalisation (Brevitas' TensorNorm) as Sub, Pow, Div, Mul, Add.

`--weight-bits 2` / `--act-bits 2` write the same network with 2-bit Quant nodes, which the
simulator refuses by name and bit width. Weights are random (`--seed`), or trained for
`--epochs` on MNIST with a straight-through estimator (`--data-dir`, default data/).

    /usr/bin/python3 -m scripts.qonnx_export --hidden 64,64,64 --epochs 1 --out out/tfc_w1a1.onnx
"""

import argparse
import io
import os
import sys
import time
import warnings
from typing import Any, Optional, Sequence, Tuple

import numpy as np
import onnx
import torch
import torch.nn as nn
import torch.nn.functional as F

DOMAINS = ("onnx.brevitas", "qonnx.custom_op.general")
_EXPORT = {"domain": DOMAINS[0]}  # read by the symbolic functions while torch.onnx.export runs


class _BipolarQuant(torch.autograd.Function):
    """+scale where x >= 0, else -scale; straight-through gradient where |x| <= 1."""

    @staticmethod
    def forward(ctx: Any, x: torch.Tensor, scale: torch.Tensor) -> torch.Tensor:
        ctx.save_for_backward(x)
        return torch.where(x >= 0, scale, -scale)

    @staticmethod
    def backward(ctx: Any, grad: torch.Tensor) -> Tuple[Optional[torch.Tensor], ...]:
        (x,) = ctx.saved_tensors
        return grad * (x.abs() <= 1).to(grad.dtype), None

    @staticmethod
    def symbolic(g: Any, x: Any, scale: Any) -> Any:
        return g.op(f"{_EXPORT['domain']}::BipolarQuant", x, scale)


class _Quant(torch.autograd.Function):
    """QONNX Quant, signed and narrow: q = clip(round(x / scale + zeropt)); a 1-bit signed Quant is bipolar."""

    @staticmethod
    def forward(ctx: Any, x: torch.Tensor, scale: torch.Tensor, zeropt: torch.Tensor, bits: torch.Tensor) -> torch.Tensor:
        ctx.save_for_backward(x)
        b = int(bits.item())
        u = x / scale + zeropt
        if b == 1:
            q = torch.where(u >= 0, torch.ones_like(u), -torch.ones_like(u))
        else:
            hi = 2.0 ** (b - 1) - 1
            q = torch.round(torch.clamp(u, -hi, hi))
        return (q - zeropt) * scale

    @staticmethod
    def backward(ctx: Any, grad: torch.Tensor) -> Tuple[Optional[torch.Tensor], ...]:
        (x,) = ctx.saved_tensors
        return grad * (x.abs() <= 1).to(grad.dtype), None, None, None

    @staticmethod
    def symbolic(g: Any, x: Any, scale: Any, zeropt: Any, bits: Any) -> Any:
        return g.op(f"{_EXPORT['domain']}::Quant", x, scale, zeropt, bits, signed_i=1, narrow_i=1,
                    rounding_mode_s="ROUND")


class _UnsignedQuant(torch.autograd.Function):
    """QONNX Quant, unsigned and not narrow: (clip(round(x / scale), 0, 2^k - 1)) * scale; straight-through gradient."""

    @staticmethod
    def forward(ctx: Any, x: torch.Tensor, scale: torch.Tensor, zeropt: torch.Tensor, bits: torch.Tensor) -> torch.Tensor:
        hi = 2.0 ** int(bits.item()) - 1
        return torch.clamp(torch.round(x / scale + zeropt), 0.0, hi) * scale - zeropt * scale

    @staticmethod
    def backward(ctx: Any, grad: torch.Tensor) -> Tuple[Optional[torch.Tensor], ...]:
        return grad, None, None, None

    @staticmethod
    def symbolic(g: Any, x: Any, scale: Any, zeropt: Any, bits: Any) -> Any:
        return g.op(f"{_EXPORT['domain']}::Quant", x, scale, zeropt, bits, signed_i=0, narrow_i=0,
                    rounding_mode_s="ROUND")


class InputQuantizer(nn.Module):
    """A k-bit unsigned quantiser of pixel/255 (scale 1 / (2^k - 1)): Brevitas' QuantIdentity(bit_width=k, signed=False)."""

    def __init__(self, bits: int) -> None:
        super().__init__()
        self.register_buffer("scale", torch.tensor(1.0 / (2 ** bits - 1)))
        self.register_buffer("zeropt", torch.tensor(0.0))
        self.register_buffer("bits", torch.tensor(float(bits)))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return _UnsignedQuant.apply(x, self.scale, self.zeropt, self.bits)


class Quantizer(nn.Module):
    """A Brevitas-style quantiser: BipolarQuant for 1 bit (or Quant with quant_op='quant'), Quant otherwise."""

    def __init__(self, bits: int, quant_op: str = "bipolar") -> None:
        super().__init__()
        self.register_buffer("scale", torch.tensor(1.0))
        self.register_buffer("zeropt", torch.tensor(0.0))
        self.register_buffer("bits", torch.tensor(float(bits)))
        self.bipolar = bits == 1 and quant_op == "bipolar"

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.bipolar:
            return _BipolarQuant.apply(x, self.scale)
        return _Quant.apply(x, self.scale, self.zeropt, self.bits)


class TensorNorm(nn.Module):
    """Per-tensor affine normalisation of the logits (one mean, variance, weight and bias)."""

    def __init__(self, eps: float = 1e-4, momentum: float = 0.1) -> None:
        super().__init__()
        self.eps, self.momentum = eps, momentum
        self.weight = nn.Parameter(torch.ones(1))
        self.bias = nn.Parameter(torch.zeros(1))
        self.register_buffer("running_mean", torch.zeros(1))
        self.register_buffer("running_var", torch.ones(1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.training:
            mean, var = x.mean(), x.var(unbiased=False)
            with torch.no_grad():
                self.running_mean.mul_(1 - self.momentum).add_(self.momentum * mean)
                self.running_var.mul_(1 - self.momentum).add_(self.momentum * var)
            x = (x - mean) / (var + self.eps).pow(0.5)
        else:
            x = (x - self.running_mean) / (self.running_var + self.eps).pow(0.5)
        return x * self.weight + self.bias


class BrevitasStyleNet(nn.Module):
    """mlp: 784 -> hidden... -> classes. cnn: conv 3x3 (no padding) per channel count, each with BN and
    sign, max-pool 2 after the last conv, flatten, then the dense layers as in the mlp."""

    def __init__(self, topology: str = "mlp", hidden: Sequence[int] = (64, 64, 64), channels: Sequence[int] = (8, 16),
                 classes: int = 10, weight_bits: int = 1,
                 act_bits: int = 1, quant_op: str = "bipolar", input_bits: int = 0) -> None:
        super().__init__()
        self.topology = topology
        self.input_shape = (1, 28, 28)
        self.input_bits = input_bits
        self.in_quant: nn.Module = InputQuantizer(input_bits) if input_bits else Quantizer(act_bits, quant_op)
        self.conv_w = nn.ParameterList()
        self.conv_bn = nn.ModuleList()
        self.conv_act = nn.ModuleList()
        size, c_in = 28, 1
        if topology == "cnn":
            for c in channels:
                self.conv_w.append(nn.Parameter(torch.empty(c, c_in, 3, 3).uniform_(-1, 1)))
                self.conv_bn.append(nn.BatchNorm2d(c))
                self.conv_act.append(Quantizer(act_bits, quant_op))
                size, c_in = size - 2, c
            size //= 2
        features = c_in * size * size
        self.fc_w = nn.ParameterList()
        self.fc_bn = nn.ModuleList()
        self.fc_act = nn.ModuleList()
        for h in list(hidden) + [classes]:
            self.fc_w.append(nn.Parameter(torch.empty(h, features).uniform_(-1, 1)))
            features = h
        for h in hidden:
            self.fc_bn.append(nn.BatchNorm1d(h))
            self.fc_act.append(Quantizer(act_bits, quant_op))
        self.weight_quant = Quantizer(weight_bits, quant_op)
        self.tensor_norm = TensorNorm()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.topology == "mlp":
            x = x.view(x.shape[0], -1)
        if not self.input_bits:
            x = 2.0 * x - torch.tensor([1.0])
        x = self.in_quant(x)
        for k, (w, bn, act) in enumerate(zip(self.conv_w, self.conv_bn, self.conv_act)):
            x = act(bn(F.conv2d(x, self.weight_quant(w))))
            if k == len(self.conv_w) - 1:
                x = F.max_pool2d(x, 2)
        if self.topology == "cnn":
            x = x.view(x.shape[0], -1)
        for w, bn, act in zip(self.fc_w, self.fc_bn, self.fc_act):
            x = act(bn(F.linear(x, self.weight_quant(w))))
        return self.tensor_norm(F.linear(x, self.weight_quant(self.fc_w[-1])))

    def randomize(self, seed: int) -> "BrevitasStyleNet":
        """Random BN and TensorNorm statistics of the scale a binary layer's pre-activations have."""
        g = torch.Generator().manual_seed(seed)
        with torch.no_grad():
            for w in list(self.conv_w) + list(self.fc_w):
                w.uniform_(-1, 1, generator=g)
            fan_in = [w[0].numel() for w in list(self.conv_w) + list(self.fc_w)]
            for bn, n in zip(list(self.conv_bn) + list(self.fc_bn), fan_in):
                c = bn.num_features
                bn.running_mean.copy_(torch.randn(c, generator=g) * 0.3 * n ** 0.5)
                bn.running_var.copy_(n * (0.5 + torch.rand(c, generator=g)))
                bn.weight.copy_(torch.randn(c, generator=g))
                bn.bias.copy_(torch.randn(c, generator=g) * 0.1)
            tn = self.tensor_norm
            tn.running_mean.fill_(0.5)
            tn.running_var.fill_(fan_in[-1] * 0.8)
            tn.weight.fill_(1.7)
            tn.bias.fill_(0.1)
        return self


def train(model: "BrevitasStyleNet", data_dir: str, epochs: int, seed: int, batch: int = 100, lr: float = 1e-2) -> float:
    """A short STE training on MNIST (latent weights clipped to [-1, 1]); returns the test accuracy."""
    from models import datasets

    images, labels, _ = datasets.load(data_dir, "mnist", "train")
    x = torch.from_numpy(images.reshape(-1, 1, 28, 28).astype(np.float32) / 255.0)
    y = torch.from_numpy(labels.astype(np.int64))
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    g = torch.Generator().manual_seed(seed)
    model.train()
    for epoch in range(epochs):
        order = torch.randperm(len(x), generator=g)
        for i in range(0, len(x), batch):
            idx = order[i:i + batch]
            loss = F.cross_entropy(model(x[idx]), y[idx])
            opt.zero_grad()
            loss.backward()
            opt.step()
            with torch.no_grad():
                for w in list(model.conv_w) + list(model.fc_w):
                    w.clamp_(-1, 1)
        print(f"epoch {epoch + 1}: loss {loss.item():.3f}", file=sys.stderr)
    model.eval()
    images, labels, _ = datasets.load(data_dir, "mnist", "test")
    with torch.no_grad():
        logits = model(torch.from_numpy(images.reshape(-1, 1, 28, 28).astype(np.float32) / 255.0))
    return float((logits.argmax(1).numpy() == labels).mean())


def export(model: "BrevitasStyleNet", opset: int = 9, domain: str = DOMAINS[0]) -> bytes:
    """The ONNX bytes of the model as the Brevitas QONNX export writes them (see the module doc)."""
    _EXPORT["domain"] = domain
    f = io.BytesIO()
    warnings.filterwarnings("ignore", module=r"torch\.onnx.*")  # custom-op shape inference, g.op deprecation
    warnings.filterwarnings("ignore", message=".*(shape inference of|_graph_op|torch.tensor results).*")
    # A dynamic batch keeps torch from folding the flatten's Shape subgraph away; the batch is then
    # fixed to 1 as in Brevitas' exports.
    torch.onnx.export(model.eval(), torch.rand(1, *model.input_shape), f, opset_version=opset,
                      input_names=["global_in"], output_names=["global_out"], keep_initializers_as_inputs=True,
                      do_constant_folding=True, custom_opsets={domain: 1},
                      dynamic_axes={"global_in": {0: "batch"}, "global_out": {0: "batch"}})
    m = onnx.load_from_string(f.getvalue())
    for vi in (m.graph.input[0], m.graph.output[0]):
        vi.type.tensor_type.shape.dim[0].Clear()
        vi.type.tensor_type.shape.dim[0].dim_value = 1
    return m.SerializeToString()


def main(argv: Optional[Sequence[str]] = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--out", required=True, help="the .onnx file to write")
    ap.add_argument("--topology", choices=("mlp", "cnn"), default="mlp")
    ap.add_argument("--hidden", default="64,64,64", help="dense hidden widths (default 64,64,64)")
    ap.add_argument("--channels", default="8,16", help="cnn: conv widths (default 8,16)")
    ap.add_argument("--opset", type=int, choices=(9, 13), default=9)
    ap.add_argument("--domain", choices=DOMAINS, default=DOMAINS[0])
    ap.add_argument("--quant-op", choices=("bipolar", "quant"), default="bipolar",
                    help="1-bit quantisers as BipolarQuant, or as Quant with bit width 1")
    ap.add_argument("--weight-bits", type=int, default=1)
    ap.add_argument("--act-bits", type=int, default=1)
    ap.add_argument("--input-bits", type=int, default=0,
                    help="k > 0: an unsigned k-bit input Quant on pixel/255 instead of the +-1 mapping")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--epochs", type=int, default=0, help="train on MNIST for this many epochs (0: random weights)")
    ap.add_argument("--data-dir", default=os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
                                                        "data"))
    ap.add_argument("--threads", type=int, default=2)
    a = ap.parse_args(argv)
    torch.set_num_threads(a.threads)
    torch.manual_seed(a.seed)
    ints = lambda s: tuple(int(v) for v in s.split(",") if v)  # noqa: E731
    model = BrevitasStyleNet(a.topology, ints(a.hidden), ints(a.channels), weight_bits=a.weight_bits,
                             act_bits=a.act_bits, quant_op=a.quant_op, input_bits=a.input_bits).randomize(a.seed)
    if a.epochs:
        t0 = time.time()
        acc = train(model, a.data_dir, a.epochs, a.seed)
        print(f"trained {a.epochs} epoch(s) in {time.time() - t0:.0f} s: MNIST test accuracy {acc:.4f}",
              file=sys.stderr)
    os.makedirs(os.path.dirname(os.path.abspath(a.out)), exist_ok=True)
    with open(a.out, "wb") as f:
        f.write(export(model, a.opset, a.domain))
    print(f"wrote {a.out}", file=sys.stderr)


if __name__ == "__main__":
    main()
