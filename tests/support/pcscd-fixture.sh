#!/bin/sh
# pcscd-fixture.sh - ctest fixture: a pcscd for the PC/SC transport tests.
#
#   pcscd-fixture.sh start STATE_DIR PROBE...   start pcscd unless one answers
#   pcscd-fixture.sh stop STATE_DIR             stop it, if this fixture started it
#
# PROBE... is a command that exits 0 when pcscd answers (SCardEstablishContext
# works), e.g. "test_pcsc_transport --probe". pcscd runs in the foreground mode
# but detached (setsid, output in STATE_DIR/pcscd.log) so that ctest does not
# wait for it; its pid goes to STATE_DIR/pcscd.pid. Nothing else is ever
# stopped: a pcscd that was already running (systemd, another fixture) stays.
#
# Exit status: 0 ok, 1 failure, 2 usage, 77 skipped (no pcscd, no vpcd driver,
# or not root when pcscd must be started). The tests skip on their own when
# pcscd does not answer, so a skipped fixture only means fewer tests run.
set -u
PROG=pcscd-fixture.sh

usage() { echo "usage: $PROG start STATE_DIR PROBE... | stop STATE_DIR" >&2; exit 2; }
[ $# -ge 2 ] || usage
ACTION=$1 DIR=$2
shift 2
PIDFILE=$DIR/pcscd.pid

is_our_pcscd() {
    # The pid still names a live pcscd: not a reused pid, not a zombie
    # waiting for whoever inherited it to reap it.
    [ -r "/proc/$1/stat" ] || return 1
    st=$(sed 's/^[0-9]* (\(.*\)) \(.\).*$/\1 \2/' "/proc/$1/stat" 2>/dev/null)
    case $st in
    "pcscd "[RSD]) return 0 ;;
    *) return 1 ;;
    esac
}

case $ACTION in
start)
    [ $# -ge 1 ] || usage
    sh "$(dirname "$0")/reserve-vpcd-ports.sh"
    mkdir -p "$DIR" || exit 1
    rm -f "$PIDFILE"
    if "$@" >/dev/null 2>&1; then
        echo "$PROG: pcscd already answering, using it"
        exit 0
    fi
    PCSCD=$(command -v pcscd 2>/dev/null || echo /usr/sbin/pcscd)
    [ -x "$PCSCD" ] || { echo "SKIP: pcscd is not installed"; exit 77; }
    [ -f /etc/reader.conf.d/vpcd ] || { echo "SKIP: no vpcd driver (vsmartcard-vpcd)"; exit 77; }
    [ "$(id -u)" -eq 0 ] || { echo "SKIP: starting pcscd needs root"; exit 77; }
    setsid "$PCSCD" --foreground </dev/null >"$DIR/pcscd.log" 2>&1 &
    PID=$!
    echo "$PID" >"$PIDFILE"
    i=0
    until "$@" >/dev/null 2>&1; do
        if ! is_our_pcscd "$PID"; then
            rm -f "$PIDFILE"
            # pcscd refuses to start while another instance runs (one being
            # started by another test run): use that one once it answers.
            j=0
            while [ $j -lt 50 ]; do
                if "$@" >/dev/null 2>&1; then
                    echo "$PROG: another pcscd answers, using it"
                    exit 0
                fi
                sleep 0.1
                j=$((j + 1))
            done
            echo "$PROG: pcscd exited:"
            tail -n 20 "$DIR/pcscd.log"
            exit 1
        fi
        [ $i -lt 100 ] || { echo "$PROG: pcscd did not answer within 10 s"; exit 1; }
        sleep 0.1
        i=$((i + 1))
    done
    echo "$PROG: started pcscd (pid $PID)"
    ;;
stop)
    [ -s "$PIDFILE" ] || { echo "$PROG: nothing to stop"; exit 0; }
    PID=$(cat "$PIDFILE")
    rm -f "$PIDFILE"
    is_our_pcscd "$PID" || { echo "$PROG: pcscd $PID already gone"; exit 0; }
    # Not while another run's vpcd test uses this pcscd (tests/support/vpcd_lock.h).
    if command -v flock >/dev/null 2>&1; then
        exec 9>/tmp/simtrust-vpcd.lock
        flock 9
    fi
    kill -TERM "$PID" 2>/dev/null
    i=0
    while is_our_pcscd "$PID" && [ $i -lt 50 ]; do
        sleep 0.1
        i=$((i + 1))
    done
    is_our_pcscd "$PID" && kill -KILL "$PID" 2>/dev/null
    echo "$PROG: stopped pcscd (pid $PID)"
    ;;
*)
    usage
    ;;
esac
exit 0
