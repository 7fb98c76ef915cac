#!/bin/sh
# cli_e2e.sh - every command of the simtrust CLI end to end against simtrust-card, over one
# transport, with the results checked independently (OpenSSL, the delivery record, the
# reference's test vectors).
#
#   cli_e2e.sh --tool SIMTRUST --card SIMTRUST_CARD --json CLI_JSON --transport tcp|at|pcsc
#              [--reader 0|1]
#
# Personalises a card (P-256 key pair "client", an RSA-2048 pair, an empty P-256 pair for
# on-board generation, ECDHE and peer volatile slots, a CA-key slot, a certificate file, a
# general file, a PSK with its identity file), serves it (TCP port 0, a modem pty, or vpcd
# reader N of an already running pcscd), runs every command and checks what it printed,
# then the error paths: unknown label (exit 1), bad --sim (exit 2), the card gone (exit 3).
#
# Exit status: 0 pass, 1 fail, 2 usage, 77 skipped (pcsc: no pcscd or vpcd driver; openssl
# missing).
set -u
PROG=cli_e2e.sh

TOOL= CARD= JSON= TRANSPORT= READER_NO=1
while [ $# -gt 0 ]; do
    case $1 in
    --tool) TOOL=${2:?}; shift 2 ;;
    --card) CARD=${2:?}; shift 2 ;;
    --json) JSON=${2:?}; shift 2 ;;
    --transport) TRANSPORT=${2:?}; shift 2 ;;
    --reader) READER_NO=${2:?}; shift 2 ;;
    *) echo "$PROG: unknown argument '$1'" >&2; exit 2 ;;
    esac
done
[ -n "$TOOL" ] && [ -n "$CARD" ] && [ -n "$JSON" ] || { echo "usage: $PROG --tool T --card C --json J --transport tcp|at|pcsc" >&2; exit 2; }
case $TRANSPORT in tcp | at | pcsc) ;; *) echo "$PROG: bad --transport" >&2; exit 2 ;; esac

skip() { echo "SKIP: $*"; exit 77; }
command -v openssl >/dev/null 2>&1 || skip "openssl is not installed"
if [ "$TRANSPORT" = pcsc ]; then
    # Machine-wide lock shared by every vpcd test (tests/support/vpcd_lock.h).
    if command -v flock >/dev/null 2>&1; then
        exec 9>/tmp/simtrust-vpcd.lock
        flock 9
    fi
    [ -f /etc/reader.conf.d/vpcd ] || skip "no vpcd driver (vsmartcard-vpcd)"
    "$TOOL" readers >/dev/null 2>&1 || skip "pcscd is not answering"
fi

T=$(mktemp -d "${TMPDIR:-/tmp}/simtrust-cli.XXXXXX") || exit 1
SERVE_PID= PASS=0 FAILS=0

running() {
    [ -r "/proc/$1/stat" ] || return 1
    state=$(sed 's/^.*) \(.\).*$/\1/' "/proc/$1/stat" 2>/dev/null)
    [ -n "$state" ] && [ "$state" != Z ]
}
stop_serve() {
    [ -n "$SERVE_PID" ] || return 0
    kill -TERM "$SERVE_PID" 2>/dev/null
    i=0
    while running "$SERVE_PID" && [ $i -lt 100 ]; do sleep 0.1; i=$((i + 1)); done
    running "$SERVE_PID" && kill -KILL "$SERVE_PID" 2>/dev/null
    wait "$SERVE_PID" 2>/dev/null
    SERVE_PID=
}
cleanup() {
    stop_serve
    if [ "$FAILS" -ne 0 ] && [ -s "$T/serve.err" ]; then
        echo "--- serve.err (tail)"
        tail -n 20 "$T/serve.err"
    fi
    rm -rf "$T"
}
trap cleanup EXIT
trap 'exit 1' INT TERM HUP

