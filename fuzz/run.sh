#!/usr/bin/env bash
# Runs every libFuzzer harness for a time budget: fuzz/run.sh [SECONDS per harness, default 60]
# [HARNESS ...] (config set onnx idx). Builds the `fuzz` preset (clang++, build-fuzz/) if needed,
# makes the seed corpora from the shipped files (fuzz/make_seeds.py), keeps what the fuzzer learns
# in build-fuzz/corpus/<harness>/, and writes crashes to build-fuzz/crashes/<harness>/. Exits
# non-zero if any harness found a crash (libFuzzer prints the input and the stack).
# Reproduce one input: build-fuzz/fuzz/fuzz_<harness> FILE.
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
cd "$here"
budget=${1:-60}
shift || true
harnesses=("$@")
[ ${#harnesses[@]} -eq 0 ] && harnesses=(config set onnx idx)
jobs=${FUZZ_JOBS:-2}

if [ ! -d build-fuzz ]; then cmake --preset fuzz >/dev/null; fi
cmake --build build-fuzz -j"$jobs" --target $(printf 'fuzz_%s ' "${harnesses[@]}") >/dev/null

seeds=build-fuzz/seeds
rm -rf "$seeds"
/usr/bin/python3 fuzz/make_seeds.py "$seeds"
scratch=$(mktemp -d /dev/shm/bayescim-fuzz.XXXXXX 2>/dev/null || mktemp -d)
trap 'rm -rf "$scratch"' EXIT

export SYSTEMC_DISABLE_COPYRIGHT_MESSAGE=1
# The harnesses never start SystemC, so LeakSanitizer runs with its defaults (stacks scanned:
# libFuzzer keeps its corpus in main's locals) and the SystemC suppressions only.
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1}
export LSAN_OPTIONS=${LSAN_OPTIONS:-suppressions=$here/tests/sanitizers/lsan.supp:print_suppressions=0}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
status=0
for h in "${harnesses[@]}"; do
  corpus=build-fuzz/corpus/$h crashes=build-fuzz/crashes/$h
  mkdir -p "$corpus" "$crashes"
  log=build-fuzz/fuzz_$h.log
  echo "fuzz_$h: ${budget} s (seeds: $(ls "$seeds/$h" | wc -l) files; log: $log)"
  dict=fuzz/$h.dict
  [ "$h" = set ] && dict=fuzz/config.dict
  set +e
  TMPDIR=$scratch build-fuzz/fuzz/fuzz_$h "$corpus" "$seeds/$h" -max_total_time="$budget" \
      $([ -f "$dict" ] && echo "-dict=$dict") \
      -max_len=8192 -timeout=20 -rss_limit_mb=4096 -print_final_stats=1 -artifact_prefix="$crashes/" \
      >"$log" 2>&1
  rc=$?
  set -e
  execs=$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$log" | grep -o '[0-9]*$' | tail -1 || echo 0)
  cov=$(grep -o 'cov: [0-9]*' "$log" | tail -1 || true)
  echo "fuzz_$h: exit $rc, $execs executions, $cov, corpus $(ls "$corpus" | wc -l) files"
  if [ $rc -ne 0 ]; then
    status=1
    grep -E "ERROR|SUMMARY|runtime error|Test unit written" "$log" | head -5
  fi
done
exit $status
