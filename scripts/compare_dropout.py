#!/usr/bin/python3
"""Compares the three dropout hardware organisations on the same crossbars and writes
docs/results.md: module counts, dropout and total energy, latency, the T-dependence, and the
quality of the shipped models. Every number comes from a `bayescim run` in this invocation.

    /usr/bin/python3 -m scripts.compare_dropout            # the full tables (tens of minutes)
    /usr/bin/python3 -m scripts.compare_dropout --quick    # small image counts (a minute or two)
"""

import argparse
import datetime
import json
import os
import platform
import subprocess
import tempfile
from typing import Any, Dict, List, Optional, Sequence

from scripts import structures

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)

EXE = os.path.join(REPO, "build", "bayescim")
BASE = os.path.join(REPO, "configs", "experiments", "mnist_mlp_scale.yaml")
KINDS = ["mc_dropout", "spatial", "scale"]
LABEL = {"none": "none (deterministic)", "mc_dropout": "per-neuron (SpinDrop)", "spatial": "spatial (Spatial-SpinDrop)",
         "scale": "shared unit (Scale-Dropout)"}
SHIPPED = [("mnist_mlp", "mnist", "fashion-mnist"), ("fashion_cnn", "fashion-mnist", "mnist")]


def run(out: str, *sets: str, jobs: int = 1, limit: Optional[int] = None) -> Dict[str, Any]:
    cmd = [EXE, "run", BASE, "--quiet", "--out", out, "--jobs", str(jobs)]
    if limit:
        cmd += ["--limit", str(limit)]
    for s in sets:
        cmd += ["--set", s]
    p = subprocess.run(cmd, capture_output=True, text=True, env=dict(os.environ, SYSTEMC_DISABLE_COPYRIGHT_MESSAGE="1"))
    if p.returncode != 0:
        raise SystemExit(f"bayescim failed: {' '.join(cmd)}\n{p.stderr}")
    with open(os.path.join(out, "report.json")) as f:
        return json.load(f)


def eng(x: float, unit: str) -> str:
    for f, p in ((1, ""), (1e-3, "m"), (1e-6, "µ"), (1e-9, "n"), (1e-12, "p"), (1e-15, "f")):
        if abs(x) >= f * 0.9995:
            return f"{x / f:.3g} {p}{unit}"
    return f"{x:.3g} {unit}" if x else f"0 {unit}"


def ratio(a: float, b: float) -> str:
    return f"{a / b:,.0f}x" if b else "–"


def structure_section(tmp: str, T: int, jobs: int) -> List[str]:
    lines = ["## 1. Dropout modules, energy and latency on the same crossbars", "",
             f"Random ±1 weights (counts, energy and latency do not depend on training), {T} MC samples, p = 0.2, "
             "2 synthetic 3x32x32 images, default architecture (`configs/architectures/stt_cim_512x128.yaml`) and "
             "devices. Default placement (`Network::default_dropout_layers`): per-neuron on every layer's inputs but "
             "the first; spatial on every conv layer but the first; the shared unit on every layer.", ""]
    synth = os.path.join(tmp, "synth")
    structures.write_synthetic_idx(synth, n=2)
    results = {}
    for name in structures.STRUCTURES:
        path = os.path.join(tmp, f"{name}.onnx")
        import onnx
        onnx.save(structures.build(name), path)
        for kind in ["none"] + KINDS:
            results[(name, kind)] = run(os.path.join(tmp, f"{name}_{kind}"), f"model.path={path}",
                                        f"data.id.dir={synth}", "data.ood=null", f"mc.samples={T}",
                                        f"model.dropout.kind={kind}", "model.dropout.p=0.2", jobs=jobs)
    for name in structures.STRUCTURES:
        r = {k: results[(name, k)] for k in ["none"] + KINDS}
        layers = r["mc_dropout"]["hardware"]["layers"]
        lines += [f"### {name}", "", "Dropout modules per layer (per-neuron counts one module per crossbar row of "
                  "a dropped layer; spatial one per input channel of a dropped conv layer; the shared unit is one "
                  "for the model):", "",
                  "| layer | rows (K·K·C_in) | positions | per-neuron | spatial | per-neuron / spatial |",
                  "|---|---:|---:|---:|---:|---:|"]
        for i, l in enumerate(layers):
            pn, sp = l["dropout_modules"], r["spatial"]["hardware"]["layers"][i]["dropout_modules"]
            lines.append(f"| {l['name']} | {l['rows']:,} | {l['positions']:,} | {pn:,} | {sp:,} | "
                         f"{(f'{pn / sp:.0f}x' if sp else '–')} |")
        tot = {k: r[k]["hardware"]["dropout_modules"] for k in KINDS}
        lines += [f"| **total** | | | **{tot['mc_dropout']:,}** | **{tot['spatial']:,}** | "
                  f"**{tot['mc_dropout'] / max(tot['spatial'], 1):.1f}x** (shared unit: **{tot['scale']}**) |", ""]
        lines += ["| organisation | modules | random bits / sample | dropout energy / inference | total energy / "
                  "inference | dropout share | latency / inference | dropout area |",
                  "|---|---:|---:|---:|---:|---:|---:|---:|"]
        for k in ["none"] + KINDS:
            e, h = r[k]["energy"], r[k]["hardware"]
            lines.append(f"| {LABEL[k]} | {h['dropout_modules']:,} | {h['random_bits_per_sample']:,} | "
                         f"{eng(e['per_inference_by_component'].get('dropout_rng', 0), 'J')} | "
                         f"{eng(e['per_inference_J'], 'J')} | {100 * e['dropout_share']:.3g} % | "
                         f"{eng(r[k]['latency']['per_inference_s'], 's')} | "
                         f"{r[k]['area']['by_component_mm2']['dropout'] * 1e6:,.0f} µm² |")
        d = {k: r[k]["energy"]["per_inference_by_component"].get("dropout_rng", 0) for k in KINDS}
        t = {k: r[k]["energy"]["per_inference_J"] for k in KINDS}
        lat = {k: r[k]["latency"]["per_inference_s"] for k in KINDS}
        lines += ["", f"Dropout-hardware energy ratios: per-neuron / spatial = **{ratio(d['mc_dropout'], d['spatial'])}**, "
                  f"per-neuron / shared = **{ratio(d['mc_dropout'], d['scale'])}**, spatial / shared = "
                  f"**{ratio(d['spatial'], d['scale'])}**. Total-energy ratios: per-neuron / spatial = "
                  f"{t['mc_dropout'] / t['spatial']:.3f}, per-neuron / shared = {t['mc_dropout'] / t['scale']:.3f}. "
                  f"Latency ratio per-neuron / shared = {lat['mc_dropout'] / lat['scale']:.2f}.", ""]
    return lines


