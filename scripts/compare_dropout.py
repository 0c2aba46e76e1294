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
import math
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
LABEL = {"none": "none (deterministic)", "mc_dropout": "per-neuron, per-row-per-position (SpinDrop)", "spatial": "spatial (Spatial-SpinDrop)",
         "scale": "shared unit (Scale-Dropout)"}
# The organisations compared on the same crossbars: (key, kind, layout). The per-neuron design has
# two layouts of its bits (docs/hardware.md "Dropout circuits"): per row per position (a fresh bit
# for every crossbar row at every output position) and element-wise (one bit per input element).
ORGS = [("none", "none", None), ("per_row", "mc_dropout", "per-row-per-position"),
        ("element_wise", "mc_dropout", "element-wise"), ("spatial", "spatial", None), ("shared", "scale", None)]
ORG_LABEL = {"none": "none (deterministic)", "per_row": "per-neuron, per-row-per-position (SpinDrop)",
             "element_wise": "per-neuron, element-wise", "spatial": "spatial (Spatial-SpinDrop)",
             "shared": "shared unit (Scale-Dropout)"}
SHORT = {"per_row": "per-row", "element_wise": "element-wise", "spatial": "spatial", "shared": "shared"}
# The dropout components of energy.by_component and area.by_component_mm2 (eq. DC1-DC7).
CIRCUITS = ["dropout_rng", "dropout_driver", "dropout_mask", "dropout_gating", "dropout_select"]
SWEEP_PJ = [1, 2, 5, 10, 20, 50, 100, 200]
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


def parts(r: Dict[str, Any]) -> Dict[str, float]:
    """Per inference: the random bits, their S4' energy (MTJ phases + driver bias + mask latch, what
    one random bit costs), the other dropout circuits, the whole dropout hardware and the total."""
    e, h = r["energy"], r["hardware"]
    n = r["data"]["id"]["images"] + (r["data"]["ood"]["images"] if r["data"].get("ood") else 0)
    per_bit = h["dropout_device"]["energy_per_bit_J"]
    bits = h["random_bits"] / n
    comp = e["per_inference_by_component"]
    s4 = comp.get("dropout_rng", 0) + bits * (per_bit["driver"] + per_bit["mask_latch"])
    dropout = sum(comp.get(c, 0) for c in CIRCUITS)
    return {"bits": bits, "s4": s4, "circuits": dropout - s4, "dropout": dropout, "total": e["per_inference_J"],
            "per_bit": per_bit["total"], "modules": h["dropout_modules"]}


def at_bit_energy(p: Dict[str, float], e_bit: float) -> Dict[str, float]:
    """The same run with every random bit costing e_bit instead of S4' (bit time held): energies are
    counts x energy per action, so only the bits' term changes."""
    dropout = p["circuits"] + p["bits"] * e_bit
    total = p["total"] - p["s4"] + p["bits"] * e_bit
    return {"dropout": dropout, "total": total, "share": dropout / total if total else 0.0}


def structure_runs(tmp: str, T: int, jobs: int) -> Dict[Any, Dict[str, Any]]:
    synth = os.path.join(tmp, "synth")
    structures.write_synthetic_idx(synth, n=2)
    results = {}
    import onnx
    for name in structures.STRUCTURES:
        path = os.path.join(tmp, f"{name}.onnx")
        onnx.save(structures.build(name), path)
        for key, kind, layout in ORGS:
            sets = [f"model.path={path}", f"data.id.dir={synth}", "data.ood=null", f"mc.samples={T}",
                    f"model.dropout.kind={kind}", "model.dropout.p=0.2"]
            if layout:
                sets.append(f"model.dropout.layout={layout}")
            results[(name, key)] = run(os.path.join(tmp, f"{name}_{key}"), *sets, jobs=jobs)
    return results


