"""Check the simulator's per-sample logits (samples.csv) against the PyTorch model rebuilt from ONNX.

Exit status: 0 when every row's argmax agrees and max |logit diff| <= atol, 1 when they do not,
2 when the inputs are unusable (bad CSV, model or data file).
"""

import argparse
import csv
import os
import sys
from dataclasses import dataclass, field

import numpy as np
import torch

import datasets
from bnn import mc_forward
from onnx_to_torch import OnnxFormatError, onnx_to_torch

FIXED_COLUMNS = ["split", "index", "sample", "bits"]
SPLITS = ("id", "ood")


class ParityInputError(Exception):
    """samples.csv (or a file it refers to) is malformed; the message names file and line."""


@dataclass
class ParityResult:
    """Outcome of a comparison; worst is (line, split, index, sample) of the largest difference."""

    rows: int
    atol: float
    max_abs_diff: float
    argmax_mismatches: int
    nonfinite_rows: int = 0
    worst: tuple = None
    mismatch_examples: list = field(default_factory=list)

    @property
    def passed(self):
        return (self.rows > 0 and self.argmax_mismatches == 0 and self.nonfinite_rows == 0
                and self.max_abs_diff <= self.atol)

    def summary(self):
        """Human-readable one-paragraph report."""
        lines = [f"parity: {self.rows} rows, max |logit diff| = {self.max_abs_diff:.3g} (atol {self.atol:g}), "
                 f"argmax mismatches = {self.argmax_mismatches}"]
        if self.worst:
            lines.append("  largest difference at line {} (split {}, index {}, sample {})".format(*self.worst))
        if self.nonfinite_rows:
            lines.append(f"  {self.nonfinite_rows} rows have non-finite simulator logits")
        for m in self.mismatch_examples:
            lines.append("  argmax differs at line {} (split {}, index {}, sample {}): sim {} torch {}".format(*m))
        if self.rows == 0:
            lines.append("FAIL: samples file has no rows")
        elif self.passed:
            lines.append("PASS")
        else:
            why = []
            if self.argmax_mismatches:
                why.append(f"{self.argmax_mismatches} rows disagree on the predicted class")
            if self.nonfinite_rows:
                why.append(f"{self.nonfinite_rows} rows have NaN/Inf logits")
            if self.max_abs_diff > self.atol:
                why.append(f"max |logit diff| {self.max_abs_diff:.3g} exceeds atol {self.atol:g}")
            lines.append("FAIL: " + "; ".join(why))
        return "\n".join(lines)


def read_samples(path, num_classes, num_bits):
    """Parse samples.csv into (lines, splits, indices, samples, bits uint8 [R, L], logits float64 [R, C])."""
    expected = FIXED_COLUMNS + [f"logit{c}" for c in range(num_classes)]
    try:
        f = open(path, newline="")
    except OSError as e:
        raise ParityInputError(f"{path}: cannot open: {e.strerror}") from None
    with f:
        reader = csv.reader(f)
        header = next(reader, None)
        if header is None:
            raise ParityInputError(f"{path}: empty file, expected header {','.join(expected)}")
        header = [h.strip() for h in header]
        if header != expected:
            raise ParityInputError(f"{path}:1: header is '{','.join(header)}', expected '{','.join(expected)}'")
        lines, splits, indices, samples, bits, logits = [], [], [], [], [], []
        for row in reader:
            line = reader.line_num
            if not row or all(not c.strip() for c in row):
                continue
            if len(row) != len(expected):
                raise ParityInputError(f"{path}:{line}: {len(row)} fields, expected {len(expected)}")
            split, index, sample, b = (c.strip() for c in row[:4])
            if split not in SPLITS:
                raise ParityInputError(f"{path}:{line}: split '{split}' is not one of {', '.join(SPLITS)}")
            try:
                index, sample = int(index), int(sample)
                vals = [float(v) for v in row[4:]]
            except ValueError as e:
                raise ParityInputError(f"{path}:{line}: {e}") from None
            if b == "-":
                b = ""
            if len(b) != num_bits or any(ch not in "01" for ch in b):
                raise ParityInputError(f"{path}:{line}: bits '{b}' must be {num_bits} chars of 0/1 "
                                       f"(one per dropout layer{'' if num_bits else '; empty or - for none'})")
            lines.append(line)
            splits.append(split)
            indices.append(index)
            samples.append(sample)
            bits.append([int(ch) for ch in b])
            logits.append(vals)
    return (lines, splits, np.array(indices, dtype=np.int64), samples,
            np.array(bits, dtype=np.uint8).reshape(len(lines), num_bits),
            np.array(logits, dtype=np.float64).reshape(len(lines), num_classes))


