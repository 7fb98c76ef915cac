#!/bin/sh
# Code size of libsimtrust's core (lib/core: APDU layer, TLV, IoT SAFE
# client, errors), the part that runs on a microcontroller. Builds every
# lib/core/*.c with -Os and prints text/data/bss per object and the total:
#   1. gcc -Os for the host;
#   2. clang -Os --target=thumbv7em-none-eabi -mcpu=cortex-m4 -mthumb
#      -ffreestanding (Cortex-M4), when clang can target ARM. The core only
#      needs <string.h> beyond the freestanding headers; a bare-metal clang
#      has none, so a one-file stand-in declaring memcpy/memmove/memset/
#      memcmp is used (objects only, nothing is linked).
# Usage: scripts/core-size.sh [--arm-only|--host-only]
set -eu

root=$(cd "$(dirname "$0")/.." && pwd)
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT INT TERM
srcs=$(ls "$root"/lib/core/*.c)
common="-std=c11 -Os -Wall -Wextra -I$root/include -I$root/lib/core"

report() { # title objdir
    echo "== $1"
    # shellcheck disable=SC2086
    size "$2"/*.o | awk 'NR == 1 { printf "%8s %6s %6s  %s\n", "text", "data", "bss", "object"; next }
        { n = split($6, p, "/"); printf "%8d %6d %6d  %s\n", $1, $2, $3, p[n];
          t += $1; d += $2; b += $3 }
        END { printf "%8d %6d %6d  TOTAL (text+data = %d bytes of flash)\n", t, d, b, t + d }'
}

build() { # cc flags objdir
    mkdir -p "$3"
    for s in $srcs; do
        o="$3/$(basename "$s" .c).o"
        # shellcheck disable=SC2086
        $1 $common $2 -c "$s" -o "$o"
    done
}

mode=${1:-all}
if [ "$mode" != "--arm-only" ]; then
    build "${CC_HOST:-gcc}" "-ffunction-sections -fdata-sections" "$tmp/host"
    report "host: ${CC_HOST:-gcc} -Os ($(uname -m))" "$tmp/host"
fi
if [ "$mode" != "--host-only" ]; then
    mkdir -p "$tmp/inc"
    cat > "$tmp/inc/string.h" <<'H'
#include <stddef.h>
void *memcpy(void *, const void *, size_t);
void *memmove(void *, const void *, size_t);
void *memset(void *, int, size_t);
int memcmp(const void *, const void *, size_t);
H
    arm="--target=thumbv7em-none-eabi -mcpu=cortex-m4 -mthumb -ffreestanding"
    arm="$arm -ffunction-sections -fdata-sections -isystem $tmp/inc"
    if command -v clang >/dev/null 2>&1 && build clang "$arm" "$tmp/arm" 2>"$tmp/arm.err"; then
        report "Cortex-M4: clang -Os --target=thumbv7em-none-eabi -mcpu=cortex-m4" "$tmp/arm"
    else
        echo "== Cortex-M4: clang cannot target thumbv7em here (see below); host figures only"
        cat "$tmp/arm.err" 2>/dev/null || true
    fi
fi
