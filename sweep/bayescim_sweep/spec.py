"""Sweep specs: loading with line numbers, validation, expansion into points, point hashes, and
the check of every point against the simulator's own config validation.

A spec (configs/sweeps/*.yaml):

    name: mlp_array_adc                 # default: the file name
    description: free text
    base: ../experiments/mnist_mlp_scale.yaml   # relative to the spec file
    set:                                # fixed overrides of every point
      mc.samples: 10
      data.limit: 500
    grid:                               # cartesian product
      hardware.architecture.array.rows: [128, 256, 512]
      hardware.architecture.adc.bits: [0, 4, 6]
    zip:                                # equal-length lists varied together (a mapping or a list of them)
      - {model.dropout.kind: [mc_dropout, scale], model.dropout.p: [0.1, 0.2]}
    random:                             # seeded random sampling
      samples: 8
      seed: 1
      axes:
        model.dropout.p: {uniform: [0.05, 0.5]}
        mc.samples: {int: [2, 30]}
        hardware.device.variation.r_p_sigma_log: {loguniform: [0.01, 0.3]}
        model.dropout.kind: {choice: [scale, mc_dropout]}
    blocks: [...]                       # instead of grid/zip/random: a list of {grid, zip, random}
    metrics: [metrics.id.accuracy, ...] # report.json keys to collect (default: a standard set)
    jobs: 1                             # bayescim --jobs inside each point
    timeout_s: 600                      # per point
    output: out/sweeps/NAME             # relative to the working directory
    plots: {color_by: method}           # 'method' (the report's dropout kind) or an axis key

The points of a block are the product of its grid, each zip group and its random samples; the
sweep is the union of its blocks (a point appearing twice is run once). The axis key `base`
varies the base experiment itself.
"""

import concurrent.futures
import hashlib
import itertools
import json
import math
import os
import random as _random
import re
import subprocess

