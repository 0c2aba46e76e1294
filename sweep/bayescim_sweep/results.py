"""Collecting the points' reports into results.csv and summary.md (both written atomically).

results.csv is a pure function of the point folders and the spec: one row per point in spec
order, the axis values, the method (the report's dropout kind), the metrics, and the error of a
failed point. Machine-dependent numbers (wall times, worker names) go to summary.md only, so
the same sweep gives the same results.csv on any cluster.
"""

import csv
import io
import math
import os
import time
from typing import TYPE_CHECKING, Any, Dict, Iterable, List, Optional, Sequence, Tuple

from . import task as T
from .spec import display

if TYPE_CHECKING:
    from .expansion import Point
    from .spec import Spec

ENERGY = "energy.per_inference_J"
ACC = "metrics.id.accuracy"
ECE = "metrics.id.ece"
AUROC = "metrics.ood.auroc_entropy"
LAT = "latency.per_inference_s"

# (column, label, direction): the three Pareto fronts against energy per inference (minimised)
FRONTS = ((ECE, "ECE", "min"), (ACC, "accuracy", "max"), (AUROC, "OOD AUROC (entropy)", "max"))


def point_dir(root: str, point: "Point") -> str:
    return os.path.join(root, "points", point.short)


def lookup(report: Any, path: str) -> Any:
    v = report
    for part in path.split("."):
        if not isinstance(v, dict) or part not in v:
            return None
        v = v[part]
    return v


def cell(v: Any) -> str:
    if v is None:
        return ""
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, float):
        return repr(v) if math.isfinite(v) else ""
    if isinstance(v, (list, tuple)):
        return ",".join(cell(x) for x in v)
    if isinstance(v, dict):
        return ""
    return str(v)


def point_state(root: str, point: "Point") -> Tuple[str, Optional[Dict[str, Any]], Optional[Dict[str, Any]]]:
    """(status, report or None, error dict or None) of a point from its folder."""
    folder = point_dir(root, point)
    rep = T.complete_report(folder, point.hash)
    if rep is not None:
        return "ok", rep, None
    err = T.read_json(os.path.join(folder, T.ERROR_NAME))
    if isinstance(err, dict) and err.get("hash") == point.hash:
        return "failed", None, err
    return "pending", None, None


def simulator_builds(spec: "Spec", root: str) -> Dict[str, int]:
    """sha256 of the executable behind each complete point (from point.json): {sha: count}."""
    builds: Dict[str, int] = {}
    for p in spec.points:
        if point_state(root, p)[0] == "ok":
            meta = T.read_json(os.path.join(point_dir(root, p), T.POINT_NAME)) or {}
            sha = meta.get("exe_sha256") or "unknown"
            builds[sha] = builds.get(sha, 0) + 1
    return builds


def collect(spec: "Spec", root: str) -> Tuple[List[str], List[Dict[str, str]]]:
    """The column names and the rows (dicts, every value a string)."""
    metric_cols = [name for name, _ in spec.metrics]
    columns = ["point", "status"] + list(spec.axis_keys) + ["method"] + metric_cols + ["error"]
    rows = []
    for p in spec.points:
        status, rep, err = point_state(root, p)
        row = {c: "" for c in columns}
        row["point"] = p.short
        row["status"] = status
        for k, v in p.values.items():
            row[k] = display(v)
        if rep is not None:
            row["method"] = cell(lookup(rep, "model.dropout.kind"))
            for name, path in spec.metrics:
                row[name] = cell(lookup(rep, path))
        else:
            kind = dict(p.overrides).get("model.dropout.kind")
            row["method"] = display(kind) if kind is not None else ""
            if err:
                row["error"] = " ".join(str(err.get("error", "")).split())
        rows.append(row)
    return columns, rows


def write_csv(path: str, columns: Sequence[str], rows: Iterable[Dict[str, str]]) -> None:
    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=columns, lineterminator="\n")
    w.writeheader()
    for r in rows:
        w.writerow(r)
    T.write_atomic(path, buf.getvalue())


def _num(s: Any) -> Optional[float]:
    try:
        x = float(s)
    except (TypeError, ValueError):
        return None
    return x if math.isfinite(x) else None


def pareto(rows: Sequence[Dict[str, str]], ycol: str, direction: str) -> List[int]:
    """Indices of the rows on the front of minimal energy and minimal (or maximal) ycol."""
    pts = []
    for i, r in enumerate(rows):
        x, y = _num(r.get(ENERGY)), _num(r.get(ycol))
        if r.get("status") == "ok" and x is not None and y is not None:
            pts.append((x, -y if direction == "max" else y, i))
    pts.sort()
    front, best = [], math.inf
    for x, y, i in pts:
        if y < best:
            front.append(i)
            best = y
    return front


def _si(x: Optional[float], unit: str) -> str:
    if x is None:
        return ""
    for scale, prefix in ((1, ""), (1e-3, "m"), (1e-6, "µ"), (1e-9, "n"), (1e-12, "p"), (1e-15, "f")):
        if abs(x) >= scale:
            return f"{x / scale:.4g} {prefix}{unit}"
    return f"{x:.3g} {unit}"


def _fmt(col: str, s: str) -> str:
    x = _num(s)
    if x is None:
        return s or "–"
    if col == ENERGY:
        return _si(x, "J")
    if col == LAT:
        return _si(x, "s")
    if col == ACC:
        return f"{100 * x:.2f} %"
    return f"{x:.4g}"


def _label(spec: "Spec", row: Dict[str, str]) -> str:
    parts = [f"{k}={row[k]}" for k in spec.axis_keys if row.get(k, "") != ""]
    return ", ".join(parts) or "(base)"


