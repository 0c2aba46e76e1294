#!/usr/bin/python3
"""Plots of one bayescim run, written as PNG beside its report.

    /usr/bin/python3 sim/plots.py OUT_DIR        (what `bayescim run ... --plots` calls)

Reads OUT_DIR/report.json and OUT_DIR/predictions.csv and writes into OUT_DIR:

  reliability.png       reliability diagram of the ID set (metrics.id.reliability) with bin counts
  entropy_id_ood.png    histograms of predictive entropy and mutual information, ID vs OOD
                        (predictions.csv); skipped without an OOD set
  energy.png            energy per inference by component (energy.per_inference_by_component) and
                        by layer (hardware.layers[].array_energy_per_inference_J); skipped for the
                        reference engine, which has no energy
  latency.png           timeline of one MC sample: the layers one after another
                        (hardware.layers[].latency_per_sample_s), each split into its dropout draws
                        and its arrays + digital part, with the layer's array count (all arrays of a
                        layer work in parallel, so every tile of a layer is busy for the same span);
                        skipped for the reference engine

Each file is written to a temporary name and renamed into place. A skipped plot's file from an
earlier run in the same folder is removed, so the folder never shows a stale picture.

Exit codes: 0 written (skips included; each skip is reported on stdout with its reason),
1 input error (missing or malformed report.json / predictions.csv), 2 usage error.
"""

import csv
import json
import math
import os
import sys

import matplotlib

matplotlib.use("Agg")
from matplotlib.figure import Figure  # noqa: E402  (after choosing the backend)

import numpy as np  # noqa: E402

PLOTS = ("reliability.png", "entropy_id_ood.png", "energy.png", "latency.png")
DPI = 110


class InputError(Exception):
    pass


def si(v, unit):
    """1.545e-06, 'J' -> '1.545 µJ'."""
    if v == 0 or not math.isfinite(v):
        return f"{v:.4g} {unit}"
    for f, p in ((1, ""), (1e-3, "m"), (1e-6, "µ"), (1e-9, "n"), (1e-12, "p"), (1e-15, "f"), (1e-18, "a")):
        if abs(v) >= f * 0.9999:
            return f"{v / f:.4g} {p}{unit}"
    return f"{v:.4g} {unit}"


def save(fig, out_dir, name):
    """Writes the figure atomically: a temporary name in the same folder, then os.replace."""
    path = os.path.join(out_dir, name)
    tmp = os.path.join(out_dir, f".{name}.tmp{os.getpid()}")
    try:
        fig.savefig(tmp, format="png", dpi=DPI)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)
    return path


def skip(out_dir, name, reason):
    path = os.path.join(out_dir, name)
    stale = os.path.exists(path)
    if stale:
        os.remove(path)
    print(f"plots: skipped {name}: {reason}" + (" (removed the stale file of an earlier run)" if stale else ""))


def title_of(report):
    return f"{report['name']}  ·  engine {report['engine']}, T = {report['mc_samples']}, seed {report['seed']}"


# ---------------------------------------------------------------------------------------------


def plot_reliability(report, out_dir):
    mid = report["metrics"]["id"]
    bins = mid["reliability"]
    if not bins:
        return skip(out_dir, "reliability.png", "metrics.id.reliability is empty")
    lo = np.array([b["lower"] for b in bins])
    hi = np.array([b["upper"] for b in bins])
    count = np.array([b["count"] for b in bins], dtype=float)
    conf = np.array([b["confidence"] for b in bins])
    acc = np.array([b["accuracy"] for b in bins])
    width = hi - lo
    used = count > 0

    fig = Figure(figsize=(6.0, 6.6), layout="constrained")
    ax, axc = fig.subplots(2, 1, sharex=True, height_ratios=[3, 1])
    ax.bar(lo[used], acc[used], width=width[used], align="edge", color="#4c72b0", edgecolor="black", linewidth=0.6,
           label="accuracy in bin")
    gap_lo = np.minimum(acc, conf)[used]
    ax.bar(lo[used], np.abs(conf - acc)[used], bottom=gap_lo, width=width[used], align="edge", color="#dd8452",
           alpha=0.45, edgecolor="#c44e52", hatch="//", linewidth=0.6, label="gap to mean confidence")
    ax.plot((lo + width / 2)[used], conf[used], "o", color="#c44e52", markersize=3.5, label="mean confidence")
    ax.plot([0, 1], [0, 1], "--", color="grey", linewidth=1, label="perfect calibration")
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1)
    ax.set_ylabel("accuracy")
    ax.set_title(f"Reliability (ID, {report['data']['id']['dataset']}, {mid['images']} images)\n"
                 f"accuracy {100 * mid['accuracy']:.2f} %, ECE {mid['ece']:.4f}, NLL {mid['nll']:.4f}", fontsize=10)
    ax.legend(loc="upper left", fontsize=8)
    ax.grid(alpha=0.3)
    axc.bar(lo, count, width=width, align="edge", color="#8c8c8c", edgecolor="black", linewidth=0.5)
    if count.max() > 0 and count[used].min() * 50 < count.max():
        axc.set_yscale("log")
    axc.set_ylabel("images")
    axc.set_xlabel("confidence (max MC-mean probability)")
    axc.grid(alpha=0.3)
    fig.suptitle(title_of(report), fontsize=9)
    return save(fig, out_dir, "reliability.png")


