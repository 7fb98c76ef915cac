#!/bin/sh
# Interop and negative tests of the simtrust OpenSSL provider (issue 4; docs/provider.md).
#   prov_tls.sh CARD_BIN MODULE_DIR CASE
# CASE: tls13 tls13-at tls12 dtls12 gnutls13 curl apdus neg-ca neg-expired neg-name neg-card-error
#       neg-card-removed scan
# Every case makes its own PKI and card in a temporary directory, starts
# `simtrust-card serve --tcp 127.0.0.1:0 --trace` and the peer on free ports, and kills
# everything on exit. IoT.04: F2 (CertificateVerify signed on the card), F3/B9 (server
# certificate validated against a trust anchor read from the card), F4/F7/E6 (ECDHE key
# pair generated on the card, shared secret computed by it), B2-B4 (no private key
# crosses the device interface: case scan).
set -u
ST_TESTS=$(cd "$(dirname "$0")/.." && pwd)
CARD=$1 MODDIR=$2 CASE=$3
T=$(mktemp -d "${TMPDIR:-/tmp}/st-prov.XXXXXX")
PIDS=""
cleanup() {
    for p in $PIDS; do kill "$p" 2>/dev/null; done
    wait 2>/dev/null
    [ -n "${ST_KEEP:-}" ] || rm -rf "$T"
}
trap cleanup EXIT INT TERM
fail() { echo "FAIL($CASE): $*" >&2; for f in "$T"/*.log; do echo "== $f"; tail -20 "$f"; done >&2; exit 1; }
cd "$T" || exit 1
mkfifo stdin.fifo && exec 3<>stdin.fifo
O=openssl

free_port() { python3 -c 'import socket;s=socket.socket();s.bind(("127.0.0.1",0));print(s.getsockname()[1])'; }
free_uport() { python3 -c 'import socket;s=socket.socket(socket.AF_INET,socket.SOCK_DGRAM);s.bind(("127.0.0.1",0));print(s.getsockname()[1])'; }

# ---- PKI and card (generated at test time) ----
. "$ST_TESTS/support/tls_pki.sh"
st_make_pki "DNS:localhost,IP:127.0.0.1"
st_make_card card-personalise.log

start_card() { # extra serve options; LINK=at: the AT modem front end instead of TCP
    if [ "${LINK:-tcp}" = at ]; then fe="--modem"; else fe="--tcp 127.0.0.1:0"; fi
    # shellcheck disable=SC2086
    "$CARD" serve --image card.img $fe --trace trace.txt "$@" > card.out 2>card.log &
    CARDPID=$!
    PIDS="$PIDS $CARDPID"
    i=0
    while ! grep -q '^tcp: \|^modem: ' card.out 2>/dev/null; do
        i=$((i + 1)); [ $i -gt 100 ] && fail "card did not start"; sleep 0.05
    done
    if [ "${LINK:-tcp}" = at ]; then export SIMTRUST_SIM="at:$(sed -n 's/^modem: //p' card.out)"
    else export SIMTRUST_SIM="tcp:$(sed -n 's/^tcp: //p' card.out)"; fi
}
wait_port() { # port [udp]
    i=0
    while :; do
        if [ "${2:-}" = udp ]; then ss -Hlun "sport = :$1" | grep -q . && return 0
        else ss -Hltn "sport = :$1" | grep -q . && return 0; fi
        i=$((i + 1)); [ $i -gt 100 ] && fail "server on $1 did not start"; sleep 0.05
    done
}
# s_server: stdin kept open (EOF ends it), one connection.
s_server() { # log opts...
    log=$1; shift
    PORT=$(free_port)
    $O s_server -accept "127.0.0.1:$PORT" -naccept 1 -cert "${SRV:-srv}.pem" \
        -key "${SRV:-srv}.key" -CAfile ca.pem -Verify 1 "$@" < stdin.fifo > "$log" 2>&1 &
    PIDS="$PIDS $!"
    wait_port "$PORT"
}
PROV="-provider-path $MODDIR -provider simtrust -provider default -propquery ?provider=simtrust"
CRED="-key simtrust:label=client;type=private -cert simtrust:label=client-cert;type=cert"
TRUST="-CAstore simtrust:label=ca;type=cert -verify_return_error -verify_hostname localhost"
s_client() { # log opts...
    log=$1; shift
    # shellcheck disable=SC2086
    (echo "hello from the card"; sleep 1) | timeout 30 $O s_client $PROV $CRED $TRUST -groups P-256 \
        -keylogfile keylog.txt "$@" > "$log" 2>&1
}
established() { grep -q "Verify return code: 0 (ok)" "$1" && grep -q "Protocol *: *$2\$" "$1" \
    || fail "no verified $2 session"; }
# Handshake APDUs: everything but setup (channel, SELECT, READ PUBLIC KEY, READ FILE).
count_apdus() {
    total=$(grep -c ' APDU ' trace.txt)
    # a GET RESPONSE (C0, T=0 style) belongs to the command before it
    hs=$(grep ' APDU ' trace.txt | awk '{i=substr($3,3,2); if (i=="C0") i=p; else p=i; print i}' \
        | grep -cvE '^(70|A4|CD|B0|CB)$')
    echo "APDUs: handshake $hs, process total $total (setup and certificate cache included)"
}
check_card_ops() { # the key share and the signature were made by the card
    grep ' APDU ' trace.txt | awk '{print substr($3,3,2)}' > ins.txt
    for ins in B9 46 2B; do grep -qx "$ins" ins.txt || fail "no $ins APDU: not on the card"; done
}
expect_fail() { # log pattern
    grep -q "Verify return code: 0 (ok)" "$1" && grep -q "Protocol *: *[DT]" "$1" \
        && fail "handshake succeeded"
    grep -q "$2" "$1" || fail "error '$2' not reported"
}

case "$CASE" in
tls13)
    start_card; s_server srv.log -tls1_3
    s_client cli.log -connect "127.0.0.1:$PORT" -tls1_3
    established cli.log TLSv1.3; check_card_ops; count_apdus ;;
tls13-at)  # the same over the AT modem (+CSIM, T=0 style: GET RESPONSE counted too)
    LINK=at start_card; s_server srv.log -tls1_3
    s_client cli.log -connect "127.0.0.1:$PORT" -tls1_3
    established cli.log TLSv1.3; check_card_ops; count_apdus ;;
tls12)
    start_card; s_server srv.log -tls1_2
    s_client cli.log -connect "127.0.0.1:$PORT" -tls1_2
    established cli.log TLSv1.2; check_card_ops; count_apdus ;;
dtls12)
    start_card
    PORT=$(free_uport)
    $O s_server -dtls1_2 -accept "127.0.0.1:$PORT" -naccept 1 -cert srv.pem \
        -key srv.key -CAfile ca.pem -Verify 1 < stdin.fifo > srv.log 2>&1 &
    PIDS="$PIDS $!"; wait_port "$PORT" udp
    s_client cli.log -dtls1_2 -connect "127.0.0.1:$PORT" -timeout
    established cli.log DTLSv1.2; check_card_ops; count_apdus ;;
gnutls13)
    command -v gnutls-serv >/dev/null || { echo "gnutls-serv missing"; exit 77; }
    start_card; PORT=$(free_port)
    gnutls-serv --x509certfile srv.pem --x509keyfile srv.key --x509cafile ca.pem \
        --require-client-cert --verify-client-cert -p "$PORT" \
        --priority 'NORMAL:-VERS-ALL:+VERS-TLS1.3' > srv.log 2>&1 &
    PIDS="$PIDS $!"; wait_port "$PORT"
    s_client cli.log -connect "127.0.0.1:$PORT" -tls1_3
    established cli.log TLSv1.3; check_card_ops; count_apdus ;;
curl)
    command -v curl >/dev/null || { echo "curl missing"; exit 77; }
    start_card
    cat > openssl.cnf <<CNF
openssl_conf = openssl_init
[openssl_init]
providers = provider_sect
alg_section = algorithm_sect
[provider_sect]
default = default_sect
simtrust = simtrust_sect
[default_sect]
activate = 1
[simtrust_sect]
module = $MODDIR/simtrust.so
activate = 1
[algorithm_sect]
default_properties = ?provider=simtrust
CNF
    PORT=$(free_port)
    $O s_server -accept "127.0.0.1:$PORT" -naccept 1 -cert srv.pem -key srv.key \
        -www < stdin.fifo > srv.log 2>&1 &
    PIDS="$PIDS $!"; wait_port "$PORT"
    OPENSSL_CONF=$T/openssl.cnf timeout 30 curl -sS --cacert ca.pem --curves P-256 --tlsv1.3 \
        "https://localhost:$PORT/" > curl.log 2>&1 || fail "curl failed"
    grep -q "TLSv1.3" curl.log || fail "no s_server -www page"
    grep ' APDU ' trace.txt | awk '{print substr($3,3,2)}' > ins.txt
    grep -qx B9 ins.txt && grep -qx 46 ins.txt || fail "curl's key share was not made by the card"
    count_apdus ;;
apdus)
    # Issue 4 item 7: TLS 1.3 mutual ECDHE-ECDSA with both keys on the card: <= 10 APDUs.
    start_card; s_server srv.log -tls1_3
    s_client cli.log -connect "127.0.0.1:$PORT" -tls1_3
    established cli.log TLSv1.3; check_card_ops
    count_apdus
    [ "$hs" -le 10 ] || fail "$hs APDUs in the handshake (target 10)" ;;
neg-ca)      # a server certificate from a CA that is not the card's trust anchor (F3)
    SRV=srvx; issue srvx otherca localhost 30 "subjectAltName=DNS:localhost"
    start_card; s_server srv.log -tls1_3
    s_client cli.log -connect "127.0.0.1:$PORT" -tls1_3
    expect_fail cli.log "unable to get local issuer certificate" ;;
neg-expired)
    SRV=srvold; st_issue_expired srvold
    start_card; s_server srv.log -tls1_3
    s_client cli.log -connect "127.0.0.1:$PORT" -tls1_3
    expect_fail cli.log "certificate has expired" ;;
neg-name)
    SRV=srvn; issue srvn ca other.example 30 "subjectAltName=DNS:other.example"
    start_card; s_server srv.log -tls1_3
    s_client cli.log -connect "127.0.0.1:$PORT" -tls1_3
    expect_fail cli.log "hostname mismatch" ;;
neg-card-error)  # the card refuses to sign (6985: no sign function) -> a specific error
    CRED="-key simtrust:label=nosign;type=private -cert simtrust:label=nosign-cert;type=cert"
    start_card; s_server srv.log -tls1_3
    s_client cli.log -connect "127.0.0.1:$PORT" -tls1_3
    grep -q "SIM answered an error.*6985" cli.log || fail "card error not reported" ;;
neg-card-removed)  # the card goes away while it signs
    start_card --latency sign=3s
    s_server srv.log -tls1_3
    ( sleep 1.5; kill -9 "$CARDPID" ) &
    s_client cli.log -connect "127.0.0.1:$PORT" -tls1_3
    grep -q "SIM unreachable" cli.log || fail "card removal not reported" ;;
scan)  # no private key value crosses the device interface (B2-B4) nor lands in the key log
    start_card; s_server srv.log -tls1_3
    s_client cli.log -connect "127.0.0.1:$PORT" -tls1_3
    established cli.log TLSv1.3; check_card_ops
    priv=$($O ec -in cli.key -text -noout 2>/dev/null | awk '/priv:/{f=1;next}/pub:/{f=0}f' \
        | tr -d ' :\n' | tr a-f A-F)
    [ ${#priv} -ge 62 ] || fail "cannot extract the client private key"
    priv=$(echo "$priv" | sed 's/^00//')
    [ -s keylog.txt ] || fail "no key log"
    if tr -d ' \n' < trace.txt | grep -qi "$priv"; then fail "private key in the APDU trace"; fi
    if tr -d ' \n' < keylog.txt | grep -qi "$priv"; then fail "private key in the TLS key log"; fi
    # the delivery record holds public data only
    grep -qi "$priv" delivery.json && fail "private key in the delivery record"
    echo "scan ok: $(grep -c ' APDU ' trace.txt) APDUs, $(wc -l < keylog.txt) key log lines" ;;
*) echo "unknown case $CASE" >&2; exit 2 ;;
esac
echo "ok: $CASE"
exit 0
