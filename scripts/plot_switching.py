#!/usr/bin/python3
"""Plot of a stochastic-MTJ characterisation, what `bayescim device` calls:

    /usr/bin/python3 scripts/plot_switching.py DIR/switching.csv DIR/switching.png

Reads the CSV `bayescim device` wrote (columns current_A, current_density_A_per_m2, pulse_s,
temperature_K, p_switch, p_ci_low, p_ci_high, samples, energy_per_bit_J, latency_per_bit_s) and
draws p_switch with its confidence interval against the current (one line per pulse width and
temperature) and, for the points swept in pulse width at one current, against the pulse width;
the energy per bit on a second axis. The PNG is written to a temporary name and renamed into place.

Exit codes: 0 written, 1 input error (missing or malformed CSV), 2 usage error, 3 matplotlib missing.
"""

import csv
import os
import sys
from typing import Dict, List, Tuple

Row = Dict[str, float]

COLUMNS = ["current_A", "current_density_A_per_m2", "pulse_s", "temperature_K", "p_switch", "p_ci_low",
           "p_ci_high", "samples", "energy_per_bit_J", "latency_per_bit_s"]


def read(path: str) -> List[Row]:
    try:
        with open(path, newline="") as f:
            rows = list(csv.reader(f))
    except OSError as e:
        print(f"plot_switching.py: error: cannot read {path}: {e.strerror}", file=sys.stderr)
        sys.exit(1)
    if not rows or rows[0] != COLUMNS:
        print(f"plot_switching.py: error: {path}: expected the header {','.join(COLUMNS)}", file=sys.stderr)
        sys.exit(1)
    out: List[Row] = []
    for no, r in enumerate(rows[1:], 2):
        try:
            out.append(dict(zip(COLUMNS, map(float, r))))
        except ValueError:
            print(f"plot_switching.py: error: {path}:{no}: not a row of numbers", file=sys.stderr)
            sys.exit(1)
    if not out:
        print(f"plot_switching.py: error: {path}: no points", file=sys.stderr)
        sys.exit(1)
    return out


def groups(rows: List[Row], key: str, other: str) -> Dict[Tuple[float, float], List[Row]]:
    """Rows grouped by (other, temperature), each group sorted by key; groups of one point dropped."""
    g: Dict[Tuple[float, float], List[Row]] = {}
    for r in rows:
        g.setdefault((r[other], r["temperature_K"]), []).append(r)
    return {k: sorted(v, key=lambda r: r[key]) for k, v in g.items() if len({r[key] for r in v}) > 1}


def main(argv: List[str]) -> int:
    if len(argv) != 3:
        print("usage: plot_switching.py SWITCHING.csv OUT.png", file=sys.stderr)
        return 2
    rows = read(argv[1])
    try:
        import matplotlib
        matplotlib.use("Agg")
        from matplotlib.figure import Figure
    except ImportError:
        print("plot_switching.py: error: matplotlib is missing (apt-get install python3-matplotlib)", file=sys.stderr)
        return 3
    by_current = groups(rows, "current_A", "pulse_s")
    by_pulse = groups(rows, "pulse_s", "current_A")
    panels = [("current_A", by_current, 1e6, "write current (µA)", "pulse {:.3g} ns", "pulse_s", 1e9),
              ("pulse_s", by_pulse, 1e9, "write pulse (ns)", "current {:.3g} µA", "current_A", 1e6)]
    panels = [p for p in panels if p[1]]
    if not panels:  # single points: plot them against the current
        panels = [("current_A", {(r["pulse_s"], r["temperature_K"]): [r] for r in rows}, 1e6, "write current (µA)",
                   "pulse {:.3g} ns", "pulse_s", 1e9)]
    fig = Figure(figsize=(6.4 * len(panels), 4.6))
    for k, (key, gr, scale, xlabel, label, _, lscale) in enumerate(panels):
        ax = fig.add_subplot(1, len(panels), k + 1)
        ax2 = ax.twinx()
        for (other, temp), pts in sorted(gr.items()):
            x = [r[key] * scale for r in pts]
            p = [r["p_switch"] for r in pts]
            lo = [r["p_switch"] - r["p_ci_low"] for r in pts]
            hi = [r["p_ci_high"] - r["p_switch"] for r in pts]
            lab = label.format(other * lscale) + (f", {temp:.0f} K" if len({t for _, t in gr}) > 1 else "")
            ax.errorbar(x, p, yerr=[lo, hi], marker="o", ms=3, capsize=2, label=lab)
            ax2.plot(x, [r["energy_per_bit_J"] * 1e12 for r in pts], ls=":", color="gray")
        ax.set_xlabel(xlabel)
        ax.set_ylabel("switching probability p (95 % CI)")
        ax2.set_ylabel("energy per random bit (pJ, dotted)")
        ax.set_ylim(-0.02, 1.02)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8, loc="upper left")
    fig.suptitle(f"{os.path.basename(os.path.dirname(os.path.abspath(argv[1])))}: macrospin switching "
                 f"({int(rows[0]['samples'])} trials per point)")
    fig.tight_layout()
    tmp = argv[2] + f".tmp.{os.getpid()}.png"
    try:
        fig.savefig(tmp, dpi=110)
        os.replace(tmp, argv[2])
    except OSError as e:
        if os.path.exists(tmp):
            os.remove(tmp)
        print(f"plot_switching.py: error: cannot write {argv[2]}: {e.strerror}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