ok() { PASS=$((PASS + 1)); }
bad() {
    FAILS=$((FAILS + 1))
    echo "FAIL: $*"
    [ -s "$T/err" ] && sed 's/^/    stderr: /' "$T/err" | head -n 5
}
# run WANT_RC ARGS...: the tool with --sim, stdout to $T/out, stderr to $T/err.
run() {
    want=$1
    shift
    "$TOOL" --sim "$SIM" "$@" >"$T/out" 2>"$T/err"
    RC=$?
    if grep -Eq 'Sanitizer|runtime error:' "$T/err"; then
        bad "simtrust $*: sanitizer report"
        return 1
    fi
    if [ "$RC" -ne "$want" ]; then
        bad "simtrust $* -> exit $RC, want $want"
        return 1
    fi
    return 0
}
hex_of() { od -An -v -tx1 "$1" | tr -d ' \n' | tr 'a-f' 'A-F'; }
upper() { tr 'a-f' 'A-F' | tr -d ': \n'; }
same() { # same WHAT A B
    if [ "$2" = "$3" ]; then ok; else bad "$1: '$2' != '$3'"; fi
}
contains() { # contains WHAT FILE FIXED-STRING
    if grep -qF -- "$3" "$2"; then ok; else bad "$1: no '$3' in the output"; fi
}
json_ok() { # json_ok WHAT: $T/out parses as JSON
    if "$JSON" <"$T/out" 2>"$T/jerr"; then ok; else bad "$1: --json output is not JSON: $(cat "$T/jerr")"; fi
}
jget() { "$JSON" "$1" <"$T/out"; }
pubder() { openssl pkey -pubin -in "$1" -outform DER 2>/dev/null | od -An -v -tx1 | tr -d ' \n'; }

# --- the card -----------------------------------------------------------------------------
cd "$T" || exit 1
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout cert-key.pem \
    -out cert.pem -subj "/CN=device-0001/O=simtrust tests" -days 30 >/dev/null 2>&1 \
    || { echo "$PROG: openssl cannot make the test certificate"; exit 1; }
PSK=00112233445566778899aabbccddeeff
cat >profile.json <<EOF
{
  "iccid": "89882280000000000017",
  "private_keys": [
    {"id": "01", "label": "client", "type": "p256", "generate": true, "public_id": "01"},
    {"id": "03", "label": "rsa", "type": "rsa2048", "generate": true, "public_id": "03"},
    {"id": "04", "label": "ecdhe", "type": "p256-volatile", "functions": ["keygen", "key_agreement"]},
    {"id": "06", "label": "obkg", "type": "p256", "public_id": "06"}
  ],
  "public_keys": [
    {"id": "05", "label": "peer", "type": "p256-volatile", "access": ["read", "update"]},
    {"id": "07", "label": "ca-key", "type": "p256", "access": ["read", "update"]}
  ],
  "files": [
    {"id": "02", "label": "client-cert", "usage": "certificate", "pem_file": "cert.pem"},
    {"id": "08", "label": "notes", "usage": "general", "hex": "48656c6c6f", "size": 32}
  ],
  "secret_keys": [
    {"id": "10", "label": "psk1", "hex": "$PSK", "identity": "device-0001", "identity_file_id": "11"}
  ]
}
EOF
"$CARD" personalise --profile profile.json --image card.img --delivery delivery.json \
    2>personalise.err || { cat personalise.err; echo "$PROG: personalise failed"; exit 1; }
"$JSON" public_keys.label=client.pem <delivery.json >client.delivery.pem || { echo "$PROG: no client key in the delivery record"; exit 1; }

case $TRANSPORT in
tcp) FRONT="--tcp 127.0.0.1:0" ;;
at) FRONT="--modem" ;;
pcsc) FRONT="--vpcd 127.0.0.1:$((35963 + READER_NO))" ;;
esac
# shellcheck disable=SC2086
"$CARD" serve --image card.img $FRONT </dev/null >serve.out 2>serve.err &
SERVE_PID=$!
i=0
until grep -q '^[a-z]*: ' serve.out 2>/dev/null; do
    running "$SERVE_PID" || { cat serve.err; echo "$PROG: serve exited"; exit 1; }
    [ $i -lt 100 ] || { echo "$PROG: serve printed no ready line"; exit 1; }
    sleep 0.1
    i=$((i + 1))
done
case $TRANSPORT in
tcp) SIM="tcp:$(sed -n 's/^tcp: //p' serve.out)" ;;
at) SIM="at:$(sed -n 's/^modem: //p' serve.out)" ;;
pcsc)
    SIM="pcsc:Virtual PCD 00 0$READER_NO"
    # pcscd has to notice the card: wait until the applet answers.
    i=0
    until "$TOOL" --sim "$SIM" random 1 >/dev/null 2>&1; do
        [ $i -lt 200 ] || { echo "$PROG: no card in '$SIM' within 20 s"; exit 1; }
        sleep 0.1
        i=$((i + 1))
    done
    ;;
