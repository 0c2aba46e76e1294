"""Train a binary MLP or CNN (dropout none, mc_dropout, spatial or scale), export it to ONNX, evaluate and record it."""

import argparse
import math
import os
import platform
import shlex
import sys
import time
from typing import Any, Callable, Dict, Optional, Sequence, Tuple, Union

import numpy as np
import torch
import torch.nn.functional as F
import yaml

from models import datasets
from models import metrics
from models.bnn import METHODS, TOPOLOGIES, BinaryCNN, BinaryMLP, keep_freed_memory, mc_forward, mc_probs
from models.onnx_export import export_onnx
from models.onnx_to_torch import onnx_to_torch

MANIFEST_FORMAT = 1


def parse_args(argv: Sequence[str]) -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--method", choices=METHODS, default="scale")
    ap.add_argument("--topology", choices=TOPOLOGIES, default="mlp")
    ap.add_argument("--dropout-layers", default=None,
                    help="comma-separated layers to drop (default: scale all; mc_dropout all but the first; "
                         "spatial every conv but the first)")
    ap.add_argument("--dataset", choices=["mnist", "fashion"], default="mnist")
    ap.add_argument("--epochs", type=int, default=10)
    ap.add_argument("--batch-size", type=int, default=256)
    ap.add_argument("--lr", type=float, default=3e-3,
                    help="Adam learning rate of the latent weights, cosine-decayed to 0 per step")
    ap.add_argument("--aux-lr", type=float, default=1e-2,
                    help="Adam learning rate of alpha and BatchNorm parameters, cosine-decayed to 0")
    ap.add_argument("--p", type=float, default=0.2, help="dropout probability of every draw")
    ap.add_argument("--dropped-value", type=int, choices=[1, 0], default=1, help="value of a dropped alpha")
    ap.add_argument("--hidden", type=int, default=None,
                    help="width of the hidden dense layers (mlp: two, default 512; cnn: one, default 128)")
    ap.add_argument("--channels", default="32,64", help="cnn: output channels of the 3x3 convs (each + maxpool 2)")
    ap.add_argument("--input-bits", type=int, default=0,
                    help="first-layer input: 0 = +-1 thresholded pixels (pixel >= 128), k = 1..8 = k-bit unsigned "
                         "integers round(pixel/255 * (2^k - 1)), read bit-serially by the hardware")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--max-steps", type=int, default=None, help="stop after this many optimiser steps")
    ap.add_argument("--train-limit", type=int, default=None, help="use only the first N training images")
    ap.add_argument("--val-size", type=int, default=5000, help="last N training images held out for validation")
    ap.add_argument("--eval-T", type=int, default=20, help="MC samples per test image")
    ap.add_argument("--eval-limit", type=int, default=None, help="evaluate only the first N test images")
    ap.add_argument("--data-dir", default=datasets.DEFAULT_DATA_DIR)
    ap.add_argument("--threads", type=int, default=os.cpu_count())
    ap.add_argument("--out", required=True, help="output .onnx path")
    ap.add_argument("--manifest", default=None, help="YAML manifest to add/replace this model's entry in")
    ap.add_argument("--quiet", action="store_true")
    args = ap.parse_args(argv)
    if args.hidden is None:
        args.hidden = 512 if args.topology == "mlp" else 128
    try:
        args.channels = [int(c) for c in args.channels.split(",")]
    except ValueError:
        ap.error(f"--channels '{args.channels}' must be comma-separated integers")
    if args.epochs < 1 or args.batch_size < 1 or args.eval_T < 1 or args.hidden < 1 or min(args.channels) < 1:
        ap.error("--epochs, --batch-size, --eval-T, --hidden and --channels must be >= 1")
    if not 0.0 <= args.p <= 1.0:
        ap.error(f"--p {args.p} outside [0, 1]")
    if not 0 <= args.input_bits <= 8:
        ap.error(f"--input-bits {args.input_bits} outside 0..8")
    return args


def rel(path: str) -> str:
    """Path relative to the repo root when inside it (for the manifest)."""
    path = os.path.abspath(path)
    r = os.path.relpath(path, datasets.REPO_ROOT)
    return path if r.startswith("..") else r


def load_split(args: argparse.Namespace, name: str, split: str, limit: Optional[int], used_files: Dict[str, str]
               ) -> Tuple[torch.Tensor, torch.Tensor]:
    images, labels, paths = datasets.load(args.data_dir, name, split)
    for p in paths:
        used_files[rel(p)] = p
    if limit is not None:
        images, labels = images[:limit], labels[:limit]
    return torch.from_numpy(datasets.to_float(images)), torch.from_numpy(labels.astype(np.int64))


