#!/usr/bin/python3
"""Checks report.json files against their schema, docs/report-schema.json (JSON Schema 2020-12),
with Debian's python3-jsonschema.

    /usr/bin/python3 scripts/check_report.py out/mnist_mlp_scale/report.json [more reports ...]

Prints one line per report ("ok", or the number of violations followed by one line each, with
the JSON path of the offending value) and exits 0 when every report conforms, 1 when one does
not, 2 on a usage error. Beyond the schema, a report must be strict JSON: NaN and Infinity are
rejected, in a file and in an already-parsed report alike. The tests use report_errors() through
tests/harness.py (check_report).
"""

import json
import math
import os
import sys
from typing import Any, Dict, Iterator, List, Optional, Sequence, Union

import jsonschema

SCHEMA_PATH = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "docs", "report-schema.json")

_validator: Optional[Any] = None


def validator() -> Any:
    """The schema's validator; the schema itself is checked against its meta-schema first."""
    global _validator
    if _validator is None:
        with open(SCHEMA_PATH) as f:
            schema = json.load(f)
        jsonschema.Draft202012Validator.check_schema(schema)  # raises SchemaError
        _validator = jsonschema.Draft202012Validator(schema)
    return _validator


def _where(path: Sequence[Union[str, int]]) -> str:
    out = "$"
    for part in path:
        out += f"[{part}]" if isinstance(part, int) else f".{part}"
    return out


def _non_finite(x: Any, path: str = "$") -> Iterator[str]:
    """JSON has no NaN or infinity; jsonschema counts float('nan') as a number, so look for them here."""
    if isinstance(x, float) and not math.isfinite(x):
        yield f"{path}: {x!r} is not a JSON number"
    elif isinstance(x, dict):
        for k, v in x.items():
            yield from _non_finite(v, f"{path}.{k}")
    elif isinstance(x, list):
        for i, v in enumerate(x):
            yield from _non_finite(v, f"{path}[{i}]")


def load_report(path: Union[str, "os.PathLike[str]"]) -> Dict[str, Any]:
    """Parses a report file as strict JSON (NaN, Infinity and -Infinity are errors)."""

    def no_constant(name: str) -> Any:
        raise ValueError(f"{path}: non-JSON constant {name}")

    with open(path) as f:
        return json.load(f, parse_constant=no_constant)


def report_errors(report: Union[str, "os.PathLike[str]", Dict[str, Any]]) -> List[str]:
    """The violations of one report (a path or a parsed report), each '<JSON path>: <what>', sorted."""
    if isinstance(report, (str, os.PathLike)):
        report = load_report(report)
    errors = list(_non_finite(report))
    for e in validator().iter_errors(report):
        errors.append(f"{_where(e.absolute_path)}: {e.message}")
    return sorted(errors)


def main(argv: List[str]) -> int:
    if not argv or argv[0] in ("-h", "--help"):
        print(__doc__.strip().split("\n\n")[1], file=sys.stderr if not argv else sys.stdout)
        return 2 if not argv else 0
    bad = 0
    for path in argv:
        try:
            errors = report_errors(path)
        except (OSError, ValueError) as e:  # unreadable, not JSON, NaN
            errors = [str(e)]
        print(f"{path}: {'ok' if not errors else f'{len(errors)} violation(s)'}")
        for line in errors:
            print(f"  {line}")
        bad += bool(errors)
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
