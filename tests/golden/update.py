#!/usr/bin/python3
"""Regenerates tests/golden/<experiment>.json: the report of every shipped experiment on a fixed
image subset. Run it only for an intended change of results, and review the diff: the golden test
exists to catch the unintended ones. The numbers it pins are checked independently elsewhere
(parity with PyTorch and the reference executor, hand-computed energies and latencies).

    /usr/bin/python3 -m tests.golden.update [experiment ...]     (from the repository root)
"""

import glob
import json
import os
import subprocess
import sys
import tempfile

from tests.harness import read_report, run_sim, without_machine_keys

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
ARGS = ["--limit", "25", "--set", "mc.samples=4", "--quiet"]


def golden_report(config):
    """The report of config on the golden subset, without the keys that depend on the machine
    (tests.harness.MACHINE_KEYS). Raises CalledProcessError if the simulator fails."""
    with tempfile.TemporaryDirectory() as tmp:
        p = run_sim("run", config, *ARGS, "--out", tmp, check=False)
        if p.returncode != 0:
            raise subprocess.CalledProcessError(p.returncode, p.args, p.stdout, p.stderr)
        rep = read_report(tmp)
    return without_machine_keys(rep)


# Keys every golden report has (the report contract, docs/report-schema.md).
REQUIRED = ("metrics", "energy", "latency", "hardware", "mc_samples", "seed")


class GoldenError(Exception):
    """A golden file that cannot be used; the message names the file and what was expected."""


def _no_constant(name):
    raise ValueError(f"{name} is not a JSON number (expected finite numbers only)")


def load_golden(path):
    """Reads a golden report: a JSON object of finite numbers with the report's top-level keys."""
    if not os.path.exists(path):
        raise GoldenError(f"{path}: file does not exist (regenerate it with tests/golden/update.py)")
    if os.path.isdir(path):
        raise GoldenError(f"{path}: is a directory, expected a golden report (.json)")
    with open(path, "rb") as f:
        raw = f.read()
    if not raw.strip():
        raise GoldenError(f"{path}: file is empty, expected a JSON report")
    try:
        rep = json.loads(raw.decode("utf-8"), parse_constant=_no_constant)
    except UnicodeDecodeError as e:
        raise GoldenError(f"{path}: not valid JSON (not UTF-8 text at byte {e.start})") from None
    except json.JSONDecodeError as e:
        raise GoldenError(f"{path}:{e.lineno}: not valid JSON: {e.msg} at column {e.colno}") from None
    except ValueError as e:
        raise GoldenError(f"{path}: not valid JSON: {e}") from None
    if not isinstance(rep, dict):
        raise GoldenError(f"{path}: expected a JSON object (a report), got a {type(rep).__name__}")
    missing = [k for k in REQUIRED if k not in rep]
    if missing:
        raise GoldenError(f"{path}: required key(s) missing: {', '.join(missing)} (expected a bayescim report)")
    return rep


def write_atomic(path, text):
    tmp = f"{path}.tmp.{os.getpid()}"
    with open(tmp, "w") as f:
        f.write(text)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


def main():
    if sys.argv[1:2] == ["--check"]:  # check golden files without running anything
        try:
            for path in sys.argv[2:]:
                load_golden(path)
        except GoldenError as e:
            sys.stderr.write(f"update.py: error: {e}\n")
            sys.exit(1)
        return
    names = sys.argv[1:] or [os.path.basename(c)[:-5] for c in
                             sorted(glob.glob(os.path.join(REPO, "configs", "experiments", "*.yaml")))]
    for name in names:
        config = os.path.join(REPO, "configs", "experiments", name + ".yaml")
        if not os.path.isfile(config):
            sys.stderr.write(f"update.py: error: {config}: no such experiment (expected a name from "
                             f"configs/experiments/)\n")
            sys.exit(1)
        try:
            rep = golden_report(config)
        except subprocess.CalledProcessError as e:
            sys.stderr.write(f"update.py: error: {config}: bayescim failed (exit {e.returncode}): "
                             f"{e.stderr.strip()}\n")
            sys.exit(1)
        write_atomic(os.path.join(HERE, name + ".json"), json.dumps(rep, indent=1, sort_keys=True) + "\n")
        print("wrote", name)


if __name__ == "__main__":
    main()