def evaluate_deterministic(model: Any, x: torch.Tensor, y: torch.Tensor, batch: int = 2000) -> float:
    """Accuracy of the all-kept path (eval mode, no dropout)."""
    correct = 0
    for i in range(0, len(x), batch):
        correct += int((mc_forward(model, x[i:i + batch], None).argmax(1) == y[i:i + batch]).sum())
    return correct / max(len(x), 1)


def build_model(args: argparse.Namespace) -> Union[BinaryMLP, BinaryCNN]:
    """The untrained model the arguments describe."""
    layers = args.dropout_layers.split(",") if args.dropout_layers else None
    common = dict(num_classes=10, method=args.method, p=args.p, dropped_value=float(args.dropped_value),
                  dropout_layers=layers, input_bits=args.input_bits)
    if args.topology == "mlp":
        return BinaryMLP(in_features=784, hidden=(args.hidden, args.hidden), **common)
    return BinaryCNN((1, 28, 28), [(c, 3, 1, 1, 2) for c in args.channels], hidden=(args.hidden,), **common)


def train(args: argparse.Namespace, x: torch.Tensor, y: torch.Tensor, x_val: torch.Tensor, y_val: torch.Tensor,
          log: Callable[[str], None]) -> Tuple[Any, int]:
    """Train from scratch; returns the model in eval mode."""
    torch.manual_seed(args.seed)
    model = build_model(args)
    order_gen = torch.Generator().manual_seed(args.seed)
    drop_gen = torch.Generator().manual_seed(args.seed + 1)
    latent = [l.weight for l in model.layers()]
    aux = [q for q in model.parameters() if all(q is not w for w in latent)]
    opt = torch.optim.Adam([{"params": latent, "lr": args.lr},
                            {"params": aux, "lr": args.aux_lr}])
    steps_per_epoch = math.ceil(len(x) / args.batch_size)
    total = args.epochs * steps_per_epoch
    if args.max_steps is not None:
        total = min(total, args.max_steps)
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda s: 0.5 * (1 + math.cos(math.pi * min(s, total) / total)))
    step = 0
    for epoch in range(args.epochs):
        if step >= total:
            break
        model.train()
        t0 = time.time()
        perm = torch.randperm(len(x), generator=order_gen)
        loss_sum, correct, seen = 0.0, 0, 0
        for i in range(0, len(x), args.batch_size):
            if step >= total:
                break
            idx = perm[i:i + args.batch_size]
            if len(idx) < 2:
                continue
            logits = model(x[idx], generator=drop_gen)
            loss = F.cross_entropy(logits, y[idx])
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            model.clip_()
            sched.step()
            step += 1
            loss_sum += float(loss) * len(idx)
            correct += int((logits.argmax(1) == y[idx]).sum())
            seen += len(idx)
        val_acc = evaluate_deterministic(model, x_val, y_val) if len(x_val) else float("nan")
        log(f"epoch {epoch + 1}/{args.epochs} steps {step}/{total} loss {loss_sum / max(seen, 1):.4f} "
            f"train_acc {correct / max(seen, 1):.4f} val_acc(all kept) {val_acc:.4f} time {time.time() - t0:.1f}s")
    model.eval()
    return model, step


def check_roundtrip(model: Any, rebuilt: Any, x: torch.Tensor, generator: torch.Generator) -> None:
    """Raise if the ONNX-rebuilt model's logits differ from the trained module's on a batch."""
    bits = model.sample_bits(len(x), generator)
    a, b = mc_forward(model, x, bits), mc_forward(rebuilt, x, bits)
    if not torch.equal(a, b):
        raise RuntimeError(f"ONNX round trip changed the logits (max diff {float((a - b).abs().max()):g})")


def update_manifest(path: str, key: str, entry: Dict[str, Any]) -> None:
    """Add or replace the entry for key in the manifest YAML."""
    data: Dict[str, Any] = {}
    if os.path.exists(path):
        with open(path) as f:
            data = yaml.safe_load(f) or {}
    data.setdefault("format", MANIFEST_FORMAT)
    models = data.get("models") or {}
    models[key] = entry
    data["models"] = dict(sorted(models.items()))
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    tmp = path + ".tmp"
    with open(tmp, "w") as f:
        f.write("# Pretrained bayescim models: how each was made and what it measured. Written by models/train.py.\n")
        yaml.safe_dump(data, f, sort_keys=False, default_flow_style=False, width=1000)
    os.replace(tmp, path)