import yaml

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
energy.total_J energy.per_inference_J energy.per_sample_J energy.dropout_share energy.programming_J
energy.per_mac_J energy.tops_per_W
latency.per_inference_s latency.per_sample_s latency.inference_time_s latency.programming_s
latency.throughput_inferences_per_s
hardware.arrays hardware.array_rows hardware.array_cols hardware.stochastic_units hardware.dropout_modules
hardware.random_bits hardware.random_bits_per_sample hardware.dropout_p_target hardware.dropout_p_realised
hardware.dropout_organisation hardware.dropout_bit_latency_s hardware.dropout_drive_current_A
model.dropout.kind model.dropout.p model.dropout.dropped_value model.layers model.binary_macs_per_sample
mc_samples seed engine name data.id.images data.ood.images data.id.dataset data.ood.dataset
""".split())
REPORT_PREFIXES = ("energy.by_component.", "energy.per_inference_by_component.", "hardware.counts.",
                   "hardware.dropout_p_modules.")

KEY_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*$")


class SpecError(Exception):
    """One or more spec errors, each 'FILE:LINE: message'."""

    def __init__(self, messages):
        self.messages = list(messages)
        super().__init__("\n".join(self.messages))


# ----------------------------------------------------------------------------------------------
# YAML with line numbers


class _Doc:
    """A parsed YAML document: the Python value and the line of every mapping key and list item."""

    def __init__(self, path, text):
        self.path = path
        self.text = text
        self.lines = {}  # path tuple -> 1-based line
        self.errors = []
        self._ctor = yaml.SafeLoader("")
        try:
            node = yaml.compose(text, Loader=yaml.SafeLoader)
        except yaml.YAMLError as e:
            mark = getattr(e, "problem_mark", None) or getattr(e, "context_mark", None)
            line = mark.line + 1 if mark else 1
            problem = getattr(e, "problem", None) or str(e)
            raise SpecError([f"{path}:{line}: invalid YAML: {problem}"])
        self.value = {} if node is None else self._build(node, ())
        self.lines.setdefault((), 1)

    def _build(self, node, where):
        self.lines.setdefault(where, node.start_mark.line + 1)
        if isinstance(node, yaml.MappingNode):
            out = {}
            for knode, vnode in node.value:
                if not isinstance(knode, yaml.ScalarNode):
                    self.errors.append(f"{self.path}:{knode.start_mark.line + 1}: a key must be a plain name")
                    continue
                key = self._ctor.construct_object(knode)
                if not isinstance(key, str):
                    key = str(key)
                if key in out:
                    self.errors.append(f"{self.path}:{knode.start_mark.line + 1}: duplicate key '{key}'")
                    continue
                self.lines[where + (key,)] = knode.start_mark.line + 1
                out[key] = self._build(vnode, where + (key,))
            return out
        if isinstance(node, yaml.SequenceNode):
            return [self._build(item, where + (i,)) for i, item in enumerate(node.value)]
        return self._ctor.construct_object(node)

    def line(self, where):
        where = tuple(where)
        while where and where not in self.lines:
            where = where[:-1]
        return self.lines.get(where, 1)

    def at(self, where, message):
        return f"{self.path}:{self.line(where)}: {message}"


def load_yaml_file(path):
    with open(path) as f:
        return yaml.safe_load(f)


# ----------------------------------------------------------------------------------------------
# Values


def is_scalar(v):
    return v is None or isinstance(v, (str, bool, int, float))


def set_string(v):
    """How a spec value is written after `--set KEY=` (YAML scalars; a list as comma-separated)."""
    if v is None:
        return "null"
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, float):
        return repr(v)  # shortest round-trip form; 2.0 stays a float
    if isinstance(v, (list, tuple)):
        return ",".join(set_string(x) for x in v)
    return str(v)


def display(v):
    """A value as shown in results.csv and the plots."""
    if isinstance(v, (list, tuple)):
        return ",".join(display(x) for x in v)
    if v is None:
        return "null"
    if isinstance(v, bool):
        return "true" if v else "false"
    return str(v)


def round_sig(x, digits):
    if x == 0 or not math.isfinite(x):
        return x
    return float(f"{x:.{digits}g}")


def file_digest(path, _cache={}):
    st = os.stat(path)
    key = (os.path.realpath(path), st.st_size, st.st_mtime_ns)
    if key not in _cache:
        h = hashlib.sha256()
        with open(path, "rb") as f:
            for chunk in iter(lambda: f.read(1 << 20), b""):
                h.update(chunk)
        _cache[key] = h.hexdigest()
    return _cache[key]


# ----------------------------------------------------------------------------------------------
# The spec


class Axis:
    def __init__(self, key, values, where, value_wheres, kind):
        self.key = key
        self.values = values
        self.where = where  # path tuple of the key in the spec document
        self.value_wheres = value_wheres  # path tuple of each value (None for random draws)
        self.kind = kind  # grid | zip | random


class Point:
    def __init__(self, index, values, origins):
        self.index = index
        self.values = values  # axis key -> value, in axis order
        self.origins = origins  # axis key -> path tuple in the spec (for error lines)
        self.base = None  # absolute path of the base experiment
        self.base_label = None
        self.overrides = []  # sorted [(key, value)] of set + axes (not base)
        self.hash = None
        self.model_path = None

    @property
    def short(self):
        return self.hash[:16]

    def set_args(self, spec):
        """The --set arguments: keys sorted, so an include key comes before the keys inside it."""
        args = []
        for key, value in self.overrides:
            if key in PATH_KEYS and isinstance(value, str):
                value = spec.resolve_path(value)
            args += ["--set", f"{key}={set_string(value)}"]
        return args

    def label(self):
        return ", ".join(f"{k}={display(v)}" for k, v in self.values.items()) or "(base)"


class Spec:
    def __init__(self, path, cli_set=()):
        self.path = path
        self.dir = os.path.dirname(os.path.abspath(path))
        try:
            with open(path, "rb") as f:
                raw = f.read()
        except OSError as e:
            raise SpecError([f"{path}: cannot read the spec: {e.strerror} (expected a YAML file)"])
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError as e:
            raise SpecError([f"{path}: not a text file (binary data at byte {e.start}), expected a YAML sweep spec"])
        if "\0" in text:
            raise SpecError([f"{path}: not a text file (binary data), expected a YAML sweep spec"])
        if not text.strip():
            raise SpecError([f"{path}: file is empty, expected a YAML sweep spec (a mapping with base, grid, ...)"])
        self.doc = _Doc(path, text)
        self.text = text
        errors = list(self.doc.errors)
        v = self.doc.value
        if not isinstance(v, dict):
            raise SpecError([self.doc.at((), "a sweep spec must be a mapping")])
        for key in v:
            if key not in TOP_KEYS:
                errors.append(self.doc.at((key,), f"unknown key '{key}' (allowed at the top level: "
                                                 f"{', '.join(TOP_KEYS)})"))
        self.name = self._string(v, ("name",), errors,
                                 default=os.path.splitext(os.path.basename(path))[0])
        if self.name and not re.match(r"^[A-Za-z0-9_.-]+$", self.name):
            errors.append(self.doc.at(("name",), f"key 'name': expected letters, digits, '_', '.', '-', "
                                                f"got '{self.name}'"))
        self.description = self._string(v, ("description",), errors, default="")
        self.base = self.base_label = None
        base = self._string(v, ("base",), errors, default=None)
        if base is not None:
            self.base = self._check_file(base, ("base",), errors, "base experiment")
            self.base_label = base
        self.output = self._string(v, ("output",), errors, default=None)
        self.jobs = self._int(v, ("jobs",), errors, 1, 1, 1024)
        self.timeout_s = self._number(v, ("timeout_s",), errors, None, 0.001, 1e9)

        # fixed overrides
        self.set = {}
        if "set" in v:
            if not isinstance(v["set"], dict):
                errors.append(self.doc.at(("set",), "key 'set': expected a mapping of config keys to values"))
            else:
                for key, value in v["set"].items():
                    where = ("set", key)
                    if self._check_key(key, where, errors, allow_base=False):
                        if not self._check_value(value, where, errors, key):
                            continue
                        self.set[key] = value

        # --set KEY=VALUE on the command line: adds to or replaces the spec's fixed overrides
        self.cli_set = {}
        for item in cli_set:
            key, eq, text = item.partition("=")
            if not eq:
                errors.append(f"--set {item}: expected KEY=VALUE")
                continue
            try:
                value = yaml.safe_load(text) if text.strip() else ""
            except yaml.YAMLError:
                value = text
            sub = []
            if self._check_key(key, (), sub, allow_base=False) and self._check_value(value, (), sub, key):
                self.set[key] = value
                self.cli_set[key] = value
            errors += [f"--set {item}: " + m.split(": ", 1)[1] for m in sub]

        # blocks of axes
        self.blocks = []  # list of (block path, [factor]) ; factor = (axes, [assignment dict])
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
                    self.blocks.append(self._block(b, where, errors))
        else:
            self.blocks.append(self._block(v, (), errors))

        # every axis key appears once per block, and never also in 'set'
        self.axis_keys = []  # union, in order of first appearance
        self.axis_where = {}
        for _, factors in self.blocks:
            seen = {}
            for axes, _ in factors:
                for ax in axes:
                    if ax.key in seen:
                        errors.append(self.doc.at(ax.where, f"axis '{ax.key}' is given twice in one block "
                                                            f"(also line {self.doc.line(seen[ax.key])})"))
                    seen[ax.key] = ax.where
                    if ax.key in self.set:
                        where = "on the command line" if ax.key in self.cli_set else \
                            f"(line {self.doc.line(('set', ax.key))})"
                        errors.append(self.doc.at(ax.where, f"axis '{ax.key}' is also fixed in 'set' {where}"))
                    if ax.key not in self.axis_where:
                        self.axis_keys.append(ax.key)
                        self.axis_where[ax.key] = ax.where
        if self.base is None and not errors:
            for bi, (bwhere, factors) in enumerate(self.blocks):
                if not any(ax.key == "base" for axes, _ in factors for ax in axes):
                    errors.append(self.doc.at(bwhere or (), "no base experiment: expected 'base: FILE' "
                                                            "(or a 'base' axis)"))
                    break

        self.metrics = self._metrics(v, errors)
        self.color_by = "method"
        if "plots" in v:
            p = v["plots"]
            if not isinstance(p, dict):
                errors.append(self.doc.at(("plots",), "key 'plots': expected a mapping (color_by)"))
            else:
                for key in p:
                    if key not in PLOT_KEYS:
                        errors.append(self.doc.at(("plots", key), f"unknown key 'plots.{key}' (allowed in "
                                                                  f"'plots': {', '.join(PLOT_KEYS)})"))
                if "color_by" in p:
                    c = p["color_by"]
                    if c != "method" and c not in self.axis_keys:
                        errors.append(self.doc.at(("plots", "color_by"),
                                                  f"key 'plots.color_by': expected 'method' or an axis key "
                                                  f"({', '.join(self.axis_keys) or 'none'}), got '{c}'"))
                    else:
                        self.color_by = c
        if errors:
            raise SpecError(errors)
        self.points = self._expand()

    # -- field helpers ---------------------------------------------------------------------------

    def _string(self, v, where, errors, default):
        if where[-1] not in v:
            return default
        s = v[where[-1]]
        if not isinstance(s, str) or not s:
            errors.append(self.doc.at(where, f"key '{where[-1]}': expected a non-empty string, got {s!r}"))
            return default
        return s

    def _int(self, v, where, errors, default, lo, hi):
        if where[-1] not in v:
            return default
        x = v[where[-1]]
        if isinstance(x, bool) or not isinstance(x, int) or not lo <= x <= hi:
            errors.append(self.doc.at(where, f"key '{'.'.join(map(str, where))}': expected an integer in "
                                             f"[{lo}, {hi}], got {x!r}"))
            return default
        return x

    def _number(self, v, where, errors, default, lo, hi):
        if where[-1] not in v:
            return default
        x = v[where[-1]]
        if isinstance(x, bool) or not isinstance(x, (int, float)) or not lo <= x <= hi:
            errors.append(self.doc.at(where, f"key '{'.'.join(map(str, where))}': expected a number in "
                                             f"[{lo:g}, {hi:g}], got {x!r}"))
            return default
        return x

    def resolve_path(self, p):
        return p if os.path.isabs(p) else os.path.normpath(os.path.join(self.dir, p))

    def _check_file(self, p, where, errors, what):
        full = self.resolve_path(p)
        if not os.path.isfile(full):
            errors.append(self.doc.at(where, f"{what} '{p}' not found ({full})"))
            return None
        return full

    def _check_key(self, key, where, errors, allow_base):
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

    def _check_value(self, value, where, errors, key):
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

    def _axis_list(self, block, where, errors, kind):
        """[Axis] from a mapping key -> non-empty list."""
        axes = []
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

    def _block(self, b, where, errors):
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

    def _random(self, r, where, errors):
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
            axes.append(Axis(key, list(distinct.values()), kw, None, "random"))
        return axes, assignments

    def _metrics(self, v, errors):
        out = []  # (column, report path)
        names = set()
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
                errors.append(self.doc.at(where, f"metric {path!r}: expected a report.json key like "
                                                 f"metrics.id.accuracy"))
                continue
            if path not in REPORT_KEYS and not any(path.startswith(p) and len(path) > len(p)
                                                   for p in REPORT_PREFIXES):
                near = sorted(k for k in REPORT_KEYS if k.split(".")[0] == path.split(".")[0])
                hint = f" (known under '{path.split('.')[0]}': {', '.join(near)})" if near else ""
                errors.append(self.doc.at(where, f"unknown report key '{path}'{hint}"))
                continue
            if name in names:
                errors.append(self.doc.at(where, f"metric '{name}' is listed twice"))
                continue
            names.add(name)
            out.append((name, path))
        for p in PLOT_METRICS:
            if p not in {path for _, path in out}:
                out.append((p, p))
        return out

    # -- points ------------------------------------------------------------------------------------

    def _expand(self):
        points, seen = [], {}
        self.duplicates = 0
        for _, factors in self.blocks:
            assignments = [{}]
            for _, options in factors:
                assignments = [dict(a, **o) for a in assignments for o in options]
            for a in assignments:
                values = {k: a[k][0] for k in self.axis_keys if k in a}
                origins = {k: a[k][1] for k in self.axis_keys if k in a}
                p = Point(len(points), values, origins)
                self._resolve(p)
                if p.hash in seen:
                    self.duplicates += 1
                    continue
                seen[p.hash] = p
                points.append(p)
        for i, p in enumerate(points):
            p.index = i
        return points

    def _resolve(self, p):
        if "base" in p.values:
            p.base = self.resolve_path(p.values["base"])
            p.base_label = p.values["base"]
        else:
            p.base, p.base_label = self.base, self.base_label
        over = dict(self.set)
        over.update({k: v for k, v in p.values.items() if k != "base"})
        p.overrides = sorted(over.items())
        p.hash, p.model_path = point_hash(p.base, p.overrides, self.resolve_path)

    def line_of(self, point, key):
        """The spec line to blame for `key` of a point."""
        if key in point.origins:
            return self.doc.line(point.origins[key])
        if key in self.set:
            return self.doc.line(("set", key))
        if "base" in point.origins:
            return self.doc.line(point.origins["base"])
        return self.doc.line(("base",))


# ----------------------------------------------------------------------------------------------
# Hashing: the resolved base config (includes inlined, the model by content) + the overrides


def _yaml_content(path):
    """An included config file by its parsed content: comments and layout do not count."""
    try:
        return load_yaml_file(path)
    except yaml.YAMLError:
        return {"file_sha256": file_digest(path)}


def _base_config(path, _cache={}):
    st = os.stat(path)
    key = (os.path.realpath(path), st.st_mtime_ns, st.st_size)
    if key in _cache:
        return _cache[key]
    cfg = load_yaml_file(path) or {}
    d = os.path.dirname(os.path.abspath(path))
    hw = cfg.get("hardware")
    if isinstance(hw, dict):
        for k in INCLUDE_KEYS:
            if isinstance(hw.get(k), str):
                f = os.path.join(d, hw[k])
                hw[k] = {"file": _yaml_content(f)} if os.path.isfile(f) else {"missing": hw[k]}
    model_path = None
    m = cfg.get("model")
    if isinstance(m, dict) and isinstance(m.get("path"), str):
        model_path = os.path.normpath(os.path.join(d, m["path"]))
    for k in ("output", "log"):  # where and how verbosely it reports does not change a result
        cfg.pop(k, None)
    _cache[key] = (cfg, model_path)
    return _cache[key]


def point_hash(base, overrides, resolve_path):
    """sha256 of the resolved config of a point: the base experiment and its included files by
    parsed content (comments do not count), the overrides, and the model file by its bytes. A
    retrained model or a changed device parameter gives new hashes; moving the tree does not."""
    cfg, model_path = _base_config(base)
    over = []
    for key, value in overrides:
        s = set_string(value)
        if key == "model.path" and isinstance(value, str):
            model_path = resolve_path(value)
            s = "(model, by content below)"
        elif key.startswith("hardware.") and key.split(".", 1)[1] in INCLUDE_KEYS and isinstance(value, str):
            f = resolve_path(value)
            s = {"file": _yaml_content(f)} if os.path.isfile(f) else {"missing": value}
        over.append([key, s])
    model = None
    if model_path is not None:
        model = file_digest(model_path) if os.path.isfile(model_path) else {"missing": model_path}
    blob = json.dumps({"format": SPEC_FORMAT, "base": cfg, "overrides": over, "model_sha256": model},
                      sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(blob.encode()).hexdigest(), model_path


# ----------------------------------------------------------------------------------------------
# Checking points against the simulator


def _sim_validate(exe, base, set_args):
    env = dict(os.environ, SYSTEMC_DISABLE_COPYRIGHT_MESSAGE="1")
    try:
        p = subprocess.run([exe, "validate", base, *set_args], capture_output=True, text=True, env=env,
                           timeout=120)
    except OSError as e:
        return 127, f"cannot run {exe}: {e.strerror}"
    except subprocess.TimeoutExpired:
        return 124, "bayescim validate timed out"
    msg = (p.stderr.strip() or p.stdout.strip()).splitlines()
    msg = [l for l in msg if "error" in l] or msg or [f"exit code {p.returncode}"]
    return p.returncode, msg[-1].replace("bayescim: error: ", "")


def check_with_simulator(spec, exe, max_points=2000, threads=None):
    """Runs `bayescim validate` on each distinct axis value (base + set + that value), then on every
    point (up to max_points), and checks that each point's model file exists. Raises SpecError
    with the spec line of the offending key."""
    errors = []
    seen_err = set()

    def blame(point, msg):
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
    singles = {}
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
    bases = {}
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
