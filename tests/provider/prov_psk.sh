#!/bin/sh
# PSK mode of the simtrust provider (docs/provider.md "PSK mode"; scenarios 3-5).
#   prov_psk.sh CARD_BIN PSK_CLIENT CASE
# CASE: kat tls12-psk tls12-ecdhe-psk tls12-ecdhe-psk-cbc tls13 dtls12 gnutls13 neg-identity neg-label neg-cipher scan
# The card holds a 32-byte PSK (secret key "psk1") and its identity (file "psk1"); the
# client (tests/provider/psk_client.c, provider built in) never sees the PSK: libssl gets a
# placeholder and the card computes the TLS 1.2 master secret (COMPUTE PRF 48, modes 01/02)
# or the TLS 1.3 early secret (COMPUTE HKDF 4A extract with the secret object as IKM).
# IoT.04 I1-I3, I9 (no command reads or carries the PSK: case scan), J1-J5, F5, F6, K1.
set -u
ST_TESTS=$(cd "$(dirname "$0")/.." && pwd)
CARD=$1 CLIENT=$2 CASE=$3
T=$(mktemp -d "${TMPDIR:-/tmp}/st-psk.XXXXXX")
PIDS=""
cleanup() {
    for p in $PIDS; do kill "$p" 2>/dev/null; done
    wait 2>/dev/null
    [ -n "${ST_KEEP:-}" ] || rm -rf "$T"
}
trap cleanup EXIT INT TERM
fail() { echo "FAIL($CASE): $*" >&2; for f in "$T"/*.log; do echo "== $f"; tail -25 "$f"; done >&2; exit 1; }
cd "$T" || exit 1
mkfifo stdin.fifo && exec 3<>stdin.fifo
O=openssl
free_port() { python3 -c 'import socket;s=socket.socket();s.bind(("127.0.0.1",0));print(s.getsockname()[1])'; }
free_uport() { python3 -c 'import socket;s=socket.socket(socket.AF_INET,socket.SOCK_DGRAM);s.bind(("127.0.0.1",0));print(s.getsockname()[1])'; }
wait_port() { # port [udp]
    i=0
    while :; do
        if [ "${2:-}" = udp ]; then ss -Hlun "sport = :$1" | grep -q . && return 0
        else ss -Hltn "sport = :$1" | grep -q . && return 0; fi
        i=$((i + 1)); [ $i -gt 100 ] && fail "server on $1 did not start"; sleep 0.05
    done
}

ID=device-0001
. "$ST_TESTS/support/tls_pki.sh"
st_make_psk_card "$ID" card-personalise.log
"$CARD" serve --image card.img --tcp 127.0.0.1:0 --trace trace.txt > card.out 2>card.log &
PIDS="$PIDS $!"
i=0
while ! grep -q '^tcp: ' card.out 2>/dev/null; do
    i=$((i + 1)); [ $i -gt 100 ] && fail "card did not start"; sleep 0.05
done
export SIMTRUST_SIM="tcp:$(sed -n 's/^tcp: //p' card.out)"
export SSLKEYLOGFILE=$T/keylog.txt

s_server() { # log opts... (one connection; PSK given to the server in the clear: it is the peer)
    log=$1; shift
    if [ "${UDP:-}" = 1 ]; then PORT=$(free_uport); else PORT=$(free_port); fi
    $O s_server -accept "127.0.0.1:$PORT" -naccept 1 -nocert -psk "$PSK" \
        -psk_identity "${SRV_ID:-$ID}" "$@" < stdin.fifo > "$log" 2>&1 &
    PIDS="$PIDS $!"
    if [ "${UDP:-}" = 1 ]; then wait_port "$PORT" udp; else wait_port "$PORT"; fi
}
client() { # log mode [ciphers]
    log=$1; shift
    timeout 30 "$CLIENT" "$1" 127.0.0.1 "$PORT" "${LABEL:-psk1}" ${2:+"$2"} > "$log" 2>&1
}
ok_session() { # log protocol cipher
    grep -q "PSK handshake ok" "$1" || fail "no PSK session"
    grep -q "^Protocol: $2\$" "$1" || fail "not $2"
    [ -z "${3:-}" ] || grep -q "^Cipher: $3\$" "$1" || fail "cipher is not $3"
}
got_line() { # the server decrypted the client's line (same keys on both sides)
    i=0
    while ! grep -q "hello from the card (psk)" "$1"; do
        i=$((i + 1)); [ $i -gt 40 ] && fail "the server did not get the client's data"; sleep 0.05
    done
}
# Handshake APDUs: all but the setup (channel 70, SELECT A4) and the identity READ FILE (B0).
count_apdus() {
    total=$(grep -c ' APDU ' trace.txt)
    hs=$(grep ' APDU ' trace.txt | awk '{print substr($3,3,2)}' | grep -cvE '^(70|A4|B0|CB)$')
    ins=$(grep ' APDU ' trace.txt | awk '{print substr($3,3,2)}' | grep -vE '^(70|A4|B0|CB)$' \
        | tr '\n' ' ')
    echo "APDUs: handshake $hs ($ins), process total $total"
}
# The card did the PSK work: INS $1 present, its key is the secret object (86/76 first),
# and no PRF/HKDF command carries key bytes in D1.
card_did() {
    grep ' APDU ' trace.txt | awk '{print $3}' > cmds.txt
    grep -q "^..$1" cmds.txt || fail "no $1 APDU: the PSK derivation did not run on the card"
    grep "^..$1" cmds.txt | while read -r c; do
        tag=$(echo "$c" | cut -c11-12)
        [ "$tag" = 86 ] || [ "$tag" = 76 ] || { echo "bad"; break; }
    done | grep -q bad && fail "a $1 command without the secret object first"
    grep -E '^..(48|4A)' cmds.txt | cut -c11- | grep -qiE '^D1' && fail "D1 in a PSK derivation"
    return 0
}

case "$CASE" in
kat)  # the provider's KDFs: card answers = software with the real PSK; deferral; refusals
    "$CLIENT" selftest psk1 "$PSK" > cli.log 2>&1 || fail "selftest"
    cat cli.log
    grep ' APDU ' trace.txt | awk '{print $3}' > cmds.txt
    grep -qE '^..4801' cmds.txt && grep -qE '^..4802' cmds.txt && grep -qE '^..4A00' cmds.txt \
        || fail "the card did not run PRF 01, PRF 02 and HKDF extract"
    count_apdus ;;
tls12-psk)
    s_server srv.log -tls1_2 -cipher PSK-AES128-GCM-SHA256
    client cli.log tls12 PSK-AES128-GCM-SHA256
    ok_session cli.log TLSv1.2 PSK-AES128-GCM-SHA256; got_line srv.log; card_did 48
    grep -qE '^..4801' cmds.txt || fail "not COMPUTE PRF mode 01"
    count_apdus ;;
tls12-ecdhe-psk)
    s_server srv.log -tls1_2 -cipher ECDHE-PSK-CHACHA20-POLY1305 -groups P-256
    client cli.log tls12 ECDHE-PSK-CHACHA20-POLY1305
    ok_session cli.log TLSv1.2 ECDHE-PSK-CHACHA20-POLY1305; got_line srv.log; card_did 48
    grep -qE '^..4802' cmds.txt || fail "not COMPUTE PRF mode 02"
    grep -qE '^..B9' cmds.txt && grep -qE '^..46' cmds.txt || fail "ECDHE not on the card"
    count_apdus ;;
tls12-ecdhe-psk-cbc)  # the RFC 5489 suite with AES-CBC and HMAC-SHA256
    s_server srv.log -tls1_2 -cipher ECDHE-PSK-AES128-CBC-SHA256 -groups P-256
    client cli.log tls12 ECDHE-PSK-AES128-CBC-SHA256
    ok_session cli.log TLSv1.2 ECDHE-PSK-AES128-CBC-SHA256; got_line srv.log; card_did 48
    grep -qE '^..4802' cmds.txt || fail "not COMPUTE PRF mode 02"
    count_apdus ;;
tls13)
    s_server srv.log -tls1_3 -groups P-256
    client cli.log tls13
    ok_session cli.log TLSv1.3 TLS_AES_128_GCM_SHA256; got_line srv.log; card_did 4A
    grep -qE '^..4A00' cmds.txt || fail "not COMPUTE HKDF extract"
    count_apdus ;;
dtls12)
    UDP=1 s_server srv.log -dtls1_2 -cipher PSK-AES128-GCM-SHA256
    client cli.log dtls12 PSK-AES128-GCM-SHA256
    ok_session cli.log DTLSv1.2 PSK-AES128-GCM-SHA256; got_line srv.log; card_did 48
    count_apdus ;;
gnutls13)
    command -v gnutls-serv >/dev/null || { echo "gnutls-serv missing"; exit 77; }
    printf '%s:%s\n' "$ID" "$PSK" > psk.passwd
    PORT=$(free_port)
    gnutls-serv --pskpasswd psk.passwd -p "$PORT" --echo \
        --priority 'NORMAL:-VERS-ALL:+VERS-TLS1.3:+ECDHE-PSK:+PSK:-GROUP-ALL:+GROUP-SECP256R1' \
        > srv.log 2>&1 &
    PIDS="$PIDS $!"; wait_port "$PORT"
    ST_PSK_ECHO=1 client cli.log tls13
    ok_session cli.log TLSv1.3; card_did 4A
    grep -q "^echo: hello from the card (psk)" cli.log || fail "no echo from gnutls-serv"
    count_apdus ;;
neg-identity)  # the server does not know the card's identity (gnutls-serv, TLS 1.2). Servers
    # may hide unknown identities (RFC 4279 §2; gnutls answers with a fake key): the client
    # must fail with the server's alert, cleanly (no session, no crash, sanitizers quiet).
    command -v gnutls-serv >/dev/null || { echo "gnutls-serv missing"; exit 77; }
    printf 'device-9999:%s\n' "$PSK" > psk.passwd
    PORT=$(free_port)
    gnutls-serv --pskpasswd psk.passwd -p "$PORT" \
        --priority 'NORMAL:-VERS-ALL:+VERS-TLS1.2:+PSK' > srv.log 2>&1 &
    PIDS="$PIDS $!"; wait_port "$PORT"
    client cli.log tls12 PSK-AES128-GCM-SHA256
    grep -q "PSK handshake ok" cli.log && fail "handshake succeeded"
    grep -q "handshake failed" cli.log && grep -qiE "alert (bad record mac|unknown psk identity)" \
        cli.log || fail "the server's refusal not reported" ;;
neg-label)  # no such PSK on the card: the identity file is missing -> named error, no TLS
    s_server srv.log -tls1_2 -cipher PSK-AES128-GCM-SHA256
    LABEL=psk9 client cli.log tls12
    grep -q "PSK handshake ok" cli.log && fail "handshake succeeded"
    grep -q 'no PSK identity on the SIM: no file object labelled "psk9"' cli.log \
        || fail "missing-label error not reported" ;;
neg-cipher)  # a SHA-384 PRF suite: the card's PRF is SHA-256 -> refused, not derived in software
    s_server srv.log -tls1_2 -cipher PSK-AES256-GCM-SHA384
    client cli.log tls12 PSK-AES256-GCM-SHA384
    grep -q "PSK handshake ok" cli.log && fail "handshake succeeded"
    grep -q "the SIM's PRF is SHA-256" cli.log || fail "SHA-384 refusal not reported" ;;
scan)  # I9: the PSK never crosses the device interface nor lands in the key log
    s_server srv.log -tls1_2 -cipher ECDHE-PSK-CHACHA20-POLY1305 -groups P-256
    client cli.log tls12 ECDHE-PSK-CHACHA20-POLY1305
    ok_session cli.log TLSv1.2; got_line srv.log; card_did 48
    s_server srv13.log -tls1_3 -groups P-256
    client cli13.log tls13
    ok_session cli13.log TLSv1.3; got_line srv13.log; card_did 4A
    [ -s keylog.txt ] || fail "no key log"
    P=$(echo "$PSK" | tr a-f A-F)
    if tr -d ' \n' < trace.txt | tr a-f A-F | grep -q "$P"; then fail "PSK in the APDU trace"; fi
    if tr -d ' \n' < keylog.txt | tr a-f A-F | grep -q "$P"; then fail "PSK in the key log"; fi
    if tr -d ' \n' < cli.log | tr a-f A-F | grep -q "$P"; then fail "PSK in the client output"; fi
    grep -qi "$PSK" delivery.json && fail "PSK in the delivery record"
    # I9: only these commands were sent (channel, SELECT, READ FILE of the identity, the
    # ECDHE key pair / peer key / DH, PRF, HKDF): nothing that could read a secret object
    other=$(grep ' APDU ' trace.txt | awk '{print substr($3,3,2)}' \
        | grep -vE '^(70|A4|B0|B9|24|D8|46|48|4A)$' | sort -u | tr '\n' ' ')
    [ -z "$other" ] || fail "unexpected commands: $other"
    echo "scan ok: $(grep -c ' APDU ' trace.txt) APDUs, $(wc -l < keylog.txt) key log lines" ;;
*) echo "unknown case $CASE" >&2; exit 2 ;;
esac
echo "ok: $CASE"
exit 0