def main(argv: Optional[Sequence[str]] = None) -> Dict[str, Any]:
    """Run training, export, ONNX round trip check and MC evaluation; returns a result dict."""
    argv = list(sys.argv[1:] if argv is None else argv)
    args = parse_args(argv)
    log = (lambda m: None) if args.quiet else (lambda m: print(m, flush=True))
    torch.set_num_threads(args.threads)
    keep_freed_memory()
    used_files: Dict[str, str] = {}
    ood_name = datasets.other_dataset(args.dataset)
    x_all, y_all = load_split(args, args.dataset, "train", args.train_limit, used_files)
    n_val = min(args.val_size, len(x_all) // 2)
    x, y = x_all[:len(x_all) - n_val], y_all[:len(y_all) - n_val]
    x_val, y_val = x_all[len(x_all) - n_val:], y_all[len(y_all) - n_val:]
    x_test, y_test = load_split(args, args.dataset, "test", args.eval_limit, used_files)
    x_ood, _ = load_split(args, ood_name, "test", args.eval_limit, used_files)
    log(f"train {len(x)} val {len(x_val)} test {len(x_test)} ({args.dataset}), ood {len(x_ood)} ({ood_name}); "
        f"threads {torch.get_num_threads()}")

    t0 = time.time()
    model, steps = train(args, x, y, x_val, y_val, log)
    train_wall = time.time() - t0

    os.makedirs(os.path.dirname(os.path.abspath(args.out)), exist_ok=True)
    export_onnx(model, args.out, dataset=args.dataset)
    rebuilt, _ = onnx_to_torch(args.out)
    check_roundtrip(model, rebuilt, x_test[:256], torch.Generator().manual_seed(args.seed + 2))

    t1 = time.time()
    gen = torch.Generator().manual_seed(args.seed + 3)
    id_probs = mc_probs(rebuilt, x_test, args.eval_T, gen)
    ood_probs = mc_probs(rebuilt, x_ood, args.eval_T, gen)
    cls = metrics.classification_metrics(id_probs, y_test.numpy())
    ood = metrics.ood_metrics(id_probs, ood_probs)
    results = {
        "accuracy": cls["accuracy"],
        "accuracy_all_kept": evaluate_deterministic(rebuilt, x_test, y_test),
        "val_accuracy_all_kept": evaluate_deterministic(rebuilt, x_val, y_val) if len(x_val) else None,
        "nll": cls["nll"],
        "brier": cls["brier"],
        "ece": cls["ece"],
        "auroc_entropy": ood["auroc_entropy"],
        "auroc_mi": ood["auroc_mi"],
        "aupr_entropy": ood["aupr_entropy"],
        "aupr_mi": ood["aupr_mi"],
        "fpr95_entropy": ood["fpr95_entropy"],
        "fpr95_mi": ood["fpr95_mi"],
        "id_mean_entropy": cls["mean_entropy"],
        "ood_mean_entropy": float(metrics.predictive_entropy(ood_probs).mean()),
    }
    results = {k: (round(v, 6) if isinstance(v, float) else v) for k, v in results.items()}
    eval_wall = time.time() - t1
    log("MC T={} on {} test ({} images), OOD {}: ".format(args.eval_T, args.dataset, len(x_test), ood_name)
        + ", ".join(f"{k} {v}" for k, v in results.items()))

    entry = {
        "file": os.path.basename(args.out),
        "sha256": datasets.sha256_file(args.out),
        "size_bytes": os.path.getsize(args.out),
        "command": shlex.join([sys.executable, "-m", "models.train", *argv]),
        "seed": args.seed,
        "model": model.describe(),
        "input_bits": args.input_bits,
        "topology": args.topology,
        "method": args.method,
        "p": args.p if args.method != "none" else 0.0,
        "dropped_value": args.dropped_value,
        "dropout_layers": ",".join(model.dropout_layers),
        "draws_per_sample": model.num_draws,
        "dataset": args.dataset,
        "ood_dataset": ood_name,
        "train_images": f"train[0:{len(x)}]",
        "val_images": f"train[{len(x)}:{len(x) + len(x_val)}]",
        "test_images": len(x_test),
        "epochs": args.epochs,
        "steps": steps,
        "batch_size": args.batch_size,
        "lr": args.lr,
        "aux_lr": args.aux_lr,
        "lr_schedule": "cosine to 0 per step",
        "optimizer": "Adam",
        "train_wall_s": round(train_wall, 1),
        "eval_wall_s": round(eval_wall, 1),
        "threads": torch.get_num_threads(),
        "torch_version": str(torch.__version__),
        "python_version": platform.python_version(),
        "data_sha256": {k: datasets.sha256_file(v) for k, v in sorted(used_files.items())},
        "eval": {"T": args.eval_T, "seed": args.seed + 3, "evaluated_on": "model rebuilt from the exported ONNX"},
        "metrics": results,
    }
    if args.manifest:
        update_manifest(args.manifest, entry["file"], entry)
        log(f"wrote {args.out} ({entry['size_bytes']} bytes) and manifest entry in {args.manifest}")
    else:
        log(f"wrote {args.out} ({entry['size_bytes']} bytes)")
    return {"model": model, "rebuilt": rebuilt, "entry": entry}


if __name__ == "__main__":
    try:
        main()
    except (datasets.DatasetError, ValueError) as e:
        print(f"train.py: {e}", file=sys.stderr)
        sys.exit(2)
