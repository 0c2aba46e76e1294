#!/usr/bin/env bash
# Runs the whole test suite: installs and builds whatever is missing (without running the default
# experiment), then the C++ tests (ctest) and the Python and end-to-end tests (pytest).
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
cd "$here"
"$here/scripts/setup.sh" --no-run
export SYSTEMC_DISABLE_COPYRIGHT_MESSAGE=1
ctest --test-dir build --output-on-failure -j2
/usr/bin/python3 -m pytest -q tests/python