esac
echo "$PROG: card at $SIM"

# --- info, list, random ---------------------------------------------------------------------
if run 0 info; then
    contains "info" "$T/out" "capacity:       16 files, 8 private keys"
    contains "info" "$T/out" "signature:      rsa-pkcs1 rsa-pss ecdsa"
fi
if run 0 --json info; then
    json_ok "info"
    same "info --json max_private_keys" "$(jget max_private_keys)" 8
    same "info --json link" "$(jget link.type)" "$TRANSPORT"
    [ "$TRANSPORT" = pcsc ] && same "info --json atr" "$(jget atr)" 3B80800101
fi
if run 0 list; then
    for l in client rsa ecdhe obkg peer ca-key client-cert notes psk1; do
        contains "list" "$T/out" "label \"$l\""
    done
    contains "list" "$T/out" "key derivation prf-sha256 hkdf"
    if grep -qi "$PSK" "$T/out"; then bad "list shows the PSK value"; else ok; fi
fi
if run 0 list --kind file; then
    if grep -q "key" "$T/out"; then bad "list --kind file shows keys"; else ok; fi
    contains "list --kind file" "$T/out" "usage certificate"
fi
if run 0 --json list; then
    json_ok "list"
    same "list --json objects" "$(jget objects.12.kind)" file
    same "list --json psk" "$(jget objects.label=client-cert.usage)" certificate
    if "$JSON" objects.13 <"$T/out" >/dev/null; then bad "list --json: more than 13 objects"; else ok; fi
fi
if run 0 random 32; then
    same "random 32 length" "$(tr -d '\n' <"$T/out" | wc -c)" 64
fi
if run 0 --json random 300; then
    json_ok "random"
    same "random 300 length" "$(jget random | tr -d '\n' | wc -c)" 600
fi

# --- public keys ----------------------------------------------------------------------------
if run 0 pubkey --key client --pem; then
    cp "$T/out" client.pub.pem
    same "pubkey = delivery record" "$(pubder client.pub.pem)" "$(pubder client.delivery.pem)"
fi
run 0 pubkey --key-id 03 --pem && cp "$T/out" rsa.pub.pem
if run 0 --json pubkey --key client; then
    json_ok "pubkey"
    same "pubkey --json type" "$(jget type)" P-256
fi

# --- sign and verify ------------------------------------------------------------------------
printf 'The quick brown fox jumps over the lazy dog\n' >msg
printf 'The quick brown fox jumps over the lazy cat\n' >msg.bad
head -c 1500 /dev/zero | tr '\0' 'a' >big
if run 0 sign --key client --in msg --der --out msg.sig; then
    if openssl dgst -sha256 -verify client.pub.pem -signature msg.sig msg >/dev/null 2>&1; then ok; else bad "ECDSA (digest mode) does not verify with openssl"; fi
fi
if run 0 sign --key client --in big --mode full --hash sha384 --der --out big.sig; then
    if openssl dgst -sha384 -verify client.pub.pem -signature big.sig big >/dev/null 2>&1; then ok; else bad "ECDSA (full mode, SHA-384) does not verify with openssl"; fi
fi
run 0 verify --key client --in msg --sig msg.sig && contains "verify" "$T/out" "signature verifies"
run 0 verify --key client --in big --mode full --hash sha384 --sig big.sig
if run 1 verify --key client --in msg.bad --sig msg.sig; then
    contains "verify tampered" "$T/err" "signature does not verify (SW 6D01)"
fi
DIGEST=$(openssl dgst -sha256 -binary msg | od -An -v -tx1 | tr -d ' \n')
if run 0 sign --key-id 01 --digest "$DIGEST"; then
    RAW=$(tr -d '\n' <"$T/out")
    same "raw ECDSA length" "${#RAW}" 128
    run 0 verify --key client --digest "$DIGEST" --sig "$RAW"
    run 0 --sig-len1 verify --key-id 01 --digest "$DIGEST" --sig "$RAW"
    # Flip the last hex digit of s.
    case $RAW in *0) TAMPERED=${RAW%?}1 ;; *) TAMPERED=${RAW%?}0 ;; esac
    run 1 verify --key client --digest "$DIGEST" --sig "$TAMPERED"