def write_summary(spec: "Spec", root: str, columns: Sequence[str], rows: Sequence[Dict[str, str]],
                  run: Optional[Dict[str, Any]] = None, plots: Sequence[str] = (), exe: Optional[str] = None,
                  max_rows: int = 200) -> None:
    """summary.md: what was swept, the status, a results table, the best points, the Pareto-optimal
    points, the failed points with their errors, and the plots."""
    ok = [r for r in rows if r["status"] == "ok"]
    failed = [r for r in rows if r["status"] == "failed"]
    pending = [r for r in rows if r["status"] == "pending"]
    L = [f"# Sweep `{spec.name}`", ""]
    if spec.description:
        L += [" ".join(spec.description.split()), ""]
    L.append(f"- spec: `{spec.path}`")
    if spec.base_label:
        L.append(f"- base experiment: `{spec.base_label}`")
    if spec.set:
        L.append("- fixed: " + ", ".join(f"`{k}={display(v)}`" for k, v in spec.set.items()))
    for key in spec.axis_keys:
        vals = []
        for p in spec.points:
            if key in p.values and display(p.values[key]) not in vals:
                vals.append(display(p.values[key]))
        shown = ", ".join(vals[:12]) + (f", … ({len(vals)} values)" if len(vals) > 12 else "")
        L.append(f"- axis `{key}`: {shown}")
    L.append(f"- points: {len(rows)}" + (f" ({spec.duplicates} duplicate(s) merged)" if spec.duplicates else ""))
    if exe:
        from .spec import file_digest
        try:
            cur = file_digest(exe)
        except OSError:
            cur = None
        L.append(f"- simulator: `{exe}`" + (f" (sha256 {cur[:12]})" if cur else ""))
        builds = simulator_builds(spec, root)
        other = {k: v for k, v in builds.items() if k != cur}
        if other:
            L.append(f"- **note:** {sum(other.values())} point(s) were simulated by another build of the simulator ("
                     + ", ".join(f"{k[:12]}: {v}" for k, v in other.items())
                     + "); the point hash covers the config and the model, not the executable: "
                       "rerun with `--force` to redo them")
    L.append(f"- written: {time.strftime('%Y-%m-%d %H:%M:%S')}")
    L += ["", "## Status", "",
          f"{len(ok)} done, {len(failed)} failed, {len(pending)} not run, of {len(rows)} points."]
    if run and not run["ran"] and not run["failed"] and run["cluster"] == "nothing to run":
        L += ["", f"This run: nothing to simulate ({run['reused']} point(s) already complete)."]
    elif run:
        L.append("")
        L.append(f"This run: {run['ran']} point(s) simulated, {run['reused']} already complete (reused), "
                 f"{run['failed']} failed, in {run['wall_s']:.1f} s on {run['cluster']}"
                 + (f" ({run['ran'] / run['wall_s']:.2f} points/s; mean point {run['mean_point_s']:.2f} s)"
                    if run['ran'] and run['wall_s'] > 0 else "") + ".")
    table_cols = [c for c in spec.axis_keys] + ["method", ACC, ECE, AUROC, ENERGY, LAT]
    names = {ACC: "accuracy", ECE: "ECE", AUROC: "AUROC (entropy)", ENERGY: "energy / inference",
             LAT: "latency / inference"}
    L += ["", "## Results", "", "Every point and every metric: `results.csv`"
          + (f" (the first {max_rows} points shown)" if len(rows) > max_rows else "") + ".", ""]
    L.append("| point | status | " + " | ".join(names.get(c, f"`{c}`") for c in table_cols) + " |")
    L.append("|---|---|" + "---|" * len(table_cols))
    for r in rows[:max_rows]:
        L.append(f"| `{r['point'][:8]}` | {r['status']} | "
                 + " | ".join(_fmt(c, r.get(c, "")) if c in names else (r.get(c, "") or "–") for c in table_cols)
                 + " |")
    if ok:
        L += ["", "## Best points", ""]
        for col, label, d in ((ACC, "highest accuracy", "max"), (ECE, "lowest ECE", "min"),
                              (AUROC, "highest OOD AUROC (entropy)", "max"),
                              (ENERGY, "lowest energy per inference", "min")):
            cand = [r for r in ok if _num(r.get(col)) is not None]
            if not cand:
                continue
            best = (max if d == "max" else min)(cand, key=lambda r: float(r[col]))
            L.append(f"- {label}: {_fmt(col, best[col])} at {_label(spec, best)} (`{best['point'][:8]}`)")
        L += ["", "## Pareto-optimal points (energy per inference vs …)", ""]
        for col, label, d in FRONTS:
            front = pareto(rows, col, d)
            if not front:
                L.append(f"- {label}: no values")
                continue
            L.append(f"- {label} ({'lower' if d == 'min' else 'higher'} is better): "
                     + "; ".join(f"{_fmt(ENERGY, rows[i][ENERGY])} / {_fmt(col, rows[i][col])} at "
                                 f"{_label(spec, rows[i])}" for i in front))
    if failed:
        L += ["", "## Failed points", ""]
        for r in failed:
            L.append(f"- `{r['point']}` ({_label(spec, r)}): {r['error']} — see "
                     f"`points/{r['point']}/error.json` and `sim.log`")
    if plots:
        L += ["", "## Plots", ""]
        for plot in plots:
            rel = os.path.relpath(plot, root)
            L.append(f"![{os.path.basename(plot)}]({rel})")
    T.write_atomic(os.path.join(root, "summary.md"), "\n".join(L) + "\n")
