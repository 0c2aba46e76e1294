#!/usr/bin/env bash
# The test suite under AddressSanitizer + UndefinedBehaviorSanitizer (CMake preset `asan`,
# folder build-asan/): every ctest test, then the Python tests that drive the executable, with
# BAYESCIM_EXE pointing at the sanitized build. The sanitizer options and the SystemC-only
# suppressions are in tests/sanitizers/ (docs/reliability.md explains each).
#
#   scripts/test_asan.sh           ctest + the pytest subset (what CI runs)
#   scripts/test_asan.sh --all     ctest + every pytest file (about 4x the normal suite's time)
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
cd "$here"
all=0
for a in "$@"; do
  case "$a" in
    --all) all=1 ;;
    *) echo "test_asan.sh: unknown option '$a' (allowed: --all)" >&2; exit 2 ;;
  esac
done
san=$here/tests/sanitizers
ASAN_OPTIONS=$(grep -v '^\s*#' "$san/asan.options" | grep -v '^\s*$' | paste -sd: -)
export ASAN_OPTIONS
LSAN_OPTIONS=$(grep -v '^\s*#' "$san/lsan.options" | grep -v '^\s*$' | paste -sd: -):suppressions=$san/lsan.supp
export LSAN_OPTIONS
export UBSAN_OPTIONS="suppressions=$san/ubsan.supp:print_stacktrace=1:halt_on_error=1"
export SYSTEMC_DISABLE_COPYRIGHT_MESSAGE=1

cmake --preset asan >/dev/null
cmake --build --preset asan -j2
t0=$(date +%s)
ctest --test-dir build-asan --output-on-failure -j2
export BAYESCIM_EXE=$here/build-asan/bayescim
# The subset: the tests that run the executable on malformed input, on signals (runs), end to
# end, with waveforms, on the golden experiments and against the report schema. Left out (run
# them with --all): the sweeps (Python and Dask around the same executable; points are ~10x
# slower under ASan), training, PyTorch parity, bring-your-own models and the model zoo, which
# spend their time in PyTorch rather than in our code.
subset=(tests/python/test_error_catalogue.py tests/python/test_interrupt.py tests/python/test_e2e.py
        tests/python/test_vcd.py tests/python/test_golden.py tests/python/test_report_schema.py)
select=(-k "not sweep")
if ((all)); then subset=(tests/python); select=(); fi
/usr/bin/python3 -m pytest -q "${subset[@]}" "${select[@]}"
echo "[asan] sanitizer suite passed in $(( $(date +%s) - t0 )) s (build excluded)"
