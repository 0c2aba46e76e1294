"""Sweep specs: `Spec(path)` loads (loading.py), validates (validation.py) and expands (expansion.py)
a spec into points; simulator_check.py checks the points against the simulator's own validation.

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

from __future__ import annotations

import os
from typing import List, Optional, Sequence, Tuple

from .expansion import Point, expand, point_hash
from .loading import SpecError, YamlDoc, display, file_digest, is_scalar, load_yaml_file, read_spec_text, set_string
from .simulator_check import check_with_simulator
from .validation import (DEFAULT_METRICS, INCLUDE_KEYS, PATH_KEYS, PLOT_METRICS, REPORT_KEYS, SPEC_FORMAT, Axis, Block,
                         SpecChecker)

__all__ = ["Spec", "SpecError", "Point", "Axis", "check_with_simulator", "point_hash", "display", "set_string",
           "file_digest", "is_scalar", "load_yaml_file", "DEFAULT_METRICS", "INCLUDE_KEYS", "PATH_KEYS",
           "PLOT_METRICS", "REPORT_KEYS", "SPEC_FORMAT"]


class Spec:
    """A validated sweep spec and its points. Raises SpecError listing every problem found, each
    with its file, line and key."""

    def __init__(self, path: str, cli_set: Sequence[str] = ()) -> None:
        self.path = path
        self.dir = os.path.dirname(os.path.abspath(path))
        self.text = read_spec_text(path)
        self.doc = YamlDoc(path, self.text)
        v = self.doc.value
        if not isinstance(v, dict):
            raise SpecError([self.doc.at((), "a sweep spec must be a mapping")])
        check = SpecChecker(self.doc, self.dir)
        check.top_level(v)
        self.name: str = check.name(v, path) or ""
        self.description = check.string(v, "description", default="")
        self.base, self.base_label = check.base(v)
        self.output = check.string(v, "output", default=None)
        self.jobs = check.integer(v, "jobs", 1, 1, 1024)
        self.timeout_s = check.number(v, "timeout_s", None, 0.001, 1e9)
        self.set, self.cli_set = check.fixed_overrides(v, cli_set)
        self.blocks: List[Block] = check.blocks(v)
        self.axis_keys, self.axis_where = check.axis_keys(self.blocks, self.set, self.cli_set)
        check.has_base(self.base, self.blocks)
        self.metrics: List[Tuple[str, str]] = check.metrics(v)
        self.color_by = check.color_by(v, self.axis_keys)
        check.raise_if_any()
        self.points, self.duplicates = expand(self.blocks, self.axis_keys, self.set, self.base, self.base_label,
                                              self.resolve_path)

    def resolve_path(self, p: str) -> str:
        return p if os.path.isabs(p) else os.path.normpath(os.path.join(self.dir, p))

    def line_of(self, point: Point, key: Optional[str]) -> int:
        """The spec line to blame for `key` of a point."""
        if key in point.origins:
            return self.doc.line(point.origins[key])
        if key in self.set:
            return self.doc.line(("set", key))
        if "base" in point.origins:
            return self.doc.line(point.origins["base"])
        return self.doc.line(("base",))
