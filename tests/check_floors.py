#!/usr/bin/python3
"""Checks the floors of the C++ code (STYLE.md: sim -> hw -> models; each floor uses only the floors
below it) by reading every #include of models/, hw/ and sim/:

- models/ includes nothing from hw/ or sim/, and no SystemC/TLM header;
- hw/ includes nothing from sim/;
- hw/physics/ includes no SystemC/TLM header and no hw/ header outside hw/physics/.

An include is resolved as the compiler would: "x" against the including file's folder first, then
the repository root (the one include root the libraries export); <x> against the repository root.
What resolves to no file of ours is a system header, judged by name (systemc, tlm...).

    check_floors.py ROOT        exit 1 and list every violation (ctest floors.includes)
    check_floors.py --self-test plant one violation per rule in a scratch tree and check that
                                each is found (ctest floors.checker_finds_planted_violations)
"""

from __future__ import annotations

import os
import re
import sys
import tempfile
from typing import List, Optional, Tuple

INCLUDE = re.compile(r'^\s*#\s*include\s*([<"])([^>"]+)[>"]')
SOURCE_EXT = (".h", ".hpp", ".cpp", ".cc")
SYSTEMC = re.compile(r"^(systemc|systemc\.h|tlm|tlm\.h|sysc/.*|tlm_core/.*|tlm_utils/.*|tlm_h/.*)$")

# Known exceptions, each with its reason. A listed pair that no longer occurs is reported too, so the
# list cannot outlive the code it excuses.
ALLOWED: List[Tuple[str, str, str]] = [
    ("hw/physics/energy_table.cpp", "hw/params.h",
     "derive_action_table reads ArchParams/DeviceParams (plain C++, no SystemC); its header only "
     "forward-declares them. To go when the hw/ restructuring (issue 15) moves the parameters."),
]


def floor_of(rel: str) -> Optional[str]:
    """The floor of a repository path: 'models', 'physics', 'hw', 'sim', or None (tests, bench...)."""
    if rel.startswith("models/"):
        return "models"
    if rel.startswith("hw/physics/"):
        return "physics"
    if rel.startswith("hw/"):
        return "hw"
    if rel.startswith("sim/"):
        return "sim"
    return None


def resolve(root: str, including: str, kind: str, name: str) -> Optional[str]:
    """Repository-relative path of an include, or None for a header from outside the repository."""
    candidates = []
    if kind == '"':
        candidates.append(os.path.join(os.path.dirname(os.path.join(root, including)), name))
    candidates.append(os.path.join(root, name))
    for c in candidates:
        if os.path.isfile(c):
            return os.path.relpath(os.path.realpath(c), os.path.realpath(root)).replace(os.sep, "/")
    return None


def violation(src_floor: str, target: Optional[str], name: str) -> Optional[str]:
    """Why an include breaks the floors, or None if it is allowed."""
    tgt_floor = floor_of(target) if target else None
    systemc = target is None and bool(SYSTEMC.match(name))
    if src_floor == "models":
        if tgt_floor in ("hw", "physics", "sim"):
            return "models/ must not include hw/ or sim/"
        if systemc:
            return "models/ must not include SystemC/TLM"
    elif src_floor == "physics":
        if systemc:
            return "hw/physics/ must not include SystemC/TLM"
        if tgt_floor in ("hw", "sim"):
            return "hw/physics/ must include only hw/physics/ and models/ headers"
    elif src_floor == "hw":
        if tgt_floor == "sim":
            return "hw/ must not include sim/"
    return None


def check(root: str, allowed: List[Tuple[str, str, str]]) -> List[str]:
    """Every violation under root, as 'file:line: #include ...: reason' lines."""
    problems = []
    used = set()
    for top in ("models", "hw", "sim"):
        for dirpath, _, files in os.walk(os.path.join(root, top)):
            for f in sorted(files):
                if not f.endswith(SOURCE_EXT):
                    continue
                rel = os.path.relpath(os.path.join(dirpath, f), root).replace(os.sep, "/")
                src_floor = floor_of(rel)
                assert src_floor is not None
                with open(os.path.join(root, rel), encoding="utf-8", errors="replace") as fh:
                    for lineno, line in enumerate(fh, 1):
                        m = INCLUDE.match(line)
                        if not m:
                            continue
                        target = resolve(root, rel, m.group(1), m.group(2))
                        why = violation(src_floor, target, m.group(2))
                        if why is None:
                            continue
                        key = (rel, target or m.group(2))
                        if any(key == (a, b) for a, b, _ in allowed):
                            used.add(key)
                            continue
                        problems.append(f"{rel}:{lineno}: {line.strip()}: {why}")
    for a, b, _ in allowed:
        if (a, b) not in used:
            problems.append(f"tests/check_floors.py: allowed exception {a} -> {b} no longer occurs: remove it")
    return problems


def self_test() -> int:
    """Plants one violation per rule (and one of each allowed kind) and checks the verdicts."""
    cases = {  # file -> (content, expected to be reported)
        "models/a.h": ('#include "hw/tile.h"\n', True),
        "models/b.cpp": ('#include "sim/config.h"\n', True),
        "models/c.cpp": ("#include <systemc>\n", True),
        "models/d.cpp": ('#include "models/a.h"\n#include <vector>\n', False),
        "hw/physics/e.cpp": ("#include <tlm_utils/simple_target_socket.h>\n", True),
        "hw/physics/f.cpp": ('#include "hw/tile.h"\n', True),
        "hw/physics/g.cpp": ('#include "../tile.h"\n', True),  # relative: resolves to hw/tile.h
        "hw/physics/h.cpp": ('#include "hw/physics/e.h"\n#include "models/a.h"\n', False),
        "hw/i.cpp": ('#include "sim/config.h"\n', True),
        "hw/sub/j.cpp": ('#include "../../sim/config.h"\n', True),
        "hw/k.cpp": ('#include <systemc>\n#include "hw/physics/e.h"\n#include "models/a.h"\n', False),
        "sim/l.cpp": ('#include "hw/tile.h"\n#include "models/a.h"\n', False),
    }
    extra = ["hw/tile.h", "sim/config.h", "hw/physics/e.h"]
    failures = []
    with tempfile.TemporaryDirectory() as root:
        for rel in list(cases) + extra:
            os.makedirs(os.path.dirname(os.path.join(root, rel)), exist_ok=True)
            with open(os.path.join(root, rel), "w") as fh:
                fh.write(cases[rel][0] if rel in cases else "#pragma once\n")
        found = check(root, [])
        for rel, (_, bad) in cases.items():
            hit = any(p.startswith(rel + ":") for p in found)
            if hit != bad:
                failures.append(f"{rel}: expected {'a violation' if bad else 'none'}, checker said {hit}")
        stale = check(root, [("hw/k.cpp", "hw/params.h", "test")])
        if not any("no longer occurs" in p for p in stale):
            failures.append("a stale allowed exception was not reported")
    for f in failures:
        print(f"check_floors self-test: {f}", file=sys.stderr)
    if not failures:
        print(f"check_floors self-test: {len(cases)} planted cases judged right")
    return 1 if failures else 0


def main(argv: List[str]) -> int:
    if argv == ["--self-test"]:
        return self_test()
    if len(argv) != 1:
        print(__doc__, file=sys.stderr)
        return 2
    problems = check(argv[0], ALLOWED)
    for p in problems:
        print(p, file=sys.stderr)
    if problems:
        print(f"{len(problems)} include(s) break the floors (STYLE.md; tests/check_floors.py)", file=sys.stderr)
        return 1
    print("floors: models/, hw/, hw/physics/ and sim/ include only what their floor may")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
