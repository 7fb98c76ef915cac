#!/bin/sh
# Tests of the simtrust TLS API (include/simtrust/tls.h), examples/tls-client and
# `simtrust connect` against `openssl s_server -Verify 1` (issue 4; docs/libsimtrust.md "TLS").
#   tls.sh CARD_BIN CLI_BIN EXAMPLE_BIN JSON_BIN CASE
# CASE: example tls13 tls12 dtls12 at pcsc neg-ca neg-expired neg-name neg-card-removed
#       neg-card-error psk-tls12 psk-tls13
# Every case makes its own PKI (openssl CLI) and card image in a temporary directory, starts
# `simtrust-card serve` (TCP port 0, the emulated modem, or vpcd reader 1) and s_server on a
# free port, and kills both on exit. Client certificate required by the server (F2), server
# certificate checked against the card's trust anchor with the host name (F3, B9), key share
# and ECDH on the card (F4, F7, E6). Negative cases must give their specific message from
# st_tls_last_error(). Exit 77: skipped.
# psk-*: `simtrust connect --psk psk1` (st_tls_config.psk_label) against `openssl s_server
# -psk HEX -psk_identity ID -nocert`, the PSK in the card's secret key object psk1 and its
# identity in file psk1: TLS 1.2 PSK (COMPUTE PRF 48 mode 01) and TLS 1.3 external PSK with
# psk_dhe_ke (COMPUTE HKDF 4A extract), the key reference 76/86 first, the PSK never in the
# card trace nor in the client's output (IoT.04 I1-I3, I9, J1-J5, K1).
set -u
ST_TESTS=$(cd "$(dirname "$0")/.." && pwd)
CARD=$1 CLI=$2 EXAMPLE=$3 JSON=$4 CASE=$5
command -v openssl >/dev/null 2>&1 || { echo "SKIP: no openssl"; exit 77; }
if [ "$CASE" = pcsc ]; then
    # Machine-wide lock shared by every vpcd test (tests/support/vpcd_lock.h).
    if command -v flock >/dev/null 2>&1; then exec 9>/tmp/simtrust-vpcd.lock; flock 9; fi
    [ -f /etc/reader.conf.d/vpcd ] || { echo "SKIP: no vpcd driver"; exit 77; }
    "$CLI" readers >/dev/null 2>&1 || { echo "SKIP: pcscd is not answering"; exit 77; }
