"""Sweep specs checked against the simulator itself: `bayescim validate` on every distinct axis value,
then on every point, with each error traced back to the spec line of the key it names."""

from __future__ import annotations

import concurrent.futures
import json
import os
import re
import subprocess
from typing import TYPE_CHECKING, Dict, List, Optional, Set, Tuple

from .expansion import Point
from .loading import SpecError, display, set_string

if TYPE_CHECKING:
    from .spec import Spec


def _sim_validate(exe: str, base: Optional[str], set_args: List[str]) -> Tuple[int, str]:
    assert base is not None  # every point has a base experiment (Spec checks it)
    env = dict(os.environ, SYSTEMC_DISABLE_COPYRIGHT_MESSAGE="1")
    try:
        p = subprocess.run([exe, "validate", base, *set_args], capture_output=True, text=True, env=env,
                           timeout=120)
    except OSError as e:
        return 127, f"cannot run {exe}: {e.strerror}"
    except subprocess.TimeoutExpired:
        return 124, "bayescim validate timed out"
    lines = (p.stderr.strip() or p.stdout.strip()).splitlines()
    lines = [line for line in lines if "error" in line] or lines or [f"exit code {p.returncode}"]
    return p.returncode, lines[-1].replace("bayescim: error: ", "")


def check_with_simulator(spec: "Spec", exe: str, max_points: int = 2000, threads: Optional[int] = None) -> int:
    """Runs `bayescim validate` on each distinct axis value (base + set + that value), then on every
    point (up to max_points), and checks that each point's model file exists. Raises SpecError
    with the spec line of the offending key."""
    errors: List[str] = []
    seen_err: Set[str] = set()

    def blame(point: Point, msg: str) -> None:
        m = re.search(r"--set ([^=\s]+)=", msg) or re.search(r"key '([^']+)'", msg)
        key = m.group(1) if m else None
        if key is not None and key not in point.values and key not in spec.set:
            # a key inside an include named by another override: blame the include
            for k in list(point.values) + list(spec.set):
                if key.startswith(k + "."):
                    key = k
                    break
        if key in spec.cli_set and key not in point.values:
            text = f"--set {key}={set_string(spec.cli_set[key])}: bayescim validate: {msg}"
        else:
            line = spec.line_of(point, key) if key else spec.line_of(point, "base")
            what = f"axis '{key}' = {display(point.values[key])}" if key in point.values else \
                   (f"set '{key}'" if key in spec.set else f"base {point.base_label}")
            text = f"{spec.path}:{line}: {what}: bayescim validate: {msg}"
        if text not in seen_err:
            seen_err.add(text)
            errors.append(text)

    for p in spec.points:
        if p.model_path and not os.path.isfile(p.model_path):
            key = "model.path" if "model.path" in p.values or "model.path" in spec.set else "base"
            where = "--set model.path" if key == "model.path" and key in spec.cli_set and key not in p.values \
                else f"{spec.path}:{spec.line_of(p, key)}"
            text = (f"{where}: model file not found: {p.model_path} (named by "
                    f"{p.base_label if key == 'base' else 'model.path'}; not trained yet? see "
                    f"models/pretrained/manifest.yaml)")
            if text not in seen_err:
                seen_err.add(text)
                errors.append(text)
    if errors:
        raise SpecError(errors)

    # 1. each distinct axis value alone (fast, precise)
    singles: Dict[Tuple[Optional[str], str, str], Point] = {}
    for p in spec.points:
        for key, value in p.values.items():
            if key == "base":
                continue
            ident = (p.base, key, json.dumps(value))
            if ident not in singles:
                q = Point(p.index, {key: value}, {key: p.origins[key]})
                q.base, q.base_label = p.base, p.base_label
                q.overrides = sorted(dict(spec.set, **{key: value}).items())
                singles[ident] = q
    bases: Dict[Optional[str], Point] = {}
    for p in spec.points:
        if p.base not in bases:
            q = Point(p.index, {"base": p.values["base"]} if "base" in p.values else {},
                      {"base": p.origins["base"]} if "base" in p.origins else {})
            q.base, q.base_label = p.base, p.base_label
            q.overrides = sorted(spec.set.items())
            bases[p.base] = q
    stages = [list(bases.values()) + list(singles.values())]
    if len(spec.points) <= max_points:
        stages.append(spec.points)
    with concurrent.futures.ThreadPoolExecutor(max_workers=threads or os.cpu_count() or 2) as pool:
        for stage in stages:
            futs = [(q, pool.submit(_sim_validate, exe, q.base, q.set_args(spec))) for q in stage]
            for q, f in futs:
                rc, msg = f.result()
                if rc != 0:
                    blame(q, msg)
            if errors:
                raise SpecError(errors)
    return len(stages[0]) + (len(stages[1]) if len(stages) > 1 else 0)
