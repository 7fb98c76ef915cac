#!/bin/sh
# wolfssl_iotsafe.sh - interop test: wolfSSL's IoT-SAFE demo client over our modem front end.
#
# An external IoT SAFE client (wolfSSL 5.5.4's IoT-SAFE port with its IDE/iotsafe-raspberrypi
# demo, built by scripts/wolfssl-iotsafe.sh) completes a mutual-auth TLS handshake against
# `openssl s_server -Verify 1`, talking AT+CSIM over a pseudo-terminal to `simtrust-card serve
# --modem`. The client holds no key or certificate of its own: its certificate comes from card
# file 02, the trusted server certificate from file 03, and the signature, ECDHE and (TLS 1.3)
# HKDF are computed by the card. See docs/interop-wolfssl.md.
#
# Exit status: 0 pass, 1 fail, 2 usage error.
set -eu

PROG=wolfssl_iotsafe.sh
HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)

usage() {
    cat <<EOF
Usage: $PROG --card PATH [options]

Options:
  --card PATH          the simtrust-card program (required)
  --wolfssl-dir DIR    cache of scripts/wolfssl-iotsafe.sh (built there when missing;
                       default: \$SIMTRUST_WOLFSSL_DIR, else /var/cache/simtrust/wolfssl-iotsafe)
  --tls 1.3|1.2        protocol version of the demo build and the server (default: 1.3)
  --serve-arg ARG      extra argument for 'simtrust-card serve' (repeatable)
  --timeout SEC        limit for the demo run (default: 300; one handshake takes ~20 s)
  --keep               keep the work directory (it is always kept on failure)
  -h, --help           this help
EOF
}

CARD=
WDIR=${SIMTRUST_WOLFSSL_DIR:-/var/cache/simtrust/wolfssl-iotsafe}
TLS=1.3
SERVE_ARGS=
TIMEOUT=300
KEEP=0
while [ $# -gt 0 ]; do
    case $1 in
    --card)
        CARD=${2:?--card needs a path}
        shift 2
        ;;
    --wolfssl-dir)
        WDIR=${2:?--wolfssl-dir needs a directory}
        shift 2
        ;;
    --tls)
        TLS=${2:?--tls needs 1.3 or 1.2}
        shift 2
        ;;
    --serve-arg)
        SERVE_ARGS="$SERVE_ARGS ${2:?--serve-arg needs an argument}"
        shift 2
        ;;
    --timeout)
        TIMEOUT=${2:?--timeout needs seconds}
        shift 2
        ;;
    --keep)
        KEEP=1
        shift
        ;;
    -h | --help)
        usage
        exit 0
        ;;
    *)
        echo "$PROG: unknown argument '$1' (see --help)" >&2
        exit 2
        ;;
    esac
done
[ -n "$CARD" ] || {
    usage >&2
    exit 2
}
case $TLS in
1.3) DEMO_NAME=iotsafe-tls13 S_PROTO="-tls1_3 -ciphersuites TLS_AES_128_GCM_SHA256" ;;
1.2) DEMO_NAME=iotsafe-tls12 S_PROTO="-tls1_2 -cipher ECDHE-ECDSA-AES128-GCM-SHA256" ;;
*)
    echo "$PROG: --tls wants 1.3 or 1.2" >&2
    exit 2
    ;;
