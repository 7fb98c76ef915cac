#!/bin/sh
# `simtrust-card personalise` end to end: help, usage errors, a personalised
# image (mode 0600), the delivery record, --force, field errors.
# Usage: test_personalise.sh SIMTRUST_CARD_BINARY. Exit 77 = skipped.
set -u
BIN=$1
command -v openssl >/dev/null 2>&1 || { echo "openssl not found: skipped"; exit 77; }
DIR=$(mktemp -d "${TMPDIR:-/tmp}/simtrust-cli-XXXXXX") || exit 1
trap 'rm -rf "$DIR"' EXIT
fails=0
check() { # check NAME CONDITION...
    name=$1
    shift
    if "$@"; then echo "ok   $name"; else echo "FAIL $name"; fails=$((fails + 1)); fi
}
run() { # run EXPECTED_STATUS ARGS... (stdout -> $DIR/out, stderr -> $DIR/err)
    want=$1
    shift
    "$BIN" personalise "$@" >"$DIR/out" 2>"$DIR/err"
    got=$?
    [ "$got" -eq "$want" ] || { echo "  exit $got, expected $want"; cat "$DIR/err"; return 1; }
}

check "help exits 0" run 0 --help
check "help documents options and exit codes" grep -q -- "--delivery FILE|-" "$DIR/out"
grep -q "Exit status" "$DIR/out" && grep -q "Example" "$DIR/out" || { echo "FAIL help sections"; fails=$((fails + 1)); }
check "no arguments: usage error" run 2
check "unknown option: usage error" run 2 --profile p.json --image x.img --colour
check "missing value: usage error" run 2 --image
check "extra argument: usage error" run 2 --profile p.json --image x.img extra

cd "$DIR" || exit 1
mkdir factory
openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out factory/cli-key.pem 2>/dev/null
openssl req -new -x509 -key factory/cli-key.pem -subj /CN=device-0001 -days 365 \
    -out factory/cli.pem 2>/dev/null
openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out factory/ca-key.pem 2>/dev/null
openssl pkey -in factory/ca-key.pem -pubout -out factory/ca-pub.pem 2>/dev/null
openssl req -new -x509 -key factory/ca-key.pem -subj /CN=server.example -days 365 \
    -out factory/srv.pem 2>/dev/null
cat >factory/p.json <<'JSON'
{
  "iccid": "89882280000000000017",
  "eid": "89049032000000000000000000000017",
  "aids": ["A0000005590010"],
  "signature_length_form": "33 00 40",
  "private_keys": [
    {"id": "01", "label": "client", "type": "p256", "usage": "tls13", "generate": true, "public_id": "01"},
    {"id": "02", "label": "imported", "type": "p256", "pem_file": "cli-key.pem", "public_id": "02"},
    {"id": "04", "label": "ecdhe", "type": "p256-volatile", "functions": ["keygen", "key_agreement"]}
  ],
  "public_keys": [
    {"id": "05", "label": "peer", "type": "p256-volatile", "access": ["read", "update"]},
    {"id": "06", "label": "ca-key", "type": "p256", "pem_file": "ca-pub.pem"}
  ],
  "files": [
    {"id": "02", "label": "client-cert", "usage": "certificate", "pem_file": "cli.pem"},
    {"id": "03", "label": "server-cert", "usage": "certificate", "pem_file": "srv.pem"},
    {"id": "07", "label": "notes", "usage": "general", "hex": "0102", "size": 64}
  ],
  "secret_keys": [
    {"id": "10", "label": "psk1", "hex": "00112233445566778899aabbccddeeff", "identity": "device-0001", "identity_file_id": "11"}
  ]
}
JSON

# Relative paths in the profile resolve against its directory, not the cwd.
check "personalise" run 0 --profile factory/p.json --image card.img --delivery card.delivery.json
check "image exists" test -s card.img
check "image mode 0600" test "$(stat -c %a card.img)" = 600
check "no stray temporary file" test ! -e card.img.tmp
check "delivery has the ICCID" grep -q '"iccid": "89882280000000000017"' card.delivery.json
check "delivery has public keys" grep -q "BEGIN PUBLIC KEY" card.delivery.json
check "delivery has certificates" grep -q '"subject": "CN=device-0001"' card.delivery.json
check "delivery has the PSK identity" grep -q '"identity": "device-0001"' card.delivery.json
check "delivery has no PSK value" sh -c '! grep -qi 00112233445566778899aabbccddeeff card.delivery.json'
check "delivery has no private key" sh -c '! grep -q "PRIVATE KEY" card.delivery.json'

cp card.img card.before
check "existing image refused without --force" run 1 --profile factory/p.json --image card.img
check "refusal says why" grep -q -- "--force" "$DIR/err"
check "existing image untouched" cmp -s card.img card.before
check "--force replaces it" run 0 --profile factory/p.json --image card.img --force --delivery -
check "new keys were generated" sh -c '! cmp -s card.img card.before'
check "delivery on standard output" grep -q '"psk_identities"' "$DIR/out"

sed 's/"p256-volatile", "functions"/"p384", "functions"/' factory/p.json >factory/bad.json
check "invalid profile: exit 1" run 1 --profile factory/bad.json --image bad.img
check "error names the field" grep -q 'private_keys\[2\].type: unknown type "p384"' "$DIR/err"
check "no image for an invalid profile" test ! -e bad.img
check "missing profile: exit 1" run 1 --profile factory/none.json --image none.img
check "unwritable image: exit 1" run 1 --profile factory/p.json --image no-such-dir/card.img

[ "$fails" -eq 0 ] || { echo "$fails check(s) failed"; exit 1; }
echo "all checks passed"
