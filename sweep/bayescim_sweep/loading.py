"""Sweep specs, step 1 of 3: reading the file, YAML with the line of every key and list item, and
how values are written (on a --set argument, in results.csv). Validation is in validation.py,
expansion into points in expansion.py; spec.py ties them together."""

from __future__ import annotations

import functools
import hashlib
import math
import os
from typing import Any, Dict, Iterable, List, Tuple

import yaml

Where = Tuple[Any, ...]  # path of a node in the spec document: keys and list indices


class SpecError(Exception):
    """One or more spec errors, each 'FILE:LINE: message'."""

    def __init__(self, messages: Iterable[str]) -> None:
        self.messages = list(messages)
        super().__init__("\n".join(self.messages))


def read_spec_text(path: str) -> str:
    """The spec file as text; a SpecError for a file that is unreadable, binary or empty."""
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
    return text


class YamlDoc:
    """A parsed YAML document: the Python value and the line of every mapping key and list item."""

    def __init__(self, path: str, text: str) -> None:
        self.path = path
        self.text = text
        self.lines: Dict[Where, int] = {}  # path tuple -> 1-based line
        self.errors: List[str] = []
        self._ctor = yaml.SafeLoader("")
        try:
            node = yaml.compose(text, Loader=yaml.SafeLoader)
        except yaml.YAMLError as e:
            mark = getattr(e, "problem_mark", None) or getattr(e, "context_mark", None)
            line = mark.line + 1 if mark else 1
            problem = getattr(e, "problem", None) or str(e)
            raise SpecError([f"{path}:{line}: invalid YAML: {problem}"])
        self.value: Any = {} if node is None else self._build(node, ())
        self.lines.setdefault((), 1)

    def _build(self, node: yaml.Node, where: Where) -> Any:
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

    def line(self, where: Where) -> int:
        where = tuple(where)
        while where and where not in self.lines:
            where = where[:-1]
        return self.lines.get(where, 1)

    def at(self, where: Where, message: str) -> str:
        return f"{self.path}:{self.line(where)}: {message}"


def load_yaml_file(path: str) -> Any:
    with open(path) as f:
        return yaml.safe_load(f)


# ----------------------------------------------------------------------------------------------
# Values


def is_scalar(v: Any) -> bool:
    return v is None or isinstance(v, (str, bool, int, float))


def set_string(v: Any) -> str:
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


def display(v: Any) -> str:
    """A value as shown in results.csv and the plots."""
    if isinstance(v, (list, tuple)):
        return ",".join(display(x) for x in v)
    if v is None:
        return "null"
    if isinstance(v, bool):
        return "true" if v else "false"
    return str(v)


def round_sig(x: float, digits: int) -> float:
    if x == 0 or not math.isfinite(x):
        return x
    return float(f"{x:.{digits}g}")


@functools.lru_cache(maxsize=None)
def _digest(realpath: str, size: int, mtime_ns: int) -> str:
    """sha256 of a file, cached by its identity (path, size, modification time)."""
    h = hashlib.sha256()
    with open(realpath, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def file_digest(path: str) -> str:
    st = os.stat(path)
    return _digest(os.path.realpath(path), st.st_size, st.st_mtime_ns)
