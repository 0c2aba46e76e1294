"""Check the simulator's per-sample logits (samples.csv) against the PyTorch model rebuilt from ONNX.

The dropout masks of each row are regenerated with the simulator's counter-based RNG (rng.py) from
report.json (seed, hardware.dropout_p_realised, model.dropout) found next to samples.csv; for
Scale-Dropout they must equal the csv's bits column. Without a report, only none and scale
(bits from the csv) can be checked.

Exit status: 0 when every row's argmax agrees and max |logit diff| <= atol, 1 when they do not,
2 when the inputs are unusable (bad CSV, model or data file).
"""

import argparse
import copy
import csv
import json
import os
import sys
from dataclasses import dataclass, field
from typing import Any, Dict, Optional, Sequence, Tuple, cast

import numpy as np
import torch

from models import datasets
from models import rng
from models.bnn import keep_freed_memory, mc_forward
from models.onnx_to_torch import OnnxFormatError, onnx_to_torch

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
    worst: Optional[tuple] = None
    mismatch_examples: list = field(default_factory=list)
    masks: str = "csv bits"
    bits_checked: int = 0
    bits_mismatches: int = 0
    bits_mismatch_examples: list = field(default_factory=list)

    @property
    def passed(self) -> bool:
        return (self.rows > 0 and self.argmax_mismatches == 0 and self.nonfinite_rows == 0
                and self.max_abs_diff <= self.atol and self.bits_mismatches == 0)

    def summary(self) -> str:
        """Human-readable one-paragraph report."""
        lines = [f"parity: {self.rows} rows, max |logit diff| = {self.max_abs_diff:.3g} (atol {self.atol:g}), "
                 f"argmax mismatches = {self.argmax_mismatches}; masks: {self.masks}"]
        if self.bits_checked:
            lines.append(f"  csv bits vs regenerated draws: {self.bits_mismatches} of {self.bits_checked} rows differ")
        for m in self.bits_mismatch_examples:
            lines.append("  bits differ at line {} (split {}, index {}, sample {}): csv {} regenerated {}".format(*m))
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
            if self.bits_mismatches:
                why.append(f"{self.bits_mismatches} rows' csv bits differ from the regenerated draws")
            if self.max_abs_diff > self.atol:
                why.append(f"max |logit diff| {self.max_abs_diff:.3g} exceeds atol {self.atol:g}")
            lines.append("FAIL: " + "; ".join(why))
        return "\n".join(lines)


def read_samples(path: str, num_classes: int, num_bits: int) -> Tuple[Any, ...]:
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
        index: Any
        sample: Any
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
                                       f"(one per scale-dropout layer{'' if num_bits else '; empty or - otherwise'})")
            lines.append(line)
            splits.append(split)
            indices.append(index)
            samples.append(sample)
            bits.append([int(ch) for ch in b])
            logits.append(vals)
    return (lines, splits, np.array(indices, dtype=np.int64), samples,
            np.array(bits, dtype=np.uint8).reshape(len(lines), num_bits),
            np.array(logits, dtype=np.float64).reshape(len(lines), num_classes))


def read_report(path: str) -> Dict[str, Any]:
    """Parse report.json into {seed, p (realised), dropout, data}; ParityInputError if unusable."""
    try:
        with open(path) as f:
            rep = json.load(f)
        seed = int(rep["seed"])
        p = float(rep["hardware"]["dropout_p_realised"])
        dropout = rep["model"]["dropout"]
        dropout = {"kind": str(dropout["kind"]), "layers": [str(l) for l in dropout["layers"]],
                   "dropped_value": float(dropout.get("dropped_value", 1.0))}
        spread = rep["hardware"].get("dropout_p_modules") or {}
        if spread and float(spread["min"]) != float(spread["max"]):
            raise ParityInputError(f"{path}: the dropout modules' realised p differ (stochastic-MTJ variation, "
                                   f"{spread['min']:.6g}..{spread['max']:.6g}) and the report does not list them, "
                                   f"so the masks cannot be regenerated; run parity with variation off")
    except OSError as e:
        raise ParityInputError(f"{path}: cannot open: {e.strerror}") from None
    except (ValueError, KeyError, TypeError) as e:
        raise ParityInputError(f"{path}: not a simulator report (need seed, hardware.dropout_p_realised, "
                               f"model.dropout): {e!r}") from None
    return {"seed": seed, "p": p, "dropout": dropout, "data": rep.get("data") or {}}


def apply_report(model: Any, report: Dict[str, Any]) -> Any:
    """A copy of the model with the run's dropout spec (kind, layers, dropped value; p = realised p)."""
    d = report["dropout"]
    model = copy.deepcopy(model)
    try:
        model.configure_dropout(d["kind"], report["p"] if d["kind"] != "none" else 0.0, d["layers"],
                                d["dropped_value"])
    except ValueError as e:
        raise ParityInputError(f"report.json dropout spec does not fit the model: {e}") from None
    return model


