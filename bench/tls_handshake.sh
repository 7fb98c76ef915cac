#!/bin/sh
# Driver of bench/tls_handshake.c: a test PKI (openssl CLI), a card image with the client
# key, its certificate and the CA, `simtrust-card serve --latency modem-sim,sleep=no`, and
# one `openssl s_server -Verify 1` per handshake kind (TLS 1.3, TLS 1.2, DTLS 1.2), and one
# `openssl s_server -psk HEX -psk_identity ID -nocert` per PSK kind (TLS 1.2 PSK, TLS 1.2
# ECDHE-PSK, TLS 1.3 external PSK with psk_dhe_ke; the PSK in the card's secret key psk1).
#   tls_handshake.sh CARD_BIN BENCH_BIN [N]
set -u
CARD=$1 BENCH=$2 N=${3:-20}
command -v openssl >/dev/null 2>&1 || { echo "SKIP: no openssl"; exit 77; }
T=$(mktemp -d "${TMPDIR:-/tmp}/st-bench.XXXXXX")
PIDS=""
trap 'for p in $PIDS; do kill "$p" 2>/dev/null; done; wait 2>/dev/null; rm -rf "$T"' EXIT INT TERM
cd "$T" || exit 1
mkfifo stdin.fifo && exec 3<>stdin.fifo
O=openssl
key() { $O ecparam -name prime256v1 -genkey -noout -out "$1" 2>/dev/null; }
key ca.key
$O req -x509 -new -key ca.key -subj /CN=ca -days 30 -out ca.pem \
    -addext basicConstraints=critical,CA:true -addext keyUsage=critical,keyCertSign 2>/dev/null
issue() { key "$1.key"; $O req -new -key "$1.key" -subj "/CN=$2" -out "$1.csr"
    printf '%s\n' "$3" > "$1.ext"
    $O x509 -req -in "$1.csr" -CA ca.pem -CAkey ca.key -CAcreateserial -days 30 \
        -extfile "$1.ext" -out "$1.pem" 2>/dev/null; }
issue srv localhost "subjectAltName=DNS:localhost"
issue cli device-0001 "extendedKeyUsage=clientAuth"
PSK=$($O rand -hex 32)
PSKID=device-0001-psk
cat > profile.json <<JSON
{"iccid": "89882280000000000017",
 "private_keys": [
  {"id": "01", "label": "client", "type": "p256", "pem_file": "cli.key", "public_id": "01"},
  {"id": "04", "label": "ecdhe", "type": "p256-volatile", "functions": ["keygen", "key_agreement"]}],
 "public_keys": [{"id": "05", "label": "peer", "type": "p256-volatile", "access": ["read", "update"]}],
 "secret_keys": [{"id": "10", "label": "psk1", "hex": "$PSK", "identity": "$PSKID",
  "identity_file_id": "11"}],
 "files": [
  {"id": "02", "label": "client-cert", "usage": "certificate", "pem_file": "cli.pem"},
  {"id": "03", "label": "ca", "usage": "certificate", "pem_file": "ca.pem"}]}
JSON
"$CARD" personalise --profile profile.json --image card.img --delivery d.json 2>p.err \
    || { cat p.err; exit 1; }
"$CARD" serve --image card.img --tcp 127.0.0.1:0 --latency modem-sim,sleep=no > card.out 2>card.err &
PIDS="$PIDS $!"
i=0
until grep -q '^tcp: ' card.out 2>/dev/null; do
    i=$((i + 1)); [ $i -gt 100 ] && { echo "card did not start"; cat card.err; exit 1; }; sleep 0.05
done
port() { python3 -c "import socket;s=socket.socket(socket.AF_INET,socket.$1);s.bind(('127.0.0.1',0));print(s.getsockname()[1])"; }
srv() { # option port
    $O s_server "$1" -accept "127.0.0.1:$2" -cert srv.pem -key srv.key -CAfile ca.pem \
        -Verify 1 -quiet < stdin.fifo > "srv$1.log" 2>&1 &
    PIDS="$PIDS $!"
}
psksrv() { # log port options...
    log=$1 p=$2; shift 2
    $O s_server -accept "127.0.0.1:$p" -nocert -psk "$PSK" -psk_identity "$PSKID" -quiet \
        "$@" < stdin.fifo > "$log" 2>&1 &
    PIDS="$PIDS $!"
}
P13=$(port SOCK_STREAM); P12=$(port SOCK_STREAM); PD=$(port SOCK_DGRAM)
PP12=$(port SOCK_STREAM); PE12=$(port SOCK_STREAM); PP13=$(port SOCK_STREAM)
srv -tls1_3 "$P13"; srv -tls1_2 "$P12"; srv -dtls1_2 "$PD"
psksrv psk12.log "$PP12" -tls1_2 -cipher PSK-AES128-GCM-SHA256
psksrv epsk12.log "$PE12" -tls1_2 -cipher ECDHE-PSK-CHACHA20-POLY1305 -groups P-256
psksrv psk13.log "$PP13" -tls1_3 -groups P-256
i=0
until ss -Hltn "sport = :$P13" | grep -q . && ss -Hltn "sport = :$P12" | grep -q . \
    && ss -Hlun "sport = :$PD" | grep -q . && ss -Hltn "sport = :$PP12" | grep -q . \
    && ss -Hltn "sport = :$PE12" | grep -q . && ss -Hltn "sport = :$PP13" | grep -q .; do
    i=$((i + 1)); [ $i -gt 100 ] && { echo "servers did not start"; exit 1; }; sleep 0.05
done
"$BENCH" --sim "tcp:$(sed -n 's/^tcp: //p' card.out)" --servername localhost \
    --soft-key cli.key --soft-cert cli.pem --ca-file ca.pem \
    --tls13 "$P13" --tls12 "$P12" --dtls12 "$PD" \
    --psk12 "$PP12" --ecdhe-psk12 "$PE12" --psk13 "$PP13" --psk-hex "$PSK" --psk-identity "$PSKID" \
    -n "$N"