def structure_section(results: Dict[Any, Dict[str, Any]], T: int) -> List[str]:
    lines = ["## 1. Dropout modules, bits, circuits, energy, latency and area on the same crossbars", "",
             f"Random ±1 weights (counts, energy and latency do not depend on training), {T} MC samples, p = 0.2, "
             "2 synthetic 3x32x32 images, default architecture (`configs/architectures/stt_cim_512x128.yaml`, "
             "16 rows per read, so every layer of more than 16 rows, here all of them, reads through ADCs) and devices; the random bit is the "
             "physical stochastic MTJ of issue 19 (eq. S4′, about 1.3 pJ at p = 0.2). Default placement "
             "(`Network::default_dropout_layers`): per-neuron on every layer's inputs but the first; spatial on every "
             "conv layer but the first; the shared unit on every layer. \"Dropout energy\" is every dropout circuit "
             "(eq. DC1–DC7 in docs/hardware.md): the random bits (S4′), the module drivers' control, the mask latches "
             "and the element-wise mask's gather reads, the wordline gating and the shared unit's α/θ select. "
             "`resnet18_32` is ResNet-18 with its 8 block shortcuts (`scripts/structures.py`: the block input, or its "
             "AveragePool 2x2 and two copies where a block halves the size; docs/hardware.md, \"Residual connections\"); "
             "its shortcut buffer and additions are in the totals and areas.", ""]
    keys = [k for k, _, _ in ORGS]
    for name in structures.STRUCTURES:
        r = {k: results[(name, k)] for k in keys}
        P = {k: parts(r[k]) for k in keys}
        layers = r["per_row"]["hardware"]["layers"]
        lines += [f"### {name}", "", "Modules and random bits per MC sample, per layer (per-neuron: one module per "
                  "crossbar row of a dropped layer, in both layouts; spatial: one per input channel of a dropped conv "
                  "layer; the shared unit is one for the model and draws one bit per layer):", "",
                  "| layer | rows (K·K·C_in) | positions | modules: per-neuron | spatial | bits: per-row-per-position | "
                  "element-wise | spatial | shared |", "|---|---:|---:|---:|---:|---:|---:|---:|---:|"]
        for i, l in enumerate(layers):
            lk = {k: r[k]["hardware"]["layers"][i] for k in keys}
            lines.append(f"| {l['name']} | {l['rows']:,} | {l['positions']:,} | {l['dropout_modules']:,} | "
                         f"{lk['spatial']['dropout_modules']:,} | {l['random_bits_per_sample']:,} | "
                         f"{lk['element_wise']['random_bits_per_sample']:,} | "
                         f"{lk['spatial']['random_bits_per_sample']:,} | {lk['shared']['random_bits_per_sample']:,} |")
        h = {k: r[k]["hardware"] for k in keys}
        lines += [f"| **total** | | | **{h['per_row']['dropout_modules']:,}** | **{h['spatial']['dropout_modules']:,}** | "
                  f"**{h['per_row']['random_bits_per_sample']:,}** | **{h['element_wise']['random_bits_per_sample']:,}** | "
                  f"**{h['spatial']['random_bits_per_sample']:,}** | **{h['shared']['random_bits_per_sample']:,}** |", ""]
        lines += ["| organisation | modules | random bits / sample | random bits (S4′) / inference | other dropout "
                  "circuits | dropout energy | total energy / inference | dropout share | latency / inference | "
                  "dropout area | area total |", "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
        for k in keys:
            a = r[k]["area"]
            lines.append(f"| {ORG_LABEL[k]} | {h[k]['dropout_modules']:,} | {h[k]['random_bits_per_sample']:,} | "
                         f"{eng(P[k]['s4'], 'J')} | {eng(P[k]['circuits'], 'J')} | {eng(P[k]['dropout'], 'J')} | "
                         f"{eng(P[k]['total'], 'J')} | {100 * r[k]['energy']['dropout_share']:.3g} % | "
                         f"{eng(r[k]['latency']['per_inference_s'], 's')} | "
                         f"{a['dropout_mm2'] * 1e6:,.0f} µm² | {a['total_mm2']:.3g} mm² |")
        lines += ["", "Per circuit (energy per inference; area):", "",
                  "| organisation | " + " | ".join(c.replace("dropout_", "") for c in CIRCUITS) + " | " +
                  " | ".join(c.replace("dropout_", "") + " area" for c in CIRCUITS) + " |",
                  "|---|" + "---:|" * (2 * len(CIRCUITS))]
        for k in keys[1:]:
            comp, area = r[k]["energy"]["per_inference_by_component"], r[k]["area"]["by_component_mm2"]
            lines.append(f"| {ORG_LABEL[k]} | " + " | ".join(eng(comp.get(c, 0), "J") for c in CIRCUITS) + " | " +
                         " | ".join(f"{area.get(c, 0) * 1e6:,.0f} µm²" for c in CIRCUITS) + " |")
        d = {k: P[k]["dropout"] for k in keys}
        t = {k: P[k]["total"] for k in keys}
        lat = {k: r[k]["latency"]["per_inference_s"] for k in keys}
        lines += ["", f"Dropout-energy ratios: per-row / spatial = **{ratio(d['per_row'], d['spatial'])}**, "
                  f"element-wise / spatial = **{ratio(d['element_wise'], d['spatial'])}**, per-row / element-wise = "
                  f"**{d['per_row'] / d['element_wise']:.2f}x**, per-row / shared = **{ratio(d['per_row'], d['shared'])}**, "
                  f"element-wise / shared = **{ratio(d['element_wise'], d['shared'])}**, spatial / shared = "
                  f"**{ratio(d['spatial'], d['shared'])}**. Total-energy ratios: per-row / spatial = "
                  f"{t['per_row'] / t['spatial']:.3f}, element-wise / spatial = {t['element_wise'] / t['spatial']:.3f}, "
                  f"per-row / shared = {t['per_row'] / t['shared']:.3f}, spatial / shared = "
                  f"{t['spatial'] / t['shared']:.3f}. Latency ratios: per-row / shared = "
                  f"{lat['per_row'] / lat['shared']:.2f}, element-wise / shared = {lat['element_wise'] / lat['shared']:.2f}.",
                  ""]
    return lines


def sweep_section(results: Dict[Any, Dict[str, Any]]) -> List[str]:
    lines = ["## 2. Energy per random bit from 1 to 200 pJ", "",
             "Energy is action counts times energy per action (docs/hardware.md, \"Energy\"), so the runs of §1 give "
             "every organisation's energy at any energy per bit without simulating again: the S4′ energy of the run's "
             "bits (MTJ phases from `dropout_rng`, plus the driver's bias branch and the mask latch per bit from "
             "`hardware.dropout_device.energy_per_bit_J`) is replaced by bits × E_bit; the other dropout circuits "
             "and every other component keep their energies, and the bit time (hence latency and leakage) is held. "
             "`scripts/compare_dropout.py: at_bit_energy`. The run's own S4′ is about 1.3 pJ.", ""]
    keys = [k for k, _, _ in ORGS if k != "none"]
    for name in structures.STRUCTURES:
        P = {k: parts(results[(name, k)]) for k, _, _ in ORGS}
        lines += [f"### {name}", "", "| E_bit | " + " | ".join(f"{SHORT[k]}: share" for k in keys) +
                  " | total per-row / spatial | total element-wise / spatial | total per-row / shared | "
                  "total spatial / shared | dropout per-row / spatial | dropout element-wise / spatial | "
                  "dropout spatial / shared |", "|---:|" + "---:|" * (len(keys) + 7)]
        for e in SWEEP_PJ:
            a = {k: at_bit_energy(P[k], e * 1e-12) for k in keys}
            lines.append(f"| {e} pJ | " + " | ".join(f"{100 * a[k]['share']:.3g} %" for k in keys) +
                         f" | {a['per_row']['total'] / a['spatial']['total']:.3f} | "
                         f"{a['element_wise']['total'] / a['spatial']['total']:.3f} | "
                         f"{a['per_row']['total'] / a['shared']['total']:.3f} | "
                         f"{a['spatial']['total'] / a['shared']['total']:.3f} | "
                         f"{ratio(a['per_row']['dropout'], a['spatial']['dropout'])} | "
                         f"{ratio(a['element_wise']['dropout'], a['spatial']['dropout'])} | "
                         f"{ratio(a['spatial']['dropout'], a['shared']['dropout'])} |")
        lines.append("")
    return lines


def claims_section(results: Dict[Any, Dict[str, Any]]) -> List[str]:
    """The papers' 9x, 94.11x and >100x against the accountings that give them and ours."""
    lines = ["## 3. The papers' claims, accounting by accounting", "",
             "Each row is one way to count; the ratio is computed from the runs of §1 (module and bit counts from "
             "the reports; energies at the physical S4′ bit unless the row says otherwise). \"conv only\" leaves the "
             "fully connected layers out of both sides (Spatial-SpinDrop drops only conv layers; the per-neuron "
             "design also drops the FC inputs by default). \"one bit per module per pass\" is a per-neuron design "
             "whose module keeps its bit for every position of a pass (K·K·C_in bits per conv layer): not simulated, "
             "computed as modules × S4′ per bit.", ""]
    for name in structures.STRUCTURES:
        r = {k: results[(name, k)] for k, _, _ in ORGS}
        P = {k: parts(r[k]) for k in r}
        conv = [i for i, l in enumerate(r["per_row"]["hardware"]["layers"]) if l["kind"] == "conv"]

        def conv_sum(k: str, field: str) -> int:
            return sum(r[k]["hardware"]["layers"][i][field] for i in conv)

        def late(k: str) -> int:  # bits of the conv layers after the first pooling / stride (maps <= 16x16)
            ls = r[k]["hardware"]["layers"]
            return sum(ls[i]["random_bits_per_sample"] for i in conv
                       if r["element_wise"]["hardware"]["layers"][i]["random_bits_per_sample"] <=
                       16 * 16 * r["spatial"]["hardware"]["layers"][i]["random_bits_per_sample"] and
                       r["spatial"]["hardware"]["layers"][i]["random_bits_per_sample"] > 0)
        mods = {k: P[k]["modules"] for k in P}
        # one bit per module per pass: modules x T bits, each S4' plus the driver's control; the same gating
        pr = r["per_row"]["energy"]["per_inference_by_component"]
        control = (pr["dropout_driver"] - P["per_row"]["bits"] *
                   r["per_row"]["hardware"]["dropout_device"]["energy_per_bit_J"]["driver"]) / P["per_row"]["bits"]
        per_pass_dropout = (mods["per_row"] * r["per_row"]["mc_samples"] * (P["per_row"]["per_bit"] + control) +
                            pr["dropout_gating"])
        rows = [
            ("9x fewer modules (Spatial-SpinDrop)", "modules per 3x3 conv layer, per-neuron (one per crossbar row) / "
             "spatial (one per channel)", "9.0x (K², every dropped conv layer)"),
            ("", "modules, whole network, conv only", f"{conv_sum('per_row', 'dropout_modules') / conv_sum('spatial', 'dropout_modules'):.1f}x"),
            ("", "modules, whole network, FC inputs included on the per-neuron side (ours)",
             f"{mods['per_row'] / mods['spatial']:.1f}x"),
            ("94.11x less energy (Spatial-SpinDrop)", "random bits only, one bit per module per pass, conv only",
             f"{conv_sum('per_row', 'dropout_modules') / conv_sum('spatial', 'random_bits_per_sample'):.1f}x"),
            ("", "random bits only, element-wise / spatial, conv only",
             f"{conv_sum('element_wise', 'random_bits_per_sample') / conv_sum('spatial', 'random_bits_per_sample'):.1f}x"),
            ("", "random bits only, element-wise / spatial, FC included",
             f"{r['element_wise']['hardware']['random_bits_per_sample'] / r['spatial']['hardware']['random_bits_per_sample']:.1f}x"),
            ("", "random bits only, element-wise / spatial, conv layers whose input map is 16x16 or smaller",
             f"{late('element_wise') / late('spatial'):.1f}x"),
            ("", "random bits only, per-row-per-position / spatial, FC included (the previous results.md)",
             f"{r['per_row']['hardware']['random_bits_per_sample'] / r['spatial']['hardware']['random_bits_per_sample']:,.0f}x"),
            ("", "all dropout circuits (DC1–DC7), one bit per module per pass / spatial",
             f"{per_pass_dropout / P['spatial']['dropout']:.1f}x"),
            ("", "all dropout circuits, element-wise / spatial (ours)", f"{P['element_wise']['dropout'] / P['spatial']['dropout']:.1f}x"),
            ("", "all dropout circuits, per-row-per-position / spatial (ours)", f"{P['per_row']['dropout'] / P['spatial']['dropout']:,.0f}x"),
            ("", "total energy, per-row-per-position / spatial (ours)", f"{P['per_row']['total'] / P['spatial']['total']:.3f}x"),
            (">100x energy (Scale-Dropout)", "random bits only, spatial / shared (Spatial-SpinDrop as the state of the art)",
             f"{r['spatial']['hardware']['random_bits_per_sample'] / r['shared']['hardware']['random_bits_per_sample']:.0f}x"),
            ("", "random bits only, element-wise / shared", f"{r['element_wise']['hardware']['random_bits_per_sample'] / r['shared']['hardware']['random_bits_per_sample']:,.0f}x"),
            ("", "random bits only, per-row-per-position / shared (SpinDrop as the state of the art)",
             f"{r['per_row']['hardware']['random_bits_per_sample'] / r['shared']['hardware']['random_bits_per_sample']:,.0f}x"),
            ("", "modules, per-neuron / shared unit", f"{mods['per_row']:,}x"),
            ("", "all dropout circuits, spatial / shared (ours)", f"{P['spatial']['dropout'] / P['shared']['dropout']:.1f}x"),
            ("", "all dropout circuits, per-row-per-position / shared (ours)", f"{P['per_row']['dropout'] / P['shared']['dropout']:,.0f}x"),
            ("", "total energy, per-row-per-position / shared (ours)", f"{P['per_row']['total'] / P['shared']['total']:.3f}x"),
            ("", "total energy, spatial / shared (ours)", f"{P['spatial']['total'] / P['shared']['total']:.3f}x"),
        ]
        lines += [f"### {name}", "", "| claim | accounting | ratio here |", "|---|---|---:|"]
        lines += [f"| {a} | {b} | {c} |" for a, b, c in rows] + [""]
        value = [float(c.split("x")[0].replace(",", "")) for _, _, c in rows]
        spatial = [i for i in range(len(rows)) if 3 <= i <= 11]
        best = min(spatial, key=lambda i: abs(math.log(value[i] / 94.11)))
        above = [rows[i][1] for i in range(12, len(rows)) if value[i] > 100]
        lines += [f"Closest to 94.11x here: *{rows[best][1]}* ({rows[best][2]}). Above 100x for the shared unit: "
                  + ("; ".join(f"*{a}*" for a in above) if above else "none") + ".", ""]
    return lines


def shipped_section(tmp: str, Ts: Sequence[int], limit: Optional[int], jobs: int, T_side: int) -> List[str]:
    lines = ["## 4. The shipped models: quality and cost side by side, and the T-dependence", "",
             f"Each shipped model on its test set (first {limit} images of ID and of OOD), with the dropout it was "
             f"trained with. The per-neuron model was trained with the per-row-per-position layout; its element-wise "
             f"row runs the same weights with element-wise masks (not retrained; on the MLP, whose layers are all "
             f"dense, the two layouts are the same design and give the same numbers).", ""]
    found = False
    for prefix, id_ds, ood_ds in SHIPPED:
        rows, side = [], []
        runs = [("none", None)] + [(k, None) for k in KINDS] + [("mc_dropout", "element-wise")]
        for kind, layout in runs:
            path = os.path.join(REPO, "models", "pretrained", f"{prefix}_{kind}.onnx")
            if not os.path.exists(path):
                continue
            label = LABEL[kind] if not layout else "per-neuron, element-wise (same weights)"
            for T in ([1] if kind == "none" else [T_side] if layout else Ts):
                sets = [f"model.path={path}", f"data.id.dataset={id_ds}", f"data.id.dir={REPO}/data/{id_ds}",
                        f"data.ood.dataset={ood_ds}", f"data.ood.dir={REPO}/data/{ood_ds}", f"mc.samples={T}"]
                if layout:
                    sets.append(f"model.dropout.layout={layout}")
                r = run(os.path.join(tmp, f"{prefix}_{kind}_{layout}_{T}"), *sets, jobs=jobs, limit=limit)
                m, o, pt = r["metrics"]["id"], r["metrics"]["ood"], parts(r)
                if not layout:
                    rows.append(f"| {label} | {T} | {100 * m['accuracy']:.2f} % | {m['ece']:.4f} | "
                                f"{o['auroc_entropy']:.4f} | {o['auroc_mi']:.4f} | {eng(pt['total'], 'J')} | "
                                f"{eng(pt['dropout'], 'J')} | {eng(r['latency']['per_inference_s'], 's')} |")
                if T == T_side or kind == "none":
                    h = r["hardware"]
                    side.append(f"| {label} | {T} | {100 * m['accuracy']:.2f} % | {m['ece']:.4f} | "
                                f"{o['auroc_entropy']:.4f} | {o['auroc_mi']:.4f} | {h['dropout_modules']:,} | "
                                f"{h['random_bits_per_sample']:,} | {eng(pt['dropout'], 'J')} | {eng(pt['total'], 'J')} | "
                                f"{eng(r['latency']['per_inference_s'], 's')} | {r['area']['dropout_mm2'] * 1e6:,.0f} µm² |")
        if not rows:
            continue
        found = True
        lines += [f"### {prefix} (ID {id_ds}, OOD {ood_ds})", "", f"At the same T = {T_side} (the deterministic model "
                  "at T = 1):", "",
                  "| dropout | T | accuracy | ECE | AUROC (entropy) | AUROC (MI) | modules | random bits / sample | "
                  "dropout energy / inference | total energy / inference | latency / inference | dropout area |",
                  "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"] + side + [""]
        lines += ["Over T:", "",
                  "| dropout | T | accuracy | ECE | AUROC (entropy) | AUROC (MI) | energy / inference | dropout energy "
                  "| latency / inference |", "|---|---:|---:|---:|---:|---:|---:|---:|---:|"] + rows + [""]
    if not found:
        lines += ["(No shipped models found under models/pretrained/.)", ""]
    return lines


def corruption_section(tmp: str, limit: Optional[int], jobs: int) -> List[str]:
    """Accuracy and uncertainty under input corruption, per method (the claims' "predictive
    performance" on shifted inputs)."""
    lines = ["## 5. Under input corruption", "",
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
    lines = ["## 6. Robustness to dropout-device variation", "",
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
        results = structure_runs(tmp, T, args.jobs)
        lines += structure_section(results, T)
        lines += sweep_section(results)
        lines += claims_section(results)
        lines += shipped_section(tmp, Ts, limit, args.jobs, T if T in Ts else Ts[-1])
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
