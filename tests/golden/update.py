#!/usr/bin/python3
"""Regenerates tests/golden/<experiment>.json: the report of every shipped experiment on a fixed
image subset. Run it only for an intended change of results, and review the diff: the golden test
exists to catch the unintended ones. The numbers it pins are checked independently elsewhere
(parity with PyTorch and the reference executor, hand-computed energies and latencies).

    /usr/bin/python3 tests/golden/update.py [experiment ...]
"""

import glob
import json
import os
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
ARGS = ["--limit", "25", "--set", "mc.samples=4", "--quiet"]
# Keys that depend on the machine or the checkout location, not on the config and seed.
DROP = [("wall_s",), ("timing",), ("config",), ("model", "path")]


def golden_report(config):
    with tempfile.TemporaryDirectory() as tmp:
        subprocess.run([os.path.join(REPO, "build", "bayescim"), "run", config, *ARGS, "--out", tmp], check=True,
                       env=dict(os.environ, SYSTEMC_DISABLE_COPYRIGHT_MESSAGE="1"), capture_output=True)
        with open(os.path.join(tmp, "report.json")) as f:
            rep = json.load(f)
    for path in DROP:
        d = rep
        for k in path[:-1]:
            d = d[k]
        d.pop(path[-1], None)
    return rep


def main():
    names = sys.argv[1:] or [os.path.basename(c)[:-5] for c in
                             sorted(glob.glob(os.path.join(REPO, "configs", "experiments", "*.yaml")))]
    for name in names:
        rep = golden_report(os.path.join(REPO, "configs", "experiments", name + ".yaml"))
        with open(os.path.join(HERE, name + ".json"), "w") as f:
            json.dump(rep, f, indent=1, sort_keys=True)
            f.write("\n")
        print("wrote", name)


if __name__ == "__main__":
    main()
