#!/usr/bin/python3
"""How the cost of `bayescim run` grows with T (MC samples per image), with the number of images and
with the network (issue 8). One process, --jobs 1, ideal devices, full hardware accounting.

  T series       T = 1, 2, 5, 10, 20, 50, 100 at --limit images per split
  image series   --limit = 1/8, 1/4, 1/2, 1 of --limit (x2 splits) at T = 20
  network        the same runs for the MLP and the CNN: cost per image-sample and per binary MAC

Each series is fitted by least squares to wall = fixed + per_unit * (images x T); the script prints the
per image-sample cost, the fixed cost, R^2 and the largest deviation from the line, and writes
bench/results/scaling-<date>.csv, bench/results/scaling-<date>.json and the plot
docs/performance_scaling.png (also copied to bench/results/).

    /usr/bin/python3 bench/scaling.py                  # MLP --limit 250, CNN --cnn-limit 25: a few minutes
    /usr/bin/python3 bench/scaling.py --limit 50 --cnn-limit 5 --only mlp   # quick
"""

import argparse
import csv
import datetime
import json
import os
import shutil
import subprocess
import tempfile
import time
from typing import Any, Dict, List, Sequence, Tuple

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BIN = os.path.join(REPO, "build", "bayescim")
NETS = {"mlp": "mnist_mlp_scale.yaml", "cnn": "fashion_cnn_spatial.yaml"}
T_SERIES = [1, 2, 5, 10, 20, 50, 100]


def run(config: str, T: int, limit: int, reps: int) -> Tuple[float, Any]:
    """Best-of-reps wall seconds of one run, and the model's binary MACs per sample."""
    best = float("inf")
    macs = None
    for _ in range(reps):
        out = tempfile.mkdtemp(prefix="bayescim-scaling-")
        cmd = [BIN, "run", os.path.join(REPO, "configs", "experiments", config), "--quiet", "--set",
               f"mc.samples={T}", "--limit", str(limit), "--out", out]
        t0 = time.perf_counter()
        subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                       env=dict(os.environ, SYSTEMC_DISABLE_COPYRIGHT_MESSAGE="1"))
        best = min(best, time.perf_counter() - t0)
        with open(os.path.join(out, "report.json")) as f:
            macs = json.load(f)["model"]["binary_macs_per_sample"]
        shutil.rmtree(out)
    return best, macs


def fit(units: Sequence[float], walls: Sequence[float]) -> Tuple[float, float, float, float]:
    """Least squares wall = a + b * units; returns a, b, R^2, max relative deviation."""
    n = len(units)
    mu, mw = sum(units) / n, sum(walls) / n
    sxx = sum((u - mu) ** 2 for u in units)
    b = sum((u - mu) * (w - mw) for u, w in zip(units, walls)) / sxx
    a = mw - b * mu
    ss_res = sum((w - a - b * u) ** 2 for u, w in zip(units, walls))
    ss_tot = sum((w - mw) ** 2 for w in walls)
    dev = max(abs(w - a - b * u) / w for u, w in zip(units, walls))
    return a, b, 1 - ss_res / ss_tot, dev


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--limit", type=int, default=250, help="MLP images per split (x2 splits)")
    ap.add_argument("--cnn-limit", type=int, default=25, help="CNN images per split (x2 splits)")
    ap.add_argument("--reps", type=int, default=1, help="runs per point (the fastest counts)")
    ap.add_argument("--only", choices=sorted(NETS), action="append")
    ap.add_argument("--no-plot", action="store_true")
    args = ap.parse_args()
    rows: List[Dict[str, Any]] = []
    summary: Dict[str, Any] = {}
    for net in args.only or list(NETS):
        limit = args.limit if net == "mlp" else args.cnn_limit
        series = {"T": [(T, limit) for T in T_SERIES],
                  "images": [(20, max(1, limit * k // 8)) for k in (1, 2, 4, 8)]}
        summary[net] = {}
        for name, points in series.items():
            units, walls = [], []
            for T, lim in points:
                wall, macs = run(NETS[net], T, lim, args.reps)
                images = 2 * lim
                rows.append({"net": net, "series": name, "T": T, "images": images, "image_samples": images * T,
                             "wall_s": round(wall, 4), "binary_macs_per_sample": macs})
                units.append(images * T)
                walls.append(wall)
                print(f"{net} {name:6s} T={T:3d} images={images:5d}  {wall:7.3f} s", flush=True)
            a, b, r2, dev = fit(units, walls)
            summary[net][name] = {"fixed_s": a, "per_image_sample_us": b * 1e6, "r2": r2, "max_rel_dev": dev,
                                  "per_binary_mac_ps": b / macs * 1e12, "binary_macs_per_sample": macs}
            print(f"  {net} {name}: {b * 1e6:.1f} us per image-sample ({b / macs * 1e12:.1f} ps per binary MAC), "
                  f"fixed {a:.3f} s, R^2 {r2:.4f}, max deviation from the line {dev * 100:.1f} %", flush=True)
    stamp = datetime.date.today()
    res_dir = os.path.join(REPO, "bench", "results")
    os.makedirs(res_dir, exist_ok=True)
    with open(os.path.join(res_dir, f"scaling-{stamp}.csv"), "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=list(rows[0]))
        w.writeheader()
        w.writerows(rows)
    with open(os.path.join(res_dir, f"scaling-{stamp}.json"), "w") as f:
        json.dump({"date": datetime.datetime.now().isoformat(timespec="seconds"), "load_average": os.getloadavg(),
                   "cores": os.cpu_count(), "fits": summary}, f, indent=2)
    if args.no_plot:
        return
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    fig, axes = plt.subplots(1, 2, figsize=(10, 4))
    for ax, name, xlabel in ((axes[0], "T", "T (MC samples per image)"), (axes[1], "images", "images")):
        for net in summary:
            pts = [r for r in rows if r["net"] == net and r["series"] == name]
            xs = [r[name] for r in pts]
            ys = [r["wall_s"] for r in pts]
            fitted = summary[net][name]
            ax.plot(xs, ys, "o", label=f"{net} ({pts[0]['images'] if name == 'T' else 'T=20'})")
            ax.plot(xs, [fitted["fixed_s"] + fitted["per_image_sample_us"] * 1e-6 * r["image_samples"] for r in pts],
                    "-", color=ax.lines[-1].get_color(), alpha=0.6,
                    label=f"fit: {fitted['per_image_sample_us']:.0f} us/image-sample, R²={fitted['r2']:.4f}")
        ax.set_xlabel(xlabel)
        ax.set_ylabel("wall time of bayescim run (s)")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7)
    axes[0].set_title("cost vs T (images fixed)")
    axes[1].set_title("cost vs images (T = 20)")
    fig.tight_layout()
    png = os.path.join(REPO, "docs", "performance_scaling.png")
    fig.savefig(png, dpi=110)
    shutil.copy(png, os.path.join(res_dir, f"scaling-{stamp}.png"))
    print(f"wrote {png} and bench/results/scaling-{stamp}.{{csv,json,png}}")


if __name__ == "__main__":
    main()