fi
if run 0 --json sign --key client --in msg; then
    json_ok "sign"
    same "sign --json alg" "$(jget alg)" ecdsa
fi
if run 0 sign --key rsa --in msg --out rsa.sig; then
    if openssl dgst -sha256 -verify rsa.pub.pem -signature rsa.sig msg >/dev/null 2>&1; then ok; else bad "RSA PKCS#1 does not verify with openssl"; fi
    run 0 verify --key rsa --in msg --sig rsa.sig
fi
if run 0 sign --key rsa --alg rsa-pss --hash sha512 --mode full --in msg --out pss.sig; then
    if openssl dgst -sha512 -sigopt rsa_padding_mode:pss -sigopt rsa_pss_saltlen:-2 \
        -verify rsa.pub.pem -signature pss.sig msg >/dev/null 2>&1; then ok; else bad "RSA-PSS does not verify with openssl"; fi
fi
# A CA's key into the card, then the card verifies the CA's signatures (F3, B9).
openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out ca.key >/dev/null 2>&1
openssl pkey -in ca.key -pubout -out ca.pub 2>/dev/null
openssl dgst -sha256 -sign ca.key -out ca.sig msg 2>/dev/null
if run 0 put-pubkey --key ca-key --in ca.pub; then
    run 0 verify --key ca-key --in msg --sig ca.sig
    run 1 verify --key ca-key --in msg.bad --sig ca.sig
    if run 0 pubkey --key ca-key --pem; then
        same "put-pubkey then pubkey" "$(pubder "$T/out")" "$(pubder ca.pub)"
    fi
fi
run 0 --json put-pubkey --key-id 07 --in cert.pem && json_ok "put-pubkey"

# --- files ----------------------------------------------------------------------------------
if run 0 read-file --file client-cert --pem; then
    same "read-file --pem" "$(openssl x509 -in "$T/out" -outform DER | od -An -v -tx1 | tr -d ' \n')" \
        "$(openssl x509 -in cert.pem -outform DER | od -An -v -tx1 | tr -d ' \n')"
fi
if run 0 read-file --file-id 02 --out cert.der; then
    same "read-file --out" "$(hex_of cert.der)" "$(openssl x509 -in cert.pem -outform DER | od -An -v -tx1 | tr -d ' \n' | upper)"
fi
run 0 read-file --file notes && same "read-file notes" "$(tr -d '\n' <"$T/out")" \
    "48656C6C6F000000000000000000000000000000000000000000000000000000"
run 0 read-file --file-id 11 --raw && same "read-file PSK identity" "$(cat "$T/out")" device-0001
if run 0 --json read-file --file client-cert --pem; then
    json_ok "read-file"
    same "read-file --json certificates" "$(jget certificates)" 1
fi
run 4 read-file --file notes --pem

# --- key generation, DH ---------------------------------------------------------------------
openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out peer.key >/dev/null 2>&1
openssl pkey -in peer.key -pubout -out peer.pub 2>/dev/null
if run 0 dh --key client --peer-slot peer --peer peer.pub; then
    same "dh = openssl derive" "$(tr -d '\n' <"$T/out")" \
        "$(openssl pkeyutl -derive -inkey peer.key -peerkey client.pub.pem | od -An -v -tx1 | upper)"
fi
if run 0 keygen --key ecdhe --pem; then
    cp "$T/out" ecdhe.pub.pem
    if openssl pkey -pubin -in ecdhe.pub.pem -text -noout 2>/dev/null | grep -q prime256v1; then ok; else bad "keygen: not a P-256 PEM"; fi
    # Volatile keys survive between connections over TCP and AT; pcscd may power the
    # card down between two clients, which empties them.
    if [ "$TRANSPORT" != pcsc ] && run 0 --json dh --key-id 04 --peer-slot-id 05 --peer peer.pub; then
        json_ok "dh"
        same "dh (ecdhe) = openssl derive" "$(jget secret)" \
            "$(openssl pkeyutl -derive -inkey peer.key -peerkey ecdhe.pub.pem | od -An -v -tx1 | upper)"
    fi