def read_predictions(out_dir):
    path = os.path.join(out_dir, "predictions.csv")
    if not os.path.exists(path):
        raise InputError(f"{path}: file does not exist (bayescim writes it with every report)")
    ent = {"id": [], "ood": []}
    mi = {"id": [], "ood": []}
    with open(path, newline="") as f:
        reader = csv.DictReader(f)
        need = {"split", "entropy", "mi"}
        if reader.fieldnames is None or not need <= set(reader.fieldnames):
            raise InputError(f"{path}: expected the columns {sorted(need)}, got {reader.fieldnames}")
        classes = sum(1 for c in reader.fieldnames if c[:1] == "p" and c[1:].isdigit())
        for n, row in enumerate(reader, start=2):
            split = row["split"]
            if split not in ent:
                raise InputError(f"{path}:{n}: split '{split}' is not id or ood")
            try:
                ent[split].append(float(row["entropy"]))
                mi[split].append(float(row["mi"]))
            except (TypeError, ValueError):
                raise InputError(f"{path}:{n}: entropy/mi are not numbers") from None
    return {k: np.array(v) for k, v in ent.items()}, {k: np.array(v) for k, v in mi.items()}, classes


def plot_entropy(report, out_dir):
    ood = report["metrics"]["ood"]
    if ood is None:
        return skip(out_dir, "entropy_id_ood.png", "no OOD set in this run (metrics.ood is null)")
    ent, mi, classes = read_predictions(out_dir)
    if len(ent["ood"]) == 0 or len(ent["id"]) == 0:
        return skip(out_dir, "entropy_id_ood.png", "predictions.csv has no OOD rows")
    id_name = report["data"]["id"]["dataset"]
    ood_name = report["data"].get("ood", {}).get("dataset", "OOD")
    h_max = math.log(classes) if classes > 1 else max(ent["id"].max(), ent["ood"].max(), 1e-3)
    mi_max = max(mi["id"].max(), mi["ood"].max(), 1e-3) * 1.02

    fig = Figure(figsize=(10.0, 4.2), layout="constrained")
    axes = fig.subplots(1, 2)
    panels = ((ent, h_max, "predictive entropy H[p̄] (nat)", "auroc_entropy", "entropy"),
              (mi, mi_max, "mutual information (nat)", "auroc_mi", "mi"))
    for ax, (vals, top, label, auroc_key, key) in zip(axes, panels):
        edges = np.linspace(0.0, top, 41)
        for split, name, colour in (("id", id_name, "#4c72b0"), ("ood", ood_name, "#dd8452")):
            v = np.clip(vals[split], 0.0, top)
            ax.hist(v, bins=edges, density=True, histtype="stepfilled", alpha=0.45, color=colour,
                    edgecolor=colour, linewidth=1.2,
                    label=f"{'ID' if split == 'id' else 'OOD'}: {name} ({len(v)}), mean {vals[split].mean():.3f}")
        ax.set_xlabel(label)
        ax.set_ylabel("density")
        ax.set_title(f"AUROC {ood[auroc_key]:.4f}, AUPR {ood['aupr_' + key]:.4f}, "
                     f"FPR@95 {ood['fpr95_' + key]:.4f}", fontsize=9)
        ax.legend(fontsize=8)
        ax.grid(alpha=0.3)
    axes[0].axvline(h_max, color="grey", linestyle=":", linewidth=1)
    fig.suptitle(f"Uncertainty, ID vs OOD  ·  {title_of(report)}", fontsize=9)
    return save(fig, out_dir, "entropy_id_ood.png")