def compare(model: Any, samples_path: str, images_by_split: Dict[str, np.ndarray], atol: float = 1e-3,
            batch: int = 4096, max_examples: int = 5, report: Optional[Dict[str, Any]] = None) -> "ParityResult":
    """Compare samples.csv against the model run on the same masks; images_by_split maps id/ood to uint8 [N,28,28].

    report (from read_report) regenerates every row's masks with the simulator's RNG; without it
    the csv bits are used, which only Scale-Dropout (and none) record.
    """
    if report is not None:
        model = apply_report(model, report)
    scale = model.method == "scale"
    num_bits = len(model.dropout_layers) if scale else 0
    if report is None and model.num_draws and not scale:
        raise ParityInputError(f"{samples_path}: {model.method} masks are not in samples.csv; report.json "
                               f"(seed, dropout_p_realised) is needed to regenerate them")
    lines, splits, indices, samples, bits, sim = read_samples(samples_path, model.num_classes, num_bits)
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
    keys = rng.image_key(np.array([rng.SPLITS[s] for s in splits], dtype=np.uint64), indices.astype(np.uint64))
    sample_arr = np.array(samples, dtype=np.uint64)
    batch = max(1, min(batch, (1 << 22) // max(model.num_draws, 1)))
    ref = np.empty((n, model.num_classes), dtype=np.float64)
    bit_rows = []
    for i in range(0, n, batch):
        sl = slice(i, i + batch)
        draws = None
        if report is not None and model.num_draws:
            draws = rng.dropout_draws(report["seed"], keys[sl], sample_arr[sl], model.num_draws, report["p"])
            if scale:
                bit_rows += [i + r for r in np.nonzero(np.any(draws != bits[sl].astype(bool), axis=1))[0]]
        use = bits[sl] if scale else (draws if draws is not None else np.zeros((len(x[sl]), 0), dtype=bool))
        ref[sl] = mc_forward(model, torch.from_numpy(x[sl]), torch.from_numpy(np.ascontiguousarray(use))).double().numpy()
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
    masks = "csv bits" if report is None else (
        f"{model.method} draws regenerated (seed {report['seed']}, p {report['p']!r}, "
        f"{model.num_draws} per sample)" if model.num_draws else "none")
    bitstr = lambda v: "".join(str(int(c)) for c in v)  # noqa: E731
    rep: Dict[str, Any] = report or {}  # regen is called only with a report
    regen = lambda r: rng.dropout_draws(rep["seed"], keys[r:r + 1], sample_arr[r:r + 1],  # noqa: E731
                                        model.num_draws, rep["p"])[0]
    return ParityResult(
        rows=n, atol=atol, max_abs_diff=float(row_diff.max()) if n else 0.0,
        argmax_mismatches=len(mism), nonfinite_rows=int((~finite).sum()), worst=worst,
        mismatch_examples=[(lines[i], splits[i], int(indices[i]), samples[i], int(sim_arg[i]), int(ref_arg[i]))
                           for i in mism[:max_examples]],
        masks=masks, bits_checked=n if (scale and report is not None and model.num_draws) else 0,
        bits_mismatches=len(bit_rows),
        bits_mismatch_examples=[(lines[r], splits[r], int(indices[r]), samples[r], bitstr(bits[r]), bitstr(regen(r)))
                                for r in bit_rows[:max_examples]])


def load_test_images(data_dir: str, name: str) -> np.ndarray:
    """uint8 test images [10000, 28, 28] of a dataset."""
    images, _, _ = datasets.load(data_dir, name, "test")
    return images


def _dataset_from_report(report: Any, role: str) -> Optional[str]:
    try:
        return datasets.canonical_name(report["data"][role]["dataset"])
    except (KeyError, TypeError, datasets.DatasetError):
        return None


def run(model_path: str, samples_path: str, data_dir: str, atol: float = 1e-3, id_dataset: Optional[str] = None,
        ood_dataset: Optional[str] = None, report_path: Optional[str] = None) -> "ParityResult":
    """Rebuild the model from ONNX and compare; report_path defaults to report.json next to samples.csv (if any)."""
    model, meta = onnx_to_torch(model_path)
    if report_path is None:
        auto = os.path.join(os.path.dirname(os.path.abspath(samples_path)), "report.json")
        report_path = auto if os.path.exists(auto) else None
    report = read_report(report_path) if report_path else None
    id_name = datasets.canonical_name(cast(str, id_dataset or (_dataset_from_report(report, "id") if report else None)
                                           or meta.get("bayescim.dataset", "mnist")))
    ood_name = datasets.canonical_name(ood_dataset) if ood_dataset else (
        (_dataset_from_report(report, "ood") if report else None) or datasets.other_dataset(id_name))
    images = {"id": load_test_images(data_dir, id_name), "ood": load_test_images(data_dir, ood_name)}
    return compare(model, samples_path, images, atol=atol, report=report)


def main(argv: Optional[Sequence[str]] = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", required=True, help="bayescim .onnx file")
    ap.add_argument("--samples", required=True, help="samples.csv written by the simulator")
    ap.add_argument("--data-dir", default=datasets.DEFAULT_DATA_DIR)
    ap.add_argument("--atol", type=float, default=1e-3)
    ap.add_argument("--id-dataset", default=None, help="default: bayescim.dataset from the model metadata")
    ap.add_argument("--ood-dataset", default=None, help="default: the other of mnist/fashion")
    ap.add_argument("--report", default=None, help="simulator report.json (default: next to --samples, if present)")
    args = ap.parse_args(argv)
    torch.set_num_threads(os.cpu_count() or 1)
    keep_freed_memory()
    try:
        result = run(args.model, args.samples, args.data_dir, args.atol, args.id_dataset, args.ood_dataset,
                     args.report)
    except (ParityInputError, datasets.DatasetError, OnnxFormatError, NotImplementedError, ValueError, OSError) as e:
        print(f"parity: error: {e}", file=sys.stderr)
        return 2
    print(result.summary())
    return 0 if result.passed else 1


if __name__ == "__main__":
    sys.exit(main())
