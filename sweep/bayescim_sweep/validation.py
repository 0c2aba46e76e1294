"""Sweep specs, step 2 of 3: what a spec may contain, and the checks that name the file, line and key
of every error. The checks against the simulator's own validation are in simulator_check.py."""

from __future__ import annotations

import itertools
import json
import math
import os
import random as _random
import re
from dataclasses import dataclass
from typing import Any, Dict, Iterable, List, Optional, Sequence, Tuple

import yaml

from .loading import SpecError, Where, YamlDoc, is_scalar, round_sig

SPEC_FORMAT = 1

TOP_KEYS = ("name", "description", "base", "set", "grid", "zip", "random", "blocks", "metrics", "jobs",
            "timeout_s", "output", "plots")
BLOCK_KEYS = ("grid", "zip", "random")
RANDOM_KEYS = ("samples", "seed", "axes", "digits")
DISTRIBUTIONS = ("uniform", "loguniform", "int", "choice")
PLOT_KEYS = ("color_by",)

# Config keys whose string values are file or folder paths: relative to the spec file in a spec.
PATH_KEYS = ("model.path", "hardware.architecture", "hardware.device", "hardware.dropout_device",
             "data.id.dir", "data.ood.dir")
INCLUDE_KEYS = ("architecture", "device", "dropout_device")  # under hardware: file or inline mapping
MANAGED_PREFIXES = ("output", "trace")  # the sweep owns output folders; traces are per-run debugging

DEFAULT_METRICS = (
    "metrics.id.accuracy", "metrics.id.nll", "metrics.id.ece", "metrics.id.brier",
    "metrics.id.entropy_mean", "metrics.id.mi_mean",
    "metrics.ood.auroc_entropy", "metrics.ood.auroc_mi", "metrics.ood.aupr_entropy", "metrics.ood.fpr95_entropy",
    "metrics.ood.entropy_mean", "metrics.ood.mi_mean",
    "energy.per_inference_J", "energy.dropout_share", "energy.tops_per_W",
    "latency.per_inference_s", "latency.per_sample_s",
    "hardware.arrays", "hardware.stochastic_units", "hardware.dropout_modules", "hardware.random_bits",
    "hardware.dropout_p_realised",
)
# The plots need these, so they are always collected.
PLOT_METRICS = ("metrics.id.accuracy", "metrics.id.ece", "metrics.ood.auroc_entropy", "energy.per_inference_J")

# Scalar report.json keys (the README's output contract); the prefixes take any sub-key.
REPORT_KEYS = set("""
metrics.id.accuracy metrics.id.nll metrics.id.ece metrics.id.brier metrics.id.entropy_mean metrics.id.mi_mean
metrics.id.images metrics.ood.auroc_entropy metrics.ood.auroc_mi metrics.ood.aupr_entropy metrics.ood.aupr_mi
metrics.ood.fpr95_entropy metrics.ood.fpr95_mi metrics.ood.entropy_mean metrics.ood.mi_mean metrics.ood.images
energy.total_J energy.per_inference_J energy.per_sample_J energy.dropout_J energy.dropout_share energy.programming_J
energy.per_mac_J energy.tops_per_W
latency.per_inference_s latency.per_sample_s latency.inference_time_s latency.programming_s
latency.throughput_inferences_per_s
hardware.arrays hardware.array_rows hardware.array_cols hardware.stochastic_units hardware.dropout_modules
hardware.random_bits hardware.random_bits_per_sample hardware.dropout_p_target hardware.dropout_p_realised
hardware.dropout_organisation hardware.dropout_layout hardware.dropout_bit_latency_s hardware.dropout_drive_current_A
model.dropout.kind model.dropout.p model.dropout.dropped_value model.dropout.layout model.layers model.binary_macs_per_sample
model.input_bits
mc_samples seed engine name data.id.images data.ood.images data.id.dataset data.ood.dataset
""".split())
REPORT_PREFIXES = ("energy.by_component.", "energy.per_inference_by_component.", "hardware.counts.",
                   "hardware.dropout_p_modules.", "hardware.dropout_device.", "hardware.dropout_circuits.",
                   "area.by_component_mm2.")