def shipped_section(tmp: str, Ts: Sequence[int], limit: Optional[int], jobs: int) -> List[str]:
    lines = ["## 2. The shipped models: quality, cost and the T-dependence", "",
             f"Each shipped model on its test set (first {limit} images of ID and of OOD), with the dropout it was "
             "trained with.", ""]
    found = False
    for prefix, id_ds, ood_ds in SHIPPED:
        rows = []
        for kind in ["none"] + KINDS:
            path = os.path.join(REPO, "models", "pretrained", f"{prefix}_{kind}.onnx")
            if not os.path.exists(path):
                continue
            for T in Ts if kind != "none" else [1]:
                r = run(os.path.join(tmp, f"{prefix}_{kind}_{T}"), f"model.path={path}",
                        f"data.id.dataset={id_ds}", f"data.id.dir={REPO}/data/{id_ds}",
                        f"data.ood.dataset={ood_ds}", f"data.ood.dir={REPO}/data/{ood_ds}", f"mc.samples={T}",
                        jobs=jobs, limit=limit)
                m, o = r["metrics"]["id"], r["metrics"]["ood"]
                rows.append(f"| {LABEL[kind]} | {T} | {100 * m['accuracy']:.2f} % | {m['ece']:.4f} | "
                            f"{o['auroc_entropy']:.4f} | {o['auroc_mi']:.4f} | "
                            f"{eng(r['energy']['per_inference_J'], 'J')} | "
                            f"{eng(r['energy']['per_inference_by_component'].get('dropout_rng', 0), 'J')} | "
                            f"{eng(r['latency']['per_inference_s'], 's')} |")
        if not rows:
            continue
        found = True
        lines += [f"### {prefix} (ID {id_ds}, OOD {ood_ds})", "",
                  "| dropout | T | accuracy | ECE | AUROC (entropy) | AUROC (MI) | energy / inference | dropout energy "
                  "| latency / inference |", "|---|---:|---:|---:|---:|---:|---:|---:|---:|"] + rows + [""]
    if not found:
        lines += ["(No shipped models found under models/pretrained/.)", ""]
    return lines


