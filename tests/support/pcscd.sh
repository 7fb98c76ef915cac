#!/bin/sh
# pcscd.sh - runs one PC/SC check against simtrust-card behind a real pcscd + vpcd.
#
# Starts pcscd if it is not running (it needs /etc/reader.conf.d/vpcd from the
# vsmartcard-vpcd package), starts `simtrust-card serve --vpcd` on a fresh test
# image, waits until the reader shows the card, runs the check, and stops every
# process it started (pcscd only if it started it).
#
# Checks:
#   opensc   opensc-tool -r READER -s 00A4040007A0000005590010 must print SW 9000
#   client   the libpcsclite program (tests/frontend/fe_pcsc_test.c) must pass
#
# Exit status: 0 pass, 1 fail, 2 usage error, 77 skipped (no pcscd / vpcd driver,
# or pcscd not running and we are not root).
set -u

PROG=pcscd.sh
usage() {
    cat <<EOF
Usage: $PROG --card PROG --make-image PROG --client PROG [--reader 0|1] CHECK
  --card PROG        the simtrust-card program
  --make-image PROG  fe_make_image (writes the test card image)
  --client PROG      fe_pcsc_test (libpcsclite client)
  --reader N         vpcd reader 0 (port 35963, default) or 1 (port 35964)
  CHECK              opensc | client
EOF
}

CARD= MKIMG= CLIENT= READER_NO=0 CHECK=
while [ $# -gt 0 ]; do
    case $1 in
    --card) CARD=${2:?}; shift 2 ;;
    --make-image) MKIMG=${2:?}; shift 2 ;;
    --client) CLIENT=${2:?}; shift 2 ;;
    --reader) READER_NO=${2:?}; shift 2 ;;
    -h | --help) usage; exit 0 ;;
    opensc | client) CHECK=$1; shift ;;
    *) echo "$PROG: unknown argument '$1'" >&2; usage >&2; exit 2 ;;
    esac
done
[ -n "$CARD" ] && [ -n "$MKIMG" ] && [ -n "$CLIENT" ] && [ -n "$CHECK" ] || { usage >&2; exit 2; }
case $READER_NO in
0 | 1) ;;
*) echo "$PROG: --reader must be 0 or 1" >&2; exit 2 ;;
esac
READER="Virtual PCD 00 0$READER_NO"
PORT=$((35963 + READER_NO))

skip() { echo "SKIP: $*"; exit 77; }
say() { echo "$PROG: $*"; }

command -v pcscd >/dev/null 2>&1 || [ -x /usr/sbin/pcscd ] || skip "pcscd is not installed"
[ -f /etc/reader.conf.d/vpcd ] || skip "no /etc/reader.conf.d/vpcd (install vsmartcard-vpcd)"
if [ "$CHECK" = opensc ]; then
    command -v opensc-tool >/dev/null 2>&1 || skip "opensc-tool is not installed"
fi
PCSCD=$(command -v pcscd 2>/dev/null || echo /usr/sbin/pcscd)

sh "$(dirname "$0")/reserve-vpcd-ports.sh"
T=$(mktemp -d "${TMPDIR:-/tmp}/simtrust-pcsc.XXXXXX") || exit 1
PCSCD_PID= SERVE_PID= RC=1

running() {
    # True while PID is alive and not yet a zombie (kill -0 succeeds on zombies).
    [ -r "/proc/$1/stat" ] || return 1
    state=$(sed 's/^.*) \(.\).*$/\1/' "/proc/$1/stat" 2>/dev/null)
    [ -n "$state" ] && [ "$state" != Z ]
}

stop() {
    # stop PID: SIGTERM, SIGKILL after 10 s; returns the exit status.
    pid=$1
    kill -TERM "$pid" 2>/dev/null
    i=0
    while running "$pid" && [ $i -lt 100 ]; do
        sleep 0.1
        i=$((i + 1))
    done
    running "$pid" && kill -KILL "$pid" 2>/dev/null
    wait "$pid"
}

cleanup() {
    [ -n "$SERVE_PID" ] && stop "$SERVE_PID"
    [ -n "$PCSCD_PID" ] && stop "$PCSCD_PID"
    if [ "$RC" -ne 0 ]; then
        for f in serve.err pcscd.log check.out; do
            [ -s "$T/$f" ] && { echo "--- $f (tail)"; tail -n 30 "$T/$f"; }
        done
    fi
    rm -rf "$T"
}
trap cleanup EXIT
trap 'exit 1' INT TERM HUP

# One machine-wide lock for everything that uses pcscd's vpcd readers, so two
# ctest runs (normal and ASan trees) never answer each other's checks.
if command -v flock >/dev/null 2>&1; then
    exec 9>/tmp/simtrust-vpcd.lock
    flock 9
fi

# --- pcscd ------------------------------------------------------------------------------------
if "$CLIENT" probe; then
    say "using the running pcscd"
else
    [ "$(id -u)" -eq 0 ] || skip "pcscd is not running and starting it needs root"
    "$PCSCD" --foreground >"$T/pcscd.log" 2>&1 &
    PCSCD_PID=$!
    i=0
    until "$CLIENT" probe; do
        # pcscd exits at once when another instance runs: wait for that one.
        running "$PCSCD_PID" || [ $i -lt 50 ] || { say "pcscd exited"; exit 1; }
        [ $i -lt 100 ] || { say "pcscd did not come up within 10 s"; exit 1; }
        sleep 0.1
        i=$((i + 1))
    done
    say "started pcscd (pid $PCSCD_PID)"
fi

# --- card -------------------------------------------------------------------------------------
"$MKIMG" "$T/card.img" || { say "cannot make the test image"; exit 1; }
"$CARD" serve --image "$T/card.img" --vpcd "127.0.0.1:$PORT" --log-level debug \
    </dev/null >"$T/serve.out" 2>"$T/serve.err" &
SERVE_PID=$!
i=0
until grep -q '^vpcd: ' "$T/serve.out" 2>/dev/null; do
    running "$SERVE_PID" || { say "simtrust-card serve exited"; exit 1; }
    [ $i -lt 100 ] || { say "no 'vpcd:' line within 10 s"; exit 1; }
    sleep 0.1
    i=$((i + 1))
done
"$CLIENT" wait "$READER" 20 || exit 1
say "card present in '$READER'"

# --- check ------------------------------------------------------------------------------------
case $CHECK in
opensc)
    opensc-tool -r "$READER" -s 00A4040007A0000005590010 >"$T/check.out" 2>&1
    cat "$T/check.out"
    if grep -q 'SW1=0x90, SW2=0x00' "$T/check.out"; then CHECK_RC=0; else CHECK_RC=1; fi
    ;;
client)
    "$CLIENT" run "$READER"
    CHECK_RC=$?
    ;;
esac

# The server must stop cleanly (status 0, no sanitizer report).
stop "$SERVE_PID"
SERVE_RC=$?
SERVE_PID=
if [ "$SERVE_RC" -ne 0 ]; then
    say "simtrust-card serve exited with status $SERVE_RC"
    CHECK_RC=1
fi
if grep -Eq 'AddressSanitizer|LeakSanitizer|runtime error:' "$T/serve.err"; then
    say "simtrust-card serve reported a sanitizer error"
    CHECK_RC=1
fi
grep -q 'vpcd: connected to pcscd' "$T/serve.err" || { say "no 'connected' log line"; CHECK_RC=1; }
RC=$CHECK_RC
[ "$RC" -eq 0 ] && say "PASS ($CHECK)" || say "FAIL ($CHECK)"
exit "$RC"
