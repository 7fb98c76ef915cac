#!/usr/bin/env bash
# The whole test suite: installs what is missing, then builds and runs every
# ctest test twice, in a normal build (build/) and in an ASan+UBSan build
# (build-asan/). Exit status is non-zero if anything fails.
#
# Usage: scripts/test.sh [--quick] [ctest args...]
#   --quick   skip the ASan+UBSan pass
# Environment: CI=true turns warnings into errors.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
quick=0
if [ "${1:-}" = "--quick" ]; then quick=1; shift; fi

scripts/setup.sh
# Before any test opens connections: pcscd's vpcd ports out of the ephemeral
# range (a TIME_WAIT socket on them would stop vpcd from binding).
sh tests/support/reserve-vpcd-ports.sh
# The wolfSSL IoT-SAFE build (interop test) is shared by both passes.
export ST_DEPS_DIR=${ST_DEPS_DIR:-$root/build-deps}

run_pass() {
  local dir=$1; shift
  echo "== $dir: build" >&2
  scripts/build.sh "$dir" "$@"
  echo "== $dir: ctest" >&2
  (cd "$dir" && ctest --output-on-failure --timeout 1200 "${CTEST_ARGS[@]}")
}

CTEST_ARGS=("$@")
status=0
run_pass build || status=1
if [ $quick -eq 0 ]; then
  ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1 \
    run_pass build-asan -DST_SANITIZE=ON -DCMAKE_BUILD_TYPE=Debug || status=1
fi
[ $status -eq 0 ] && echo "test.sh: all passes succeeded" >&2 || echo "test.sh: FAILED" >&2
exit $status
