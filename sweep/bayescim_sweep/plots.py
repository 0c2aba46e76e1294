"""PNG plots of a sweep (matplotlib, Agg): Pareto fronts of energy per inference against ECE,
accuracy and OOD AUROC, coloured by method, and line plots of the main metrics along each axis."""

import os
import re
from typing import TYPE_CHECKING, Any, Dict, List, Optional, Sequence, Tuple

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from .results import ACC, AUROC, ECE, ENERGY, FRONTS, _num, pareto  # noqa: E402

if TYPE_CHECKING:
    from .spec import Spec

METHOD_ORDER = ("none", "mc_dropout", "spatial", "scale")
PANELS = ((ACC, "accuracy (ID)"), (ECE, "ECE (ID)"), (AUROC, "OOD AUROC (entropy)"), (ENERGY, "energy / inference"))
MAX_LINES = 8
REPLICATE_KEYS = ("experiment.seed",)


def _energy_unit(values: Sequence[Optional[float]]) -> Tuple[float, str]:
    vals = [v for v in values if v and v > 0]
    m = sorted(vals)[len(vals) // 2] if vals else 1e-9
    for scale, name in ((1e-3, "mJ"), (1e-6, "µJ"), (1e-9, "nJ"), (1e-12, "pJ")):
        if m >= scale:
            return scale, name
    return 1e-15, "fJ"


def _sortkey(v: str) -> Tuple[int, float, str]:
    x = _num(v)
    return (0, x, "") if x is not None else (1, 0.0, v)


METHOD_COLOURS = {"none": 7, "mc_dropout": 0, "spatial": 2, "scale": 1}  # tab10 indices, the same in every plot


def _colors(groups: Any) -> Tuple[Dict[str, Any], List[str]]:
    cmap = plt.get_cmap("tab10")
    ordered = [g for g in METHOD_ORDER if g in groups] + sorted(g for g in groups if g not in METHOD_ORDER)
    free = [i for i in range(10) if i not in METHOD_COLOURS.values()]
    colors, k = {}, 0
    for g in ordered:
        if g in METHOD_COLOURS:
            colors[g] = cmap(METHOD_COLOURS[g])
        else:
            colors[g] = cmap(free[k % len(free)] if k < len(free) else k % 10)
            k += 1
    return colors, ordered


def _save(fig: Any, path: str) -> str:
    tmp = path + ".tmp.png"
    fig.savefig(tmp, dpi=110, bbox_inches="tight")
    plt.close(fig)
    os.replace(tmp, path)
    return path


def _f(s: Any) -> float:
    """_num of a value already known to be a finite number."""
    x = _num(s)
    assert x is not None, s
    return x


def _slug(s: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", s)


def pareto_plots(spec: "Spec", rows: List[Dict[str, str]], outdir: str) -> List[str]:
    ok = [r for r in rows if r["status"] == "ok" and _num(r.get(ENERGY)) is not None]
    if not ok:
        return []
    color_col = spec.color_by
    groups = sorted({r.get(color_col, "") or "(base)" for r in ok})
    colors, ordered = _colors(groups)
    scale, unit = _energy_unit([_num(r[ENERGY]) for r in ok])
    out = []
    for col, label, direction in FRONTS:
        pts = [r for r in ok if _num(r.get(col)) is not None]
        fig, ax = plt.subplots(figsize=(7, 4.8))
        name = f"pareto_energy_vs_{_slug(label.split()[0].lower() if col != AUROC else 'auroc')}.png"
        if not pts:
            ax.text(0.5, 0.5, f"no {label} values (no OOD data in this sweep?)", ha="center", va="center",
                    transform=ax.transAxes)
            ax.set_axis_off()
            out.append(_save(fig, os.path.join(outdir, name)))
            continue
        for g in ordered:
            sub = [r for r in pts if (r.get(color_col, "") or "(base)") == g]
            if not sub:
                continue
            xs = [_f(r[ENERGY]) / scale for r in sub]
            ys = [_num(r[col]) for r in sub]
            ax.scatter(xs, ys, s=28, color=colors[g], alpha=0.75, label=g, zorder=3)
            # the group's own front, thin
            fr = [sub[i] for i in pareto(sub, col, direction)]
            if len(fr) > 1:
                ax.step([_f(r[ENERGY]) / scale for r in fr], [_num(r[col]) for r in fr], where="post",
                        color=colors[g], lw=0.9, alpha=0.6, zorder=2)
        front = [rows[i] for i in pareto(rows, col, direction)]
        ax.step([_f(r[ENERGY]) / scale for r in front], [_num(r[col]) for r in front], where="post",
                color="black", lw=1.6, zorder=4, label="Pareto front (all)")
        ax.scatter([_f(r[ENERGY]) / scale for r in front], [_num(r[col]) for r in front], s=70,
                   facecolors="none", edgecolors="black", lw=1.2, zorder=5)
        xs = [_f(r[ENERGY]) for r in pts]
        if min(xs) > 0 and max(xs) / min(xs) > 20:
            ax.set_xscale("log")
        ax.set_xlabel(f"energy per inference ({unit}, T MC samples)")
        ax.set_ylabel(label + (" (lower is better)" if direction == "min" else " (higher is better)"))
        ax.set_title(f"{spec.name}: energy vs {label}")
        ax.grid(alpha=0.3)
        ax.legend(title=color_col if color_col != "method" else "method", fontsize=8)
        out.append(_save(fig, os.path.join(outdir, name)))
    return out


def _axis_x(rows: Sequence[Dict[str, str]], key: str) -> Tuple[List[Optional[float]], Optional[List[str]]]:
    """(x of each row or None, tick labels or None): numbers if every value is numeric, else
    categories in order of appearance."""
    vals = [r.get(key, "") for r in rows]
    present = [v for v in vals if v != ""]
    if present and all(_num(v) is not None for v in present):
        return [(_num(v) if v != "" else None) for v in vals], None
    cats = []
    for v in present:
        if v not in cats:
            cats.append(v)
    return [(cats.index(v) if v != "" else None) for v in vals], cats


def axis_plots(spec: "Spec", rows: List[Dict[str, str]], outdir: str) -> List[str]:
    ok = [r for r in rows if r["status"] == "ok"]
    out = []
    kinds: Dict[str, str] = {}
    for _, factors in spec.blocks:
        for axes, _ in factors:
            for a in axes:
                kinds.setdefault(a.key, a.kind)
    for key in spec.axis_keys:
        sub = [r for r in ok if r.get(key, "") != ""]
        if len({r[key] for r in sub}) < 2:
            continue
        xs, cats = _axis_x(sub, key)
        # seeds are replicates: averaged (with a min-max band), not separate lines
        others = [k for k in spec.axis_keys if k != key and k not in REPLICATE_KEYS
                  and len({r.get(k, "") for r in sub}) > 1]
        combos = sorted({tuple(r.get(k, "") for k in others) for r in sub})
        scatter = kinds.get(key) == "random"
        style: Dict[str, Tuple[Any, str, str]] = {}  # group -> (colour, linestyle, marker)
        if scatter or len(combos) > MAX_LINES:
            # group by the colour key (method): mean line and min-max band, or a scatter for random axes
            gcol = spec.color_by if spec.color_by != key else None
            gof = (lambda r: r.get(gcol, "") or "(base)") if gcol else (lambda r: "all")
            legend_title = gcol or ""
        elif len(others) == 1:  # the values themselves, so a method axis keeps the method colours
            gof = lambda r: r.get(others[0], "") or "(base)"  # noqa: E731
            legend_title = others[0]
        else:
            ccol = spec.color_by
            csets = {r.get(ccol, "") for r in sub}
            if len(csets) > 1:  # colour by method (or the colour axis), line style by the other axes
                rest = [k for k in others if k != ccol and not (ccol == "method" and k == "model.dropout.kind")]
                cname = ccol.split(".")[-1]

                def gof(r: Dict[str, str]) -> str:
                    parts = [r.get(ccol, "") or "(base)"]
                    parts += [f"{k.split('.')[-1]}={r[k]}" for k in rest if r.get(k, "")]
                    return ", ".join(parts)
                legend_title = ", ".join([cname] + rest)
                ccolors, _ = _colors({r.get(ccol, "") or "(base)" for r in sub})
                rest_combos = sorted({tuple(r.get(k, "") for k in rest) for r in sub},
                                     key=lambda c: tuple(_sortkey(v) for v in c))
                for r in sub:
                    i = rest_combos.index(tuple(r.get(k, "") for k in rest))
                    style[gof(r)] = (ccolors[r.get(ccol, "") or "(base)"], ("-", "--", ":", "-.")[i % 4],
                                     "os^Dv<>p"[i % 8])
            else:
                def gof(r: Dict[str, str]) -> str:
                    return ", ".join(f"{k.split('.')[-1]}={r[k]}" for k in others if r.get(k, "")) or "(base)"
                legend_title = ", ".join(others)
        groups = {gof(r) for r in sub}
        colors, ordered = _colors(groups)
        if style:  # legend in colour (method) order, then the other axes numerically
            first: Dict[str, Dict[str, str]] = {}
            for r in sub:
                first.setdefault(gof(r), r)
            corder = list(METHOD_ORDER)
            ordered = sorted(groups, key=lambda g: (
                corder.index(first[g].get(spec.color_by, "")) if first[g].get(spec.color_by, "") in corder
                else len(corder), first[g].get(spec.color_by, ""),
                tuple(_sortkey(first[g].get(k, "")) for k in others)))
        for g in ordered:
            style.setdefault(g, (colors[g], "-", "o"))
        fig, axs = plt.subplots(2, 2, figsize=(11, 7.5))
        fig.subplots_adjust(hspace=0.4, wspace=0.25)
        scale, unit = _energy_unit([_num(r.get(ENERGY)) for r in sub])
        for ax, (col, label) in zip(axs.flat, PANELS):
            f = (1 / scale) if col == ENERGY else 1
            for g in ordered:
                pts = sorted((x, _f(r.get(col))) for x, r in zip(xs, sub)
                             if gof(r) == g and x is not None and _num(r.get(col)) is not None)
                if not pts:
                    continue
                if scatter:
                    ax.scatter([p[0] for p in pts], [p[1] * f for p in pts], s=20, color=style[g][0], label=g)
                    continue
                by_x: Dict[float, List[float]] = {}
                for x, y in pts:
                    by_x.setdefault(x, []).append(y * f)
                bx = sorted(by_x)
                mean = [sum(by_x[x]) / len(by_x[x]) for x in bx]
                ax.plot(bx, mean, marker=style[g][2], ms=4, color=style[g][0], ls=style[g][1], label=g)
                if any(len(by_x[x]) > 1 for x in bx):
                    ax.fill_between(bx, [min(by_x[x]) for x in bx], [max(by_x[x]) for x in bx],
                                    color=style[g][0], alpha=0.15)
            ax.set_title(label + (f" ({unit})" if col == ENERGY else ""), fontsize=10)
            ax.grid(alpha=0.3)
            if cats:
                ax.set_xticks(range(len(cats)))
                ax.set_xticklabels(cats, rotation=20, fontsize=8)
            else:
                vals = [x for x in xs if x is not None]
                if vals and min(vals) > 0 and max(vals) / min(vals) >= 50:
                    ax.set_xscale("log")
            ax.set_xlabel(key, fontsize=8)
        handles, labels = axs.flat[0].get_legend_handles_labels()
        if not handles:
            for ax in axs.flat:
                handles, labels = ax.get_legend_handles_labels()
                if handles:
                    break
        if handles and not (len(labels) == 1 and labels[0] == "all"):
            fig.legend(handles, labels, title=legend_title, loc="center left", bbox_to_anchor=(0.91, 0.5),
                       fontsize=8, title_fontsize=8)
        reps = [k for k in REPLICATE_KEYS if k != key and len({r.get(k, "") for r in sub}) > 1]
        if scatter:
            band = ""
        elif len(combos) > MAX_LINES:
            band = " (mean over the other axes, band: min-max)"
        elif reps:
            band = f" (mean over {', '.join(reps)}, band: min-max)"
        else:
            band = ""
        fig.suptitle(f"{spec.name}: along {key}{band}", fontsize=11)
        out.append(_save(fig, os.path.join(outdir, f"axis_{_slug(key)}.png")))
    return out


def make_plots(spec: "Spec", root: str, rows: List[Dict[str, str]]) -> List[str]:
    outdir = os.path.join(root, "plots")
    os.makedirs(outdir, exist_ok=True)
    if "base" in spec.axis_keys:  # experiment files by their names, not their paths
        rows = [dict(r, base=os.path.splitext(os.path.basename(r["base"]))[0]) if r.get("base") else r
                for r in rows]
    return pareto_plots(spec, rows, outdir) + axis_plots(spec, rows, outdir)