fi
if run 0 --json keygen --key ecdhe; then
    json_ok "keygen"
    same "keygen --json private" "$(jget private.id)$(jget private.label 2>/dev/null)" 04
fi
run 1 keygen --key notes
run 1 dh --key rsa --peer-slot peer

# --- PRF and HKDF ---------------------------------------------------------------------------
# Reference §7, vector 1 (THM's unit test, the full 255-byte output).
V1=A1F02A766DA04C8FD83A40E358267528F8D815C48E3DC353D55FE3861C350622C78B48FE6F49F6E13E1B6B175CFE59FB\
B73D5A898BD0FBF6870DDFF32B91116181A0C591E7DD22A0354DCDA77AF2EAC218C055C703DCF5DD5D8A734B30AAF067\
EF23388F66F1FB8C5C5132DC338546774CE170C5AFDA8728E102EE7780D290409F05AE7465D4358AD1F2E8D8CA433593\
EF0FE367F4E09C04A3B8CBAD2E8139963834737D02727C04413D4AFEF06D46BABDFCFA8F8276166C6EC090C72F0BC498\
954A0EAD4C0F18B6A07DE04B38FC7FDF957BA24069CF2DE05E680A414131FC75B0C1A912EC8A533B4F9027A0CD278DA7\
20B8D6606A448FD243899BBE828677
if run 0 prf --mode general --secret c0485b054863f6dfa458789768b9035c6cacb160dd1a01834811f5783309db81 \
    --label "extended master secret" \
    --seed ce15b44d68440b652624244db8d2fb7dd601c759e9eb627fb10529ab0db76049 --length 255; then
    same "prf vector 1" "$(tr -d '\n' <"$T/out")" "$V1"
fi
SEED=000102030405060708090a0b0c0d0e0f
LABEL_HEX=$(printf 'master secret' | od -An -v -tx1 | tr -d ' \n')
# RFC 4279 pre-master: uint16 N, N zeros, uint16 N, PSK.
PMS_PSK=0010$(printf '%032d' 0)0010$PSK
if run 0 prf --mode psk --secret-key psk1 --label "master secret" --seed $SEED --length 48; then
    same "prf psk = openssl TLS1-PRF" "$(tr -d '\n' <"$T/out")" \
        "$(openssl kdf -keylen 48 -kdfopt digest:SHA256 -kdfopt hexsecret:$PMS_PSK \
            -kdfopt hexseed:$LABEL_HEX$SEED TLS1-PRF | upper)"
fi
OTHER=$(printf '%064d' 7)
# RFC 5489 pre-master: uint16 len, other, uint16 N, PSK.
PMS_ECDHE=0020${OTHER}0010$PSK
if run 0 --json prf --mode psk-ecdhe --secret-key-id 10 --other $OTHER --label "master secret" \
    --seed $SEED --length 48; then
    json_ok "prf"
    same "prf psk-ecdhe = openssl TLS1-PRF" "$(jget output)" \
        "$(openssl kdf -keylen 48 -kdfopt digest:SHA256 -kdfopt hexsecret:$PMS_ECDHE \
            -kdfopt hexseed:$LABEL_HEX$SEED TLS1-PRF | upper)"
fi
run 1 prf --mode psk --secret-key notes --label x --seed 00 --length 8
Z32=0000000000000000000000000000000000000000000000000000000000000000
EARLY=33AD0A1C607EC03B09E6CD9893680CE210ADF300AA1F2660E1B22E10F170F92A
run 0 hkdf extract --ikm $Z32 --salt $Z32 && same "hkdf extract (RFC 8448)" "$(tr -d '\n' <"$T/out")" $EARLY
run 0 hkdf extract --ikm $Z32 && same "hkdf extract, no salt" "$(tr -d '\n' <"$T/out")" $EARLY
if run 0 hkdf extract --secret-key psk1 --hash sha384; then
    same "hkdf extract psk = openssl" "$(tr -d '\n' <"$T/out")" \
        "$(openssl kdf -keylen 48 -kdfopt digest:SHA384 -kdfopt hexkey:$PSK -kdfopt mode:EXTRACT_ONLY HKDF | upper)"
