#!/usr/bin/env bash
# The whole test suite under AddressSanitizer + UndefinedBehaviorSanitizer (CMake preset `asan`,
# folder build-asan/, GCC at -O1 with assertions on): every ctest test, then every Python test,
# with BAYESCIM_EXE pointing at the sanitized executable so that each run, sweep point and kill
# test goes through it. The sanitizer options and the SystemC-only suppressions are in
# tests/sanitizers/ (docs/reliability.md explains each).
#
#   scripts/test_asan.sh           ctest + all of tests/python (what CI runs)
#   scripts/test_asan.sh --all     the same (kept for older instructions)
#   scripts/test_asan.sh -- ARGS   extra pytest arguments, e.g. -- -k catalogue
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
cd "$here"
extra=()
while (($#)); do
  case "$1" in
    --all) shift ;;
    --) shift; extra=("$@"); break ;;
    *) echo "test_asan.sh: unknown option '$1' (allowed: --all, -- PYTEST-ARGS)" >&2; exit 2 ;;
  esac
done
san=$here/tests/sanitizers
ASAN_OPTIONS=$(grep -v '^\s*#' "$san/asan.options" | grep -v '^\s*$' | paste -sd: -)
export ASAN_OPTIONS
LSAN_OPTIONS=$(grep -v '^\s*#' "$san/lsan.options" | grep -v '^\s*$' | paste -sd: -):suppressions=$san/lsan.supp
export LSAN_OPTIONS
export UBSAN_OPTIONS="suppressions=$san/ubsan.supp:print_stacktrace=1:halt_on_error=1"
export SYSTEMC_DISABLE_COPYRIGHT_MESSAGE=1

t0=$(date +%s)
stage() { echo "[asan] $1 in $(( $(date +%s) - $2 )) s"; }
cmake --preset asan >/dev/null
cmake --build --preset asan -j2
stage "build" "$t0"
t1=$(date +%s)
ctest --test-dir build-asan --output-on-failure -j2 --no-tests=error --timeout 600
stage "ctest" "$t1"
export BAYESCIM_EXE=$here/build-asan/bayescim
t2=$(date +%s)
/usr/bin/python3 -m pytest -q tests/python "${extra[@]}"
stage "pytest" "$t2"
stage "sanitizer suite passed" "$t0"