def corruption_section(tmp: str, limit: Optional[int], jobs: int) -> List[str]:
    """Accuracy and uncertainty under input corruption, per method (the claims' "predictive
    performance" on shifted inputs)."""
    lines = ["## 3. Under input corruption", "",
             f"T = 20, first {limit} ID images corrupted (Gaussian noise: sigma as a fraction of full scale; "
             "rotation in degrees); OOD data unchanged.", "",
             "| model | dropout | corruption | accuracy | ECE | mean entropy (ID) | mean MI (ID) |",
             "|---|---|---|---:|---:|---:|---:|"]
    for prefix, id_ds, ood_ds in SHIPPED:
        for kind in ["none"] + KINDS:
            path = os.path.join(REPO, "models", "pretrained", f"{prefix}_{kind}.onnx")
            if not os.path.exists(path):
                continue
            for ck, strength in (("none", 0), ("gaussian_noise", 0.3), ("rotation", 30)):
                r = run(os.path.join(tmp, f"cor_{prefix}_{kind}_{ck}"), f"model.path={path}",
                        f"data.id.dataset={id_ds}", f"data.id.dir={REPO}/data/{id_ds}", "data.ood=null",
                        f"data.corruption.kind={ck}", f"data.corruption.strength={strength}",
                        jobs=jobs, limit=limit)
                m = r["metrics"]["id"]
                lines.append(f"| {prefix} | {LABEL[kind]} | {ck} {strength if strength else ''} | "
                             f"{100 * m['accuracy']:.2f} % | {m['ece']:.4f} | {m['entropy_mean']:.4f} | "
                             f"{m['mi_mean']:.4f} |")
    return lines + [""]


def robustness_section(tmp: str, limit: Optional[int], jobs: int) -> List[str]:
    """Stochastic-MTJ variation: how the realised p and the uncertainty drift, per method."""
    lines = ["## 4. Robustness to dropout-device variation", "",
             "Each dropout module gets its own thermal stability Δ (relative Gaussian σ below) and is driven with "
             f"the current designed for the nominal device, so its realised p drifts. T = 20, first {limit} images of "
             "ID and OOD, seed 1.", "",
             "| model | dropout | σ(Δ) | p realised: mean ± std [min, max] | accuracy | ECE | AUROC (MI) |",
             "|---|---|---:|---|---:|---:|---:|"]
    found = False
    for prefix, id_ds, ood_ds in SHIPPED:
        for kind in KINDS:
            path = os.path.join(REPO, "models", "pretrained", f"{prefix}_{kind}.onnx")
            if not os.path.exists(path):
                continue
            found = True
            for sigma in (0.0, 0.02, 0.05, 0.1):
                r = run(os.path.join(tmp, f"rob_{prefix}_{kind}_{sigma}"), f"model.path={path}",
                        f"data.id.dataset={id_ds}", f"data.id.dir={REPO}/data/{id_ds}",
                        f"data.ood.dataset={ood_ds}", f"data.ood.dir={REPO}/data/{ood_ds}",
                        f"hardware.dropout_device.variation.delta_sigma_rel={sigma}", jobs=jobs, limit=limit)
                pm, m = r["hardware"]["dropout_p_modules"], r["metrics"]["id"]
                lines.append(f"| {prefix} | {LABEL[kind]} | {sigma:g} | {pm['mean']:.3f} ± {pm['std']:.3f} "
                             f"[{pm['min']:.3f}, {pm['max']:.3f}] | {100 * m['accuracy']:.2f} % | {m['ece']:.4f} | "
                             f"{r['metrics']['ood']['auroc_mi']:.4f} |")
    if not found:
        lines.append("| (no shipped models found) | | | | | | |")
    return lines + [""]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", default=os.path.join(REPO, "docs", "results.md"))
    ap.add_argument("--quick", action="store_true", help="small image counts and T values")
    ap.add_argument("--jobs", type=int, default=os.cpu_count() or 1)
    args = ap.parse_args()
    T = 20
    Ts, limit = ([1, 5], 100) if args.quick else ([1, 5, 10, 20, 50], 1000)
    with tempfile.TemporaryDirectory() as tmp:
        lines = ["# Dropout hardware side by side", "",
                 f"Written by `/usr/bin/python3 -m scripts.compare_dropout{' --quick' if args.quick else ''}` on "
                 f"{datetime.date.today()} ({platform.machine()}, {os.cpu_count()} cores). Regenerate it with the "
                 "same command; every number below is from a simulator run made by that command.", ""]
        lines += structure_section(tmp, T, args.jobs)
        lines += shipped_section(tmp, Ts, limit, args.jobs)
        lines += corruption_section(tmp, limit, args.jobs)
        lines += robustness_section(tmp, limit // 2, args.jobs)
        lines += open(os.path.join(HERE, "compare_dropout_notes.md")).read().splitlines()
    os.makedirs(os.path.dirname(args.out), exist_ok=True)
    tmp_out = args.out + ".tmp"
    with open(tmp_out, "w") as f:
        f.write("\n".join(lines) + "\n")
    os.replace(tmp_out, args.out)
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