fi
if run 0 --json hkdf expand --prk $EARLY --info 0102030405 --length 100; then
    json_ok "hkdf"
    same "hkdf expand = openssl" "$(jget okm)" \
        "$(openssl kdf -keylen 100 -kdfopt digest:SHA256 -kdfopt hexkey:$EARLY -kdfopt hexinfo:0102030405 \
            -kdfopt mode:EXPAND_ONLY HKDF | upper)"
fi
# A 16-byte PSK is shorter than a SHA-256 PRK: the card refuses (6A80).
run 1 hkdf expand --secret-key psk1 --length 32 && contains "hkdf expand short PRK" "$T/err" "SW 6A80"

# --- CSR (H1, H4) ---------------------------------------------------------------------------
if run 0 csr --key client --subject 'CN=meter-0001,O=Example'; then
    cp "$T/out" client.csr
    if openssl req -in client.csr -verify -noout >/dev/null 2>&1; then ok; else bad "csr does not verify"; fi
    openssl req -in client.csr -pubkey -noout >csr.pub.pem 2>/dev/null
    same "csr key = delivery record" "$(pubder csr.pub.pem)" "$(pubder client.delivery.pem)"
    same "csr subject" "$(openssl req -in client.csr -noout -subject -nameopt RFC2253)" \
        "subject=CN=meter-0001,O=Example"
fi
if run 0 csr --key-id 06 --generate --subject '/O=Example/CN=meter-0002' --hash sha384 \
    --out obkg.csr --attest-key client --attest-out obkg.att; then
    if openssl req -in obkg.csr -verify -noout >/dev/null 2>&1; then ok; else bad "csr --generate does not verify"; fi
    openssl req -in obkg.csr -outform DER -out obkg.csr.der 2>/dev/null
    if openssl dgst -sha256 -verify client.pub.pem -signature obkg.att obkg.csr.der >/dev/null 2>&1; then ok; else bad "csr attestation does not verify"; fi
    if run 0 pubkey --key obkg --pem; then
        same "csr --generate key = the card's new key" "$(pubder "$T/out")" \
            "$(openssl req -in obkg.csr -pubkey -noout 2>/dev/null | openssl pkey -pubin -outform DER | od -An -v -tx1 | tr -d ' \n')"
    fi
fi
if run 0 --json csr --key rsa --subject 'CN=rsa\, device'; then
    json_ok "csr"
    jget csr >rsa.csr
    if openssl req -in rsa.csr -verify -noout >/dev/null 2>&1; then ok; else bad "RSA csr does not verify"; fi
    same "csr --json subject" "$(jget subject)" 'CN=rsa\, device'
fi
run 1 csr --key ecdhe --subject CN=x
run 2 csr --key client --subject 'XX=bad'

# --- global options -------------------------------------------------------------------------
if run 0 --trace random 4; then
    contains "--trace" "$T/err" "> "
    if grep -q '^< .*9000$' "$T/err"; then ok; else bad "--trace: no response line"; fi
fi
run 0 --basic-channel --cla 00 random 8
run 0 --aid A0000005590010 --cla 80 list --kind secret && contains "--aid" "$T/out" psk1
run 1 --aid A000000559FFFF random 4 && contains "wrong AID" "$T/err" "no applet A000000559FFFF"

# --- error paths ----------------------------------------------------------------------------
if run 1 sign --key nope --in msg; then
    contains "unknown label" "$T/err" "'nope'"
fi
run 1 sign --key nope --in msg --alg ecdsa && contains "unknown label (card)" "$T/err" "SW 6A82"
run 1 read-file --file nope && contains "unknown file" "$T/err" "'nope'"
run 1 pubkey --key nope
run 2 sign --key client
run 2 sign --key client --key-id 01 --in msg
run 2 random 0
run 2 random
run 2 prf --mode bogus --label x --seed 00 --length 1
"$TOOL" --sim bogus:x random 4 >/dev/null 2>&1
same "bad --sim" $? 2
"$TOOL" --sim at: random 4 >/dev/null 2>&1
same "empty at: device" $? 2
if run 2 --json --sim tcp:nohost random 4; then :; fi

stop_serve
# The card is gone: a link error (3), whichever transport.
[ "$TRANSPORT" = pcsc ] && sleep 1
if run 3 random 4; then
    contains "card gone" "$T/err" "transport:"
fi

echo "$PROG ($TRANSPORT): $PASS checks passed, $FAILS failed"
[ "$FAILS" -eq 0 ] || exit 1
exit 0