KEY_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*$")

@dataclass
class Axis:
    """One varied config key of a block, with where its key and values are in the spec."""
    key: str
    values: List[Any]
    where: Where  # path tuple of the key in the spec document
    value_wheres: List[Where]  # path tuple of each value (empty for random draws)
    kind: str  # grid | zip | random


# An assignment gives each axis key of a factor a value and the place of that value in the spec.
Assignment = Dict[str, Tuple[Any, Where]]
Factor = Tuple[List[Axis], List[Assignment]]
Block = Tuple[Where, List[Factor]]


class SpecChecker:
    """Reads the parts of a spec document, appending 'FILE:LINE: message' errors as it goes
    (self.errors); the caller raises SpecError once everything has been checked."""

    def __init__(self, doc: YamlDoc, spec_dir: str) -> None:
        self.doc = doc
        self.dir = spec_dir
        self.errors: List[str] = list(doc.errors)

    def top_level(self, v: Dict[str, Any]) -> None:
        for key in v:
            if key not in TOP_KEYS:
                self.errors.append(self.doc.at((key,), f"unknown key '{key}' (allowed at the top level: "
                                                       f"{', '.join(TOP_KEYS)})"))

    def name(self, v: Dict[str, Any], path: str) -> Optional[str]:
        name = self._string(v, ("name",), self.errors, default=os.path.splitext(os.path.basename(path))[0])
        if name and not re.match(r"^[A-Za-z0-9_.-]+$", name):
            self.errors.append(self.doc.at(("name",), f"key 'name': expected letters, digits, '_', '.', '-', "
                                                      f"got '{name}'"))
        return name

    def string(self, v: Dict[str, Any], key: str, default: Optional[str]) -> Optional[str]:
        return self._string(v, (key,), self.errors, default)

    def integer(self, v: Dict[str, Any], key: str, default: int, lo: int, hi: int) -> int:
        return self._int(v, (key,), self.errors, default, lo, hi)

    def number(self, v: Dict[str, Any], key: str, default: Optional[float], lo: float, hi: float) -> Optional[float]:
        return self._number(v, (key,), self.errors, default, lo, hi)

    def base(self, v: Dict[str, Any]) -> Tuple[Optional[str], Optional[str]]:
        """(absolute path, label as written) of the base experiment, or (None, None)."""
        base = self._string(v, ("base",), self.errors, default=None)
        if base is None:
            return None, None
        return self._check_file(base, ("base",), self.errors, "base experiment"), base

    def fixed_overrides(self, v: Dict[str, Any], cli_set: Iterable[str]) -> Tuple[Dict[str, Any], Dict[str, Any]]:
        """The 'set' mapping, then --set KEY=VALUE from the command line (which adds to or replaces
        it): (all fixed overrides, those from the command line)."""
        fixed: Dict[str, Any] = {}
        errors = self.errors
        if "set" in v:
            if not isinstance(v["set"], dict):
                errors.append(self.doc.at(("set",), "key 'set': expected a mapping of config keys to values"))
            else:
                for key, value in v["set"].items():
                    where = ("set", key)
                    if self._check_key(key, where, errors, allow_base=False):
                        if not self._check_value(value, where, errors, key):
                            continue
                        fixed[key] = value
        from_cli: Dict[str, Any] = {}
        for item in cli_set:
            key, eq, text = item.partition("=")
            if not eq:
                errors.append(f"--set {item}: expected KEY=VALUE")
                continue
            try:
                value = yaml.safe_load(text) if text.strip() else ""
            except yaml.YAMLError:
                value = text
            sub: List[str] = []
            if self._check_key(key, (), sub, allow_base=False) and self._check_value(value, (), sub, key):
                fixed[key] = value
                from_cli[key] = value
            errors += [f"--set {item}: " + m.split(": ", 1)[1] for m in sub]
        return fixed, from_cli

    def blocks(self, v: Dict[str, Any]) -> List[Block]:
        """The blocks of axes: [(block path, [factor])], a factor being (axes, [assignment])."""
        errors = self.errors
        blocks: List[Block] = []
        has_inline = any(k in v for k in BLOCK_KEYS)
        if "blocks" in v:
            if has_inline:
                errors.append(self.doc.at(("blocks",), "use either 'blocks' or top-level grid/zip/random, not both"))
            elif not isinstance(v["blocks"], list) or not v["blocks"]:
                errors.append(self.doc.at(("blocks",), "key 'blocks': expected a non-empty list of "
                                                       "mappings with grid, zip or random"))
            else:
                for i, b in enumerate(v["blocks"]):
                    where = ("blocks", i)
                    if not isinstance(b, dict) or not b:
                        errors.append(self.doc.at(where, "a block must be a mapping with grid, zip or random"))
                        continue
                    for key in b:
                        if key not in BLOCK_KEYS:
                            errors.append(self.doc.at(where + (key,), f"unknown key '{key}' (allowed in a "
                                                                      f"block: {', '.join(BLOCK_KEYS)})"))
                    blocks.append(self._block(b, where, errors))
        else:
            blocks.append(self._block(v, (), errors))
        return blocks

    def axis_keys(self, blocks: Sequence[Block], fixed: Dict[str, Any], from_cli: Dict[str, Any]
                  ) -> Tuple[List[str], Dict[str, Where]]:
        """Every axis key appears once per block, and never also in 'set'. Returns the union of the
        axis keys in order of first appearance, and where each first appears."""
        keys: List[str] = []
        first: Dict[str, Where] = {}
        for _, factors in blocks:
            seen: Dict[str, Where] = {}
            for axes, _ in factors:
                for ax in axes:
                    if ax.key in seen:
                        self.errors.append(self.doc.at(ax.where, f"axis '{ax.key}' is given twice in one block "
                                                                 f"(also line {self.doc.line(seen[ax.key])})"))
                    seen[ax.key] = ax.where
                    if ax.key in fixed:
                        where = "on the command line" if ax.key in from_cli else \
                            f"(line {self.doc.line(('set', ax.key))})"
                        self.errors.append(self.doc.at(ax.where, f"axis '{ax.key}' is also fixed in 'set' {where}"))
                    if ax.key not in first:
                        keys.append(ax.key)
                        first[ax.key] = ax.where
        return keys, first

    def has_base(self, base: Optional[str], blocks: Sequence[Block]) -> None:
        """Without 'base', every block needs a 'base' axis (checked only if nothing else is wrong)."""
        if base is not None or self.errors:
            return
        for bwhere, factors in blocks:
            if not any(ax.key == "base" for axes, _ in factors for ax in axes):
                self.errors.append(self.doc.at(bwhere or (), "no base experiment: expected 'base: FILE' "
                                                             "(or a 'base' axis)"))
                break

    def metrics(self, v: Dict[str, Any]) -> List[Tuple[str, str]]:
        return self._metrics(v, self.errors)

    def color_by(self, v: Dict[str, Any], axis_keys: Sequence[str]) -> str:
        color_by = "method"
        if "plots" in v:
            p = v["plots"]
            if not isinstance(p, dict):
                self.errors.append(self.doc.at(("plots",), "key 'plots': expected a mapping (color_by)"))
            else:
                for key in p:
                    if key not in PLOT_KEYS:
                        self.errors.append(self.doc.at(("plots", key), f"unknown key 'plots.{key}' (allowed in "
                                                                       f"'plots': {', '.join(PLOT_KEYS)})"))
                if "color_by" in p:
                    c = p["color_by"]
                    if c != "method" and c not in axis_keys:
                        self.errors.append(self.doc.at(("plots", "color_by"),
                                                       f"key 'plots.color_by': expected 'method' or an axis key "
                                                       f"({', '.join(axis_keys) or 'none'}), got '{c}'"))
                    else:
                        color_by = c
        return color_by

    def raise_if_any(self) -> None:
        if self.errors:
            raise SpecError(self.errors)

    # -- field helpers ---------------------------------------------------------------------------
    def _string(self, v: Dict[str, Any], where: Where, errors: List[str], default: Optional[str]) -> Optional[str]:
        if where[-1] not in v:
            return default
        s = v[where[-1]]
        if not isinstance(s, str) or not s:
            errors.append(self.doc.at(where, f"key '{where[-1]}': expected a non-empty string, got {s!r}"))
            return default
        return s

    def _int(self, v: Dict[str, Any], where: Where, errors: List[str], default: int, lo: int, hi: int) -> int:
        if where[-1] not in v:
            return default
        x = v[where[-1]]
        if isinstance(x, bool) or not isinstance(x, int) or not lo <= x <= hi:
            errors.append(self.doc.at(where, f"key '{'.'.join(map(str, where))}': expected an integer in "
                                             f"[{lo}, {hi}], got {x!r}"))
            return default
        return x

    def _number(self, v: Dict[str, Any], where: Where, errors: List[str], default: Optional[float], lo: float,
                hi: float) -> Optional[float]:
        if where[-1] not in v:
            return default
        x = v[where[-1]]
        if isinstance(x, bool) or not isinstance(x, (int, float)) or not lo <= x <= hi:
            errors.append(self.doc.at(where, f"key '{'.'.join(map(str, where))}': expected a number in "
                                             f"[{lo:g}, {hi:g}], got {x!r}"))
            return default
        return x

    def resolve_path(self, p: str) -> str:
        return p if os.path.isabs(p) else os.path.normpath(os.path.join(self.dir, p))

    def _check_file(self, p: str, where: Where, errors: List[str], what: str) -> Optional[str]:
        full = self.resolve_path(p)
        if not os.path.isfile(full):
            errors.append(self.doc.at(where, f"{what} '{p}' not found ({full})"))
            return None
        return full

    def _check_key(self, key: Any, where: Where, errors: List[str], allow_base: bool) -> bool:
        if not isinstance(key, str) or not KEY_RE.match(key):
            errors.append(self.doc.at(where, f"'{key}' is not a config key (expected dotted names like "
                                             f"mc.samples or model.dropout.p)"))
            return False
        if key == "base" and not allow_base:
            errors.append(self.doc.at(where, "'base' is a top-level key or an axis, not a fixed override"))
            return False
        if key.split(".")[0] in MANAGED_PREFIXES:
            errors.append(self.doc.at(where, f"key '{key}': the sweep manages '{key.split('.')[0]}' itself "
                                             f"(each point writes to its own folder)"))
            return False
        return True

    def _check_value(self, value: Any, where: Where, errors: List[str], key: str) -> bool:
        ok = is_scalar(value) or (isinstance(value, list) and all(is_scalar(x) for x in value))
        if not ok:
            errors.append(self.doc.at(where, f"key '{key}': expected a scalar or a list of scalars, "
                                             f"got {type(value).__name__}"))
            return False
        if isinstance(value, float) and not math.isfinite(value):
            errors.append(self.doc.at(where, f"key '{key}': expected a finite number, got {value!r}"))
            return False
        if key == "base":
            if not isinstance(value, str):
                errors.append(self.doc.at(where, f"axis 'base': expected an experiment file, got {value!r}"))
                return False
            return self._check_file(value, where, errors, "base experiment") is not None
        return True

    def _axis_list(self, block: Any, where: Where, errors: List[str], kind: str) -> List[Axis]:
        """[Axis] from a mapping key -> non-empty list."""
        axes: List[Axis] = []
        if not isinstance(block, dict) or not block:
            errors.append(self.doc.at(where, f"key '{where[-1]}': expected a non-empty mapping of config "
                                             f"keys to lists of values"))
            return axes
        for key, values in block.items():
            kw = where + (key,)
            if not self._check_key(key, kw, errors, allow_base=True):
                continue
            if not isinstance(values, list):
                errors.append(self.doc.at(kw, f"axis '{key}': expected a list of values, got {values!r}"))
                continue
            if not values:
                errors.append(self.doc.at(kw, f"axis '{key}' is empty (give at least one value)"))
                continue
            good = True
            for i, x in enumerate(values):
                if not self._check_value(x, kw + (i,), errors, key):
                    good = False
            if good:
                axes.append(Axis(key, values, kw, [kw + (i,) for i in range(len(values))], kind))
        return axes

    def _block(self, b: Dict[str, Any], where: Where, errors: List[str]) -> Block:
        factors = []
        if "grid" in b:
            axes = self._axis_list(b["grid"], where + ("grid",), errors, "grid")
            if axes:
                combos = itertools.product(*[range(len(a.values)) for a in axes])
                factors.append((axes, [{a.key: (a.values[i], a.value_wheres[i]) for a, i in zip(axes, c)}
                                       for c in combos]))
        if "zip" in b:
            groups = b["zip"]
            gwhere = where + ("zip",)
            if isinstance(groups, dict):
                groups = [(groups, gwhere)]
            elif isinstance(groups, list) and groups:
                groups = [(g, gwhere + (i,)) for i, g in enumerate(groups)]
            else:
                errors.append(self.doc.at(gwhere, "key 'zip': expected a mapping of equal-length lists, or a "
                                                  "list of such mappings"))
                groups = []
            for g, gw in groups:
                axes = self._axis_list(g, gw, errors, "zip")
                if not axes:
                    continue
                n = len(axes[0].values)
                bad = [a for a in axes if len(a.values) != n]
                if bad:
                    errors.append(self.doc.at(bad[0].where, f"zipped axis '{bad[0].key}' has {len(bad[0].values)} "
                                                            f"values but '{axes[0].key}' has {n} (zipped lists "
                                                            f"must have equal lengths)"))
                    continue
                factors.append((axes, [{a.key: (a.values[i], a.value_wheres[i]) for a in axes} for i in range(n)]))
        if "random" in b:
            f = self._random(b["random"], where + ("random",), errors)
            if f:
                factors.append(f)
        return where, factors

    def _random(self, r: Any, where: Where, errors: List[str]) -> Optional[Factor]:
        if not isinstance(r, dict):
            errors.append(self.doc.at(where, "key 'random': expected a mapping with samples, seed and axes"))
            return None
        for key in r:
            if key not in RANDOM_KEYS:
                errors.append(self.doc.at(where + (key,), f"unknown key 'random.{key}' (allowed in 'random': "
                                                          f"{', '.join(RANDOM_KEYS)})"))
        for req in ("samples", "seed", "axes"):
            if req not in r:
                errors.append(self.doc.at(where, f"key 'random.{req}' is missing"))
        n = self._int(r, where + ("samples",), errors, 0, 1, 100000)
        seed = self._int(r, where + ("seed",), errors, 0, 0, 2**63 - 1)
        digits = self._int(r, where + ("digits",), errors, 4, 1, 17)
        axes_spec = r.get("axes")
        aw = where + ("axes",)
        if not isinstance(axes_spec, dict) or not axes_spec:
            if "axes" in r:
                errors.append(self.doc.at(aw, "key 'random.axes': expected a non-empty mapping of config keys "
                                              "to distributions"))
            return None
        dists = []
        for key, d in axes_spec.items():
            kw = aw + (key,)
            if not self._check_key(key, kw, errors, allow_base=True):
                continue
            if isinstance(d, list):
                d = {"choice": d}
                dw = kw
            elif isinstance(d, dict) and len(d) == 1:
                dw = kw + (next(iter(d)),)
            else:
                errors.append(self.doc.at(kw, f"axis '{key}': expected one of {{uniform: [lo, hi]}}, "
                                              f"{{loguniform: [lo, hi]}}, {{int: [lo, hi]}}, {{choice: [...]}}"))
                continue
            kind, arg = next(iter(d.items()))
            if kind not in DISTRIBUTIONS:
                errors.append(self.doc.at(dw, f"axis '{key}': unknown distribution '{kind}' (allowed: "
                                              f"{', '.join(DISTRIBUTIONS)})"))
                continue
            if kind == "choice":
                if not isinstance(arg, list) or not arg:
                    errors.append(self.doc.at(dw, f"axis '{key}' is empty (choice needs at least one value)"))
                    continue
                if not all(self._check_value(x, dw + (i,), errors, key) for i, x in enumerate(arg)):
                    continue
            else:
                num = (lambda x: isinstance(x, int) and not isinstance(x, bool)) if kind == "int" else \
                      (lambda x: isinstance(x, (int, float)) and not isinstance(x, bool) and math.isfinite(x))
                if not (isinstance(arg, list) and len(arg) == 2 and all(num(x) for x in arg) and arg[0] <= arg[1]):
                    what = "integers" if kind == "int" else "numbers"
                    errors.append(self.doc.at(dw, f"axis '{key}': {kind} expects [lo, hi] with {what} lo <= hi, "
                                                  f"got {arg!r}"))
                    continue
                if kind == "loguniform" and arg[0] <= 0:
                    errors.append(self.doc.at(dw, f"axis '{key}': loguniform needs lo > 0, got {arg!r}"))
                    continue
            dists.append((key, kind, arg, kw))
        if not dists or not n:
            return None
        rng = _random.Random(seed)
        assignments = []
        for _ in range(n):
            a = {}
            for key, kind, arg, kw in dists:
                if kind == "uniform":
                    x = round_sig(rng.uniform(arg[0], arg[1]), digits)
                elif kind == "loguniform":
                    x = round_sig(math.exp(rng.uniform(math.log(arg[0]), math.log(arg[1]))), digits)
                elif kind == "int":
                    x = rng.randint(arg[0], arg[1])
                else:
                    x = arg[rng.randrange(len(arg))]
                a[key] = (x, kw)
            assignments.append(a)
        axes = []
        for key, kind, arg, kw in dists:
            distinct = {json.dumps(a[key][0]): a[key][0] for a in assignments}
            axes.append(Axis(key, list(distinct.values()), kw, [], "random"))
        return axes, assignments

    def _metrics(self, v: Dict[str, Any], errors: List[str]) -> List[Tuple[str, str]]:
        out = []  # (column, report path)
        names = set()
        items: List[Tuple[Any, Any, Optional[Where]]]
        if "metrics" not in v:
            items = [(m, m, None) for m in DEFAULT_METRICS]
        else:
            m = v["metrics"]
            if isinstance(m, list) and m:
                items = [(x, x, ("metrics", i)) for i, x in enumerate(m)]
            elif isinstance(m, dict) and m:
                items = [(k, x, ("metrics", k)) for k, x in m.items()]
            else:
                errors.append(self.doc.at(("metrics",), "key 'metrics': expected a non-empty list of report.json "
                                                        "keys (or a mapping column: key)"))
                items = []
        for name, path, where in items:
            if not isinstance(path, str) or not isinstance(name, str):
                errors.append(self.doc.at(where or (), f"metric {path!r}: expected a report.json key like "
                                                 f"metrics.id.accuracy"))
                continue
            if path not in REPORT_KEYS and not any(path.startswith(p) and len(path) > len(p)
                                                   for p in REPORT_PREFIXES):
                near = sorted(k for k in REPORT_KEYS if k.split(".")[0] == path.split(".")[0])
                hint = f" (known under '{path.split('.')[0]}': {', '.join(near)})" if near else ""
                errors.append(self.doc.at(where or (), f"unknown report key '{path}'{hint}"))
                continue
            if name in names:
                errors.append(self.doc.at(where or (), f"metric '{name}' is listed twice"))
                continue
            names.add(name)
            out.append((name, path))
        for p in PLOT_METRICS:
            if p not in {path for _, path in out}:
                out.append((p, p))
        return out

    # -- points ------------------------------------------------------------------------------------