esac
case $CARD in /*) ;; *) CARD=$(pwd)/$CARD ;; esac
case $WDIR in /*) ;; *) WDIR=$(pwd)/$WDIR ;; esac
[ -x "$CARD" ] || {
    echo "$PROG: FAIL: simtrust-card program '$CARD' not found or not executable" >&2
    exit 1
}
command -v openssl >/dev/null || {
    echo "$PROG: FAIL: the openssl command is needed" >&2
    exit 1
}

T=$(mktemp -d "${TMPDIR:-/tmp}/simtrust-wolfssl-iotsafe.XXXXXX")
SERVE_PID=
SSERVER_PID=
DEMO_PID=
RESULT=1

say() { echo "[$PROG] $*"; }

stop() { # pid
    [ -n "$1" ] || return 0
    if kill -0 "$1" 2>/dev/null; then
        kill "$1" 2>/dev/null || true
        i=0
        while kill -0 "$1" 2>/dev/null && [ $i -lt 20 ]; do
            sleep 0.1
            i=$((i + 1))
        done
        kill -9 "$1" 2>/dev/null || true
    fi
    wait "$1" 2>/dev/null || true
}

show() { # file lines
    [ -s "$1" ] || return 0
    echo "----- last $2 lines of $1 -----"
    tail -n "$2" "$1"
}

cleanup() {
    stop "$DEMO_PID"
    stop "$SSERVER_PID"
    stop "$SERVE_PID"
    if [ $RESULT = 0 ] && [ $KEEP = 0 ]; then
        rm -rf "$T"
    else
        if [ $RESULT != 0 ]; then
            show "$T/serve.err" 20
            show "$T/s_server.err" 40
            show "$T/trace.log" 30
            show "$T/demo.log" 60
        fi
        say "work directory kept: $T"
    fi
}
trap cleanup EXIT
trap 'exit 1' INT TERM HUP

fail() {
    say "FAIL: $*"
    exit 1
}

# --- wolfSSL IoT-SAFE demo (built once, cached) -------------------------------------------------
sh "$ROOT/scripts/wolfssl-iotsafe.sh" --out "$WDIR" || fail "could not build the wolfSSL IoT-SAFE demo"
DEMO="$WDIR/bin/$DEMO_NAME"
[ -x "$DEMO" ] || fail "$DEMO missing after the build"

# --- test PKI (fresh, P-256) ----------------------------------------------------------------
cd "$T"
ossl() { openssl "$@" >>"$T/pki.log" 2>&1 || fail "openssl $1 failed (see $T/pki.log)"; }
ossl ecparam -name prime256v1 -genkey -noout -out ca-key.pem
ossl req -x509 -new -key ca-key.pem -out ca.pem -days 2 -subj "/CN=simtrust interop test CA" \
    -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign"
for n in srv cli; do
    if [ $n = srv ]; then
        cn=localhost
        ext="subjectAltName=DNS:localhost,IP:127.0.0.1
extendedKeyUsage=serverAuth"
    else
        cn=iot-device
        ext="extendedKeyUsage=clientAuth"
    fi
    ossl ecparam -name prime256v1 -genkey -noout -out $n-key.pem
    ossl req -new -key $n-key.pem -out $n.csr -subj "/CN=$cn"
    printf 'basicConstraints=critical,CA:FALSE\nkeyUsage=critical,digitalSignature\n%s\n' \
        "$ext" >$n.ext
    ossl x509 -req -in $n.csr -CA ca.pem -CAkey ca-key.pem -set_serial "0x$(openssl rand -hex 8)" \
        -days 2 -extfile $n.ext -out $n.pem
done

# --- card ---------------------------------------------------------------------------------------
cat >profile.json <<EOF
{"iccid":"89882280000000000017",
 "private_keys":[{"id":"01","label":"client","type":"p256","pem_file":"$T/cli-key.pem","public_id":"01"},
                 {"id":"04","label":"ecdhe","type":"p256-volatile","functions":["keygen","key_agreement"]}],
 "public_keys":[{"id":"05","label":"peer","type":"p256-volatile","access":["read","update"]}],
 "files":[{"id":"02","label":"client-cert","usage":"certificate","pem_file":"$T/cli.pem"},
          {"id":"03","label":"server-cert","usage":"certificate","pem_file":"$T/srv.pem"}]}
EOF
"$CARD" personalise --profile profile.json --image card.img >personalise.log 2>&1 ||
    fail "simtrust-card personalise failed: $(tail -n 3 personalise.log)"

# shellcheck disable=SC2086
"$CARD" serve --image card.img --modem --trace "$T/trace.log" $SERVE_ARGS \
    </dev/null >serve.out 2>serve.err &
SERVE_PID=$!
PTY=
i=0
while [ $i -lt 100 ]; do
    PTY=$(sed -n 's/^modem: \(\/dev\/[^ ]*\)$/\1/p' serve.out | head -n 1)
    [ -z "$PTY" ] || break
    kill -0 $SERVE_PID 2>/dev/null || fail "simtrust-card serve exited: $(tail -n 3 serve.err)"
    sleep 0.1
    i=$((i + 1))
done
[ -n "$PTY" ] || fail "simtrust-card serve printed no 'modem: /dev/pts/N' line within 10 s"
[ -c "$PTY" ] || fail "modem device $PTY is not a character device"
say "card modem on $PTY"

# --- server ---------------------------------------------------------------------------------------
# -Verify 1: a client certificate is required; -verify_return_error: it must verify against ca.pem.
# P-256 and ecdsa_secp256r1_sha256 only (the card's slots are P-256; 5.5.4's HKDF hook is SHA-256).
# -rev: echo each received line reversed, so the demo's wolfSSL_read gets an answer.
# shellcheck disable=SC2086
openssl s_server -accept 127.0.0.1:0 -naccept 1 -cert srv.pem -key srv-key.pem -CAfile ca.pem \
    -Verify 1 -verify_return_error -curves prime256v1 -sigalgs ecdsa_secp256r1_sha256 \
    $S_PROTO -rev </dev/null >s_server.out 2>s_server.err &
SSERVER_PID=$!
PORT=
i=0
while [ $i -lt 100 ]; do
    PORT=$(sed -n 's/^ACCEPT 127\.0\.0\.1:\([0-9][0-9]*\)$/\1/p' s_server.out | head -n 1)
    [ -z "$PORT" ] || break
    kill -0 $SSERVER_PID 2>/dev/null || fail "openssl s_server exited: $(tail -n 3 s_server.err)"
    sleep 0.1
    i=$((i + 1))
done
[ -n "$PORT" ] || fail "openssl s_server did not report its port within 10 s"
say "openssl s_server on 127.0.0.1:$PORT (TLS $TLS)"

# --- the client ---------------------------------------------------------------------------------
say "running $DEMO_NAME (wolfSSL IoT-SAFE demo; about 20 s)"
T0=$(date +%s)
# stdbuf -oL: line-buffered stdout, so its lines interleave with wolfSSL's stderr log in order.
stdbuf -oL "$DEMO" -ip 127.0.0.1 -h localhost -p "$PORT" -t 25 -d "$PTY" </dev/null >demo.log 2>&1 &
DEMO_PID=$!
# While waiting, note when the handshake starts and ends (to 0.1 s) from the demo's progress lines.
HS_START=
HS_END=
i=0
while kill -0 $DEMO_PID 2>/dev/null; do
    [ $i -lt $((TIMEOUT * 10)) ] || fail "the demo did not finish within $TIMEOUT s"
    if [ -z "$HS_START" ]; then
        ! grep -q '^---- *Start TLS 1.3 handshaking' demo.log || HS_START=$(date +%s.%N)
    elif [ -z "$HS_END" ]; then
        ! grep -q '^---- wolfSSL TLS 1.3 connection established' demo.log || HS_END=$(date +%s.%N)
    fi
    sleep 0.1
    i=$((i + 1))
done
# (the demo exits within 0.1 s of the handshake: sends one request, reads the answer)
[ -n "$HS_END" ] || HS_END=$(date +%s.%N)
wait $DEMO_PID && demo_rc=0 || demo_rc=$?
DEMO_PID=
ELAPSED=$(($(date +%s) - T0))
say "demo finished in $ELAPSED s (exit status $demo_rc)"
HS_TIME="?"
[ -z "$HS_START" ] || [ -z "$HS_END" ] ||
    HS_TIME=$(awk -v a="$HS_START" -v b="$HS_END" 'BEGIN { printf "%.1f", b - a }')

# s_server -naccept 1 exits once the connection is closed.
i=0
while kill -0 $SSERVER_PID 2>/dev/null && [ $i -lt 50 ]; do
    sleep 0.1
    i=$((i + 1))
done

# Stop the card now, so that a sanitizer report (ST_SANITIZE builds) is in serve.err.
kill "$SERVE_PID" 2>/dev/null || true
i=0
while kill -0 "$SERVE_PID" 2>/dev/null && [ $i -lt 100 ]; do
    sleep 0.1
    i=$((i + 1))
done
kill -0 "$SERVE_PID" 2>/dev/null && fail "simtrust-card serve did not stop within 10 s of SIGTERM"
wait "$SERVE_PID" && serve_rc=0 || serve_rc=$?
SERVE_PID=
[ "$serve_rc" = 0 ] || fail "simtrust-card serve exited with status $serve_rc on SIGTERM (expected 0)"
if grep -Eq 'AddressSanitizer|LeakSanitizer|UndefinedBehaviorSanitizer|runtime error:' serve.err; then
    fail "simtrust-card serve reported a sanitizer error (see $T/serve.err)"
fi

# --- verdict ----------------------------------------------------------------------------------------
# Both ends must have completed the handshake. The demo exits 0 even on failure; its success line
# says "TLS 1.3" in both builds. In TLS 1.3 the client may report success before the server has
# checked its CertificateVerify, so the server's view is decisive.
client_ok=0
server_ok=0
grep -q '^---- wolfSSL TLS 1.3 connection established' demo.log && client_ok=1
grep -q '^CONNECTION ESTABLISHED' s_server.err && server_ok=1
if [ $client_ok = 0 ] || [ $server_ok = 0 ]; then
    if [ $client_ok = 1 ]; then
        cerr="handshake completed"
    else
        cerr=$(grep -E '[Ee]rror|^ERROR|^Unexpected|^Invalid' demo.log |
            uniq | head -n 3 | tr '\n' ';' | sed 's/;$//')
    fi
    if [ $server_ok = 1 ]; then
        serr="connection accepted"
    else
        serr=$(grep ':error:' s_server.err | head -n 1 | cut -d: -f5,6)
    fi
    fail "the TLS $TLS handshake failed. client (demo.log): ${cerr:-no handshake};" \
        "server (s_server.err): ${serr:-no connection}"
fi
# The certificate the client presented came from card file 02.
cli_hex=$(openssl x509 -in cli.pem -outform DER | od -An -tx1 -v | tr -d ' \n' | tr a-f A-F)
sed -n '/^Extracted client certificate in HEX:/{n;p;}' demo.log | tr -d '\r\n' | grep -qx "$cli_hex" ||
    fail "the client certificate the demo read from card file 02 differs from cli.pem"

# Server side.
grep -q "^Protocol version: TLSv$TLS\$" s_server.err ||
    fail "s_server negotiated $(sed -n 's/^Protocol version: //p' s_server.err), not TLSv$TLS"
grep -q '^Peer certificate: CN *= *iot-device$' s_server.err ||
    fail "s_server received no client certificate with CN iot-device"
grep -q '^Verification: OK$' s_server.err || fail "s_server did not verify the client certificate"
grep -q '^Signature type: ECDSA$' s_server.err || fail "the client did not sign with ECDSA"
grep -q '1.1/PTTH ecived/toi/ TSOP' demo.log ||
    fail "the demo got no application data back from s_server (expected its request line reversed)"

# Card side: the trace shows the card did the private-key work.
[ -s trace.log ] || fail "the APDU trace is empty"
# One line per APDU: "#n APDU <C-APDU hex> -> <R-APDU hex>". Fields: INS, SW, C-APDU, R-APDU.
awk '$2 == "APDU" { c = toupper($3); r = toupper($5);
                    print substr(c, 3, 2), substr(r, length(r) - 3), c, r }' trace.log >apdus.txt
# ins_ok INS: some APDU with this INS was answered 9000 or 61xx (data then fetched by GET RESPONSE).
ins_ok() { awk -v ins="$1" '$1 == ins && ($2 == "9000" || $2 ~ /^61/) { f = 1 } END { exit !f }' apdus.txt; }
ins_ok 2A || fail "the card performed no COMPUTE SIGNATURE init (INS 2A) successfully"
ins_ok 2B || fail "the card performed no COMPUTE SIGNATURE update (INS 2B) successfully"
ins_ok B9 || fail "the card generated no ephemeral key pair (INS B9)"
ins_ok 46 || fail "the card computed no ECDH shared secret (INS 46)"
ins_ok D8 || fail "the card stored no peer public key (PUT PUBLIC KEY update, INS D8)"
ins_ok 2D || fail "the card verified no server signature (VERIFY SIGNATURE update, INS 2D)"
if [ "$TLS" = 1.3 ]; then
    ins_ok 4A || fail "the card computed no HKDF (INS 4A)"
    n=$(awk '$1 == "4A" && ($2 == "9000" || $2 ~ /^61/)' apdus.txt | wc -l)
    [ "$n" -ge 3 ] || fail "the card computed $n HKDF-Extract (INS 4A), expected 3 (early, handshake, master)"
fi
# The signature was made with key 01 (SIGN init carries 84 01 01).
awk '$1 == "2A" && $3 ~ /^..2A0001..840101/' apdus.txt | grep -q . ||
    fail "no COMPUTE SIGNATURE init with private key 01"

total=$(wc -l <apdus.txt)
# The handshake starts at the first APDU that is not SELECT / GET DATA / READ FILE / GET RESPONSE.
pre=$(awk '$1 != "A4" && $1 != "CB" && $1 != "B0" && $1 != "C0" { print NR - 1; exit }' apdus.txt)
hs=$((total - pre))
getresp=$(awk 'NR > p && $1 == "C0"' p="$pre" apdus.txt | wc -l)
counts=$(awk 'NR > p { if (!($1 in n)) o[k++] = $1; n[$1]++ }
              END { for (i = 0; i < k; i++) printf "%s%s x%d", i ? ", " : "", o[i], n[o[i]] }' \
    p="$pre" apdus.txt)
bad=$(awk 'NR > p && $2 != "9000" && $2 !~ /^61/ { printf "#%d %s->%s ", NR, $1, $2 }' p="$pre" apdus.txt)
say "APDUs: $total in total, $pre before the handshake, $hs in the handshake ($getresp GET RESPONSE)"
say "handshake APDUs by INS, in order of first use: $counts"
[ -z "$bad" ] || say "note: handshake APDUs with other status words: $bad"
say "PASS: TLS $TLS mutual-auth handshake with keys and certificates held by the card" \
    "(handshake ${HS_TIME} s, whole demo run $ELAPSED s)"
RESULT=0
