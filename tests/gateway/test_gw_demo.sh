#!/bin/sh
# The main job end to end (issue 5 item 6): scripts/demo.sh --no-build against
# this build tree. Asserts that every device's reading reached the IoT server
# application with its gateway-asserted identity, and that the revoked device
# was refused. Usage: test_gw_demo.sh SOURCE-DIR BUILD-DIR
set -u
SRC=$1 BIN=$2
out=$(mktemp /tmp/st-gwdemo-XXXXXX)
trap 'rm -f "$out"' EXIT
bash "$SRC/scripts/demo.sh" --no-build --build-dir "$BIN" --devices 2 >"$out" 2>&1
rc=$?
fails=0
bad() { echo "FAIL - $1"; fails=$((fails + 1)); }
[ $rc -eq 0 ] || bad "demo.sh exited $rc"
n=$(grep -c '^device=[0-9]* group=meters tenant=acme method=x509 ' "$out")
[ "$n" -eq 2 ] || bad "x509 device lines in the app output: $n, want 2"
n=$(grep -c '^device=[0-9]* group=sensors tenant=acme method=batch-psk ' "$out")
[ "$n" -eq 2 ] || bad "batch-psk device lines in the app output: $n, want 2"
grep -q '^device=[0-9]*: refused' "$out" || grep -q 'device [0-9]*: refused' "$out" || bad "revoked device not refused"
grep -q 'simtrust_gw_handshakes_total' "$out" || bad "no handshake metrics"
if [ $fails -ne 0 ]; then cat "$out"; fi
echo "test_gw_demo: $fails failure(s)"
[ $fails -eq 0 ]
