"""Sweep specs, step 3 of 3: the points of a validated spec (the product of each block's factors, the
union of the blocks) and the hash that names each point's folder."""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass, field
from typing import Any, Callable, Dict, List, Optional, Sequence, Tuple

import yaml

from .loading import Where, file_digest, load_yaml_file, display, set_string
from .validation import INCLUDE_KEYS, PATH_KEYS, SPEC_FORMAT, Assignment, Block

try:
    from typing import Protocol
except ImportError:  # pragma: no cover
    Protocol = object  # type: ignore[assignment]


class PathResolver(Protocol):
    def resolve_path(self, p: str) -> str: ...


@dataclass
class Point:
    """One run of the sweep: its axis values, where they come from in the spec, and, once
    resolved, its base experiment, sorted overrides, hash and model file."""
    index: int
    values: Dict[str, Any]  # axis key -> value, in axis order
    origins: Dict[str, Where]  # axis key -> path tuple in the spec (for error lines)
    base: Optional[str] = None  # absolute path of the base experiment
    base_label: Optional[str] = None
    overrides: List[Tuple[str, Any]] = field(default_factory=list)  # sorted set + axes (not base)
    hash: str = ""
    model_path: Optional[str] = None

    @property
    def short(self) -> str:
        return self.hash[:16]

    def set_args(self, spec: PathResolver) -> List[str]:
        """The --set arguments: keys sorted, so an include key comes before the keys inside it."""
        args = []
        for key, value in self.overrides:
            if key in PATH_KEYS and isinstance(value, str):
                value = spec.resolve_path(value)
            args += ["--set", f"{key}={set_string(value)}"]
        return args

    def label(self) -> str:
        return ", ".join(f"{k}={display(v)}" for k, v in self.values.items()) or "(base)"


def expand(blocks: Sequence[Block], axis_keys: Sequence[str], fixed: Dict[str, Any], base: Optional[str],
           base_label: Optional[str], resolve_path: Callable[[str], str]) -> Tuple[List[Point], int]:
    """The points of every block, in order, and the number of duplicates merged (a point given by
    two blocks runs once)."""
    points: List[Point] = []
    seen: Dict[str, Point] = {}
    duplicates = 0
    for _, factors in blocks:
        assignments: List[Assignment] = [{}]
        for _, options in factors:
            assignments = [dict(a, **o) for a in assignments for o in options]
        for a in assignments:
            values = {k: a[k][0] for k in axis_keys if k in a}
            origins = {k: a[k][1] for k in axis_keys if k in a}
            p = Point(len(points), values, origins)
            resolve(p, fixed, base, base_label, resolve_path)
            if p.hash in seen:
                duplicates += 1
                continue
            seen[p.hash] = p
            points.append(p)
    for i, p in enumerate(points):
        p.index = i
    return points, duplicates


def resolve(p: Point, fixed: Dict[str, Any], base: Optional[str], base_label: Optional[str],
            resolve_path: Callable[[str], str]) -> None:
    """Fills in a point's base experiment, overrides, hash and model file."""
    if "base" in p.values:
        p.base = resolve_path(p.values["base"])
        p.base_label = p.values["base"]
    else:
        p.base, p.base_label = base, base_label
    over = dict(fixed)
    over.update({k: v for k, v in p.values.items() if k != "base"})
    p.overrides = sorted(over.items())
    assert p.base is not None
    p.hash, p.model_path = point_hash(p.base, p.overrides, resolve_path)


# ----------------------------------------------------------------------------------------------
# Hashing: the resolved base config (includes inlined, the model by content) + the overrides


def _yaml_content(path: str) -> Any:
    """An included config file by its parsed content: comments and layout do not count."""
    try:
        return load_yaml_file(path)
    except yaml.YAMLError:
        return {"file_sha256": file_digest(path)}


_BASE_CONFIGS: Dict[Tuple[str, int, int], Tuple[Dict[str, Any], Optional[str]]] = {}


def _base_config(path: str) -> Tuple[Dict[str, Any], Optional[str]]:
    """The base experiment with its included files inlined by content, and its model file; cached
    by the file's identity (real path, modification time, size)."""
    st = os.stat(path)
    key = (os.path.realpath(path), st.st_mtime_ns, st.st_size)
    if key in _BASE_CONFIGS:
        return _BASE_CONFIGS[key]
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
    _BASE_CONFIGS[key] = (cfg, model_path)
    return _BASE_CONFIGS[key]


def point_hash(base: str, overrides: Sequence[Tuple[str, Any]], resolve_path: Callable[[str], str]
               ) -> Tuple[str, Optional[str]]:
    """sha256 of the resolved config of a point: the base experiment and its included files by
    parsed content (comments do not count), the overrides, and the model file by its bytes. A
    retrained model or a changed device parameter gives new hashes; moving the tree does not."""
    cfg, model_path = _base_config(base)
    over = []
    for key, value in overrides:
        s: Any = set_string(value)
        if key == "model.path" and isinstance(value, str):
            model_path = resolve_path(value)
            s = "(model, by content below)"
        elif key.startswith("hardware.") and key.split(".", 1)[1] in INCLUDE_KEYS and isinstance(value, str):
            f = resolve_path(value)
            s = {"file": _yaml_content(f)} if os.path.isfile(f) else {"missing": value}
        over.append([key, s])
    model: Any = None
    if model_path is not None:
        model = file_digest(model_path) if os.path.isfile(model_path) else {"missing": model_path}
    blob = json.dumps({"format": SPEC_FORMAT, "base": cfg, "overrides": over, "model_sha256": model},
                      sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(blob.encode()).hexdigest(), model_path
