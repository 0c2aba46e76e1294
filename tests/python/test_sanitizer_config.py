"""The sanitizer suppressions stay narrow: every LeakSanitizer pattern is one whole function
signature of libsystemc, anchored at both ends (a bare pattern matches any substring of any frame's
function, file or library name, so it could hide a leak of ours; tests/sanitizers/lsan.supp)."""

import os
import re

from tests.harness import REPO_ROOT, run

SUPP = os.path.join(REPO_ROOT, "tests", "sanitizers", "lsan.supp")
LIBSYSTEMC = "/usr/lib/x86_64-linux-gnu/libsystemc-2.3.4.so"


def patterns():
    with open(SUPP) as f:
        return [line.strip() for line in f if line.strip() and not line.lstrip().startswith("#")]


def test_every_leak_suppression_is_an_anchored_whole_signature():
    pats = patterns()
    assert pats, "no suppressions parsed"
    for p in pats:
        assert p.startswith("leak:^") and p.endswith("$"), p
        name = p[len("leak:^"):-1]
        # '*' is LeakSanitizer's wildcard: allowed only inside a parameter list, where it stands for
        # itself in a function-pointer type (it can then match nothing but that one signature's shape)
        assert re.fullmatch(r"sc_core::[A-Za-z_:~]+\([^*]*(\*[^*]*)*\)", name), p
        assert "*" not in name.split("(", 1)[0], p


def test_every_suppressed_function_is_a_systemc_function():
    """Each signature is exported by Debian's libsystemc (or is the inline context accessor)."""
    nm = run(["nm", "-DC", "--defined-only", LIBSYSTEMC], timeout=120)
    assert nm.returncode == 0, nm.stderr
    exported = {line.split(" ", 2)[2] for line in nm.stdout.splitlines() if line.count(" ") >= 2}
    for p in patterns():
        name = p[len("leak:^"):-1]
        if name == "sc_core::sc_get_curr_simcontext()":  # inline in sc_simcontext.h
            header = open("/usr/include/sysc/kernel/sc_simcontext.h").read()
            assert "sc_get_curr_simcontext()" in header
            continue
        assert name in exported, name