def plot_energy(report, out_dir):
    e = report["energy"]
    if e is None:
        return skip(out_dir, "energy.png", f"engine '{report['engine']}' has no energy (energy is null)")
    comps = sorted(e["per_inference_by_component"].items(), key=lambda kv: kv[1])
    total = e["per_inference_J"]
    layers = report["hardware"].get("layers") or []

    fig = Figure(figsize=(11.0, 4.6), layout="constrained")
    ax, axl = fig.subplots(1, 2, width_ratios=[1, 1])
    names = [k for k, _ in comps]
    vals = np.array([v for _, v in comps])
    bars = ax.barh(names, vals, color="#4c72b0")
    ax.set_xlim(0, max(vals.max(), 1e-30) * 1.45)
    for b, v in zip(bars, vals):
        ax.text(b.get_width(), b.get_y() + b.get_height() / 2,
                f" {si(v, 'J')} ({100 * v / total if total > 0 else 0:.1f} %)", va="center", fontsize=8)
    ax.set_xlabel("energy per inference (J)")
    ax.set_title(f"By component: {si(total, 'J')} per inference ({report['mc_samples']} samples)\n"
                 f"{si(e['per_mac_J'], 'J')} per binary MAC, {e['tops_per_W']:.2f} TOPS/W; "
                 f"programming {si(e['programming_J'], 'J')} once", fontsize=9)
    ax.grid(axis="x", alpha=0.3)

    if layers:
        lnames = [f"{l['name']}\n{l['arrays']} arr, {l['sensing']}" for l in layers]
        lvals = [l["array_energy_per_inference_J"] for l in layers]
        other = total - sum(lvals)
        colours = ["#55a868"] * len(lvals)
        if other > total * 1e-6:
            lnames.append("outside\nthe arrays")
            lvals.append(other)
            colours.append("#8c8c8c")
        y = np.arange(len(lvals))[::-1]
        lb = axl.barh(y, lvals, color=colours)
        axl.set_yticks(y, lnames, fontsize=8)
        axl.set_xlim(0, max(max(lvals), 1e-30) * 1.45)
        for b, v in zip(lb, lvals):
            axl.text(b.get_width(), b.get_y() + b.get_height() / 2,
                     f" {si(v, 'J')} ({100 * v / total if total > 0 else 0:.1f} %)", va="center", fontsize=8)
        axl.set_xlabel("energy per inference (J)")
        axl.set_title("By layer: each layer's arrays (grey: dropout unit, digital\n"
                      "and buffers outside the arrays, if any)", fontsize=9)
        axl.grid(axis="x", alpha=0.3)
    else:
        axl.axis("off")
        axl.text(0.5, 0.5, "no per-layer breakdown in the report", ha="center", va="center")
    fig.suptitle(f"Energy  ·  {title_of(report)}", fontsize=9)
    return save(fig, out_dir, "energy.png")