fi
T=$(mktemp -d "${TMPDIR:-/tmp}/st-tls.XXXXXX")
PIDS=""
cleanup() {
    for p in $PIDS; do kill "$p" 2>/dev/null; done
    wait 2>/dev/null
    [ -n "${ST_KEEP:-}" ] || rm -rf "$T"
}
trap cleanup EXIT INT TERM
fail() { echo "FAIL($CASE): $*" >&2; for f in "$T"/*.log "$T"/*.err; do [ -f "$f" ] && { echo "== $f"; tail -20 "$f"; }; done >&2; exit 1; }
cd "$T" || exit 1
mkfifo stdin.fifo && exec 3<>stdin.fifo
O=openssl
free_port() { python3 -c 'import socket;s=socket.socket();s.bind(("127.0.0.1",0));print(s.getsockname()[1])'; }
free_uport() { python3 -c 'import socket;s=socket.socket(socket.AF_INET,socket.SOCK_DGRAM);s.bind(("127.0.0.1",0));print(s.getsockname()[1])'; }

. "$ST_TESTS/support/tls_pki.sh"
st_make_pki "DNS:localhost"
st_make_card personalise.err

start_card() { # LINK=tcp|at|pcsc, extra serve options
    case ${LINK:-tcp} in
    at) fe="--modem" ;;
    pcsc) fe="--vpcd 127.0.0.1:35964" ;;
    *) fe="--tcp 127.0.0.1:0" ;;
    esac
    # shellcheck disable=SC2086
    "$CARD" serve --image card.img $fe --trace trace.txt "$@" > card.out 2>card.err &
    CARDPID=$!
    PIDS="$PIDS $CARDPID"
    i=0
    while ! grep -q '^[a-z]*: ' card.out 2>/dev/null; do
        i=$((i + 1)); [ $i -gt 100 ] && fail "card did not start"; sleep 0.05
    done
    case ${LINK:-tcp} in
    at) SIM="at:$(sed -n 's/^modem: //p' card.out)" ;;
    pcsc)
        SIM="pcsc:Virtual PCD 00 01"
        i=0
        until "$CLI" --sim "$SIM" random 1 >/dev/null 2>&1; do
            i=$((i + 1)); [ $i -gt 200 ] && fail "no card in '$SIM' within 20 s"; sleep 0.1
        done ;;
    *) SIM="tcp:$(sed -n 's/^tcp: //p' card.out)" ;;
    esac
    unset SIMTRUST_SIM
}
wait_port() { # port [udp]
    i=0
    while :; do
        if [ "${2:-}" = udp ]; then ss -Hlun "sport = :$1" | grep -q . && return 0
        else ss -Hltn "sport = :$1" | grep -q . && return 0; fi
        i=$((i + 1)); [ $i -gt 100 ] && fail "server on $1 did not start"; sleep 0.05
    done
}
s_server() { # version option (-tls1_3 -tls1_2 -dtls1_2)
    if [ "$1" = -dtls1_2 ]; then PORT=$(free_uport); else PORT=$(free_port); fi
    $O s_server "$1" -accept "127.0.0.1:$PORT" -naccept 1 -cert "${SRV:-srv}.pem" \
        -key "${SRV:-srv}.key" -CAfile ca.pem -Verify 1 < stdin.fifo > srv.log 2>&1 &
    SRVPID=$!
    PIDS="$PIDS $SRVPID"
    if [ "$1" = -dtls1_2 ]; then wait_port "$PORT" udp; else wait_port "$PORT"; fi
}
# connect VERSION [extra options]: the CLI, "hello from the card" on stdin, the server
# answers "hello device"; output in cli.out (data + JSON), messages in cli.err.
connect() {
    v=$1; shift
    (echo "hello from the card"; sleep 1) | timeout 60 "$CLI" --sim "$SIM" --json connect \
        --host 127.0.0.1 --port "$PORT" --servername localhost --key "${KEY:-client}" \
        --cert "${KEY:-client}-cert" --ca ca --tls "$v" -v "$@" > cli.out 2> cli.err &
    CLIPID=$!
    sleep 0.6; echo "hello device" >&3
    wait $CLIPID
}
established() { # protocol
    [ "$RC" -eq 0 ] || fail "connect exited $RC"
    grep -q "hello from the card" srv.log || fail "the server did not get the data"
    grep -q "hello device" cli.out || fail "the client did not get the server's data"
    sed -n '/^{/,$p' cli.out > cli.json
    proto=$("$JSON" protocol < cli.json) || fail "no JSON result"
    [ "$proto" = "$1" ] || fail "protocol $proto, expected $1"
    hs=$("$JSON" handshake.apdus < cli.json)
    ops=$("$JSON" handshake.card_ops < cli.json)
    for k in signs dhs keygens; do
        [ "$("$JSON" handshake.$k < cli.json)" -ge 1 ] || fail "no card $k in the handshake"
    done
    [ "$hs" -le "${MAXAPDU:-10}" ] || fail "$hs APDUs in the handshake (max ${MAXAPDU:-10})"
    grep ' APDU ' trace.txt | awk '{print substr($3,3,2)}' > ins.txt
    for ins in B9 46 2B; do grep -qx "$ins" ins.txt || fail "no $ins APDU: not on the card"; done
    echo "handshake: $hs APDUs, $ops card operations, process $("$JSON" process_apdus < cli.json) APDUs"
}
expect_fail() { # message-pattern exit-code
    [ "$RC" -eq "$2" ] || fail "exit $RC, expected $2"
    grep -q "$1" cli.err || fail "message '$1' not reported"
    echo "reported: $(grep 'simtrust: connect:' cli.err | tail -1)"
}

# PSK: a card with the secret key psk1 (32 random bytes) and its identity (file psk1), the
# ECDHE key pair slot and the peer slot; s_server knows the PSK (it is the peer).
psk_card() { PSKID=device-0001-psk; st_make_psk_card "$PSKID" personalise.err; }
psk_server() { # options for s_server
    PORT=$(free_port)
    $O s_server -accept "127.0.0.1:$PORT" -naccept 1 -nocert -psk "$PSK" \
        -psk_identity "$PSKID" "$@" < stdin.fifo > srv.log 2>&1 &
    SRVPID=$!
    PIDS="$PIDS $SRVPID"
    wait_port "$PORT"
}
psk_connect() { # VERSION
    (echo "hello from the card"; sleep 1) | timeout 60 "$CLI" --sim "$SIM" --json connect \
        --host 127.0.0.1 --port "$PORT" --psk psk1 --tls "$1" -v > cli.out 2> cli.err &
    CLIPID=$!
    sleep 0.6; echo "hello device" >&3
    wait $CLIPID
}
psk_established() { # protocol INS(48|4A) P1P2-prefix
    [ "$RC" -eq 0 ] || fail "connect exited $RC"
    grep -q "hello from the card" srv.log || fail "the server did not get the data"
    grep -q "hello device" cli.out || fail "the client did not get the server's data"
    sed -n '/^{/,$p' cli.out > cli.json
    proto=$("$JSON" protocol < cli.json) || fail "no JSON result"
    [ "$proto" = "$1" ] || fail "protocol $proto, expected $1"
    # s_server (-nocert) reports a TLS 1.2 PSK suite, or the TLS 1.3 external PSK as a reused
    # session
    grep -qE "^CIPHER is .*PSK|^Reused session-id" srv.log || fail "s_server: no PSK session"
    grep ' APDU ' trace.txt | awk '{print $3}' > cmds.txt
    grep -q "^..$2$3" cmds.txt || fail "no $2 $3 APDU: the PSK derivation did not run on the card"
    grep "^..$2" cmds.txt | cut -c11-12 | grep -qvE '^(76|86)$' \
        && fail "a $2 command without the secret object reference (76/86) first"
    P=$(echo "$PSK" | tr a-f A-F)
    tr -d ' \n' < trace.txt | tr a-f A-F | grep -q "$P" && fail "the PSK is in the card trace"
    cat cli.out cli.err | tr -d ' \n' | tr a-f A-F | grep -q "$P" && fail "the PSK in the output"
    hs=$("$JSON" handshake.apdus < cli.json)
    k=$([ "$2" = 48 ] && echo prfs || echo hkdfs)
    [ "$("$JSON" handshake.$k < cli.json)" -ge 1 ] || fail "handshake.$k is 0"
    echo "handshake: $hs APDUs ($(grep ' APDU ' trace.txt | awk '{print substr($3,3,2)}' \
        | tr '\n' ' ')), $("$JSON" handshake.card_ops < cli.json) card operations"
}

case "$CASE" in
psk-tls12)  # TLS 1.2 PSK (RFC 4279): master secret = COMPUTE PRF mode 01 on the card
    psk_card; start_card; psk_server -tls1_2 -cipher PSK-AES128-GCM-SHA256
    psk_connect 1.2; RC=$?; psk_established TLSv1.2 48 01
    [ "$("$JSON" cipher < cli.json)" = PSK-AES128-GCM-SHA256 ] || fail "not PSK-AES128-GCM-SHA256" ;;
psk-tls13)  # TLS 1.3 external PSK, psk_dhe_ke: early secret = COMPUTE HKDF extract (4A 00)
    psk_card; start_card; psk_server -tls1_3 -groups P-256
    psk_connect 1.3; RC=$?; psk_established TLSv1.3 4A 00
    grep -qE '^..(B9|46)' cmds.txt || fail "the (EC)DHE of psk_dhe_ke not on the card" ;;
example)  # the example program: TLS 1.3 through the API, data both ways
    start_card; s_server -tls1_3
    (echo "hello from the card"; sleep 1) | timeout 60 "$EXAMPLE" "$SIM" 127.0.0.1 "$PORT" \
        client client-cert ca tls1.3 localhost > ex.out 2> ex.err &
    EXPID=$!
    sleep 0.6; echo "hello device" >&3
    wait $EXPID; RC=$?
    [ "$RC" -eq 0 ] || fail "tls-client exited $RC"
    grep -q "hello from the card" srv.log || fail "the server did not get the data"
    grep -q "hello device" ex.out || fail "the example did not get the server's data"
    grep -q "TLSv1.3" ex.err || fail "not TLS 1.3"
    cat ex.err ;;
tls13) start_card; s_server -tls1_3; connect 1.3; RC=$?; established TLSv1.3 ;;
tls12) start_card; s_server -tls1_2; connect 1.2; RC=$?; established TLSv1.2 ;;
dtls12) start_card; s_server -dtls1_2; connect dtls1.2 --udp; RC=$?; established DTLSv1.2 ;;
at) LINK=at start_card; s_server -tls1_3; MAXAPDU=13 connect 1.3; RC=$?
    MAXAPDU=13 established TLSv1.3 ;;
pcsc) LINK=pcsc start_card; s_server -tls1_3; connect 1.3; RC=$?; established TLSv1.3 ;;
neg-ca)
    SRV=srvx; issue srvx otherca localhost 30 "subjectAltName=DNS:localhost"
    start_card; s_server -tls1_3; connect 1.3; RC=$?
    expect_fail "not issued by the trust anchor" 1 ;;
neg-expired)
    SRV=srvold; st_issue_expired srvold
    start_card; s_server -tls1_3; connect 1.3; RC=$?
    expect_fail "server certificate rejected: certificate has expired" 1 ;;
neg-name)
    SRV=srvn; issue srvn ca other.example 30 "subjectAltName=DNS:other.example"
    start_card; s_server -tls1_3; connect 1.3; RC=$?
    expect_fail "not valid for 'localhost'" 1 ;;
neg-card-error)  # the key lacks the sign function: 6985
    start_card; s_server -tls1_3; KEY=nosign connect 1.3; RC=$?
    expect_fail "card error (SIM answered an error.*6985" 1 ;;
neg-card-removed)  # the card goes away while it signs
    start_card --latency sign=3s; s_server -tls1_3
    ( sleep 1.5; kill -9 "$CARDPID" ) &
    connect 1.3; RC=$?
    expect_fail "card removed or unreachable" 3 ;;
*) echo "unknown case $CASE" >&2; exit 2 ;;
esac
echo "ok: $CASE"
exit 0
