#!/usr/bin/env bash
# Runs the whole test suite: installs and builds whatever is missing (without running the default
# experiment), then the C++ tests (ctest) and the Python and end-to-end tests (pytest).
#
#   scripts/test.sh        the suite (about 4 min on 2 cores, setup and build included)
#   scripts/test.sh --ci   also the whole suite again under ASan + UBSan (scripts/test_asan.sh:
#                          every ctest test and every Python test, through the sanitized
#                          executable) and 60 s of each fuzz harness (fuzz/run.sh); what
#                          .ci/run calls. docs/reliability.md.
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
cd "$here"
ci=0
for a in "$@"; do
  case "$a" in
    --ci) ci=1 ;;
    *) echo "test.sh: unknown option '$a' (allowed: --ci)" >&2; exit 2 ;;
  esac
done
t0=$(date +%s)
phase() { echo "[test.sh] $1 done at +$(( $(date +%s) - t0 )) s"; }
"$here/scripts/setup.sh" --no-run
phase "setup and build"
export SYSTEMC_DISABLE_COPYRIGHT_MESSAGE=1
ctest --test-dir build --output-on-failure -j2 --no-tests=error --timeout 300
phase "ctest"
/usr/bin/python3 -m pytest -q tests/python
phase "pytest"
if ((ci)); then
  "$here/scripts/test_asan.sh"
  phase "sanitizer suite"
  "$here/fuzz/run.sh" "${BAYESCIM_FUZZ_SECONDS:-60}"
  phase "fuzzing"
fi