def plot_latency(report, out_dir):
    lat = report["latency"]
    hw = report["hardware"]
    layers = hw.get("layers") or []
    if lat is None or not layers:
        return skip(out_dir, "latency.png", f"engine '{report['engine']}' has no latency (latency is null)")
    bit_s = hw.get("dropout_bit_latency_s") or 0.0
    shared = hw.get("dropout_organisation") == "shared_unit"
    dropout_device = ((report.get("config") or {}).get("hardware") or {}).get("dropout_device") or {}
    pipelined = isinstance(dropout_device, dict) and dropout_device.get("pipelined") is True

    fig = Figure(figsize=(11.0, 1.3 + 0.55 * len(layers)), layout="constrained")
    ax = fig.subplots()
    t = 0.0
    n = len(layers)
    for i, l in enumerate(layers):
        y = n - 1 - i
        dur = l["latency_per_sample_s"] * 1e9
        # Dropout draws before the layer: the modules work in parallel, each drawing its share of
        # the layer's bits one after another (the shared unit is one module).
        bits = l["random_bits_per_sample"]
        mods = 1 if shared else max(l["dropout_modules"], 1)
        rounds = math.ceil(bits / mods) if bits else 0
        # Pipelined modules: only the first round is on the critical path; the others overlap the reads.
        drop = min((1 if pipelined and rounds > 1 else rounds) * bit_s * 1e9, dur)
        overlap = min((rounds - 1) * bit_s * 1e9, dur - drop) if pipelined and rounds > 1 else 0.0
        if overlap > 0:
            ax.broken_barh([(t + drop, overlap)], (y - 0.35, 0.2), facecolors="#f2c6a0", edgecolor="#dd8452",
                           linewidth=0.5, hatch="..", zorder=3)
        if drop > 0:
            ax.broken_barh([(t, drop)], (y - 0.35, 0.7), facecolors="#dd8452", edgecolor="black", linewidth=0.5,
                           hatch="//")
        ax.broken_barh([(t + drop, dur - drop)], (y - 0.35, 0.7), facecolors="#4c72b0", edgecolor="black",
                       linewidth=0.5)
        label = (f"{l['arrays']} array{'s' if l['arrays'] != 1 else ''} ({l['row_tiles']}×{l['col_tiles']}), "
                 f"{l['sensing']}, {l['positions']} pos · {si(l['latency_per_sample_s'], 's')}")
        ax.text(t + dur, y, "  " + label, va="center", fontsize=8)
        t += dur
    ax.set_yticks(range(n), [l["name"] for l in layers][::-1])
    ax.set_xlim(0, t * 1.55 if t > 0 else 1)
    ax.set_ylim(-0.7, n - 0.3)
    ax.set_xlabel("time within one MC sample (ns)")
    ax.grid(axis="x", alpha=0.3)
    from matplotlib.patches import Patch

    handles = [Patch(facecolor="#dd8452", hatch="//", edgecolor="black", label="dropout draws"),
               Patch(facecolor="#4c72b0", edgecolor="black", label="arrays (all tiles of the layer in parallel) + digital")]
    if pipelined:
        handles.append(Patch(facecolor="#f2c6a0", hatch="..", edgecolor="#dd8452",
                             label="pipelined draws overlapping the reads"))
    ax.legend(handles=handles,
              loc="upper right", fontsize=8)
    ax.set_title(f"Latency timeline of one MC sample: {si(lat['per_sample_s'], 's')} "
                 f"(layers sum to {si(t * 1e-9, 's')}); {si(lat['per_inference_s'], 's')} per inference, "
                 f"{lat['throughput_inferences_per_s']:.4g} inferences/s; {hw['arrays']} arrays in all", fontsize=9)
    fig.suptitle(title_of(report), fontsize=9)
    return save(fig, out_dir, "latency.png")


# ---------------------------------------------------------------------------------------------


def load_report(out_dir):
    path = os.path.join(out_dir, "report.json")
    if not os.path.isdir(out_dir):
        raise InputError(f"{out_dir}: no such output folder")
    if not os.path.exists(path):
        raise InputError(f"{path}: file does not exist (run bayescim first; --plots runs this after the report)")
    try:
        with open(path) as f:
            report = json.load(f)
    except json.JSONDecodeError as e:
        raise InputError(f"{path}: not valid JSON: {e}") from None
    for key in ("name", "engine", "mc_samples", "seed", "metrics", "data", "hardware", "energy", "latency"):
        if not isinstance(report, dict) or key not in report:
            raise InputError(f"{path}: missing key '{key}' (see docs/report-schema.json)")
    return report


def make_plots(out_dir):
    report = load_report(out_dir)
    written = []
    for fn in (plot_reliability, plot_entropy, plot_energy, plot_latency):
        try:
            path = fn(report, out_dir)
        except (KeyError, TypeError, IndexError) as e:  # a report that does not follow the schema
            raise InputError(f"{os.path.join(out_dir, 'report.json')}: {fn.__name__}: unexpected content "
                             f"({type(e).__name__}: {e}); see docs/report-schema.json") from None
        if path:
            print(f"plots: wrote {path}")
            written.append(path)
    return written


def main(argv):
    if len(argv) != 1 or argv[0] in ("-h", "--help"):
        print(__doc__.strip().splitlines()[2].strip() if argv else "", file=sys.stderr)
        print("usage: plots.py OUT_DIR  (the folder holding report.json and predictions.csv)", file=sys.stderr)
        return 0 if argv and argv[0] in ("-h", "--help") else 2
    out_dir = argv[0]
    if os.path.basename(out_dir) == "report.json":
        out_dir = os.path.dirname(out_dir) or "."
    try:
        make_plots(out_dir)
    except InputError as e:
        print(f"plots.py: error: {e}", file=sys.stderr)
        return 1
    except OSError as e:
        print(f"plots.py: error: {e}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