def compare(model, samples_path, images_by_split, atol=1e-3, batch=4096, max_examples=5):
    """Compare samples.csv against the model run with the recorded bits; images_by_split maps id/ood to uint8 [N,28,28]."""
    lines, splits, indices, samples, bits, sim = read_samples(samples_path, model.num_classes,
                                                              len(model.dropout_layers))
    n = len(lines)
    x = np.empty((n, model.in_features), dtype=np.float32)
    for split in SPLITS:
        sel = np.array([s == split for s in splits], dtype=bool)
        if not sel.any():
            continue
        images = images_by_split[split]
        bad = np.nonzero((indices[sel] < 0) | (indices[sel] >= len(images)))[0]
        if len(bad):
            line = np.array(lines)[sel][bad[0]]
            raise ParityInputError(f"{samples_path}:{line}: index {indices[sel][bad[0]]} outside the {split} "
                                   f"test set (0..{len(images) - 1})")
        x[sel] = datasets.to_float(images[indices[sel]])
    ref = np.empty((n, model.num_classes), dtype=np.float64)
    for i in range(0, n, batch):
        ref[i:i + batch] = mc_forward(model, torch.from_numpy(x[i:i + batch]),
                                      torch.from_numpy(bits[i:i + batch])).double().numpy()
    finite = np.all(np.isfinite(sim), axis=1)
    diff = np.where(finite[:, None], np.abs(sim - ref), 0.0)
    row_diff = diff.max(axis=1) if n else np.zeros(0)
    sim_arg = np.argmax(np.where(np.isfinite(sim), sim, -np.inf), axis=1)
    ref_arg = np.argmax(ref, axis=1)
    mism = np.nonzero((sim_arg != ref_arg) & finite)[0]
    worst = None
    if n:
        w = int(np.argmax(row_diff))
        worst = (lines[w], splits[w], int(indices[w]), samples[w])
    return ParityResult(
        rows=n, atol=atol, max_abs_diff=float(row_diff.max()) if n else 0.0,
        argmax_mismatches=len(mism), nonfinite_rows=int((~finite).sum()), worst=worst,
        mismatch_examples=[(lines[i], splits[i], int(indices[i]), samples[i], int(sim_arg[i]), int(ref_arg[i]))
                           for i in mism[:max_examples]])


def load_test_images(data_dir, name):
    """uint8 test images [10000, 28, 28] of a dataset."""
    images, _, _ = datasets.load(data_dir, name, "test")
    return images


def run(model_path, samples_path, data_dir, atol=1e-3, id_dataset=None, ood_dataset=None):
    """Rebuild the model from ONNX and compare; returns a ParityResult."""
    model, meta = onnx_to_torch(model_path)
    id_name = datasets.canonical_name(id_dataset or meta.get("bayescim.dataset", "mnist"))
    ood_name = datasets.canonical_name(ood_dataset) if ood_dataset else datasets.other_dataset(id_name)
    images = {"id": load_test_images(data_dir, id_name), "ood": load_test_images(data_dir, ood_name)}
    return compare(model, samples_path, images, atol=atol)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", required=True, help="bayescim .onnx file")
    ap.add_argument("--samples", required=True, help="samples.csv written by the simulator")
    ap.add_argument("--data-dir", default=datasets.DEFAULT_DATA_DIR)
    ap.add_argument("--atol", type=float, default=1e-3)
    ap.add_argument("--id-dataset", default=None, help="default: bayescim.dataset from the model metadata")
    ap.add_argument("--ood-dataset", default=None, help="default: the other of mnist/fashion")
    args = ap.parse_args(argv)
    torch.set_num_threads(os.cpu_count() or 1)
    try:
        result = run(args.model, args.samples, args.data_dir, args.atol, args.id_dataset, args.ood_dataset)
    except (ParityInputError, datasets.DatasetError, OnnxFormatError, NotImplementedError, ValueError, OSError) as e:
        print(f"parity: error: {e}", file=sys.stderr)
        return 2
    print(result.summary())
    return 0 if result.passed else 1


if __name__ == "__main__":
    sys.exit(main())
