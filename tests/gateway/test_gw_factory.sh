#!/bin/sh
# simtrust-factory end to end (IoT.04 Annex C.1; scenarios 1 and 5): five
# cards of each form; every card answers over the TCP front end; scenario 1:
# the certificate on the card chains to the group CA and certifies the key
# pair the card generated; scenario 5: the PSK identity on the card is
# "<vendor>:<batch>:<ICCID>" with a Luhn-valid ICCID, no temporary profile is
# left behind, no key in the delivery records; both batches import into the
# registry (simtrust-registry import), idempotently; usage errors exit 2.
# Usage: test_gw_factory.sh FACTORY CARD SIMTRUST REGISTRY
set -u
FACTORY=$1 CARD=$2 TOOL=$3 REGISTRY=$4
N=5
T=$(mktemp -d /tmp/st-gwfactory-XXXXXX) || exit 1
SERVE_PID=
cleanup() {
    [ -n "$SERVE_PID" ] && kill "$SERVE_PID" 2>/dev/null && wait "$SERVE_PID" 2>/dev/null
    rm -rf "$T"
}
trap cleanup EXIT
fails=0
ok() { echo "ok - $1"; }
bad() { echo "FAIL - $1"; fails=$((fails + 1)); }
check() { name=$1; shift; if "$@" >/dev/null 2>&1; then ok "$name"; else bad "$name"; fi; }
cd "$T" || exit 1

mkcert() { # mkcert NAME CN
    openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$1.key" \
        -out "$1.pem" -subj "/CN=$2" -days 30 >/dev/null 2>&1 || { echo "openssl failed"; exit 1; }
}
mkcert group-ca "meters CA"
mkcert server-ca "server CA"
head -c 32 /dev/urandom >bmk
chmod 600 bmk

# --- usage ---------------------------------------------------------------------------------
"$FACTORY" --help >help.out 2>&1
check "--help exits 0 and documents the options" grep -q -- "--bmk-file" help.out
"$FACTORY" --group g --count 1 --out u >/dev/null 2>&1
[ $? -eq 2 ] && ok "no scenario: exit 2" || bad "no scenario: exit 2"
"$FACTORY" --group g --count 1 --out u --x509 --batch >/dev/null 2>&1
[ $? -eq 2 ] && ok "both scenarios: exit 2" || bad "both scenarios: exit 2"
"$FACTORY" --group g --count 1 --out u --batch --vendor 'a:b' --batch-id b --bmk-file bmk >/dev/null 2>&1
[ $? -eq 2 ] && ok "bad vendor: exit 2" || bad "bad vendor: exit 2"
cp bmk bmk-open && chmod 644 bmk-open
"$FACTORY" --group g --count 1 --out u --batch --vendor v --batch-id b --bmk-file bmk-open \
    --card "$CARD" >/dev/null 2>open.err
[ $? -eq 1 ] && grep -q "chmod 600" open.err && ok "world-readable BMK refused" || bad "world-readable BMK refused"

# --- the two batches ------------------------------------------------------------------------
if "$FACTORY" --group meters --count $N --out meters --x509 --ca-cert group-ca.pem \
    --ca-key group-ca.key --server-ca server-ca.pem --card "$CARD" >x509.out 2>x509.err; then
    ok "x509 batch made"
else
    bad "x509 batch: $(cat x509.err)"
fi
if "$FACTORY" --group sensors --count $N --out sensors --batch --vendor acme --batch-id b42 \
    --bmk-file bmk --kdf hkdf-sha256 --server-ca server-ca.pem --card "$CARD" >batch.out 2>batch.err; then
    ok "batch-psk batch made"
else
    bad "batch-psk batch: $(cat batch.err)"
