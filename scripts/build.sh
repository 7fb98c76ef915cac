#!/usr/bin/env bash
# Configures and builds one build tree.
# Usage: scripts/build.sh [BUILD_DIR] [extra cmake args...]
#   BUILD_DIR defaults to build; ST_WERROR=ON is set when CI=true.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
dir=${1:-build}
shift || true
args=()
[ "${CI:-}" = "true" ] && args+=(-DST_WERROR=ON)
cmake -S "$root" -B "$root/$dir" "${args[@]}" "$@" >/dev/null
cmake --build "$root/$dir" -j"$(nproc)"