fi
check "records/s printed" grep -q "records/s" batch.out
[ "$(wc -l <meters/batch.jsonl)" -eq $N ] && ok "meters/batch.jsonl has $N records" || bad "meters/batch.jsonl records"
[ "$(wc -l <sensors/batch.jsonl)" -eq $N ] && ok "sensors/batch.jsonl has $N records" || bad "sensors/batch.jsonl records"
[ -z "$(ls -A meters sensors | grep profile)" ] && ok "no temporary profile left" || bad "temporary profile left"
if grep -qi "private\|\"hex\"" meters/batch.jsonl sensors/batch.jsonl; then bad "a key in the delivery records"; else ok "no key in the delivery records"; fi
[ "$(stat -c %a "$(ls meters/*.img | head -1)")" = 600 ] && ok "card images are 0600" || bad "card image mode"

luhn_ok() { # digits -> 0 if the Luhn check passes
    echo "$1" | awk '{ s = 0; n = length($0); for (i = n; i >= 1; i--) { d = substr($0, i, 1) + 0;
        if ((n - i) % 2 == 1) { d *= 2; if (d > 9) d -= 9 } s += d } exit (s % 10 != 0) }'
}

serve() { # serve IMAGE: starts the card, sets SIM
    "$CARD" serve --image "$1" --tcp 127.0.0.1:0 </dev/null >serve.out 2>serve.err &
    SERVE_PID=$!
    i=0
    until grep -q '^tcp: ' serve.out 2>/dev/null; do
        [ $i -lt 100 ] || { bad "card $1 printed no ready line"; return 1; }
        sleep 0.1
        i=$((i + 1))
    done
    SIM="tcp:$(sed -n 's/^tcp: //p' serve.out)"
}
unserve() { kill "$SERVE_PID" 2>/dev/null; wait "$SERVE_PID" 2>/dev/null; SERVE_PID=; }
derhex() { od -An -v -tx1 | tr -d ' \n'; }

for img in meters/*.img; do
    iccid=$(basename "$img" .img)
    luhn_ok "$iccid" && ok "$iccid: Luhn-valid" || bad "$iccid: Luhn check digit"
    serve "$img" || continue
    "$TOOL" --sim "$SIM" read-file --file client-cert --pem >cert.pem 2>err || bad "$iccid: read client-cert: $(cat err)"
    "$TOOL" --sim "$SIM" pubkey --key client --pem >pub.out 2>err || bad "$iccid: pubkey: $(cat err)"
    "$TOOL" --sim "$SIM" read-file --file ca --pem >ca.pem 2>/dev/null
    unserve
    check "$iccid: certificate chains to the group CA" openssl verify -CAfile group-ca.pem -purpose sslclient cert.pem
    a=$(openssl x509 -in cert.pem -noout -pubkey 2>/dev/null | openssl pkey -pubin -outform DER 2>/dev/null | derhex | tail -c 130)
    b=$(tr -d ' :\n' <pub.out | grep -o '04[0-9a-fA-F]\{128\}' | head -1 | tr 'A-F' 'a-f')
    if [ -z "$b" ]; then b=$(openssl pkey -pubin -in pub.out -outform DER 2>/dev/null | derhex | tail -c 130); fi
    [ -n "$a" ] && [ "$a" = "$b" ] && ok "$iccid: certificate certifies the card's key" || bad "$iccid: certificate key ($a) != card key ($b)"
    check "$iccid: subject CN names the device" sh -c "openssl x509 -in cert.pem -noout -subject | grep -q 'meters-$iccid'"
done
for img in sensors/*.img; do
    iccid=$(basename "$img" .img)
    luhn_ok "$iccid" && ok "$iccid: Luhn-valid" || bad "$iccid: Luhn check digit"
    serve "$img" || continue
    id=$("$TOOL" --sim "$SIM" read-file --file psk --raw 2>err)
    "$TOOL" --sim "$SIM" list >list.out 2>&1
    unserve
    case $id in
    *"acme:b42:$iccid"*) ok "$iccid: PSK identity on the card" ;;
    *) bad "$iccid: PSK identity on the card is '$id' $(cat err)" ;;
    esac
    check "$iccid: secret key psk on the card" grep -q 'label "psk"' list.out
done

# --- the gateway's offline import ----------------------------------------------------------
printf '%s\n' 000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f >kek
chmod 600 kek
R="$REGISTRY --db $T/reg.db --kek $T/kek"
$R tenant-add acme >/dev/null 2>&1
check "x509 group created" $R group-add --tenant acme --group meters --auth x509 --anchors group-ca.pem
check "batch group created" $R group-add --tenant acme --group sensors --auth batch --vendor acme \
    --batch b42 --kdf hkdf-sha256 --bmk-file bmk --allowlist
if $R import --tenant acme --group meters meters/batch.jsonl >imp.out 2>&1; then
    grep -q "$N created" imp.out && ok "x509 records imported" || bad "x509 import: $(cat imp.out)"
else
    bad "x509 import failed: $(cat imp.out)"
fi
if $R import --tenant acme --group sensors sensors/batch.jsonl >imp.out 2>&1; then
    grep -q "$N created" imp.out && ok "batch records imported" || bad "batch import: $(cat imp.out)"
else
    bad "batch import failed: $(cat imp.out)"
fi
$R import --tenant acme --group sensors sensors/batch.jsonl >imp.out 2>&1
grep -q "$N unchanged" imp.out && ok "re-import is idempotent" || bad "re-import: $(cat imp.out)"
first=$(basename "$(ls meters/*.img | head -1)" .img)
check "device-get finds an imported device" $R device-get --tenant acme "$first"

echo "test_gw_factory: $fails failure(s)"
[ $fails -eq 0 ]
